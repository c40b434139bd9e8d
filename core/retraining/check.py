"""The retrain check: measure the signals, decide (policies), start the state machine when warranted."""

from __future__ import annotations

import logging
from datetime import datetime

from core.errors import Conflict
from core.feedback import counters
from core.registry.versions import ModelRegistry
from core.retraining.executions import (
    current_time,
    list_executions,
    parse_time,
    settings_with_state_machine,
    start_retraining,
)
from core.retraining.policies import (
    RetrainPolicy,
    RetrainSignals,
    population_stability_index,
    retrain_decision,
    total_variation,
)
from core.settings import Settings

logger = logging.getLogger(__name__)


def measure_signals(settings: Settings, now: datetime | None = None) -> RetrainSignals:
    now = now or current_time()
    registry = ModelRegistry(settings)
    pointer = registry.active_pointer()
    active = registry.get(pointer["active_version"]) if pointer else None
    signals = RetrainSignals(active_version=active["version"] if active else None)
    stats = counters.feedback_stats(signals.active_version, settings)
    signals.live_accuracy, signals.live_samples = stats["live_accuracy"], stats["live_total"]
    # The feedback total only grows: the largest one a training recorded is the last training's (versions
    # registered by hand record none and must not reset the count).
    trained_with = max(
        (int((item.get("data_summary") or {}).get("feedback_total", 0)) for item in registry.list_versions()),
        default=0,
    )
    signals.new_feedback = max(0, stats["total"] - trained_with)
    if active:
        served = counters.prediction_distribution(active["version"], settings)
        trained = active.get("training_distribution") or {}
        signals.drift_samples = sum(served.values())
        if served and trained:
            signals.drift_tvd = round(total_variation(trained, served), 6)
            signals.drift_psi = round(population_stability_index(trained, served), 6)
        created = parse_time(active.get("created_at"))
        if created:
            signals.model_age_days = round((now - created).total_seconds() / 86400, 3)
    signals.rejected_in_a_row = rejected_in_a_row(registry.list_versions())
    executions = list_executions(settings, limit=20)
    running = [item for item in executions if item["status"] == "RUNNING"]
    signals.running_execution = running[0]["name"] if running else None
    if executions:
        started = parse_time(executions[0]["startDate"])
        signals.hours_since_last_run = round((now - started).total_seconds() / 3600, 3)
    return signals


def rejected_in_a_row(versions: list[dict]) -> int:
    """How many of the newest versions (newest first) are rejected candidates, up to the first that is not."""
    count = 0
    for item in versions:
        if item.get("status") != "rejected":
            break
        count += 1
    return count


def run_retrain_check(
    *,
    trigger: str,
    correlation_id: str | None = None,
    force: bool = False,
    include_feedback: bool = True,
    settings: Settings | None = None,
    now: datetime | None = None,
) -> dict:
    """Decide from measured signals and start the state machine when warranted."""
    settings = settings_with_state_machine(settings)
    now = now or current_time()
    signals = measure_signals(settings, now)
    decision = retrain_decision(signals, RetrainPolicy.from_settings(settings), force=force)
    execution = None
    if decision["retrain"]:
        try:
            execution = start_retraining(
                trigger=trigger,
                reasons=decision["reasons"],
                include_feedback=include_feedback,
                correlation_id=correlation_id,
                name=f"retrain-{now:%Y%m%d%H}",
                settings=settings,
                now=now,
            )
            execution.pop("input", None)
        except Conflict as error:  # lost a race with another starter: report, do not start twice
            decision["retrain"] = False
            decision["reasons"].append(error.message)
    return {
        "retrain": decision["retrain"],
        "reasons": decision["reasons"],
        "signals": decision["signals"],
        "execution": execution,
    }
