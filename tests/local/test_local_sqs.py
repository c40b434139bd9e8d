"""SQS -> Lambda delivery semantics of local mode's poller (batches, partial failures, redrive to the DLQ)."""

import contextlib
import time
from pathlib import Path

import boto3
import pytest

from local.iam.enforcement import access_control
from local.session import LocalConfig, LocalSession
from local.waiting import WaitTimeout, wait_until

REGION = "us-east-1"
FIXTURE = Path(__file__).parent / "fixtures" / "local_app" / "template.yaml"


@pytest.fixture(scope="module")
def session():
    with LocalSession(LocalConfig(port=0, template=FIXTURE, max_batching_window=0)) as running:
        running.poller.stop()  # tests drive delivery themselves, poll by poll
        yield running


@pytest.fixture
def queues(session):
    sqs = session.emulator.client("sqs")
    work, dlq = session.deployment.physical("WorkQueue"), session.deployment.physical("DeadLetterQueue")
    for url in (work, dlq):  # PurgeQueue is limited to once a minute: empty the queues by hand
        sqs.set_queue_attributes(QueueUrl=url, Attributes={"VisibilityTimeout": "0"})
        while messages := sqs.receive_message(QueueUrl=url, MaxNumberOfMessages=10).get("Messages"):
            for message in messages:
                sqs.delete_message(QueueUrl=url, ReceiptHandle=message["ReceiptHandle"])
    sqs.set_queue_attributes(QueueUrl=work, Attributes={"VisibilityTimeout": "1"})
    sqs.set_queue_attributes(QueueUrl=dlq, Attributes={"VisibilityTimeout": "30"})
    return sqs, work, dlq


def deliveries(session, body):
    item = session.emulator.client("dynamodb").get_item(
        TableName=session.deployment.physical("Table"), Key={"pk": {"S": f"seen#{body}"}}
    )
    return int(item.get("Item", {}).get("deliveries", {}).get("N", 0))


def visible(sqs, url):
    attributes = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["All"])["Attributes"]
    return int(attributes["ApproximateNumberOfMessages"]), int(
        attributes["ApproximateNumberOfMessagesNotVisible"]
    )


def test_sending_does_not_invoke_synchronously(session, queues):
    sqs, work, _ = queues
    sqs.send_message(QueueUrl=work, MessageBody="sync-check")
    assert deliveries(session, "sync-check") == 0  # moto's own synchronous mapping is off
    assert visible(sqs, work) == (1, 0)
    session.poller.drain(timeout=10)
    assert deliveries(session, "sync-check") == 1


def test_the_consumer_calls_as_its_role_even_after_the_host_made_a_default_session(session, queues):
    """Plain boto3 code (the fixture's consumer uses boto3's default session) keeps the credentials it first
    found; each Lambda has its own process, so a session the host made before must not lend it its keys."""
    sqs, work, _ = queues
    boto3.setup_default_session(aws_access_key_id="host", aws_secret_access_key="host", region_name=REGION)
    boto3.client("sts")  # the host's session now holds its credentials
    before = access_control.checked["ConsumerFunction", "dynamodb:UpdateItem"]
    sqs.send_message(QueueUrl=work, MessageBody="as-role")
    try:
        session.poller.drain(timeout=10)
    finally:
        boto3.DEFAULT_SESSION = None
    assert deliveries(session, "as-role") == 1
    assert access_control.checked["ConsumerFunction", "dynamodb:UpdateItem"] == before + 1


def test_batch_with_partial_failure_deletes_successes_exactly_once(session, queues):
    sqs, work, dlq = queues
    bodies = ["ok-1", "ok-2", "fail-1", "ok-3"]
    for body in bodies:
        sqs.send_message(QueueUrl=work, MessageBody=body)
    mapping = session.poller.mappings[0]
    assert mapping.batch_size == 5 and mapping.report_failures
    outcome = session.poller.poll_once(mapping)
    assert outcome.received == 4 and len(outcome.deleted) == 3 and len(outcome.failed) == 1
    # only the failure is left (hidden for the 1 s visibility timeout, or visible again on a slow machine)
    assert sum(visible(sqs, work)) == 1
    wait_until(lambda: visible(sqs, work), lambda counts: counts == (1, 0), timeout=10, interval=0.1)
    assert session.poller.poll_once(mapping).received == 1  # the failure comes back, alone
    wait_until(lambda: visible(sqs, work), lambda counts: counts == (1, 0), timeout=10, interval=0.1)
    assert session.poller.poll_once(mapping).received == 0  # maxReceiveCount 2: now moved to the DLQ
    assert [
        m["Body"] for m in sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    ] == ["fail-1"]
    for body in ("ok-1", "ok-2", "ok-3"):
        assert deliveries(session, body) == 1
    assert deliveries(session, "fail-1") == 2


def test_a_function_error_fails_the_whole_batch(session, queues):
    sqs, work, dlq = queues
    for body in ("crash", "fine"):
        sqs.send_message(QueueUrl=work, MessageBody=body)
    outcome = session.poller.poll_once(session.poller.mappings[0])
    assert outcome.function_error and outcome.received == 2 and not outcome.deleted
    time.sleep(1.2)
    session.poller.poll_once(session.poller.mappings[0])
    time.sleep(1.2)
    session.poller.poll_once(session.poller.mappings[0])
    moved = sqs.receive_message(QueueUrl=dlq, MaxNumberOfMessages=10).get("Messages", [])
    assert sorted(m["Body"] for m in moved) == ["crash", "fine"]


def test_unknown_item_identifier_fails_the_whole_batch(session):
    from local.sqs_poller import Mapping, SqsPoller

    mapping = Mapping("u", "arn", "url", "fn", 10, 0, True)
    ids = ["a", "b"]
    assert SqsPoller._reported_failures(
        {"batchItemFailures": [{"itemIdentifier": "zzz"}]}, ids, mapping
    ) == set(ids)
    assert SqsPoller._reported_failures({"batchItemFailures": [{"itemIdentifier": "a"}]}, ids, mapping) == {
        "a"
    }
    assert SqsPoller._reported_failures({"batchItemFailures": []}, ids, mapping) == set()
    plain = Mapping(
        "u", "arn", "url", "fn", 10, 0, False
    )  # without ReportBatchItemFailures the list is ignored
    assert SqsPoller._reported_failures({"batchItemFailures": [{"itemIdentifier": "a"}]}, ids, plain) == set()


def test_background_poller_delivers(session, queues):
    sqs, work, _ = queues
    session.poller.start()  # again, after the fixture stopped it
    try:
        sqs.send_message(QueueUrl=work, MessageBody="background")
        with contextlib.suppress(WaitTimeout):
            wait_until(lambda: deliveries(session, "background"), bool, timeout=10, interval=0.1)
        assert deliveries(session, "background") == 1
    finally:
        session.poller.stop()
