"""Feedback under faults: N feedback messages through the feedback API -> SQS -> the event source mapping's
delivery -> the consumer -> DynamoDB while consumer invocations fail at random points; then a recount.

    python -m bench.feedback_faults [--messages 10000] [--fault-rate 0.1] [--seed 9] [--out bench/results]

The pieces are local mode's own, in this process: template.yaml deployed into moto by local.stack, the
feedback API and the consumer run by local.in_process_lambda as their functions (each call authorized
against the function's role by local.iam), the queue with the template's redrive policy (maxReceiveCount 5
to the DLQ), local.sqs_poller's delivery (batches of 25, partial batch failures, deletion of successes
only). One change: the queue's visibility timeout is 1 s instead of 180, so a failed message is redelivered
within seconds.

Faults, in a fraction of the consumer invocations, at a random point of the batch (core/feedback/storage.py
writes one transaction per message, two for held-back ones):
  throttled            Lambda throttles the invocation: the function never runs
  crash_before         the function dies (timeout, out of memory) before the k-th transaction: the batch is
                       redelivered, the records before k are stored already
  crash_after          the k-th transaction commits, then the function dies
  ambiguous_commit     the k-th transaction commits but DynamoDB answers 500: the client retries it
  conflict             the k-th transaction is cancelled (TransactionConflict, as under concurrent writers
                       of the same counter items): that record fails, SQS redelivers it
  throttled_write      the k-th transaction is throttled on every attempt the client makes (5): that record
                       fails; or once only (transient), which the client's own retry absorbs
Also mixed in: duplicate submissions (the same feedback sent twice), conflicting ones (a second label for the
same prediction), forged ones (refused at the API), duplicate deliveries (a record twice in one batch, and a
processed message delivered again later), senders over their daily limit (held back) and a key rotation at
half way. After the run the DLQ is redriven as an operator would, and every counter is compared with a
recount of the stored items. Results: bench/results/feedback_faults.{json,md} (+ a timestamped JSON).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import functools
import json
import os
import random
import sys
import tempfile
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
REGION = "us-east-1"
CATEGORIES = [
    "POLITICS",
    "SPORTS",
    "BUSINESS",
    "SCIENCE",
    "ENTERTAINMENT",
    "TRAVEL",
    "WELLNESS",
    "FOOD & DRINK",
]
FAULT_KINDS = {  # kind: weight among the faulty invocations
    "throttled": 0.15,
    "crash_before": 0.2,
    "crash_after": 0.2,
    "ambiguous_commit": 0.1,
    "conflict": 0.15,
    "throttled_write": 0.2,
}


class FunctionCrash(BaseException):
    """The function's runtime dies (timeout, out of memory): nothing in the function can catch it."""


@dataclass
class Fault:
    kind: str
    at: int  # transaction number within the invocation
    persistent: bool = True  # throttled_write: on every attempt, or once
    fired: bool = False


