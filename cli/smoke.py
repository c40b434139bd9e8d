"""`mlnews smoke --api URL`: walk a deployed API once and report each step.

health -> predict -> feedback -> feedback stats -> model versions, and with --train a full retraining
(POST /api/v1/model/train, then GET /api/v1/model/train/{job_id} until it ends). Admin routes
(/api/v1/model/*) are IAM-authorised, so they are signed with SigV4 (service execute-api, local.sigv4) from
botocore's standard credential chain; against local mode, which checks signatures too, use its key
(AWS_ACCESS_KEY_ID=local AWS_SECRET_ACCESS_KEY=local). One line per step; the first failure ends the walk with
exit code 1. Only the standard library, botocore, local.waiting and local.sigv4 (both standard library and
botocore only) are used.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import sys
import time
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable

from local.sigv4 import sign  # standard library and botocore only: no local-mode dependency
from local.waiting import WaitTimeout, wait_until  # standard library only: no local-mode dependency

EXIT_OK = 0
EXIT_FAILED = 1
ADMIN_PREFIX = "/api/v1/model/"
RUNNING_STATUSES = ("RUNNING", "PENDING_REDRIVE")
HEADLINE = {
    "headline": "Stocks rally as central bank signals a pause in rate hikes",
    "short_description": "Markets rose after the announcement.",
}
_HOST_REGION = re.compile(r"\.execute-api\.([a-z0-9-]+)\.amazonaws\.com(?:\.cn)?$")


class SmokeFailure(Exception):
    """A step failed; the message says which and why."""


def region_for(url: str, explicit: str | None = None) -> str | None:
    """--region, else the region in an `*.execute-api.<region>.amazonaws.com` host, else AWS_REGION."""
    if explicit:
        return explicit
    host = urllib.parse.urlsplit(url).hostname or ""
    found = _HOST_REGION.search(host)
    if found:
        return found.group(1)
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION")


def load_credentials():
    """Frozen credentials from botocore's standard chain, or None when there are none."""
    import botocore.session

    try:
        credentials = botocore.session.Session().get_credentials()
    except Exception as exc:  # noqa: BLE001 - a broken profile/config is reported, not raised
        raise SmokeFailure(f"could not load AWS credentials: {exc}") from None
    return credentials.get_frozen_credentials() if credentials is not None else None


class Client:
    def __init__(self, base_url: str, region: str | None, timeout: float = 30.0):
        self.base_url = base_url.rstrip("/")
        self.region = region
        self.timeout = timeout
        self._credentials = None

    def _signing(self):
        if self._credentials is None:
            credentials = load_credentials()
            if credentials is None:
                raise SmokeFailure(
                    "no AWS credentials found for signing the admin routes (SigV4); configure them "
                    "(AWS_PROFILE, AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY, ~/.aws, SSO or an instance role)"
                )
            if not self.region:
                raise SmokeFailure(
                    "no region for signing: the API host does not name one; pass --region or set AWS_REGION"
                )
            self._credentials = credentials
        return self._credentials

    def call(self, method: str, path: str, body: dict | None = None) -> tuple[int, object]:
        url = self.base_url + path
        data = json.dumps(body).encode() if body is not None else None
        headers = {"Accept": "application/json"}
        if data is not None:
            headers["Content-Type"] = "application/json"
        if path.startswith(ADMIN_PREFIX):
            headers = sign(method, url, headers, data, self.region, self._signing())
        request = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(request, timeout=self.timeout) as response:
                status, raw = response.status, response.read()
        except urllib.error.HTTPError as error:
            status, raw = error.code, error.read()
        except urllib.error.URLError as error:
            reason = getattr(error.reason, "strerror", None) or error.reason
            raise SmokeFailure(f"{method} {url}: cannot connect ({reason})") from None
        except (TimeoutError, OSError) as error:
            raise SmokeFailure(f"{method} {url}: {error.strerror or error or 'timed out'}") from None
        try:
            parsed = json.loads(raw) if raw else None
        except ValueError:
            parsed = raw.decode("utf-8", "replace")
        return status, parsed


def _expect(status: int, payload, method: str, path: str, ok: tuple[int, ...] = (200,)) -> dict:
    if status not in ok:
        detail = payload if isinstance(payload, str) else json.dumps(payload)
        raise SmokeFailure(f"{method} {path} returned HTTP {status}: {(detail or '')[:500]}")
    if not isinstance(payload, dict):
        raise SmokeFailure(f"{method} {path} returned HTTP {status} without a JSON object")
    return payload


def _field(payload: dict, name: str, method: str, path: str):
    if name not in payload:
        raise SmokeFailure(f"{method} {path}: response has no '{name}': {json.dumps(payload)[:300]}")
    return payload[name]


