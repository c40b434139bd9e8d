"""`mlnews local demo`: the system learning, told through the public HTTP API of local mode.

The data's time axis makes the story: v1 is trained on older news, then serves newer news (the drift a
deployed model lives with); users correct it (feedback with the records' true categories, on prediction ids
from real /predict calls); the retraining's candidate learns from those corrections and the promotion gate
decides on the pipeline's own golden set; live accuracy before and after; a rollback to v1 that serving
follows, and back. Every step prints its timing. Exit 0 when the story ran (a candidate the gate rejects is
told with its numbers, not forced); any failure stops the story with its reason.
"""

from __future__ import annotations

import json
import random
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.data.jsonl import DatasetError
from core.data.splits import golden_split
from core.errors import MlNewsError
from core.schemas import MAX_BATCH_ITEMS
from core.settings import Settings
from local import bootstrap
from local.api_client import ApiClient
from local.session import LocalConfig, LocalSession
from local.waiting import WaitTimeout, wait_until

DEFAULT_SAMPLE = 6000  # older records v1 is trained on, at most (the shared v3 sample has 5,616)
DEFAULT_NEWER = 6000  # at most this many newer records (the shared v3 sample has 5,627 from it on)
DEFAULT_FEEDBACK = 300  # verdicts on v1's newer news (measured: 200 and 250 are not significant)
DEFAULT_AFTER = 60  # newer headlines v2 serves, with feedback, for its live accuracy
SEED = 0
# Local stack parameters for the story (never the gate's): serving looks for a new active version every
# second instead of every minute, so a rollback shows at once; and one client plays all the users here, while
# on AWS each user's API key gets its own daily feedback allowance (FeedbackPerKeyDailyLimit, default 200).
STORY_PARAMETERS = {"ModelRefreshSeconds": "1", "FeedbackPerKeyDailyLimit": "1000"}


@dataclass
class DemoOptions:
    data: str | None = None
    download: bool = False
    sample: int | None = DEFAULT_SAMPLE  # older records (v1's data); 0/None = all
    newer: int | None = DEFAULT_NEWER  # newer records at most; 0/None = all
    cutoff: str | None = None  # ISO date splitting older from newer; default the median date
    port: int = 0
    feedback: int = DEFAULT_FEEDBACK
    after: int = DEFAULT_AFTER
    template: Path | None = None
    quiet: bool = False
    keep_running: bool = False  # after the story, serve the API and the operator page until Ctrl-C


@dataclass
class DemoResult:
    ok: bool
    seconds: float
    steps: list[dict] = field(default_factory=list)
    summary: dict = field(default_factory=dict)
    error: str | None = None


class DemoFailure(MlNewsError, RuntimeError):
    """A step of the story did not turn out as it should (message says which and how)."""

    code = "demo_failure"


@dataclass
class Timeline:
    """The dataset cut at a date: what v1 learns from, what the gate scores on, what serving meets later."""

    cutoff: str
    older: list[dict]  # v1's data (its golden share held out by the pipeline)
    newer_golden: list[dict]  # newer records in the golden split: evaluation only, never trained on
    incoming: list[dict]  # the other newer records, shuffled: what serving sees and users correct
    unnamed: int  # newer records of a category v1 never saw: no user can name it (the API refuses it)
    older_golden: int  # older records in the golden split: the pipeline holds them out of v1's training

    @property
    def base(self) -> list[dict]:
        return self.older + self.newer_golden