@dataclass
class Injector:
    """Wraps moto's DynamoDB TransactWriteItems: the armed fault acts at its transaction."""

    fault: Fault | None = None
    transactions: int = 0
    fired: Counter = field(default_factory=Counter)

    def arm(self, fault: Fault | None) -> None:
        self.fault, self.transactions = fault, 0

    @contextlib.contextmanager
    def installed(self):
        with _item_level_rollback():  # innermost: a fault after the commit must find it committed
            with self._wrapping():
                yield self

    @contextlib.contextmanager
    def _wrapping(self):
        from moto.dynamodb.exceptions import DynamodbException, TransactionCanceledException
        from moto.dynamodb.models import DynamoDBBackend

        from core.aws_clients import MAX_ATTEMPTS

        prefix = "com.amazonaws.dynamodb.v20120810#"
        original = DynamoDBBackend.transact_write_items
        injector = self

        class Throttled(DynamodbException):
            def __init__(self):
                super().__init__(
                    prefix + "ProvisionedThroughputExceededException", "rate exceeded (injected)"
                )

        class InternalServerError(DynamodbException):
            code = 500

            def __init__(self):
                super().__init__(prefix + "InternalServerError", "internal server error (injected)")

        def transact_write_items(backend, transact_items):
            fault, number = injector.fault, injector.transactions
            injector.transactions += 1
            if fault is None or number < fault.at:
                return original(backend, transact_items)
            span = MAX_ATTEMPTS if fault.kind == "throttled_write" and fault.persistent else 1
            if number >= fault.at + span:
                return original(backend, transact_items)
            if not fault.fired:
                fault.fired = True
                injector.fired[fault.kind] += 1
            if fault.kind == "crash_before":
                raise FunctionCrash("killed before a transaction")
            if fault.kind == "throttled_write":
                raise Throttled()
            if fault.kind == "conflict":
                reasons = [(None, None, None)] * len(transact_items)
                reasons[-1] = ("TransactionConflict", "Transaction is ongoing for the item", None)
                raise TransactionCanceledException(reasons)
            original(backend, transact_items)
            if fault.kind == "crash_after":
                raise FunctionCrash("killed after a transaction committed")
            raise InternalServerError()  # ambiguous_commit: committed, reported as failed

        DynamoDBBackend.transact_write_items = transact_write_items
        try:
            yield
        finally:
            DynamoDBBackend.transact_write_items = original


@contextlib.contextmanager
def _item_level_rollback():
    """moto 5.2.5 backs up every table a transaction writes with a deep copy, to roll back on failure: each
    transaction costs as much as the tables hold, and a run of 10,000 messages never ends. This keeps moto's
    transaction and its all-or-nothing outcome but backs up only the items the transaction names. (A wrong
    rollback would show in the recount: every duplicate's transaction fails after its first write.)"""
    import moto.dynamodb.models as models
    from moto.dynamodb.models import DynamoDBBackend, Table

    real_copy, original = models.copy, DynamoDBBackend.transact_write_items

    class TablesAsTheyAre:
        @staticmethod
        def deepcopy(value, memo=None):
            return value if isinstance(value, Table) else real_copy.deepcopy(value, memo)

    def key_of(backend, kind: str, op: dict) -> dict:
        if kind != "Put":
            return op["Key"]
        table = backend.get_table(op["TableName"])
        names = [table.hash_key_attr] + ([table.range_key_attr] if table.range_key_attr else [])
        return {name: op["Item"][name] for name in names}

    def transact_write_items(backend, transact_items):
        saved = []
        for entry in transact_items:
            ((kind, op),) = entry.items()
            if (
                kind not in ("Put", "Update", "Delete", "ConditionCheck")
                or op.get("TableName") not in backend.tables
            ):
                continue
            key = key_of(backend, kind, op)
            current = backend.get_item(op["TableName"], key)
            saved.append(
                (
                    op["TableName"],
                    key,
                    real_copy.deepcopy(current.to_json()["Attributes"]) if current else None,
                )
            )
        models.copy = TablesAsTheyAre
        try:
            return original(backend, transact_items)
        except BaseException:
            for table_name, key, attributes in reversed(saved):
                if attributes is None:
                    if backend.get_item(table_name, key) is not None:
                        backend.delete_item(table_name, key)
                else:
                    backend.put_item(table_name, attributes, overwrite=True)
            raise
        finally:
            models.copy = real_copy

    DynamoDBBackend.transact_write_items = transact_write_items
    try:
        yield
    finally:
        DynamoDBBackend.transact_write_items = original


@contextlib.contextmanager
def _fake_aws_environment():
    from local.in_process_lambda import restore_environ

    values = {
        "AWS_ACCESS_KEY_ID": "bench",
        "AWS_SECRET_ACCESS_KEY": "bench",
        "AWS_DEFAULT_REGION": REGION,
        "AWS_REGION": REGION,
        "POWERTOOLS_TRACE_DISABLED": "true",
        "POWERTOOLS_METRICS_NAMESPACE": "MLNews",
        "POWERTOOLS_SERVICE_NAME": "ml-news-pipeline",
        "POWERTOOLS_LOG_LEVEL": "ERROR",
    }
    saved = {name: os.environ.get(name) for name in [*values, "AWS_ENDPOINT_URL", "AWS_PROFILE"]}
    os.environ.update(values)
    os.environ.pop("AWS_ENDPOINT_URL", None)
    os.environ.pop("AWS_PROFILE", None)
    try:
        yield
    finally:
        restore_environ(saved)


