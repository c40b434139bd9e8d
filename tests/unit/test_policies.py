from __future__ import annotations

import math

import pytest
from scipy.stats import binomtest

from core.retraining.policies import (
    PromotionPolicy,
    RetrainPolicy,
    RetrainSignals,
    discordant_counts,
    mcnemar_exact,
    population_stability_index,
    promotion_decision,
    retrain_decision,
    total_variation,
)


def binomial_two_sided(b: int, c: int) -> float:
    """Independent reference: sum the probabilities of outcomes no more likely than the observed one."""
    n = b + c
    probabilities = [math.comb(n, k) * 0.5**n for k in range(n + 1)]
    observed = probabilities[b]
    return min(1.0, sum(p for p in probabilities if p <= observed * (1 + 1e-12)))


@pytest.mark.parametrize("b,c", [(0, 10), (1, 9), (5, 5), (3, 12), (20, 7), (0, 0), (40, 25)])
def test_mcnemar_exact_matches_two_sided_binomial_test(b, c):
    expected = 1.0 if b + c == 0 else binomial_two_sided(b, c)
    assert mcnemar_exact(b, c) == pytest.approx(expected, rel=1e-9)


def test_mcnemar_exact_textbook_values():
    assert mcnemar_exact(1, 9) == pytest.approx(2 * 11 / 1024)
    assert mcnemar_exact(0, 10) == pytest.approx(2 / 1024)
    assert mcnemar_exact(5, 5) == 1.0
    with pytest.raises(ValueError):
        mcnemar_exact(-1, 3)


def test_discordant_counts_are_paired():
    assert discordant_counts([True, True, False, False], [True, False, True, True]) == (1, 2)
    with pytest.raises(ValueError):
        discordant_counts([True], [True, False])


def test_total_variation_and_psi():
    assert total_variation({"a": 10, "b": 10}, {"a": 1, "b": 1}) == pytest.approx(0.0)
    assert total_variation({"a": 5}, {"b": 7}) == pytest.approx(1.0)
    assert total_variation({"a": 3, "b": 1}, {"a": 1, "b": 3}) == pytest.approx(0.5)
    assert population_stability_index({"a": 1, "b": 1}, {"a": 1, "b": 1}) == pytest.approx(0.0)
    expected = (0.75 - 0.5) * math.log(0.75 / 0.5) + (0.25 - 0.5) * math.log(0.25 / 0.5)
    assert population_stability_index({"a": 1, "b": 1}, {"a": 3, "b": 1}) == pytest.approx(expected)
    assert math.isfinite(population_stability_index({"a": 1}, {"b": 1}))


def evaluation(accuracy: float, f1: dict[str, float] | None = None, support: int = 20) -> dict:
    return {
        "accuracy": accuracy,
        "per_class": {name: {"f1": value, "support": support} for name, value in (f1 or {}).items()},
    }


POLICY = PromotionPolicy(
    min_improvement=0.01, alpha=0.05, max_class_f1_drop=0.1, min_class_support=5, accuracy_floor=0.5
)


def test_first_model_is_promoted_only_above_the_floor():
    assert promotion_decision(evaluation(0.7), None, policy=POLICY)["promote"] is True
    low = promotion_decision(evaluation(0.4), None, policy=POLICY)
    assert low["promote"] is False
    assert "below the floor" in low["reasons"][0]


def test_significantly_better_candidate_is_promoted():
    # 100 items: both right on 60, only the candidate right on 20, only the active right on 2.
    candidate = [True] * 80 + [False] * 20
    active = [True] * 60 + [False] * 20 + [True] * 2 + [False] * 18
    decision = promotion_decision(
        evaluation(0.80, {"A": 0.8}),
        evaluation(0.62, {"A": 0.75}),
        candidate_correct=candidate,
        active_correct=active,
        policy=POLICY,
    )
    assert decision["promote"] is True
    assert decision["checks"]["only_candidate_correct"] == 20
    assert decision["checks"]["only_active_correct"] == 2
    assert decision["checks"]["mcnemar_p_value"] < 0.001