def split_timeline(
    records: list[dict],
    *,
    sample: int | None,
    newer: int | None,
    cutoff: str | None,
    golden_fraction: float,
    seed: int = SEED,
) -> Timeline:
    """Cut the records at `cutoff` (default: their median date). The base dataset gets the older records and
    the newer ones whose headline is in the golden split (which the pipeline never trains on, whatever their
    date), so the gate scores on the news the model will meet; the other newer records arrive as traffic."""
    dated = [r for r in records if _date(r)]
    if len(dated) < 2:
        raise DemoFailure("the demo needs dated records ('date': YYYY-MM-DD), as the News Category Dataset")
    dates = sorted(_date(r) for r in dated)
    cutoff = str(cutoff)[:10] if cutoff else dates[len(dates) // 2]
    older = [r for r in dated if _date(r) < cutoff]
    later = [r for r in dated if _date(r) >= cutoff]
    if not older or not later:
        raise DemoFailure(f"no records on one side of {cutoff} (dates {dates[0]} .. {dates[-1]})")
    older = bootstrap.subsample(older, sample, seed)
    later = bootstrap.subsample(later, newer, seed)
    older_rest, older_golden = golden_split(older, golden_fraction)
    traffic, newer_golden = golden_split(later, golden_fraction)
    known = {r["category"] for r in older_rest}
    incoming = [r for r in traffic if r["category"] in known]
    random.Random(seed).shuffle(incoming)
    return Timeline(cutoff, older, newer_golden, incoming, len(traffic) - len(incoming), len(older_golden))


def _date(record: dict) -> str:
    return str(record.get("date") or "")[:10]


def _span(records: list[dict]) -> str:
    dates = sorted(_date(r) for r in records)
    return f"{dates[0]} .. {dates[-1]}" if dates else "-"


class Story:
    def __init__(self, say):
        self.say = say
        self.started = time.perf_counter()
        self.steps: list[dict] = []

    def step(self, title: str):
        story = self

        class _Step:
            def __enter__(self):
                self.t0 = time.perf_counter()
                story.say(f"\n[{time.perf_counter() - story.started:6.1f}s] {title}")
                return self

            def __exit__(self, kind, error, tb):
                seconds = time.perf_counter() - self.t0
                story.steps.append({"step": title, "seconds": round(seconds, 2), "ok": kind is None})
                if kind is None:
                    story.say(f"         done in {seconds:.1f}s")
                return False

        return _Step()


def run_demo(options: DemoOptions | None = None, say=print) -> DemoResult:
    options = options or DemoOptions()
    out = (lambda *_: None) if options.quiet else say
    story = Story(out)
    try:
        dataset = bootstrap.choose_dataset(options.data, options.download)
    except DatasetError as error:
        return DemoResult(False, 0.0, error=str(error))
    config = LocalConfig(port=options.port, max_batching_window=1.0, parameters=dict(STORY_PARAMETERS))
    if options.template is not None:
        config.template = options.template
    session = LocalSession(config)
    try:
        with story.step("Start local mode (embedded AWS, template deployed, HTTP API)"):
            session.start()
            out(
                f"         API {session.front.base_url}  docs {session.front.base_url}/docs  "
                f"AWS endpoint {session.emulator.endpoint_url}"
            )
            out(
                "         stack parameters for the story: ModelRefreshSeconds=1 (serving follows a deploy "
                "within a second; 60 by default), FeedbackPerKeyDailyLimit=1000 (one client plays every "
                "user here; 200 per API key by default). The promotion gate keeps its defaults."
            )
        summary = _story(session, dataset, options, story, out)
        result = DemoResult(True, time.perf_counter() - story.started, story.steps, summary)
        if options.keep_running:
            out(f"\nlocal mode keeps running on {session.front.base_url} (Ctrl-C stops it)")
            _until_interrupted()
        return result
    except (MlNewsError, TimeoutError, RuntimeError) as error:  # the story's failures, told as one line
        return DemoResult(False, time.perf_counter() - story.started, story.steps, error=str(error))
    finally:
        session.stop() if session.deployment is not None else None


def _story(session: LocalSession, dataset, options: DemoOptions, story: Story, out) -> dict:
    api = ApiClient(session.front.base_url, correlation_prefix="demo")
    summary: dict = {"dataset": {"source": dataset.source, "path": str(dataset.path)}}

    with story.step("Cut the news at a date: older news for v1, newer news is what it will serve"):
        fraction = _golden_fraction(session)
        timeline = split_timeline(
            bootstrap.read_records(dataset.path),
            sample=options.sample,
            newer=options.newer,
            cutoff=options.cutoff,
            golden_fraction=fraction,
        )
        wanted = options.feedback + options.after
        if len(timeline.incoming) < wanted:
            raise DemoFailure(
                f"{len(timeline.incoming)} newer records outside the golden split; the story needs {wanted}"
            )
        uri = bootstrap.upload_dataset(session, timeline.base)
        older_golden = timeline.older_golden
        out(
            f"         cutoff {timeline.cutoff}: older news {_span(timeline.older)} ({len(timeline.older)} "
            f"records), newer news {_span(timeline.newer_golden + timeline.incoming)}"
        )
        out(
            f"         base dataset -> {uri}: the {len(timeline.older)} older records (v1 trains on "
            f"{len(timeline.older) - older_golden}, {older_golden} are golden) + "
            f"{len(timeline.newer_golden)} newer records in the golden split (evaluation only: the "
            f"pipeline never trains on a golden headline)"
        )
        out(
            f"         golden set the gate scores on: {older_golden + len(timeline.newer_golden)} records; "
            f"{len(timeline.incoming)} other newer headlines will arrive as traffic ({timeline.unnamed} more "
            f"are in categories v1 never saw, which feedback cannot name: left out)"
        )
        if not dataset.meaningful:
            out(
                "         NOTICE: this is the small invented demo corpus; accuracy on it means nothing. "
                "Pass --data PATH for the real dataset."
            )
        summary["timeline"] = {
            "cutoff": timeline.cutoff,
            "older": len(timeline.older),
            "golden_older": older_golden,
            "golden_newer": len(timeline.newer_golden),
            "incoming": len(timeline.incoming),
        }

    with story.step("Initial training on the older news (state machine: prepare, train, evaluate, gate)"):
        first = _train(api, {"include_feedback": False}, out, session)
        if (first.get("outcome") or {}).get("status") != "deployed":
            raise DemoFailure(f"the first model was not promoted: {json.dumps(first.get('outcome'))}")
        v1 = first["outcome"]["version"]
        out(f"         promoted {v1}: {'; '.join(first['outcome'].get('reasons') or [])[:300]}")
        v1_golden = _golden_accuracy(api, v1, "candidate")
        out(f"         {v1} on the golden set: accuracy {_pct(v1_golden)}")

    feedback_records = timeline.incoming[: options.feedback]
    after_records = timeline.incoming[options.feedback : options.feedback + options.after]
    with story.step(f"{v1} serves newer news (predictions: one, then batches of {MAX_BATCH_ITEMS})"):
        one = feedback_records[0]
        single = api.call("POST", "/api/v1/predict", _item(one)).body
        out(
            f'         "{one["headline"][:70]}" ({_date(one)}) -> {single["category"]} '
            f"({single['confidence']:.2f}) [true: {one['category']}], model {single['model_version']}"
        )
        predictions = _predict_batches(api, feedback_records)
        v1_on_after = _predict_batches(api, after_records)  # kept to compare v2 with on the same headlines
        right = _right(predictions, feedback_records)
        out(f"         {len(predictions)} newer headlines: {right} right ({_pct(right / len(predictions))})")
        if {p["model_version"] for p in predictions + [single]} != {v1}:
            raise DemoFailure("predictions did not come from the promoted model")

    with story.step("Users confirm or correct each prediction (feedback API -> SQS -> consumer)"):
        corrections = _send_feedback(api, predictions, feedback_records)
        out(
            f"         sent {len(predictions)} feedback items: {corrections} corrections, "
            f"{len(predictions) - corrections} confirmations"
        )

    with story.step("Live accuracy (feedback stats, once the consumer has stored every item)"):
        stats = _wait_stats(api, v1, len(predictions))
        live_v1 = stats["per_model_version"][v1]
        out(
            f"         {v1} live: {_pct(live_v1['accuracy'])} over {live_v1['total']} newer headlines "
            f"(golden set: {_pct(v1_golden)}): the drift a deployed model lives with"
        )

    with story.step("Retrain check"):
        check = api.call("POST", "/api/v1/model/retrain-check", {}).body
        out(f"         retrain={check['retrain']}")
        for reason in check["reasons"]:
            out(f"           - {reason}")
        job_id = (check.get("execution") or {}).get("job_id")
        if not job_id:  # v1 was trained seconds ago: the cool-down holds; the operator starts one
            out("         the operator retrains now: POST /api/v1/model/train with include_feedback")
            job_id = api.call("POST", "/api/v1/model/train", {"include_feedback": True}).body["job_id"]
        out(f"         retraining job {job_id}")

    with story.step("Second training (base data + the verified corrections), evaluation, promotion gate"):
        second = _wait(api, job_id, out, session)
        outcome = second.get("outcome") or {}
        decision = outcome.get("status")
        if decision not in ("deployed", "rejected"):
            raise DemoFailure(f"second training ended without a gate decision: {json.dumps(second)[:600]}")
        v2 = outcome["version"]
        evaluation = _version(api, v2).get("evaluation") or {}
        golden = evaluation.get("golden") or {}
        checks = (evaluation.get("decision") or {}).get("checks") or {}
        v2_golden = (golden.get("candidate") or {}).get("accuracy")
        v1_scored = (golden.get("active") or {}).get("accuracy")
        out(
            f"         golden set ({golden.get('n')} records): {v1} {_pct(v1_scored)} -> "
            f"{v2} {_pct(v2_golden)}; right only for {v2}: {checks.get('only_candidate_correct')}, "
            f"only for {v1}: {checks.get('only_active_correct')}"
        )
        out(f"         gate decision for {v2}: {'PROMOTED' if decision == 'deployed' else 'REJECTED'}")
        for reason in outcome.get("reasons") or []:
            out(f"           - {reason}")
    summary.update(
        v1=v1,
        v2=v2,
        gate=decision,
        gate_reasons=outcome.get("reasons"),
        golden={"n": golden.get("n"), v1: v1_scored, v2: v2_golden, "checks": checks},
        feedback={"sent": len(predictions), "corrections": corrections, "stats_total": stats["total"]},
        live={v1: live_v1},
        serving=[],
    )

    if decision == "deployed":
        _after_promotion(api, v1, v2, after_records, v1_on_after, summary, story, out)
    else:
        with story.step(f"{v2} was not promoted: the gate's numbers are above; {v1} stays"):
            refused = api.call("POST", f"/api/v1/model/deploy/{v2}", {"reason": "demo"}, expect=())
            out(f"         deploying rejected {v2} without allow_rejected -> HTTP {refused.status}")
            if refused.status < 400:
                raise DemoFailure("a rejected version was deployed without allow_rejected")

    with story.step("Versions"):
        versions = api.call("GET", "/api/v1/model/versions").body
        for item in versions["versions"]:
            scored = ((item.get("evaluation") or {}).get("golden") or {}).get("candidate") or {}
            accuracy = _pct(scored.get("accuracy"))
            out(f"         {item['version']}  {item['status']:<9} golden accuracy {accuracy}")
        out(f"         active: {versions['active_version']}")
        summary["versions"] = [(v["version"], v["status"]) for v in versions["versions"]]
        summary["active"] = versions["active_version"]

    base = session.front.base_url
    summary["cards"] = {v: f"{base}/api/v1/model/versions/{v}/card" for v in (v1, v2)}
    summary["operator_page"] = f"{base}/"
    out("\nWhere to look" + (" (local mode stops with the demo; --keep-running keeps it up):"
                             if not options.keep_running else ":"))  # fmt: skip
    out(f"  operator page   {base}/")
    out(f"  model cards     GET {base}/api/v1/model/versions/{{version}}/card  (?format=html: the page)")
    out(f"                  mlnews card {v2} --api {base} [--html card.html]")
    summary["stored_cards"] = _stored_cards(session, (v1, v2))
    for version, uri in summary["stored_cards"].items():
        out(f"                  {version}: {uri} (beside its artifacts)")
    summary["timings"] = {s["step"]: s["seconds"] for s in story.steps}
    if decision == "deployed":
        before, after = summary["live"][v1], summary["live"][v2]
        out(
            f"\nLearned: golden set {_pct(v1_scored)} ({v1}) -> {_pct(v2_golden)} ({v2}), gate: "
            f"{'; '.join(outcome.get('reasons') or [])}. Live accuracy on newer news "
            f"{_pct(before['accuracy'])} ({v1}, {before['total']} verdicts) -> {_pct(after['accuracy'])} "
            f"({v2}, {after['total']})."
        )
    out("\nTimings:")
    for entry in story.steps:
        out(f"  {entry['seconds']:6.1f}s  {entry['step']}")
    out(f"\nSummary: {json.dumps({k: v for k, v in summary.items() if k != 'timings'}, indent=2)}")
    return summary


def _after_promotion(api, v1, v2, after_records, v1_on_after, summary, story, out) -> None:
    with story.step(f"{v2} serves newer news; users keep correcting (live accuracy after)"):
        _predict_until(api, after_records[0], v2)
        summary["serving"].append(("promoted", v2))
        predictions = _predict_batches(api, after_records)
        if {p["model_version"] for p in predictions} != {v2}:
            raise DemoFailure(f"predictions after the promotion did not all come from {v2}")
        _send_feedback(api, predictions, after_records)
        stats = _wait_stats(api, v2, len(predictions))
        live = stats["per_model_version"]
        summary["live"] = {v1: live[v1], v2: live[v2]}
        before = _right(v1_on_after, after_records)
        out(
            f"         live accuracy (feedback stats): {v1} {_pct(live[v1]['accuracy'])} over "
            f"{live[v1]['total']}, {v2} {_pct(live[v2]['accuracy'])} over {live[v2]['total']}"
        )
        out(
            f"         on the same {len(after_records)} headlines {v1} had {before} right, {v2} "
            f"{_right(predictions, after_records)}"
        )
        summary["same_headlines"] = {
            "n": len(after_records), v1: before, v2: _right(predictions, after_records)
        }

    moves = ((v1, v2, "rollback", f"Rollback to {v1} (POST /api/v1/model/deploy/{v1})"),
             (v2, v1, "back", f"And back to {v2}"))  # fmt: skip
    for target, previous, why, title in moves:
        with story.step(title):
            deployed = api.call("POST", f"/api/v1/model/deploy/{target}", {"reason": f"demo {why}"}).body
            if deployed.get("previous_version") != previous or deployed.get("version") != target:
                raise DemoFailure(f"deploy {target} answered {json.dumps(deployed)}")
            started = time.perf_counter()
            served = _predict_until(api, after_records[0], target)
            out(
                f"         active {previous} -> {target} (revision {deployed['revision']}); /predict served "
                f"by {served['model_version']} after {time.perf_counter() - started:.1f}s"
            )
            summary["serving"].append((why, served["model_version"]))


def _until_interrupted() -> None:
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass


def _stored_cards(session: LocalSession, versions) -> dict[str, str]:
    """Where each version's card.json is in the artifacts bucket (the registry's layout), if it is there."""
    from core.cards.card import CARD_FILE
    from core.registry.cards import card_prefix

    s3 = session.emulator.client("s3")
    buckets = {
        env["ARTIFACTS_BUCKET"]
        for logical_id in session.deployment.functions
        if (env := session.deployment.function_environment(logical_id)).get("ARTIFACTS_BUCKET")
    }
    found = {}
    for version in versions:
        for bucket in sorted(buckets):
            key = card_prefix(version) + CARD_FILE
            try:
                s3.head_object(Bucket=bucket, Key=key)
            except Exception:  # not stored (yet): say nothing rather than a wrong place
                continue
            found[version] = f"s3://{bucket}/{key}"
    return found


def _golden_fraction(session: LocalSession) -> float:
    for logical_id in session.deployment.functions:
        value = session.deployment.function_environment(logical_id).get("GOLDEN_FRACTION")
        if value:
            return float(value)
    return Settings.model_fields["golden_fraction"].default


def _item(record: dict) -> dict:
    return {k: record[k] for k in ("headline", "short_description", "authors") if record.get(k)}


def _pct(value) -> str:
    return f"{value:.1%}" if isinstance(value, (int, float)) else "-"


def _right(predictions: list[dict], records: list[dict]) -> int:
    return sum(p["category"] == r["category"] for p, r in zip(predictions, records, strict=True))


def _predict_batches(api: ApiClient, records: list[dict]) -> list[dict]:
    results = []
    for start in range(0, len(records), MAX_BATCH_ITEMS):
        chunk = records[start : start + MAX_BATCH_ITEMS]
        body = api.call("POST", "/api/v1/predict/batch", {"items": [_item(r) for r in chunk]}).body
        results += body["results"]
    if len(results) != len(records):
        raise DemoFailure(f"{len(records)} headlines sent for prediction, {len(results)} predicted")
    return results


def _send_feedback(api: ApiClient, predictions: list[dict], records: list[dict]) -> int:
    """Each user's verdict: the record's true category on the id of the prediction they saw. One at a time:
    local mode runs one function invocation at a time (measured: four senders were no faster)."""
    for prediction, record in zip(predictions, records, strict=True):
        verdict = {"prediction_id": prediction["prediction_id"], "correct_category": record["category"]}
        api.call("POST", "/api/v1/feedback", {**_item(record), **verdict})
    return len(records) - _right(predictions, records)


def _version(api: ApiClient, version: str) -> dict:
    versions = api.call("GET", "/api/v1/model/versions").body["versions"]
    return next((item for item in versions if item["version"] == version), {})


def _golden_accuracy(api: ApiClient, version: str, side: str) -> float | None:
    golden = (_version(api, version).get("evaluation") or {}).get("golden") or {}
    return (golden.get(side) or {}).get("accuracy")


def _train(api: ApiClient, body: dict, out, session: LocalSession) -> dict:
    job = api.call("POST", "/api/v1/model/train", body).body
    out(f"         retraining job {job['job_id']}")
    return _wait(api, job["job_id"], out, session)


def _wait(api: ApiClient, job_id: str, out, session: LocalSession | None = None) -> dict:
    status = api.wait_training(
        job_id, timeout=600, on_step=lambda step, _: step and out(f"         - {step}")
    )
    if status["status"] != "SUCCEEDED":
        detail = (
            status.get("outcome") or (session and recorded_failure(session, job_id)) or status.get("error")
        )
        raise DemoFailure(f"retraining {job_id} {status['status']}: {json.dumps(detail)[:1500]}")
    return status


def recorded_failure(session: LocalSession, job_id: str) -> dict | None:
    """The failure the state machine recorded (RecordFailure's output), from the execution history."""
    sfn = session.emulator.client("stepfunctions")
    for arn in session.deployment.state_machines.values():
        execution = arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        try:
            events = sfn.get_execution_history(executionArn=execution, reverseOrder=True)["events"]
        except Exception:  # not this state machine's execution
            continue
        for event in events:
            output = (event.get("lambdaFunctionSucceededEventDetails") or {}).get("output")
            if output and '"failed"' in output:
                return json.loads(output)
    return None


def _wait_stats(api: ApiClient, version: str, expected: int, timeout: float = 60) -> dict:
    """Feedback stats once `expected` items on `version` are counted."""

    def counted(stats: dict) -> int:
        return int(((stats.get("per_model_version") or {}).get(version) or {}).get("total", 0))

    try:
        return wait_until(
            lambda: api.call("GET", "/api/v1/feedback/stats").body,
            lambda stats: counted(stats) >= expected,
            timeout=timeout,
        )
    except WaitTimeout as timed_out:
        shown = counted(timed_out.last)
        raise DemoFailure(
            f"feedback stats count {shown} of {expected} items on {version} after {timeout:.0f}s "
            f"(held back: {timed_out.last.get('held_back')})"
        ) from None


def _predict_until(api: ApiClient, record: dict, version: str, timeout: float = 90) -> dict:
    # Serving looks for a new active version every ModelRefreshSeconds, as on AWS.
    try:
        return wait_until(
            lambda: api.call("POST", "/api/v1/predict", _item(record)).body,
            lambda prediction: prediction["model_version"] == version,
            timeout=timeout,
            interval=0.5,
        )
    except WaitTimeout as timed_out:
        serving = timed_out.last["model_version"]
        raise DemoFailure(f"still serving {serving} after deploying {version}") from None
