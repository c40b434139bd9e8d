"""The demo story end to end against local mode: template, handlers, state machine, training, gate, rollback.

Data: the shared v3 sample (../shared/data) subsampled to DEMO_E2E_SAMPLE records (default 1500) when it is
present, the repository's invented demo corpus otherwise.
"""

import os

import pytest

from local.bootstrap import SHARED_SAMPLE
from local.demo import DemoOptions, run_demo
from local.iam.enforcement import access_control

pytestmark = pytest.mark.e2e


def test_demo_story_runs_end_to_end():
    sample = int(os.environ.get("DEMO_E2E_SAMPLE", "1500"))
    result = run_demo(DemoOptions(sample=sample, feedback=30, quiet=True))
    assert result.ok, result.error
    summary = result.summary
    assert summary["dataset"]["source"] == ("shared-sample" if SHARED_SAMPLE.is_file() else "demo-corpus")
    assert summary["v1"] != summary["v2"]
    assert summary["gate"] in ("deployed", "rejected") and summary["gate_reasons"]
    assert summary["feedback"]["sent"] == 30 and summary["feedback"]["stats_total"] >= 30
    assert summary["active_after_rollback"] == summary["v1"]
    statuses = dict(summary["versions"])
    assert statuses[summary["v1"]] == "active"
    assert statuses[summary["v2"]] == ("retired" if summary["gate"] == "deployed" else "rejected")
    assert [step["ok"] for step in result.steps] == [True] * len(result.steps)
    assert result.seconds < 180
    # every function and the state machine made its calls as its own role, each one authorized (local/iam)
    callers = {label for label, _ in access_control.checked}
    assert callers >= {
        "PredictFunction",
        "FeedbackApiFunction",
        "FeedbackConsumerFunction",
        "ModelAdminFunction",
        "PrepareDataFunction",
        "EvaluateModelFunction",
        "RecordOutcomeFunction",
        "RetrainingStateMachine",
    }, access_control.checked