def test_better_but_not_significant_candidate_is_rejected():
    candidate = [True] * 52 + [False] * 48
    active = [True] * 50 + [False] * 50
    decision = promotion_decision(
        evaluation(0.52), evaluation(0.50), candidate_correct=candidate, active_correct=active, policy=POLICY
    )
    assert decision["promote"] is False
    assert any("not significant" in reason for reason in decision["reasons"])


def test_class_f1_regression_blocks_promotion_even_when_better_overall():
    candidate = [True] * 80 + [False] * 20
    active = [True] * 60 + [False] * 40
    decision = promotion_decision(
        evaluation(0.80, {"A": 0.95, "B": 0.40}),
        evaluation(0.60, {"A": 0.60, "B": 0.70}),
        candidate_correct=candidate,
        active_correct=active,
        policy=POLICY,
    )
    assert decision["promote"] is False
    assert decision["checks"]["class_f1_regressions"] == {"B": pytest.approx(0.3)}


def test_small_classes_do_not_count_as_regressions():
    candidate = [True] * 80 + [False] * 20
    active = [True] * 60 + [False] * 40
    decision = promotion_decision(
        evaluation(0.8, {"B": 0.1}, support=2),
        evaluation(0.6, {"B": 0.9}, support=2),
        candidate_correct=candidate,
        active_correct=active,
        policy=POLICY,
    )
    assert decision["promote"] is True


def test_margin_must_be_met():
    policy = PromotionPolicy(min_improvement=0.25, alpha=0.05, accuracy_floor=0.0)
    candidate = [True] * 80 + [False] * 20
    active = [True] * 60 + [False] * 40
    decision = promotion_decision(
        evaluation(0.8), evaluation(0.6), candidate_correct=candidate, active_correct=active, policy=policy
    )
    assert decision["promote"] is False
    assert any("margin" in reason for reason in decision["reasons"])


RETRAIN = RetrainPolicy(
    accuracy_threshold=0.7,
    min_live_samples=50,
    min_new_feedback=100,
    drift_threshold=0.2,
    min_drift_samples=100,
    max_model_age_days=30,
    cooldown_hours=12,
    backoff_max_hours=168,
)


def test_no_signal_means_no_retraining():
    signals = RetrainSignals(
        active_version="v0001",
        live_accuracy=0.9,
        live_samples=500,
        new_feedback=10,
        drift_tvd=0.05,
        drift_samples=1000,
        model_age_days=3,
        hours_since_last_run=100,
    )
    decision = retrain_decision(signals, RETRAIN)
    assert decision["retrain"] is False
    assert decision["reasons"] == ["no retraining signal crossed its threshold"]


@pytest.mark.parametrize(
    "changes,needle",
    [
        ({"live_accuracy": 0.6}, "live accuracy"),
        ({"new_feedback": 150}, "new verified feedback"),
        ({"drift_tvd": 0.3}, "shifted"),
        ({"model_age_days": 45}, "days old"),
        ({"active_version": None}, "no active model"),
    ],
)
def test_each_signal_triggers_retraining(changes, needle):
    base = dict(
        active_version="v0001",
        live_accuracy=0.9,
        live_samples=500,
        new_feedback=10,
        drift_tvd=0.05,
        drift_samples=1000,
        model_age_days=3,
        hours_since_last_run=100,
    )
    decision = retrain_decision(RetrainSignals(**{**base, **changes}), RETRAIN)
    assert decision["retrain"] is True
    assert any(needle in reason for reason in decision["reasons"])


def test_thin_evidence_does_not_trigger():
    signals = RetrainSignals(
        active_version="v0001",
        live_accuracy=0.1,
        live_samples=10,
        drift_tvd=0.9,
        drift_samples=20,
        hours_since_last_run=100,
    )
    assert retrain_decision(signals, RETRAIN)["retrain"] is False