@contextlib.contextmanager
def _functions_log_quietly():
    """The functions' log lines (one JSON line per record) go to their CloudWatch log in moto, not to the
    terminal."""
    from local.in_process_lambda import ThreadRoutedStream

    saved = sys.stdout
    stream = ThreadRoutedStream(saved)
    sys.stdout = stream
    try:
        yield stream
    finally:
        sys.stdout = saved


@dataclass
class Options:
    messages: int = 10_000  # feedback messages the API accepts (202)
    fault_rate: float = 0.10  # of consumer invocations
    seed: int = 9
    duplicate_submission_rate: float = 0.04
    conflicting_submission_rate: float = 0.02
    forged_rate: float = 0.02
    in_batch_duplicate_rate: float = 0.03  # of invocations: one record delivered twice in the batch
    late_duplicate_rate: float = 0.02  # of delivered records: the message delivered again later
    chunk: int = 250  # submissions between deliveries
    rotate_at: float = 0.5  # fraction of messages after which the signing key rotates (None: never)
    faults_in_turn: bool = False  # the kind that fired least so far instead of a drawn one (small runs)
    persistent_throttles: bool = True  # throttled_write on every attempt (the client backs off ~7 s)
    per_key_daily_limit: int | None = None  # FeedbackPerKeyDailyLimit (None: the template's default)
    max_receive_count: int | None = None  # FeedbackMaxReceiveCount, receives before the DLQ (None: default)
    progress: bool = False


@dataclass
class Tally:
    submitted: int = 0
    accepted: dict = field(default_factory=dict)  # message id -> (prediction id, sender, label)
    refused: Counter = field(default_factory=Counter)  # status -> count
    duplicate_submissions: int = 0
    conflicting_submissions: int = 0
    invocations: int = 0
    faults: Counter = field(default_factory=Counter)
    records_delivered: int = 0
    redelivered_records: int = 0
    in_batch_duplicates: int = 0
    late_duplicates: int = 0
    rotation_after: int | None = None


# 40 API keys and the keyless callers (None): three keys send far more than their daily limit.
SENDERS: list[str | None] = [*(f"key-{n:02d}" for n in range(40)), None]
SENDER_WEIGHTS = [0.1, 0.1, 0.1, *[0.65 / 37] * 37, 0.05]


@functools.cache
def _sample_api_event() -> str:
    return (REPO_ROOT / "events" / "api_feedback.json").read_text()


def _api_event(body: dict, api_key_id: str | None) -> dict:
    event = json.loads(_sample_api_event())
    event["body"] = json.dumps(body)
    event["requestContext"]["identity"]["apiKeyId"] = api_key_id
    return event


def run(options: Options | None = None) -> dict:
    """Run the scenario; returns the report (see module docstring)."""
    options = options or Options()
    from moto import mock_aws

    from local.iam.enforcement import access_control
    from local.iam.enforcement import install as install_iam_checks
    from local.in_process_lambda import InProcessLambda

    started = time.monotonic()
    with (
        tempfile.TemporaryDirectory(prefix="mlnews-faults-") as work,
        _fake_aws_environment(),
        _functions_log_quietly() as stream,
    ):
        install_iam_checks()
        lambdas = InProcessLambda(tmp_root=Path(work) / "lambda-tmp", stream=stream)
        access_control.take_denials()
        with mock_aws(), lambdas.installed(), Injector().installed() as injector:
            report = _scenario(options, lambdas, injector)
        report["iam_refusals"] = [denial.report() for denial in access_control.take_denials()]
    report["elapsed_s"] = round(time.monotonic() - started, 1)
    return report


