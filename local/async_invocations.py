"""Asynchronous invocations (InvocationType=Event) as Lambda runs them: answered at once, run afterwards on a
worker thread, retried, and recorded at the OnFailure destination when they keep failing. Run inline, a
handler that invokes another function asynchronously would wait on the lock it holds (another server thread).
"""

from __future__ import annotations

import json
import os
import queue
import sys
import threading
import time
import traceback
import uuid
from contextlib import contextmanager

from local.iam.enforcement import access_control, role_client
from local.in_process_lambda import InProcessLambda


class AsyncInvoker:
    """One daemon worker that runs queued async invocations in order, after their caller returned."""

    def __init__(self):
        self._queue: queue.Queue | None = None
        self._thread: threading.Thread | None = None
        self._closing = threading.Event()
        self._guard = threading.Lock()

    @contextmanager
    def installed(self, lambdas: InProcessLambda):
        """While the block runs, InvocationType=Event invocations answer at once and run on the worker."""
        from moto.awslambda.models import LambdaFunction

        original = LambdaFunction.invoke

        def invoke(function, body, request_headers, response_headers):
            if (request_headers or {}).get("x-amz-invocation-type") != "Event":
                return original(function, body, request_headers, response_headers)
            self.submit(lambda: run_async_invocation(lambdas, function, body))
            return b""  # AWS answers 202 with an empty body; not None, which moto turns into a 404

        LambdaFunction.invoke = invoke
        try:
            yield self
        finally:
            LambdaFunction.invoke = original

    def submit(self, call) -> None:
        with self._guard:
            if self._thread is None:
                self._queue, self._closing = queue.Queue(), threading.Event()
                self._thread = threading.Thread(
                    target=self._run, args=(self._queue, self._closing), name="lambda-async", daemon=True
                )
                self._thread.start()
            self._queue.put(call)

    @staticmethod
    def _run(work: queue.Queue, closing: threading.Event) -> None:
        while (call := work.get()) is not None:
            if closing.is_set():
                continue  # stopping: drop what is left
            try:
                call()
            except Exception:  # a failed async invoke must not kill the worker (AWS would retry it)
                traceback.print_exc(file=sys.stderr)

    def close(self, timeout: float = 10.0) -> None:
        """Let queued invocations finish for up to `timeout` seconds, then drop the rest."""
        with self._guard:
            thread, work, closing = self._thread, self._queue, self._closing
            self._thread = self._queue = None
        if thread is None:
            return
        work.put(None)
        thread.join(timeout)
        closing.set()


def run_async_invocation(lambdas: InProcessLambda, function, body) -> None:
    """An asynchronous invocation as Lambda runs it: retried up to the function's MaximumRetryAttempts
    (default 2) on a function error, then, if it still fails, a failure record sent to its OnFailure
    destination with the function's role (as Lambda does; checked by local IAM). AWS waits a minute and
    then two between attempts; here they follow at once. Only SQS destinations are emulated.
    https://docs.aws.amazon.com/lambda/latest/dg/invocation-async-retain-records.html"""
    configs = getattr(function, "event_invoke_config", None) or []
    config = configs[0].config if configs else {}
    attempts = 1 + int(config.get("MaximumRetryAttempts", 2))
    event = json.loads(body or "{}") if isinstance(body, str | bytes) else body
    for _attempt in range(attempts):
        payload, errored, _logs = lambdas.invoke(function, event)
        if not errored:
            return
    destination = ((config.get("DestinationConfig") or {}).get("OnFailure") or {}).get("Destination")
    if not destination:
        return  # dropped, as on AWS
    record = {
        "version": "1.0",
        "timestamp": time.strftime("%Y-%m-%dT%H:%M:%S.000Z", time.gmtime()),
        "requestContext": {
            "requestId": str(uuid.uuid4()),
            "functionArn": f"{function.function_arn}:$LATEST",
            "condition": "RetriesExhausted",
            "approximateInvokeCount": attempts,
        },
        "requestPayload": event,
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "responsePayload": json.loads(payload),
    }
    if not destination.startswith("arn:aws:sqs:"):
        print(f"local mode: OnFailure destination {destination} is not emulated (SQS only)", file=sys.stderr)
        return
    import boto3

    region, account, name = destination.split(":")[3:6]
    endpoint = os.environ.get("AWS_ENDPOINT_URL")
    if access_control.knows(function.role):
        sqs = role_client("sqs", function.role, function.function_name, region, endpoint)
    else:
        sqs = boto3.client("sqs", region_name=region, endpoint_url=endpoint, aws_access_key_id="local",
                           aws_secret_access_key="local")
    sqs.send_message(QueueUrl=f"{endpoint}/{account}/{name}", MessageBody=json.dumps(record))
