"""A tiny client for the public HTTP API (standard library only), used by bootstrap and the demo."""

from __future__ import annotations

import json
import time
import urllib.error
import urllib.request
from dataclasses import dataclass


class ApiError(RuntimeError):
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

    def call(
        self,
        method: str,
        path: str,
        body: object | None = None,
        expect: tuple[int, ...] = (200, 202),
        correlation_id: str | None = None,
    ) -> ApiResponse:
        data = json.dumps(body).encode("utf-8") if body is not None else None
        request = urllib.request.Request(self.base_url + path, data=data, method=method)
        request.add_header(
            "X-Correlation-ID", correlation_id or f"{self.correlation_prefix}-{time.time_ns()}"
        )
        if data is not None:
            request.add_header("Content-Type", "application/json")
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

    def wait_training(self, job_id: str, timeout: float = 600, on_step=None) -> dict:
        """Poll GET /api/v1/model/train/{job_id} until the execution ends; on_step(step) on each new step."""
        deadline, last = time.monotonic() + timeout, None
        while True:
            status = self.call("GET", f"/api/v1/model/train/{job_id}").body
            if on_step and status.get("current_step") != last:
                last = status.get("current_step")
                on_step(last, status)
            if status["status"] not in ("RUNNING", "PENDING_REDRIVE"):
                return status
            if time.monotonic() > deadline:
                raise TimeoutError(f"retraining {job_id} still {status['status']} after {timeout:.0f}s")
            time.sleep(0.5)