def _scenario(options: Options, lambdas, injector: Injector) -> dict:
    from core.feedback.prediction_ids import issue_prediction_id
    from local.key_rotation import rotate
    from local.sqs_poller import SqsPoller, disable_moto_sqs_mappings, invoke_payload, sqs_mappings
    from local.stack import MotoInThisProcess, deploy
    from local.template import TEMPLATE_PATH
    from local.waiting import wait_until

    # Submissions draw from their own generator: how deliveries interleave (timing) never changes them.
    rng, delivery_rng = random.Random(options.seed), random.Random(options.seed + 1)
    here = MotoInThisProcess(lambdas, REGION)
    parameters = {}
    if options.per_key_daily_limit is not None:
        parameters["FeedbackPerKeyDailyLimit"] = str(options.per_key_daily_limit)
    if options.max_receive_count is not None:
        parameters["FeedbackMaxReceiveCount"] = str(options.max_receive_count)
    deployment = deploy(here, TEMPLATE_PATH, "mlnews-bench", parameters=parameters)
    disable_moto_sqs_mappings()
    sqs, lam, sm = here.client("sqs"), here.client("lambda"), here.client("secretsmanager")
    queue, dlq = deployment.physical("FeedbackQueue"), deployment.physical("FeedbackDeadLetterQueue")
    sqs.set_queue_attributes(QueueUrl=queue, Attributes={"VisibilityTimeout": "1"})
    secret = deployment.physical("PredictionSigningSecret")
    feedback_api = deployment.functions["FeedbackApiFunction"]
    consumer_name = deployment.functions["FeedbackConsumerFunction"]
    limit = int(deployment.function_environment("FeedbackConsumerFunction")["FEEDBACK_PER_KEY_DAILY_LIMIT"])
    tally = Tally()
    kinds, weights = list(FAULT_KINDS), list(FAULT_KINDS.values())
    faults_enabled = [True]

    def key() -> bytes:
        return sm.get_secret_value(SecretId=secret, VersionStage="AWSCURRENT")["SecretString"].encode()

    def next_fault(batch_size: int) -> Fault | None:
        if not faults_enabled[0] or delivery_rng.random() >= options.fault_rate:
            return None
        if options.faults_in_turn:
            # a fault armed beyond the batch's last transaction never fires: its kind comes again
            kind = min(kinds, key=lambda k: injector.fired[k])
        else:
            kind = delivery_rng.choices(kinds, weights)[0]
        persistent = options.persistent_throttles and delivery_rng.random() < 0.5
        return Fault(kind, at=delivery_rng.randrange(max(1, batch_size)), persistent=persistent)

    def invoke_consumer(function_arn: str, event: dict):
        tally.invocations += 1
        records = event["Records"]
        tally.records_delivered += len(records)
        tally.redelivered_records += sum(
            1 for r in records if int(r["attributes"].get("ApproximateReceiveCount", "1")) > 1
        )
        if faults_enabled[0] and records and delivery_rng.random() < options.in_batch_duplicate_rate:
            records.append(copy.deepcopy(delivery_rng.choice(records)))  # delivered twice to one invocation
            tally.in_batch_duplicates += 1
        for record in records:
            if faults_enabled[0] and delivery_rng.random() < options.late_duplicate_rate:
                sqs.send_message(QueueUrl=queue, MessageBody=record["body"])  # delivered again later
                tally.late_duplicates += 1
        fault = next_fault(len(records))
        if fault is not None:
            tally.faults[fault.kind] += 1
            if fault.kind == "throttled":
                fault.fired = True
                injector.fired["throttled"] += 1
                return None, True  # Lambda never ran it; the batch returns to the queue
        injector.arm(fault)
        try:
            return invoke_payload(lam, function_arn, event)
        except FunctionCrash:
            lambdas.runtimes.pop(consumer_name, None)  # a dead runtime: the next invocation starts cold
            return None, True
        finally:
            injector.arm(None)

    poller = SqsPoller(sqs, invoke_consumer, sqs_mappings(lam, sqs), REGION, max_window_seconds=0)

    def queue_depth(url: str) -> int:
        names = ["ApproximateNumberOfMessages", "ApproximateNumberOfMessagesNotVisible"]
        attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=names)["Attributes"]
        return sum(int(attributes[name]) for name in names)

    def drain(timeout: float = 600) -> None:
        """Deliver until the queue is empty, hidden (retried) messages included; WaitTimeout otherwise."""

        def left() -> int:
            poller.drain(timeout)
            return queue_depth(queue)

        wait_until(left, lambda depth: depth == 0, timeout=timeout, interval=0.2)

    predictions: list[dict] = []  # issued ids to submit feedback for: {"body", "sender"}
    current_key = key()

    def submit(body: dict, sender: str | None) -> tuple[int, dict]:
        tally.submitted += 1
        result, _ = invoke_payload(lam, feedback_api, _api_event(body, sender))
        return int(result["statusCode"]), json.loads(result["body"])

    while len(tally.accepted) < options.messages:
        if tally.rotation_after is None and options.rotate_at is not None:
            if len(tally.accepted) >= options.rotate_at * options.messages:
                rotate(sm, deployment)
                tally.rotation_after = len(tally.accepted)
                current_key = key()
        draw = rng.random()
        if predictions and draw < options.duplicate_submission_rate:
            earlier = rng.choice(predictions)
            body, sender = dict(earlier["body"]), earlier["sender"]
            tally.duplicate_submissions += 1
        elif predictions and draw < options.duplicate_submission_rate + options.conflicting_submission_rate:
            earlier = rng.choice(predictions)
            other = rng.choice([c for c in CATEGORIES if c != earlier["body"]["correct_category"]])
            body, sender = dict(earlier["body"], correct_category=other), earlier["sender"]
            tally.conflicting_submissions += 1
        else:
            n = len(predictions)
            headline = (
                f"Headline {n} of the fault run: {rng.choice(CATEGORIES).lower()} story {rng.random():.6f}"
            )
            predicted = rng.choice(CATEGORIES)
            label = predicted if rng.random() < 0.6 else rng.choice(CATEGORIES)
            token = issue_prediction_id(current_key, headline, predicted, "v0001")
            body = {"prediction_id": token, "correct_category": label, "headline": headline}
            sender = rng.choices(SENDERS, SENDER_WEIGHTS)[0]
            if rng.random() < options.forged_rate:
                forged = dict(body, headline=headline + " (changed)")  # no longer the predicted headline
                status, _ = submit(forged, sender)
                tally.refused[status] += 1
                continue
            predictions.append({"body": body, "sender": sender})
        status, payload = submit(body, sender)
        if status == 202:
            tally.accepted[payload["message_id"]] = (body["prediction_id"], sender, body["correct_category"])
        else:
            tally.refused[status] += 1
        if tally.submitted % options.chunk == 0:
            poller.drain(timeout=600)
            if options.progress:
                print(f"  {len(tally.accepted)} accepted, {tally.invocations} invocations", file=sys.stderr)
    drain()
    table = deployment.physical("FeedbackTable")
    stored_before_redrive = {
        item["prediction_id"] for item in _scan(here.client("dynamodb"), table)
    }
    dead = _receive_all(sqs, dlq)
    faults_enabled[0] = False  # the incident is over: an operator redrives the dead letters
    for message in dead:
        sqs.send_message(QueueUrl=queue, MessageBody=message["Body"])
    drain()
    return _recount(deployment, here, tally, injector, dead, stored_before_redrive, limit, options)


