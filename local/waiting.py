"""Waiting for something to happen: poll until a condition holds or the time is up.

Standard library only, so `mlnews smoke` (cli/smoke.py), which talks to a real deployment and may run where
local mode's own dependencies (moto, samtranslator) are not installed, uses it too.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

T = TypeVar("T")


class WaitTimeout(TimeoutError):
    """The condition did not hold in time; `last` is what the last probe returned."""

    def __init__(self, last, timeout: float):
        super().__init__(f"still waiting after {timeout:g} s")
        self.last = last


def wait_until(
    probe: Callable[[], T], done: Callable[[T], bool], *, timeout: float, interval: float = 0.5
) -> T:
    """probe() until done(its result); the result, or WaitTimeout once `timeout` seconds have passed."""
    deadline = time.monotonic() + timeout
    while True:
        value = probe()
        if done(value):
            return value
        if time.monotonic() > deadline:
            raise WaitTimeout(value, timeout)
        time.sleep(interval)
