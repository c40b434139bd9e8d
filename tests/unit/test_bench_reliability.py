"""The reliability benchmarks' judgements (bench/load.py, bench/feedback_faults.py): when the feedback stats
count as consistent with what was sent, and when a run is a PASS. The benchmarks themselves are not run here
(tests/aws/test_feedback_faults.py runs the fault one small)."""

from __future__ import annotations

import pytest

from bench import feedback_faults, load


def stats(total: int, held: int, per_category: dict[str, int] | None = None) -> dict:
    categories = per_category if per_category is not None else {"POLITICS": total}
    return {
        "total": total,
        "held_back": held,
        "per_category": {k: {"total": v} for k, v in categories.items()},
    }


def test_feedback_stats_that_follow_what_was_sent_are_consistent():
    judged = load.feedback_consistency([(0, 3), (2, 5), (5, 9)], stats(8, 2, {"A": 5, "B": 3}), accepted=10)
    assert judged["consistent"] and judged["never_decreased"] and judged["reads_above_submitted"] == []
    assert (judged["stored_total"], judged["stored_held_back"], judged["per_category_sum"]) == (8, 2, 8)


@pytest.mark.parametrize(
    "reads,final,accepted",
    [
        ([(4, 3)], stats(3, 0), 3),  # a read counted more than had been submitted before it
        ([(2, 5), (1, 5)], stats(3, 0), 3),  # the stored count went down
        ([], stats(3, 0), 4),  # after the drain, one accepted feedback is missing
        ([], stats(5, 0), 4),  # or one too many
        ([], stats(4, 0, {"A": 3}), 4),  # the per-category totals do not add up
    ],
)
def test_feedback_stats_that_lose_gain_or_go_back_are_inconsistent(reads, final, accepted):
    assert not load.feedback_consistency(reads, final, accepted)["consistent"]


def load_report(errors: int, consistent: bool) -> dict:
    figures = {"n": 1, "p50_ms": 1.0, "p90_ms": 1.0, "p99_ms": 1.0, "max_ms": 1.0, "mean_ms": 1.0}
    feedback = load.feedback_consistency([], stats(2, 0), accepted=2 if consistent else 3)
    return {
        "options": {"clients": 32, "batch_size": 10},
        "baseline_predict": figures,
        "latency": {"feedback": figures, "predict": figures},
        "first_predict_ms": 900.0,
        "errors": errors,
        "statuses": {"predict": {"200": 1}},
        "requests_sent": 2,
        "requests_per_s": 1.0,
        "headlines_per_s": 1.0,
        "elapsed_s": 2.0,
        "feedback": {**feedback, "submitted": 3, "drained_in_s": 0.1},
        "model": {"version": "v0001", "classes": 4},
        "data": "demo",
        "training_s": 1.0,
    }


@pytest.mark.parametrize(
    ("errors", "consistent", "verdict"), [(0, True, "PASS"), (1, True, "MISS"), (0, False, "MISS")]
)
def test_a_load_run_passes_only_without_errors_and_with_consistent_stats(errors, consistent, verdict):
    markdown = load.render_markdown(load_report(errors, consistent))
    assert markdown.splitlines()[0].endswith(verdict)
    rows = [
        line
        for line in markdown.splitlines()
        if line.startswith("| predict") or line.startswith("| feedback")
    ]
    assert [row.split(" |")[0] for row in rows] == [
        "| predict, one client",
        "| predict, 32 clients",
        "| feedback, 32 clients",
    ]


def fault_report(**changes) -> dict:
    report = {
        "options": {"fault_rate": 0.1, "seed": 9},
        "accepted": 10,
        "accepted_predictions": 9,
        "refused_at_api": {400: 1},
        "duplicate_submissions": 1,
        "conflicting_submissions": 0,
        "stored_items": 9,
        "stored_counted": 9,
        "stored_held_back": 0,
        "per_key_daily_limit": 200,
        "lost": 0,
        "duplicated": 0,
        "dead_lettered": 0,
        "only_in_dlq_before_redrive": 0,
        "vanished_before_redrive": 0,
        "counted_twice": 0,
        "counters_equal_recount": True,
        "stats_total": 9,
        "stats_held_back": 0,
        "counter_mismatches": [],
        "invocations": 3,
        "faults_drawn": {},
        "faults_fired": {},
        "records_delivered": 10,
        "redelivered_records": 0,
        "in_batch_duplicates": 0,
        "late_duplicates": 0,
        "key_rotated_after_accepted": 5,
        "iam_refusals": [],
        "elapsed_s": 1.0,
    }
    return {**report, **changes}


@pytest.mark.parametrize(
    ("changes", "verdict"),
    [
        ({}, "PASS"),
        ({"lost": 1}, "MISS"),
        ({"duplicated": 1}, "MISS"),
        ({"counters_equal_recount": False}, "MISS"),
    ],
)
def test_a_fault_run_passes_only_with_nothing_lost_duplicated_or_miscounted(changes, verdict):
    assert feedback_faults.render_markdown(fault_report(**changes)).splitlines()[0].endswith(verdict)