def run(api: str, train: bool = False, timeout: float = 1800.0, region: str | None = None,
        say: Callable[[str], None] = print, poll_seconds: float = 2.0) -> int:
    """The walk; raises SmokeFailure at the first failed step."""
    client = Client(api, region_for(api, region))
    started = time.perf_counter()

    def step(name: str, method: str, path: str, body: dict | None = None, ok=(200,)):
        t0 = time.perf_counter()
        status, payload = client.call(method, path, body)
        result = _expect(status, payload, method, path, ok)
        return result, status, (time.perf_counter() - t0) * 1000

    def line(name: str, status: int, millis: float, detail: str) -> None:
        say(f"ok   {name:<9} HTTP {status}  {detail}  ({millis:.0f} ms)")

    health, status, ms = step("health", "GET", "/health")
    scalars = {k: v for k, v in health.items() if not isinstance(v, dict | list)}
    line("health", status, ms, " ".join(f"{k}={v}" for k, v in scalars.items()))

    prediction, status, ms = step("predict", "POST", "/api/v1/predict", HEADLINE)
    prediction_id = _field(prediction, "prediction_id", "POST", "/api/v1/predict")
    category = _field(prediction, "category", "POST", "/api/v1/predict")
    line("predict", status, ms, f"category={category} confidence={prediction.get('confidence', 0):.2f} "
         f"model_version={prediction.get('model_version')} prediction_id={prediction_id}")

    feedback, status, ms = step("feedback", "POST", "/api/v1/feedback",
                                {**HEADLINE, "prediction_id": prediction_id, "correct_category": category},
                                ok=(200, 202))
    line("feedback", status, ms, f"status={feedback.get('status')} message_id={feedback.get('message_id')}")

    stats, status, ms = step("stats", "GET", "/api/v1/feedback/stats")
    line("stats", status, ms, f"total={_field(stats, 'total', 'GET', '/api/v1/feedback/stats')} "
         f"accuracy={stats.get('accuracy')} active_model_version={stats.get('active_model_version')}")

    versions, status, ms = step("versions", "GET", "/api/v1/model/versions")
    listed = _field(versions, "versions", "GET", "/api/v1/model/versions")
    line("versions", status, ms, f"{len(listed)} version(s), active={versions.get('active_version')}")

    if train:
        accepted, status, ms = step("train", "POST", "/api/v1/model/train", {"include_feedback": True},
                                    ok=(200, 202))
        job_id = _field(accepted, "job_id", "POST", "/api/v1/model/train")
        line("train", status, ms, f"job_id={job_id} status={accepted.get('status')}")
        path = f"/api/v1/model/train/{urllib.parse.quote(str(job_id), safe='')}"
        t0, steps = time.perf_counter(), [None]

        def training() -> tuple[dict, int, str]:
            current, status, _ = step("training", "GET", path)
            state = _field(current, "status", "GET", path)
            if current.get("current_step") != steps[-1] and state in RUNNING_STATUSES:
                steps.append(current.get("current_step"))
                say(f"..   training  {state} step={steps[-1]} ({time.perf_counter() - t0:.0f} s)")
            return current, status, state

        def ended(polled: tuple[dict, int, str]) -> bool:
            return polled[2] not in RUNNING_STATUSES

        try:
            current, status, state = wait_until(training, ended, timeout=timeout, interval=poll_seconds)
        except WaitTimeout as timed_out:
            still = timed_out.last[2]
            raise SmokeFailure(
                f"training {job_id} still {still} (step {steps[-1]}) after --timeout {timeout:g} s"
            ) from None
        seconds = time.perf_counter() - t0
        outcome = current.get("outcome") or {}
        if state != "SUCCEEDED":
            detail = current.get("error") or outcome or current
            raise SmokeFailure(f"training {job_id} ended {state} after {seconds:.0f} s: "
                               f"{json.dumps(detail)[:800]}")
        say(f"ok   training  HTTP {status}  status={state} outcome={outcome.get('status')} "
            f"version={outcome.get('version')}  ({seconds:.1f} s)")

    say(f"smoke test passed in {time.perf_counter() - started:.1f} s")
    return EXIT_OK


def cmd_smoke(args: argparse.Namespace) -> int:
    if args.timeout <= 0:
        print("mlnews: error: --timeout must be positive", file=sys.stderr)
        return 2
    try:
        return run(args.api, train=args.train, timeout=args.timeout, region=args.region)
    except SmokeFailure as failure:
        print(f"FAIL {failure}", file=sys.stdout)
        print(f"mlnews: smoke test failed: {failure}", file=sys.stderr)
        return EXIT_FAILED


def add_parser(sub) -> None:
    smoke = sub.add_parser("smoke", help="walk a deployed API once (health, predict, feedback, admin routes)")
    smoke.add_argument("--api", required=True, metavar="URL", help="the stack's ApiUrl (or local mode's URL)")
    smoke.add_argument("--train", action="store_true", help="also run a full retraining and wait for it")
    smoke.add_argument("--timeout", type=float, default=1800.0, metavar="S",
                       help="bound on waiting for --train (default 1800)")
    smoke.add_argument("--region", help="region for SigV4 (default: from the URL host, else AWS_REGION)")
    smoke.set_defaults(func=cmd_smoke)
