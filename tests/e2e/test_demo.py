"""The demo story end to end against local mode: template, handlers, state machine, training, gate, rollback.

Data: the shared v3 sample (../shared/data) at the demo's defaults when it is present: v1 trained on the news
before the median date, corrections on newer news, a promotion the gate grants on the pipeline's golden set,
a rollback that serving follows, and back. Without it, the repository's invented demo corpus: the story runs
and the gate decides with its reasons, whatever it decides (accuracy on that corpus means nothing).
"""

import pytest

from local.bootstrap import SHARED_SAMPLE
from local.demo import DemoOptions, run_demo
from local.iam.enforcement import access_control

pytestmark = pytest.mark.e2e


def test_demo_story_earns_a_promotion_rolls_back_and_returns():
    real_data = SHARED_SAMPLE.is_file()
    # the invented corpus has about 190 newer headlines outside its golden split
    options = DemoOptions(quiet=True) if real_data else DemoOptions(quiet=True, feedback=120, after=30)
    result = run_demo(options)
    assert result.ok, result.error
    summary = result.summary
    v1, v2 = summary["v1"], summary["v2"]
    assert summary["dataset"]["source"] == ("shared-sample" if real_data else "demo-corpus")
    assert [step["ok"] for step in result.steps] == [True] * len(result.steps)
    assert v1 != v2 and summary["gate_reasons"]
    # v1 was trained on the news before the cutoff; the corrections came from real predictions by v1
    timeline = summary["timeline"]
    assert timeline["golden_older"] > 0 and timeline["golden_newer"] > 0
    assert summary["live"][v1]["total"] == summary["feedback"]["sent"]
    assert summary["feedback"]["corrections"] > 0
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
    if not real_data:
        assert summary["gate"] in ("deployed", "rejected")
        return

    # the promotion is earned on the pipeline's golden set, with the default gate
    assert summary["gate"] == "deployed", summary["gate_reasons"]
    checks = summary["golden"]["checks"]
    assert checks["policy"]["min_improvement"] == 0 and checks["policy"]["alpha"] == 0.05
    assert checks["significant"] and checks["mcnemar_p_value"] < 0.05
    assert checks["class_f1_regressions"] == {}
    assert summary["golden"][v2] > summary["golden"][v1]
    assert summary["golden"]["n"] == timeline["golden_older"] + timeline["golden_newer"]
    assert any(reason.startswith("candidate beats active") for reason in summary["gate_reasons"])
    # live accuracy before (v1's corrections) and after (v2 serving newer headlines), from feedback stats
    assert summary["live"][v2]["total"] == summary["same_headlines"]["n"]
    # /predict followed every move: the promotion, the rollback to v1, and back to v2
    assert summary["serving"] == [("promoted", v2), ("rollback", v1), ("back", v2)]
    assert summary["active"] == v2
    assert dict(summary["versions"]) == {v1: "retired", v2: "active"}
    assert summary["cards"][v2].endswith(f"/api/v1/model/versions/{v2}/card")
    assert summary["stored_cards"][v2].endswith(f"/models/{v2}/card/card.json")
    assert summary["operator_page"].endswith("/")
