"""Decisions from measured signals: promote a candidate? retrain now?

Pure functions over plain numbers and dicts (no AWS, no numpy) so they are easy to test and to explain: every
decision comes with the list of reasons that produced it.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, fields
from typing import ClassVar, Self

from core.settings import Settings

_MARGIN_TOLERANCE = 1e-9  # far below one item of any golden set, far above float rounding


# ---------------------------------------------------------------- statistics
def mcnemar_exact(b: int, c: int) -> float:
    """Two-sided exact McNemar p-value for discordant counts b (only A right) and c (only B right).

    Under H0 the b+c discordant pairs split Binomial(n, 1/2); p = P(X <= min(b, c)) * 2, capped at 1.
    Exact integer arithmetic: golden sets of the real dataset give thousands of discordant pairs, and 2.0**n
    overflows a float from n = 1024.
    """
    if b < 0 or c < 0:
        raise ValueError("discordant counts must be >= 0")
    n = b + c
    if n == 0:
        return 1.0
    tail, term = 0, 1  # term = comb(n, i)
    for i in range(min(b, c) + 1):
        tail += term
        term = term * (n - i) // (i + 1)
    return min(1.0, 2 * tail / 2**n)  # int / int: correctly rounded, no overflow


def discordant_counts(a_correct: list[bool], b_correct: list[bool]) -> tuple[int, int]:
    """(cases only A got right, cases only B got right) over the same items."""
    if len(a_correct) != len(b_correct):
        raise ValueError("both models must be scored on the same items")
    only_a = sum(1 for a, b in zip(a_correct, b_correct, strict=True) if a and not b)
    only_b = sum(1 for a, b in zip(a_correct, b_correct, strict=True) if b and not a)
    return only_a, only_b


def _normalise(counts: dict[str, float]) -> dict[str, float]:
    total = float(sum(max(0.0, value) for value in counts.values()))
    return {key: max(0.0, value) / total for key, value in counts.items()} if total else {}


def total_variation(p_counts: dict[str, float], q_counts: dict[str, float]) -> float:
    """Total variation distance of two categorical distributions given as counts (0 same, 1 disjoint)."""
    p, q = _normalise(p_counts), _normalise(q_counts)
    return 0.5 * sum(abs(p.get(key, 0.0) - q.get(key, 0.0)) for key in set(p) | set(q))


def population_stability_index(
    expected: dict[str, float], actual: dict[str, float], eps: float = 1e-4
) -> float:
    """PSI = sum (a - e) * ln(a / e) with a small floor so empty categories stay finite."""
    e, a = _normalise(expected), _normalise(actual)
    keys = set(e) | set(a)
    return sum(
        (max(a.get(k, 0.0), eps) - max(e.get(k, 0.0), eps))
        * math.log(max(a.get(k, 0.0), eps) / max(e.get(k, 0.0), eps))
        for k in keys
    )


# ---------------------------------------------------------------- policies from settings
def _default(setting: str):
    return Settings.model_fields[setting].default


@dataclass(frozen=True)
class _Policy:
    """Thresholds that are settings: field `x` of a policy is setting `<SETTINGS_PREFIX>x`."""

    SETTINGS_PREFIX: ClassVar[str] = ""

    @classmethod
    def from_settings(cls, settings: Settings) -> Self:
        return cls(**{item.name: getattr(settings, cls.SETTINGS_PREFIX + item.name) for item in fields(cls)})


# ---------------------------------------------------------------- promotion
@dataclass(frozen=True)
class PromotionPolicy(_Policy):
    SETTINGS_PREFIX: ClassVar[str] = "promotion_"

    # defaults: the settings' (core/settings.py holds every default once)
    min_improvement: float = _default("promotion_min_improvement")
    alpha: float = _default("promotion_alpha")
    max_class_f1_drop: float = _default("promotion_max_class_f1_drop")
    min_class_support: int = _default("promotion_min_class_support")
    accuracy_floor: float = _default("promotion_accuracy_floor")


def class_f1_regressions(
    candidate: dict, active: dict, *, max_drop: float, min_support: int
) -> dict[str, float]:
    """Classes (with enough golden support) whose F1 dropped by more than `max_drop`: {class: drop}."""
    regressions = {}
    for name, stats in (active.get("per_class") or {}).items():
        if stats.get("support", 0) < min_support:
            continue
        drop = stats.get("f1", 0.0) - (candidate.get("per_class") or {}).get(name, {}).get("f1", 0.0)
        if drop > max_drop:
            regressions[name] = round(drop, 4)
    return regressions


def promotion_decision(
    candidate: dict,
    active: dict | None,
    *,
    candidate_correct: list[bool] | None = None,
    active_correct: list[bool] | None = None,
    policy: PromotionPolicy,
) -> dict:
    """Promote the candidate? `candidate`/`active` are core.model.evaluation.evaluate() results on the golden
    set, the `*_correct` vectors the per-item correctness on that same set (for the paired test)."""
    reasons: list[str] = []
    checks: dict = {"policy": asdict(policy), "candidate_accuracy": candidate["accuracy"]}
    above_floor = candidate["accuracy"] >= policy.accuracy_floor
    checks["above_floor"] = above_floor
    if not above_floor:
        reasons.append(
            f"candidate accuracy {candidate['accuracy']:.4f} is below the floor {policy.accuracy_floor}"
        )
    if active is None:
        if above_floor:
            reasons.append("no active model: candidate is above the accuracy floor")
        return {"promote": above_floor, "reasons": reasons, "checks": checks}

    improvement = candidate["accuracy"] - active["accuracy"]
    checks.update(active_accuracy=active["accuracy"], improvement=round(improvement, 6))
    # Accuracies are ratios of counts: 0.7 - 0.6 is 0.0999..., which must still meet a margin of 0.1.
    better = improvement > 0 and improvement >= policy.min_improvement - _MARGIN_TOLERANCE
    if not better:
        reasons.append(
            f"accuracy change {improvement:+.4f} does not beat the active model by "
            f"the margin {policy.min_improvement}"
        )
    if candidate_correct is None or active_correct is None:
        raise ValueError("a paired test needs both correctness vectors")
    only_candidate, only_active = discordant_counts(candidate_correct, active_correct)
    p_value = mcnemar_exact(only_candidate, only_active)
    significant = p_value < policy.alpha and only_candidate > only_active
    checks.update(
        only_candidate_correct=only_candidate,
        only_active_correct=only_active,
        mcnemar_p_value=round(p_value, 6),
        significant=significant,
    )
    if not significant:
        reasons.append(
            f"improvement is not significant (exact McNemar p={p_value:.4g}, "
            f"alpha={policy.alpha}, "
            f"discordant {only_candidate} vs {only_active})"
        )
    regressions = class_f1_regressions(
        candidate, active, max_drop=policy.max_class_f1_drop, min_support=policy.min_class_support
    )
    checks["class_f1_regressions"] = regressions
    if regressions:
        reasons.append(
            "per-class F1 regressed beyond "
            f"{policy.max_class_f1_drop}: "
            + ", ".join(f"{name} -{drop}" for name, drop in sorted(regressions.items()))
        )
    promote = above_floor and better and significant and not regressions
    if promote:
        reasons.append(
            f"candidate beats active by {improvement:+.4f} (p={p_value:.4g}) without class regressions"
        )
    return {"promote": promote, "reasons": reasons, "checks": checks}


# ---------------------------------------------------------------- retraining
@dataclass(frozen=True)
class RetrainPolicy(_Policy):
    SETTINGS_PREFIX: ClassVar[str] = "retrain_"

    accuracy_threshold: float = _default("retrain_accuracy_threshold")
    min_live_samples: int = _default("retrain_min_live_samples")
    min_new_feedback: int = _default("retrain_min_new_feedback")
    drift_threshold: float = _default("retrain_drift_threshold")
    min_drift_samples: int = _default("retrain_min_drift_samples")
    max_model_age_days: float = _default("retrain_max_model_age_days")
    cooldown_hours: float = _default("retrain_cooldown_hours")
    backoff_max_hours: float = _default("retrain_backoff_max_hours")


@dataclass
class RetrainSignals:
    """Measured inputs of the retrain decision (None = not measurable yet)."""

    active_version: str | None = None
    live_accuracy: float | None = None
    live_samples: int = 0
    new_feedback: int = 0
    drift_tvd: float | None = None
    drift_psi: float | None = None
    drift_samples: int = 0
    model_age_days: float | None = None
    hours_since_last_run: float | None = None
    running_execution: str | None = None
    rejected_in_a_row: int = 0  # candidates rejected since the active model was registered, newest first


def retrain_decision(signals: RetrainSignals, policy: RetrainPolicy, *, force: bool = False) -> dict:
    """Retrain now? Returns {"retrain", "reasons", "blocked_by", "signals"}; a cool-down or a running
    execution blocks even a forced check (one execution at a time)."""
    triggers: list[str] = []
    if force:
        triggers.append("forced by the caller")
    if signals.active_version is None:
        triggers.append("no active model is deployed")
    if (
        signals.live_accuracy is not None
        and signals.live_samples >= policy.min_live_samples
        and signals.live_accuracy < policy.accuracy_threshold
    ):
        triggers.append(
            f"live accuracy {signals.live_accuracy:.3f} over {signals.live_samples} feedback "
            f"is below {policy.accuracy_threshold}"
        )
    if signals.new_feedback >= policy.min_new_feedback:
        triggers.append(
            f"{signals.new_feedback} new verified feedback since the last training "
            f"(>= {policy.min_new_feedback})"
        )
    if (
        signals.drift_tvd is not None
        and signals.drift_samples >= policy.min_drift_samples
        and signals.drift_tvd > policy.drift_threshold
    ):
        triggers.append(
            f"predicted-category distribution shifted: total variation {signals.drift_tvd:.3f} "
            f"> {policy.drift_threshold} over {signals.drift_samples} predictions"
        )
    if signals.model_age_days is not None and signals.model_age_days > policy.max_model_age_days:
        triggers.append(
            f"active model is {signals.model_age_days:.1f} days old (> {policy.max_model_age_days})"
        )

    blocked_by: list[str] = []
    if signals.running_execution:
        blocked_by.append(f"retraining execution {signals.running_execution} is still running")
    if signals.hours_since_last_run is not None and signals.hours_since_last_run < policy.cooldown_hours:
        blocked_by.append(
            f"cool-down: last retraining started {signals.hours_since_last_run:.1f} h ago "
            f"(< {policy.cooldown_hours} h)"
        )
    # Retraining storms: a signal that stays high (age, drift, low accuracy) would start a run every cool-down
    # though each candidate is rejected. After k rejections in a row the wait doubles each time, until the
    # data changes (the new-feedback trigger) or an operator forces a run.
    new_data = signals.new_feedback >= policy.min_new_feedback
    if triggers and signals.rejected_in_a_row and not new_data and not force:
        backoff = min(policy.cooldown_hours * 2**signals.rejected_in_a_row, policy.backoff_max_hours)
        if signals.hours_since_last_run is not None and signals.hours_since_last_run < backoff:
            blocked_by.append(
                f"backing off: the last {signals.rejected_in_a_row} candidate(s) for these signals were "
                f"rejected and no new feedback arrived; last run {signals.hours_since_last_run:.1f} h ago "
                f"(< {backoff:g} h)"
            )
    retrain = bool(triggers) and not blocked_by
    reasons = (triggers or ["no retraining signal crossed its threshold"]) + blocked_by
    return {"retrain": retrain, "reasons": reasons, "blocked_by": blocked_by, "signals": asdict(signals)}