def _receive_all(sqs, url: str) -> list[dict]:
    found = []
    while batch := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10, VisibilityTimeout=60).get(
        "Messages", []
    ):
        found += batch
        for message in batch:
            sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    return found


def _scan(client, table: str) -> list[dict]:
    from core.dynamodb_values import from_attribute_values

    pages = client.get_paginator("scan").paginate(TableName=table)
    return [from_attribute_values(item) for page in pages for item in page["Items"]]


def _recount(
    deployment, here, tally: Tally, injector: Injector, dead: list, stored_before: set, limit: int, options
) -> dict:
    from core.feedback.counters import COUNTER_HELD, COUNTER_TOTAL, PREDICTED_PREFIX, SENDER_PREFIX
    from core.feedback.messages import sender_of
    from core.feedback.storage import CLAIM_PREFIX

    ddb = here.client("dynamodb")
    items = _scan(ddb, deployment.physical("FeedbackTable"))
    stats = _scan(ddb, deployment.physical("StatsTable"))
    counters = {(row["pk"], row["sk"]): row for row in stats}

    accepted_ids = {pid for pid, _, _ in tally.accepted.values()}
    stored = Counter(item["prediction_id"] for item in items)
    dead_ids = {json.loads(m["Body"])["prediction_id"] for m in dead}
    counted = [item for item in items if item.get("counted", True)]
    held = [item for item in items if not item.get("counted", True)]

    recount: dict[tuple[str, str], Counter] = defaultdict(Counter)
    for item in counted:
        correct = int(bool(item["correct"]))
        for key in (COUNTER_TOTAL, ("CATEGORY", item["correct_category"]), ("MODEL", item["model_version"])):
            recount[key]["total"] += 1
            recount[key]["correct"] += correct
        recount[(SENDER_PREFIX + sender_of(item), item["day"])]["stored"] += 1
    for item in held:
        recount[COUNTER_HELD]["total"] += 1
        recount[(SENDER_PREFIX + sender_of(item), item["day"])]["held"] += 1
    mismatches, counted_twice = [], 0
    keys = {k for k in counters if not k[0].startswith((CLAIM_PREFIX, PREDICTED_PREFIX))} | set(recount)
    for key in sorted(keys):
        for attribute in ("total", "correct", "stored", "held"):
            have = int(counters.get(key, {}).get(attribute, 0))
            want = recount[key][attribute]
            if have != want:
                mismatches.append(
                    {"counter": "/".join(key), "attribute": attribute, "have": have, "recount": want}
                )
                counted_twice += max(0, have - want)
    per_sender = Counter(sender_of(item) for item in counted)
    claims = sum(1 for key in counters if key[0].startswith(CLAIM_PREFIX))
    return {
        "options": {k: v for k, v in vars(options).items() if k != "progress"},
        "submitted": tally.submitted,
        "accepted": len(tally.accepted),
        "accepted_predictions": len(accepted_ids),
        "refused_at_api": dict(tally.refused),
        "duplicate_submissions": tally.duplicate_submissions,
        "conflicting_submissions": tally.conflicting_submissions,
        "stored_items": len(items),
        "stored_counted": len(counted),
        "stored_held_back": len(held),
        "claims": claims,
        "duplicated": sum(1 for n in stored.values() if n > 1),
        "lost": len(accepted_ids - set(stored)),
        "not_accepted_but_stored": len(set(stored) - accepted_ids),
        "dead_lettered": len(dead),
        "dead_lettered_predictions": len(dead_ids),
        # accepted predictions the DLQ alone held before the redrive; and any neither stored nor there
        "only_in_dlq_before_redrive": len((accepted_ids - stored_before) & dead_ids),
        "vanished_before_redrive": len(accepted_ids - stored_before - dead_ids),
        "counter_mismatches": mismatches,
        "counted_twice": counted_twice,
        "counters_equal_recount": not mismatches,
        "stats_total": int(counters.get(COUNTER_TOTAL, {}).get("total", 0)),
        "stats_held_back": int(counters.get(COUNTER_HELD, {}).get("total", 0)),
        "per_key_daily_limit": limit,
        "senders_over_limit": sorted(s for s, n in per_sender.items() if n > limit),
        "busiest_sender_counted": max(per_sender.values(), default=0),
        "invocations": tally.invocations,
        "faults_drawn": dict(tally.faults),
        "faults_fired": dict(injector.fired),
        "records_delivered": tally.records_delivered,
        "redelivered_records": tally.redelivered_records,
        "in_batch_duplicates": tally.in_batch_duplicates,
        "late_duplicates": tally.late_duplicates,
        "key_rotated_after_accepted": tally.rotation_after,
    }


