"""Model versions and their lifecycle: one item per version in the models table, and the active pointer.

Items have hash key `version`: one per version ("v0007"; status candidate -> active -> retired, or
rejected), and bookkeeping items that never look like versions: "ACTIVE" (the pointer), "SEQUENCE" (the
version counter), "JOB#<training job>" (makes registering a training job's output idempotent) and the
retraining lock (core.registry.retraining_lock). A version's files are in the artifacts bucket
(core.registry.artifacts).

The active pointer changes only through a conditional write on its `revision`, in one transaction with the
status changes of the new and the previous version, so concurrent deploys cannot both win.
"""

from __future__ import annotations

import tempfile
from datetime import UTC, datetime
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

from botocore.exceptions import ClientError

from core import aws_clients
from core.dynamodb_values import (
    conditional_check_failed,
    from_attribute_values,
    from_dynamodb,
    to_attribute_values,
    to_dynamodb,
)
from core.errors import Conflict, NotFound
from core.registry.archives import bundle_dir, extract_archive, find_model_dir, read_manifest, read_metrics
from core.registry.artifacts import ArtifactStore
from core.registry.retraining_lock import RetrainingLock
from core.settings import Settings, get_settings

if TYPE_CHECKING:  # the card models are imported where cards are used: serving never needs them
    from core.cards.card import ModelCard
    from core.registry.cards import CardStore

ACTIVE_KEY = "ACTIVE"
SEQUENCE_KEY = "SEQUENCE"
JOB_PREFIX = "JOB#"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def version_number(version: str) -> int:
    """v0007 -> 7: versions order by number (as strings, v10000 would sort before v9999)."""
    return int(version[1:])


