"""The background thread of local mode's pollers: one step, repeated until stopped.

The SQS poller and the schedule ticker both run this way: a daemon thread calls `step()`, pauses when the
step found nothing to do, survives a failed step (an emulator hiccup, a failed tick) and stops promptly.
"""

from __future__ import annotations

import threading
from collections.abc import Callable


class BackgroundLoop:
    def __init__(self, name: str, step: Callable[[], bool], pause_seconds: float):
        """`step()` returns True when it did work (run it again at once), False to pause first."""
        self.name = name
        self.step = step
        self.pause_seconds = pause_seconds
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None

    @property
    def running(self) -> bool:
        return self._thread is not None and self._thread.is_alive()

    def start(self) -> None:
        """Start the thread (again after stop(); a running loop is left as it is)."""
        if self.running:
            return
        self._stop.clear()
        self._thread = threading.Thread(target=self._run, name=self.name, daemon=True)
        self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=timeout)
            self._thread = None

    def _run(self) -> None:
        busy = False
        while not self._stop.wait(0 if busy else self.pause_seconds):
            try:
                busy = bool(self.step())
            except Exception:  # a failed step is retried after the pause, like a missed poll or tick
                busy = False
