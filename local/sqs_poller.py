"""SQS -> Lambda delivery as the Lambda event source mapping does it.

moto's own mapping fires synchronously inside SendMessage, one record per call, ignores
`ReportBatchItemFailures` and never lets a failed message reach the DLQ; it is switched off and replaced by
this poller: ReceiveMessage up to BatchSize (within MaximumBatchingWindowInSeconds), invoke the function once
per batch, delete exactly the successful messages (all of them unless `batchItemFailures` names some), and
leave failures in the queue so they reappear after the visibility timeout and, after maxReceiveCount
receives, SQS's redrive moves them to the dead-letter queue.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from local.background_loop import BackgroundLoop


@dataclass
class Mapping:
    uuid: str
    queue_arn: str
    queue_url: str
    function_arn: str
    batch_size: int
    window_seconds: float
    report_failures: bool
    sqs: object | None = None  # client that polls as the function's role (None: the poller's own)


@dataclass
class BatchOutcome:
    received: int = 0
    deleted: list[str] = field(default_factory=list)  # message ids
    failed: list[str] = field(default_factory=list)  # message ids left for redelivery
    function_error: bool = False


def sqs_mappings(lambda_client, sqs_client) -> list[Mapping]:
    """Enabled SQS event source mappings, as created from the template."""
    found = []
    for page in lambda_client.get_paginator("list_event_source_mappings").paginate():
        for esm in page["EventSourceMappings"]:
            arn = esm.get("EventSourceArn", "")
            if not arn.startswith("arn:aws:sqs:") or esm.get("State", "Enabled") not in (
                "Enabled",
                "Enabling",
            ):
                continue
            url = sqs_client.get_queue_url(QueueName=arn.rsplit(":", 1)[1])["QueueUrl"]
            role = lambda_client.get_function_configuration(FunctionName=esm["FunctionArn"])["Role"]
            found.append(
                Mapping(
                    esm["UUID"],
                    arn,
                    url,
                    esm["FunctionArn"],
                    int(esm.get("BatchSize") or 10),
                    float(esm.get("MaximumBatchingWindowInSeconds") or 0),
                    "ReportBatchItemFailures" in (esm.get("FunctionResponseTypes") or []),
                    _polling_client(sqs_client, role, esm["FunctionArn"]),
                )
            )
    return found


def _polling_client(sqs_client, role_arn: str, function_arn: str):
    """Lambda polls a queue with the function's execution role (ReceiveMessage, DeleteMessage and, for an
    encrypted queue, kms:Decrypt), so the poller does too when local IAM knows the role."""
    from local.iam.enforcement import access_control, role_client

    if not access_control.knows(role_arn):
        return None
    return role_client(
        "sqs",
        role_arn,
        function_arn.rsplit(":", 1)[-1],
        sqs_client.meta.region_name,
        sqs_client.meta.endpoint_url,
    )


def disable_moto_sqs_mappings() -> None:
    """Stop moto from invoking functions synchronously inside SendMessage (this poller delivers instead)."""
    from moto.sqs.models import sqs_backends

    for regions in sqs_backends.values():
        for backend in regions.values():
            for queue in backend.queues.values():
                queue.lambda_event_source_mappings.clear()


def to_record(message: dict, mapping: Mapping, region: str) -> dict:
    attributes = dict(message.get("Attributes") or {})
    message_attributes = {}
    for name, value in (message.get("MessageAttributes") or {}).items():
        message_attributes[name] = {
            "stringValue": value.get("StringValue"),
            "binaryValue": value.get("BinaryValue"),
            "stringListValues": value.get("StringListValues", []),
            "binaryListValues": value.get("BinaryListValues", []),
            "dataType": value.get("DataType"),
        }
    return {
        "messageId": message["MessageId"],
        "receiptHandle": message["ReceiptHandle"],
        "body": message.get("Body", ""),
        "attributes": attributes,
        "messageAttributes": message_attributes,
        "md5OfBody": message.get("MD5OfBody"),
        "eventSource": "aws:sqs",
        "eventSourceARN": mapping.queue_arn,
        "awsRegion": region,
    }


class SqsPoller:
    """Delivers queue messages to the mapped functions on a background thread (or on demand)."""

    def __init__(
        self,
        sqs_client,
        invoke: Callable[[str, dict], tuple[object, bool]],
        mappings: list[Mapping],
        region: str,
        idle_seconds: float = 0.2,
        max_window_seconds: float | None = None,
    ):
        self.sqs = sqs_client
        self.invoke = invoke
        self.mappings = mappings
        self.region = region
        self.idle_seconds = idle_seconds
        self.max_window_seconds = max_window_seconds
        self.delivered = 0
        self.failures = 0
        self._loop = BackgroundLoop("sqs-poller", self.poll_all, idle_seconds)

    def receive_batch(self, mapping: Mapping) -> list[dict]:
        window = (
            mapping.window_seconds
            if self.max_window_seconds is None
            else min(mapping.window_seconds, self.max_window_seconds)
        )
        messages: list[dict] = []
        deadline = None
        while len(messages) < mapping.batch_size:
            got = (
                (mapping.sqs or self.sqs)
                .receive_message(
                    QueueUrl=mapping.queue_url,
                    MaxNumberOfMessages=min(10, mapping.batch_size - len(messages)),
                    WaitTimeSeconds=0,
                    AttributeNames=["All"],
                    MessageAttributeNames=["All"],
                )
                .get("Messages", [])
            )
            messages += got
            if not messages:
                return []
            deadline = deadline or time.monotonic() + window
            if not got:
                if time.monotonic() >= deadline:
                    break
                time.sleep(min(0.1, max(0.0, deadline - time.monotonic())))
        return messages

    def poll_once(self, mapping: Mapping) -> BatchOutcome:
        messages = self.receive_batch(mapping)
        outcome = BatchOutcome(received=len(messages))
        if not messages:
            return outcome
        event = {"Records": [to_record(m, mapping, self.region) for m in messages]}
        result, errored = self.invoke(mapping.function_arn, event)
        ids = [m["MessageId"] for m in messages]
        failed = set(ids) if errored else self._reported_failures(result, ids, mapping)
        outcome.function_error = errored
        for message in messages:
            if message["MessageId"] in failed:
                outcome.failed.append(message["MessageId"])
                continue
            (mapping.sqs or self.sqs).delete_message(
                QueueUrl=mapping.queue_url, ReceiptHandle=message["ReceiptHandle"]
            )
            outcome.deleted.append(message["MessageId"])
        self.delivered += len(outcome.deleted)
        self.failures += len(outcome.failed)
        return outcome

    @staticmethod
    def _reported_failures(result: object, ids: list[str], mapping: Mapping) -> set[str]:
        if not mapping.report_failures or not isinstance(result, dict):
            return set()
        items = result.get("batchItemFailures")
        if not items:
            return set()
        named = {str(item.get("itemIdentifier") or "") if isinstance(item, dict) else "" for item in items}
        if not named <= set(
            ids
        ):  # Lambda treats an unknown or empty identifier as a failure of the whole batch
            return set(ids)
        return named

    def drain(self, timeout: float = 30.0) -> int:
        """Deliver until every mapped queue has nothing visible (or timeout); returns messages received."""
        total, deadline = 0, time.monotonic() + timeout
        while time.monotonic() < deadline:
            received = sum(self.poll_once(m).received for m in self.mappings)
            total += received
            if not received:
                return total
        return total

    def poll_all(self) -> bool:
        """One poll of every mapped queue; True when any delivered something."""
        busy = False
        for mapping in self.mappings:
            try:
                busy |= self.poll_once(mapping).received > 0
            except Exception:  # one queue's emulator hiccup must not hold up the others; retried next poll
                continue
        return busy

    def start(self) -> SqsPoller:
        """Deliver on a background thread (again after stop())."""
        self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()


def invoke_payload(lambda_client, function: str, event: dict) -> tuple[object, bool]:
    """Invoke a function synchronously through the Lambda API: (parsed result, errored)."""
    response = lambda_client.invoke(FunctionName=function, Payload=json.dumps(event).encode("utf-8"))
    raw = response["Payload"].read()
    try:
        result = json.loads(raw) if raw else None
    except ValueError:
        result = raw.decode("utf-8", "replace")
    return result, bool(response.get("FunctionError"))