def render_markdown(report: dict) -> str:
    goal = (
        "PASS"
        if not report["lost"] and not report["duplicated"] and report["counters_equal_recount"]
        else "MISS"
    )
    options = report["options"]
    rows = [
        (
            "feedback accepted (202)",
            report["accepted"],
            f"{report['accepted_predictions']} distinct predictions",
        ),
        ("refused at the API", sum(report["refused_at_api"].values()), f"forged: {report['refused_at_api']}"),
        (
            "duplicate / conflicting submissions",
            f"{report['duplicate_submissions']} / {report['conflicting_submissions']}",
            "accepted, stored once",
        ),
        (
            "stored items",
            report["stored_items"],
            f"{report['stored_counted']} counted, "
            f"{report['stored_held_back']} held back "
            f"(over a key's daily limit of {report['per_key_daily_limit']})",
        ),
        ("**lost**", report["lost"], "accepted, not stored (after redriving the DLQ)"),
        ("**duplicated**", report["duplicated"], "predictions stored more than once"),
        (
            "dead-lettered",
            report["dead_lettered"],
            f"redriven after the run; before that {report['only_in_dlq_before_redrive']} accepted "
            f"predictions were only there, {report['vanished_before_redrive']} nowhere",
        ),
        ("**counted twice**", report["counted_twice"], "counter minus recount, summed"),
        (
            "counters = recount",
            report["counters_equal_recount"],
            f"stats total {report['stats_total']}, "
            f"held_back {report['stats_held_back']}; {len(report['counter_mismatches'])} mismatches",
        ),
        ("consumer invocations", report["invocations"], f"faults drawn {report['faults_drawn']}"),
        ("faults that fired", sum(report["faults_fired"].values()), str(report["faults_fired"])),
        (
            "records delivered",
            report["records_delivered"],
            f"{report['redelivered_records']} redeliveries, "
            f"{report['in_batch_duplicates']} in-batch and "
            f"{report['late_duplicates']} late duplicate deliveries",
        ),
        ("key rotation", report["key_rotated_after_accepted"], "after this many accepted messages"),
        ("IAM refusals", len(report["iam_refusals"]), "calls a role made that AWS would refuse"),
        ("time", f"{report['elapsed_s']} s", f"seed {options['seed']}"),
    ]
    lines = [
        f"# Feedback under faults: {report['accepted']} messages, {options['fault_rate']:.0%} of consumer "
        f"invocations failing: {goal}",
        "",
        "| | count | note |",
        "|---|---|---|",
        *(f"| {name} | {value} | {note} |" for name, value, note in rows),
        "",
        f"Measured {report.get('measured_at', '')} "
        f"on {report.get('machine', {}).get('cpu_count', '?')} CPUs, "
        f"commit {report.get('git', {}).get('commit', '?')[:12]}; `python -m bench.feedback_faults` "
        "(docs/reliability.md).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.run import git_facts, load_average, stamp_report, write_result_files

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--messages", type=int, default=Options.messages)
    parser.add_argument("--fault-rate", type=float, default=Options.fault_rate)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.messages < 1 or not 0 <= args.fault_rate < 1:
        parser.error("--messages must be >= 1 and --fault-rate in [0, 1)")
    load_before, git = load_average(), git_facts()  # the code as it was when the run started
    report = run(Options(messages=args.messages, fault_rate=args.fault_rate, seed=args.seed, progress=True))
    stamp = stamp_report(report, load_before, git)
    markdown = render_markdown(report)
    write_result_files(args.out, f"feedback_faults-{stamp}", "feedback_faults", report, markdown)
    print(markdown)
    return 0 if "PASS" in markdown.splitlines()[0] else 1


if __name__ == "__main__":
    sys.exit(main())
