"""The EventBridge scheduler stand-in: fires the template's schedule targets on a local clock.

moto stores rules and schedules but never fires them. Locally every enabled schedule of the template fires
every `interval_seconds` (a local clock instead of `rate(1 day)`), and `fire()` fires them now
(`mlnews local tick`).
"""

from __future__ import annotations

import datetime as dt
import json
import threading
import uuid
from collections.abc import Callable

from local.background_loop import BackgroundLoop
from local.deployment import ScheduleTarget


def scheduled_event(target: ScheduleTarget, region: str, account: str) -> dict:
    """What EventBridge sends a target that has no Input of its own."""
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "Scheduled Event",
        "source": "aws.events",
        "account": account,
        "time": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": region,
        "resources": [f"arn:aws:events:{region}:{account}:rule/{target.source_id}"],
        "detail": {},
    }


class Ticker:
    def __init__(
        self,
        schedules: list[ScheduleTarget],
        invoke: Callable[[str, dict], tuple[object, bool]],
        start_execution: Callable[[str, str], str],
        region: str,
        account: str,
        interval_seconds: float = 0,
    ):
        self.schedules = [s for s in schedules if s.enabled]
        self.invoke = invoke
        self.start_execution = start_execution
        self.region, self.account = region, account
        self.interval_seconds = interval_seconds
        self.fired = 0
        self._lock = threading.Lock()
        self._loop = BackgroundLoop("ticker", self._tick, interval_seconds)

    def fire(self) -> list[dict]:
        """Fire every schedule target once, now; returns one result per target."""
        results = []
        with self._lock:  # two ticks never overlap, as one rule never double-fires
            for target in self.schedules:
                payload = (
                    json.loads(target.input)
                    if target.input
                    else scheduled_event(target, self.region, self.account)
                )
                entry = {
                    "schedule": target.source_id,
                    "expression": target.expression,
                    "target": target.target_arn,
                }
                if target.kind == "states":
                    entry["execution_arn"] = self.start_execution(target.target_arn, json.dumps(payload))
                    entry["ok"] = True
                else:
                    result, errored = self.invoke(target.target_arn, payload)
                    entry.update(ok=not errored, result=result)
                results.append(entry)
                self.fired += 1
        return results

    def _tick(self) -> bool:
        self.fire()  # a failed tick is retried on the next one, like a missed schedule
        return False

    def start(self) -> Ticker:
        """Fire every `interval_seconds` on a background thread (0: only when fire() is called)."""
        if self.interval_seconds > 0 and self.schedules:
            self._loop.start()
        return self

    def stop(self) -> None:
        self._loop.stop()
