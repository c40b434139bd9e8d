"""local.waiting: the one poll-until helper of local mode, the demo, `mlnews smoke` and the tests."""

import subprocess
import sys

import pytest

from local.template import REPO_ROOT
from local.waiting import WaitTimeout, wait_until


def test_the_first_result_that_is_done_is_returned():
    results = iter([1, 2, 3, 4])
    assert wait_until(lambda: next(results), lambda value: value >= 3, timeout=5, interval=0) == 3


def test_a_timeout_keeps_the_last_result():
    with pytest.raises(WaitTimeout) as timed_out:
        wait_until(lambda: "running", lambda value: value == "done", timeout=0.05, interval=0.01)
    assert timed_out.value.last == "running" and isinstance(timed_out.value, TimeoutError)


def test_mlnews_smoke_needs_none_of_local_modes_dependencies():
    """`mlnews smoke` talks to a real deployment: it must start where moto and samtranslator are absent."""
    blocked = "import sys; sys.modules.update(moto=None, samtranslator=None, yaml=None); "
    check = blocked + "import cli.main, cli.smoke; cli.main.build_parser()"
    done = subprocess.run([sys.executable, "-c", check], cwd=REPO_ROOT, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