def test_rejections_for_the_same_signals_back_off_until_new_feedback_arrives():
    """A model that stays old (or drifted, or inaccurate) while every candidate is rejected must not start a
    SageMaker job every cool-down: the wait doubles per rejection in a row, capped, and new data resets it."""
    old_model = dict(active_version="v0001", model_age_days=45, new_feedback=10, hours_since_last_run=30)
    assert retrain_decision(RetrainSignals(**old_model), RETRAIN)["retrain"] is True  # nothing rejected yet
    for rejected, waits in ((1, 24), (2, 48), (3, 96), (6, 168)):  # 12 h x 2^k, capped at 168 h
        just_before = RetrainSignals(
            **{**old_model, "rejected_in_a_row": rejected, "hours_since_last_run": waits - 1}
        )
        decision = retrain_decision(just_before, RETRAIN)
        assert decision["retrain"] is False, rejected
        assert any(f"(< {waits:g} h)" in reason for reason in decision["blocked_by"]), decision
        after = RetrainSignals(**{**old_model, "rejected_in_a_row": rejected, "hours_since_last_run": waits})
        assert retrain_decision(after, RETRAIN)["retrain"] is True, rejected
    new_data = RetrainSignals(**{**old_model, "rejected_in_a_row": 3, "new_feedback": 150})
    assert retrain_decision(new_data, RETRAIN)["retrain"] is True  # the data changed: worth another try
    stuck = RetrainSignals(**{**old_model, "rejected_in_a_row": 3})
    assert retrain_decision(stuck, RETRAIN, force=True)["retrain"] is True  # an operator may insist


def test_rejections_in_a_row_count_from_the_newest_version():
    from core.retraining.check import rejected_in_a_row

    statuses = ["rejected", "rejected", "active", "rejected", "retired"]
    assert rejected_in_a_row([{"version": f"v{9 - i}", "status": s} for i, s in enumerate(statuses)]) == 2
    assert rejected_in_a_row([{"status": "candidate"}, {"status": "rejected"}]) == 0
    assert rejected_in_a_row([]) == 0


def test_cooldown_and_running_execution_block_even_forced_checks():
    cooling = RetrainSignals(active_version=None, hours_since_last_run=2)
    decision = retrain_decision(cooling, RETRAIN, force=True)
    assert decision["retrain"] is False
    assert any("cool-down" in reason for reason in decision["blocked_by"])
    running = RetrainSignals(active_version=None, running_execution="retrain-2026010112")
    assert retrain_decision(running, RETRAIN)["retrain"] is False


# Promotion gate arithmetic at the real dataset's size (these crashed or misjudged once).
@pytest.mark.parametrize("b,c", [(600, 500), (5000, 5200), (1024, 0), (700, 701)])
def test_mcnemar_exact_on_golden_sets_of_the_real_dataset_size(b, c):
    # 2.0**n overflowed from 1024 discordant pairs: the Evaluate step crashed on the full dataset.
    assert mcnemar_exact(b, c) == pytest.approx(binomtest(min(b, c), b + c, 0.5).pvalue, rel=1e-9, abs=1e-300)


def test_an_improvement_of_exactly_the_margin_meets_it():
    candidate_correct = [True] * 70 + [False] * 30
    active_correct = [True] * 60 + [False] * 40
    decide = lambda margin: promotion_decision(  # noqa: E731
        {"accuracy": 70 / 100, "per_class": {}},
        {"accuracy": 60 / 100, "per_class": {}},  # 0.7 - 0.6 == 0.09999999999999998
        candidate_correct=candidate_correct,
        active_correct=active_correct,
        policy=PromotionPolicy(min_improvement=margin, alpha=0.05, accuracy_floor=0.0),
    )
    assert decide(0.1)["promote"] is True
    refused = decide(0.11)
    assert refused["promote"] is False and "margin 0.11" in refused["reasons"][0]
