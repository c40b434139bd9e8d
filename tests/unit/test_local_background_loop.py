"""local.background_loop: the thread behind the SQS poller and the schedule ticker."""

import threading
import time

from local.background_loop import BackgroundLoop
from local.waiting import wait_until


def wait_for(condition, timeout: float = 5.0) -> bool:
    return wait_until(condition, bool, timeout=timeout, interval=0.01)


def test_busy_steps_repeat_at_once_idle_steps_pause_and_failures_do_not_end_the_loop():
    calls: list[float] = []
    work = threading.Semaphore(3)  # three steps find work, then the queue is empty

    def step() -> bool:
        calls.append(time.monotonic())
        if len(calls) == 5:
            raise RuntimeError("emulator hiccup")
        return work.acquire(blocking=False)

    loop = BackgroundLoop("test-loop", step, pause_seconds=0.2)
    loop.start()
    try:
        assert wait_for(lambda: len(calls) >= 7)
        assert loop.running
    finally:
        loop.stop()
    assert not loop.running
    gaps = [later - earlier for earlier, later in zip(calls, calls[1:], strict=False)]
    assert max(gaps[:3]) < 0.15  # work found: no pause
    assert min(gaps[3:6]) >= 0.15  # idle or failed: the pause
    stopped_at = len(calls)
    time.sleep(0.3)
    assert len(calls) == stopped_at


def test_a_stopped_loop_starts_again_and_start_is_idempotent():
    calls = []
    loop = BackgroundLoop("test-loop", lambda: calls.append(1) or False, pause_seconds=0.01)
    loop.start()
    thread = loop._thread
    loop.start()
    assert loop._thread is thread
    assert wait_for(lambda: len(calls) >= 2)
    loop.stop()
    count = len(calls)
    loop.start()
    try:
        assert wait_for(lambda: len(calls) > count + 1)
    finally:
        loop.stop()
