"""The feedback fault benchmark (bench/feedback_faults.py) small: the same code path, a few hundred messages,
every fault kind in turn, and its goal as assertions: nothing lost, nothing counted twice, counters equal to
a recount of the stored items."""

from __future__ import annotations

import botocore.retries.standard

from bench.feedback_faults import FAULT_KINDS, Options, render_markdown, run


def test_feedback_under_injected_faults_is_stored_once_and_counted_once(monkeypatch):
    # The client's backoff (~7 s per persistently throttled write) changes no outcome, only the wait.
    monkeypatch.setattr(botocore.retries.standard.ExponentialBackoff, "delay_amount", lambda self, ctx: 0)
    report = run(
        Options(
            messages=160,
            fault_rate=0.6,
            seed=3,
            faults_in_turn=True,
            in_batch_duplicate_rate=0.5,
            late_duplicate_rate=0.05,
            chunk=20,
            per_key_daily_limit=8,  # the three busiest senders (~10 % each) go over it
            max_receive_count=2,  # a message that fails twice goes to the DLQ (most runs), then redriven
        )
    )
    assert report["accepted"] == 160 and report["refused_at_api"]  # forged ones refused at the API
    assert report["lost"] == 0 and report["not_accepted_but_stored"] == 0
    assert report["duplicated"] == 0 and report["counted_twice"] == 0
    assert report["counters_equal_recount"], report["counter_mismatches"]
    assert report["stored_items"] == report["accepted_predictions"]
    assert report["stats_total"] == report["stored_counted"] and report["stats_held_back"] > 0
    assert report["busiest_sender_counted"] == 8 and report["senders_over_limit"] == []
    # What the run went through, or the goal above would be met trivially.
    assert set(report["faults_fired"]) == set(FAULT_KINDS)
    assert report["redelivered_records"] > 0 and report["in_batch_duplicates"] > 0
    assert report["late_duplicates"] > 0 and report["duplicate_submissions"] > 0
    assert report["vanished_before_redrive"] == 0  # every accepted message was stored or in the DLQ
    assert report["key_rotated_after_accepted"] == 80
    assert report["iam_refusals"] == []
    assert "PASS" in render_markdown(report).splitlines()[0]
