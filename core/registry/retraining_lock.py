"""One retraining at a time: a conditional lock item ("LOCK#retraining") in the models table.

The starter claims it before starting an execution and the outcome step releases it; it expires after a
bound, so an execution stopped from outside (and so never reaching the outcome step) blocks retraining for a
bounded time only.
"""

from __future__ import annotations

from datetime import UTC, datetime

from botocore.exceptions import ClientError

from core import aws_clients
from core.dynamodb_values import conditional_check_failed
from core.errors import Conflict

RETRAINING_LOCK_KEY = "LOCK#retraining"


class RetrainingLock:
    def __init__(self, table_name: str):
        self.table_name = table_name

    @property
    def _table(self):
        return aws_clients.resource("dynamodb").Table(self.table_name)

    def acquire(self, holder: str, ttl_seconds: int, now: datetime | None = None) -> None:
        """Claim the slot for execution `holder` for `ttl_seconds`; Conflict while another holds it."""
        now = now or datetime.now(UTC)
        expires = int(now.timestamp()) + int(ttl_seconds)
        try:
            self._table.put_item(
                Item={"version": RETRAINING_LOCK_KEY, "holder": holder, "expires_at": expires,
                      "acquired_at": now.isoformat(timespec="seconds")},
                ConditionExpression="attribute_not_exists(version) OR expires_at < :now OR holder = :holder",
                ExpressionAttributeValues={":now": int(now.timestamp()), ":holder": holder},
            )
        except ClientError as error:
            if not conditional_check_failed(error):
                raise
            key = {"version": RETRAINING_LOCK_KEY}
            current = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            other = (current or {}).get("holder", "another retraining")
            raise Conflict(f"retraining {other} is in progress", details={"job_id": other}) from error

    def release(self, holder: str) -> None:
        """Free the slot if `holder` still has it (a retried or late release is harmless)."""
        try:
            self._table.delete_item(
                Key={"version": RETRAINING_LOCK_KEY},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": holder},
            )
        except ClientError as error:
            if not conditional_check_failed(error):
                raise
