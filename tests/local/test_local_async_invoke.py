"""Issue 7, defect 4: a function that invokes another one asynchronously must not deadlock local mode.

The caller's handler runs under the in-process runner's lock; moto serves its nested Invoke on another server
thread. InvocationType=Event must answer 202 at once and run the callee after the caller has returned.
"""

import io
import json
import threading
import time
import zipfile

import boto3
import pytest
from botocore.config import Config

from local.emulator import Emulator
from local.waiting import WaitTimeout, wait_until

CALLER = """
import json, boto3

def handler(event, context):
    response = boto3.client("lambda").invoke(
        FunctionName=event["target"], InvocationType="Event", Payload=json.dumps({"marker": event["marker"]})
    )
    return {"status": response["StatusCode"], "body": response["Payload"].read().decode()}
"""

CALLEE = """
import os, boto3

def handler(event, context):
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=event["marker"], Body=b"ran")
    return {"ok": True}
"""


def in_thread(call, timeout):
    """call() on a thread; a hang fails the test instead of blocking the suite."""
    outcome = {}
    thread = threading.Thread(target=lambda: outcome.setdefault("value", call()), daemon=True)
    thread.start()
    thread.join(timeout)
    assert not thread.is_alive(), f"no answer within {timeout} s (deadlock)"
    return outcome["value"]


@pytest.fixture
def emulator(tmp_path):
    (tmp_path / "async_caller_fixture.py").write_text(CALLER)
    (tmp_path / "async_callee_fixture.py").write_text(CALLEE)
    with Emulator() as running:
        for name in ("AsyncCaller", "AsyncCallee"):
            running.lambdas.code_dirs[name] = tmp_path
        yield running


def test_async_invoke_from_a_handler_returns_at_once_and_the_callee_runs_after(emulator):
    quick = Config(read_timeout=10, connect_timeout=5, retries={"total_max_attempts": 1})
    lam, s3 = emulator.client("lambda"), emulator.client("s3")
    iam = emulator.client("iam")
    role = iam.create_role(RoleName="fixture", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    s3.create_bucket(Bucket="async-marks")
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    for name, module in (("AsyncCaller", "async_caller_fixture"), ("AsyncCallee", "async_callee_fixture")):
        lam.create_function(
            FunctionName=name,
            Runtime="python3.12",
            Role=role,
            Handler=f"{module}.handler",
            Code={"ZipFile": code.getvalue()},
            Environment={"Variables": {"BUCKET": "async-marks"}},
        )
    client = boto3.client(
        "lambda",
        region_name=emulator.region,
        endpoint_url=emulator.endpoint_url,
        config=quick,
        aws_access_key_id="local",
        aws_secret_access_key="local",
    )
    started = time.perf_counter()
    payload = json.dumps({"target": "AsyncCallee", "marker": "m1"}).encode()
    response = in_thread(lambda: client.invoke(FunctionName="AsyncCaller", Payload=payload), timeout=15)
    assert "FunctionError" not in response, response["Payload"].read()
    assert json.loads(response["Payload"].read()) == {"status": 202, "body": ""}  # as AWS answers Event
    assert time.perf_counter() - started < 10
    try:
        wait_until(
            lambda: s3.list_objects_v2(Bucket="async-marks", Prefix="m1"),
            lambda listed: "Contents" in listed,
            timeout=15,
            interval=0.1,
        )
    except WaitTimeout:
        pytest.fail("the asynchronously invoked function never ran")
    # the emulator still answers afterwards
    names = in_thread(lambda: [f["FunctionName"] for f in client.list_functions()["Functions"]], timeout=10)
    assert set(names) == {"AsyncCaller", "AsyncCallee"}


FAILING = """
import os, uuid, boto3

def handler(event, context):
    key = f"{event['marker']}/{uuid.uuid4()}"
    boto3.client("s3").put_object(Bucket=os.environ["BUCKET"], Key=key, Body=b"")
    raise RuntimeError("evaluation crashed")
"""


def test_a_failing_async_invoke_is_retried_then_recorded_at_its_failure_destination(emulator, tmp_path):
    """As Lambda does (and as EvaluateModelFunction's EventInvokeConfig asks): MaximumRetryAttempts retries,
    then a RetriesExhausted record with the request and the error goes to the OnFailure queue."""
    (tmp_path / "async_failing_fixture.py").write_text(FAILING)
    emulator.lambdas.code_dirs["AsyncFailing"] = tmp_path
    lam, s3, sqs = emulator.client("lambda"), emulator.client("s3"), emulator.client("sqs")
    role = emulator.client("iam").create_role(RoleName="fixture", AssumeRolePolicyDocument="{}")["Role"][
        "Arn"
    ]
    s3.create_bucket(Bucket="async-marks")
    queue = sqs.create_queue(QueueName="failures")["QueueUrl"]
    queue_arn = sqs.get_queue_attributes(QueueUrl=queue, AttributeNames=["QueueArn"])["Attributes"][
        "QueueArn"
    ]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("placeholder.py", "")
    lam.create_function(
        FunctionName="AsyncFailing",
        Runtime="python3.12",
        Role=role,
        Handler="async_failing_fixture.handler",
        Code={"ZipFile": code.getvalue()},
        Environment={"Variables": {"BUCKET": "async-marks"}},
    )
    lam.put_function_event_invoke_config(
        FunctionName="AsyncFailing",
        MaximumRetryAttempts=1,
        DestinationConfig={"OnFailure": {"Destination": queue_arn}},
    )
    response = lam.invoke(FunctionName="AsyncFailing", InvocationType="Event", Payload=b'{"marker": "f1"}')
    assert response["StatusCode"] == 202
    try:
        messages = wait_until(
            lambda: sqs.receive_message(QueueUrl=queue, WaitTimeSeconds=0).get("Messages", []),
            bool,
            timeout=15,
            interval=0.1,
        )
    except WaitTimeout:
        pytest.fail("no failure record reached the destination")
    record = json.loads(messages[0]["Body"])
    assert record["requestContext"]["condition"] == "RetriesExhausted"
    assert record["requestContext"]["approximateInvokeCount"] == 2  # the first attempt and one retry
    assert record["requestPayload"] == {"marker": "f1"}
    assert record["responsePayload"]["errorMessage"] == "evaluation crashed"
    assert len(s3.list_objects_v2(Bucket="async-marks", Prefix="f1/")["Contents"]) == 2