class ModelRegistry:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.settings.require("models_table", "artifacts_bucket")
        self.table_name = self.settings.models_table
        self.bucket = self.settings.artifacts_bucket
        self.artifacts = ArtifactStore(self.bucket)

    @cached_property
    def cards(self) -> CardStore:
        from core.registry.cards import CardStore

        return CardStore(self.bucket)

    @property
    def _table(self):
        return aws_clients.resource("dynamodb").Table(self.table_name)

    # ------------------------------------------------------------ reading
    def get(self, version: str) -> dict | None:
        item = self._table.get_item(Key={"version": version}, ConsistentRead=True).get("Item")
        return from_dynamodb(item) if item else None

    def require(self, version: str) -> dict:
        item = self.get(version) if version.startswith("v") else None
        if not item:
            raise NotFound(f"model version {version!r} is not registered")
        return item

    def list_versions(self) -> list[dict]:
        """All versions, newest first (the table holds one item per version: a small, bounded scan)."""
        pages = aws_clients.client("dynamodb").get_paginator("scan").paginate(
            TableName=self.table_name, ConsistentRead=True
        )
        items = [
            from_attribute_values(item)
            for page in pages
            for item in page["Items"]
            if item["version"]["S"].startswith("v")
        ]
        return sorted(items, key=lambda item: version_number(item["version"]), reverse=True)

    def card(self, version: str) -> tuple[ModelCard, dict[str, bytes]]:
        """The version's model card with its pictures and the version's current status; a version without a
        stored card gets one from what its registry item knows (its `missing` says what that lacks)."""
        from core.cards.build import card_from_registry_item

        item = self.require(version)
        card, images = self.cards.get(version) or (card_from_registry_item(item), {})
        return card.model_copy(update={"version": version, "status": item.get("status")}), images

    def active_pointer(self) -> dict | None:
        item = self._table.get_item(Key={"version": ACTIVE_KEY}, ConsistentRead=True).get("Item")
        return from_dynamodb(item) if item and item.get("active_version") else None

    def active_item(self) -> dict | None:
        pointer = self.active_pointer()
        return self.get(pointer["active_version"]) if pointer else None

    # ------------------------------------------------------------ one retraining at a time
    def acquire_retraining_lock(self, holder: str, ttl_seconds: int, now: datetime | None = None) -> None:
        RetrainingLock(self.table_name).acquire(holder, ttl_seconds, now)

    def release_retraining_lock(self, holder: str) -> None:
        RetrainingLock(self.table_name).release(holder)

    # ------------------------------------------------------------ registering
    def _allocate_version(self) -> str:
        response = self._table.update_item(
            Key={"version": SEQUENCE_KEY},
            UpdateExpression="ADD next_value :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return f"v{int(response['Attributes']['next_value']):04d}"

    def version_for_training_job(self, training_job: str) -> str | None:
        key = {"version": JOB_PREFIX + training_job}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item["model_version"] if item else None

    def _put_new(self, item: dict) -> dict:
        """A transaction item that writes `item` unless its key exists."""
        return {
            "Put": {
                "TableName": self.table_name,
                "Item": to_attribute_values(item),
                "ConditionExpression": "attribute_not_exists(version)",
            }
        }

    def register_model_dir(
        self,
        model_dir: Path | str,
        *,
        training_job: str | None = None,
        artifact_uri: str | None = None,
        training_distribution: dict | None = None,
        data_summary: dict | None = None,
        source: str = "manual",
    ) -> dict:
        """Register a model directory (see docs/DESIGN.md) as a new candidate version and return its item.

        The bundle is verified by loading it before anything is written. With `training_job`, registering
        the same job twice returns the first registration (retries of the Evaluate step are harmless). The
        version's model card is the directory's (`card/`, written by the training job or `mlnews card`), else
        one made from what the directory tells (docs/model-card.md).
        """
        from core.cards.sections import timed_load  # numpy-only; imported lazily to keep cold starts small

        model_dir = find_model_dir(Path(model_dir))
        if training_job and (existing := self.version_for_training_job(training_job)):
            return self.require(existing)
        model, load_seconds = timed_load(model_dir)
        version = self._allocate_version()
        prefix = self.artifacts.upload_bundle(version, bundle_dir(model_dir))
        artifact = self.artifacts.store_archive(version, model_dir, source_uri=artifact_uri)
        card = self._registration_card(
            version, model_dir, model, load_seconds, source=source, training_job=training_job
        )
        manifest = read_manifest(model_dir)
        item = {
            "version": version,
            "status": "candidate",
            "created_at": utc_now(),
            "bundle_version": str(model.version),
            "sha256": model.sha256,
            "classes": list(model.classes),
            "metrics": read_metrics(model_dir),
            "bundle_prefix": prefix,
            "artifact": artifact,
            "training_job": training_job or "",
            "source": source,
            "hyperparameters": manifest.get("hyperparameters") or {},
            "training_distribution": (
                training_distribution or (manifest.get("data") or {}).get("categories") or {}
            ),
            "data_summary": data_summary or {},
            "reasons": [],
            "card": card,
        }
        writes = [self._put_new(item)]
        if training_job:
            writes.append(self._put_new({"version": JOB_PREFIX + training_job, "model_version": version}))
        try:
            aws_clients.client("dynamodb").transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException" and training_job:
                existing = self.version_for_training_job(training_job)
                if existing:
                    return self.require(existing)
            raise
        return item

    def _registration_card(self, version: str, model_dir: Path, model, load_seconds: float, *, source: str,
                           training_job: str | None) -> dict:
        """Store the version's card: the model directory's own, else one from what the directory tells."""
        from core.cards.build import card_for_model_dir, now
        from core.cards.files import CARD_DIR, read_card_dir

        stored = read_card_dir(model_dir / CARD_DIR)
        card, images = stored or (
            card_for_model_dir(
                model_dir, source=source, model=model, load_seconds=load_seconds,
                measured_in="the registering process (load only: it has no records to time)",
            ),
            {},
        )  # fmt: skip
        card = card.model_copy(
            update={"version": version, "source": source, "training_job": training_job or None,
                    "sha256": model.sha256, "updated_at": now()}
        )  # fmt: skip
        return self.cards.put(version, card, images)

    def register_training_output(
        self,
        model_artifact_uri: str,
        *,
        training_job: str,
        training_distribution: dict | None = None,
        data_summary: dict | None = None,
    ) -> dict:
        """Register what a SageMaker training job wrote (its S3ModelArtifacts model.tar.gz)."""
        if existing := self.version_for_training_job(training_job):
            return self.require(existing)
        with tempfile.TemporaryDirectory(prefix="mlnews-register-") as tmp:
            archive = Path(tmp) / "model.tar.gz"
            self.artifacts.download(model_artifact_uri, archive)
            extracted = Path(tmp) / "model"
            extract_archive(archive, extracted)
            return self.register_model_dir(
                extracted,
                training_job=training_job,
                artifact_uri=model_artifact_uri,
                training_distribution=training_distribution,
                data_summary=data_summary,
                source="training",
            )

    # ------------------------------------------------------------ status changes
    def activate(
        self,
        version: str,
        *,
        expected_revision: int | None = None,
        reason: str = "",
        allow_rejected: bool = False,
    ) -> dict:
        """Make `version` active. With `expected_revision`, refuse if the pointer moved since it was read."""
        item = self.require(version)
        if item["status"] == "rejected" and not allow_rejected:
            raise Conflict(f"model version {version} was rejected; pass allow_rejected to deploy it anyway")
        pointer = self.active_pointer() or {}
        revision = int(pointer.get("revision", 0))
        if expected_revision is not None and expected_revision != revision:
            if pointer.get("active_version") == version and revision == expected_revision + 1:
                # A retried step whose first attempt already made exactly this change: done, not a conflict.
                return {"version": version, "previous_version": pointer.get("previous_version") or None,
                        "revision": revision}
            raise Conflict(f"active model changed (revision {revision}, expected {expected_revision})")
        previous = pointer.get("active_version")
        if previous == version:
            return {"version": version, "previous_version": previous, "revision": revision}
        now = utc_now()
        condition = "attribute_not_exists(revision)" if revision == 0 else "revision = :expected"
        values = {
            ":v": version,
            ":next": revision + 1,
            ":now": now,
            ":reason": reason or "deploy",
            ":prev": previous or "",
        }
        if revision:
            values[":expected"] = revision
        writes = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": to_attribute_values({"version": ACTIVE_KEY}),
                    "UpdateExpression": "SET active_version = :v, revision = :next, updated_at = :now, "
                    "reason = :reason, previous_version = :prev",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": to_attribute_values(values),
                }
            },
            self._status_change(version, "active", stamped="deployed_at", now=now),
        ]
        if previous:
            writes.append(self._status_change(previous, "retired", stamped="retired_at", now=now))
        try:
            aws_clients.client("dynamodb").transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict("active model changed concurrently; read the registry and retry") from error
            raise
        return {"version": version, "previous_version": previous, "revision": revision + 1}

    def _status_change(self, version: str, status: str, *, stamped: str, now: str) -> dict:
        """A transaction item that sets the status of `version` (which must exist) and stamps `stamped`."""
        return {
            "Update": {
                "TableName": self.table_name,
                "Key": to_attribute_values({"version": version}),
                "UpdateExpression": f"SET #status = :status, {stamped} = :now",
                "ConditionExpression": "attribute_exists(version)",
                "ExpressionAttributeNames": {"#status": "status"},
                "ExpressionAttributeValues": to_attribute_values({":status": status, ":now": now}),
            }
        }

    def reject(self, version: str, reasons: list[str]) -> None:
        self._set_fields(
            version,
            {"status": "rejected", "reasons": reasons, "rejected_at": utc_now()},
            condition_status="candidate",
        )

    def record_evaluation(self, version: str, evaluation: dict) -> None:
        self._set_fields(version, {"evaluation": evaluation})

    def record_card(self, version: str, card: ModelCard, images: dict[str, bytes] | None = None) -> None:
        """Store a new card.json for `version` (and any new pictures) and list it on the version's item."""
        self._set_fields(version, {"card": self.cards.put(version, card, images)})

    def _set_fields(self, version: str, fields: dict, condition_status: str | None = None) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        condition = "attribute_exists(version)"
        if condition_status:
            names["#status"] = "status"
            values[":expected_status"] = condition_status
            condition += " AND #status = :expected_status"
        try:
            self._table.update_item(
                Key={"version": version},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_dynamodb(values),
            )
        except ClientError as error:
            if conditional_check_failed(error):
                raise Conflict(f"model version {version} is not in the expected state") from error
            raise

    # ------------------------------------------------------------ loading
    def load_model(self, version: str, cache_dir: Path | str | None = None, item: dict | None = None):
        """Download and load a version, refusing a bundle whose sha256 differs from the registry's."""
        from core.model.bundle import ServingModel

        item = item or self.require(version)
        root = Path(cache_dir or self.settings.model_cache_dir)
        root.mkdir(parents=True, exist_ok=True)
        path = self.artifacts.download_bundle(version, item["bundle_prefix"], root)
        # Refuses files whose digest differs from the registry item (corrupt or tampered bundle).
        return ServingModel.load(path, expected_sha256=item["sha256"], version=version)
