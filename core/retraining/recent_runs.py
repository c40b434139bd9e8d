"""The latest retraining executions, newest first (the operator page's list; one run's step, training job and
outcome come from core.retraining.status)."""

from __future__ import annotations

from core.retraining.executions import iso_time, list_executions, settings_with_state_machine
from core.settings import Settings

MAX_RUNS = 100  # one ListExecutions page (its default size; 1000 at most), newest first as AWS sorts them


def recent_runs(limit: int = 10, settings: Settings | None = None) -> list[dict]:
    """At most `limit` executions of the retraining state machine: one ListExecutions call."""
    settings = settings_with_state_machine(settings)
    if not 1 <= limit <= MAX_RUNS:
        raise ValueError(f"limit must be between 1 and {MAX_RUNS}")
    return [
        {
            "job_id": execution["name"],
            "status": execution["status"],
            "started_at": iso_time(execution.get("startDate")),
            "stopped_at": iso_time(execution.get("stopDate")),
        }
        for execution in list_executions(settings, limit=limit)
    ]
