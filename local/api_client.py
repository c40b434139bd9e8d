"""A tiny client for local mode's HTTP API, used by bootstrap and the demo. Every request is signed with
SigV4 (local.sigv4) with local mode's `local` key: IAM routes need it, the others ignore it (as on AWS)."""

from __future__ import annotations

import json
import os
import time
import urllib.error
import urllib.request
from dataclasses import dataclass

from core.errors import MlNewsError
from local.sigv4 import sign
from local.waiting import WaitTimeout, wait_until

RUNNING_STATUSES = ("RUNNING", "PENDING_REDRIVE")  # GET /api/v1/model/train/{job_id} while it runs


class ApiError(MlNewsError, RuntimeError):
    """The local API answered with an unexpected status (message has the request and the answer)."""

    code = "api_error"

    def __init__(self, method: str, path: str, status: int, body: object):
        self.status, self.body = status, body
        super().__init__(f"{method} {path} -> HTTP {status}: {json.dumps(body)[:500]}")


@dataclass
class ApiResponse:
    status: int
    body: object
    millis: float
    headers: dict


@dataclass
class ApiClient:
    base_url: str
    correlation_prefix: str = "local"
    timeout: float = 120
    region: str | None = None  # of the signatures; default: the environment's, as local mode's emulator
    # Local mode's own key, not the process's environment, which in-process functions overlay with their
    # roles' credentials while they run.
    access_key: tuple[str, str] = ("local", "local")

    def call(
        self,
        method: str,
        path: str,
        body: object | None = None,
        expect: tuple[int, ...] = (200, 202),
        correlation_id: str | None = None,
    ) -> ApiResponse:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        headers = {"X-Correlation-ID": correlation_id or f"{self.correlation_prefix}-{time.time_ns()}"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        headers = sign(method, self.base_url + path, headers, data, self._region(), self._credentials())
        request = urllib.request.Request(self.base_url + path, data=data, method=method, headers=headers)
        started = time.perf_counter()
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw, headers = response.status, response.read(), dict(response.headers)
        except urllib.error.HTTPError as error:
            status, raw, headers = error.code, error.read(), dict(error.headers)
        millis = (time.perf_counter() - started) * 1000
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        if expect and status not in expect:
            raise ApiError(method, path, status, parsed)
        return ApiResponse(status, parsed, millis, headers)

    def _region(self) -> str:
        environ = os.environ
        return self.region or environ.get("AWS_DEFAULT_REGION") or environ.get("AWS_REGION") or "us-east-1"

    def _credentials(self):
        from botocore.credentials import Credentials

        return Credentials(*self.access_key)

    def wait_training(self, job_id: str, timeout: float = 600, on_step=None) -> dict:
        """Poll GET /api/v1/model/train/{job_id} until the execution ends; on_step(step) on each new step."""
        steps = [None]

        def status() -> dict:
            current = self.call("GET", f"/api/v1/model/train/{job_id}").body
            if on_step and current.get("current_step") != steps[-1]:
                steps.append(current.get("current_step"))
                on_step(steps[-1], current)
            return current

        try:
            return wait_until(status, lambda s: s["status"] not in RUNNING_STATUSES, timeout=timeout)
        except WaitTimeout as timed_out:
            raise TimeoutError(
                f"retraining {job_id} still {timed_out.last['status']} after {timeout:.0f}s"
            ) from None
