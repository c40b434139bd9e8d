"""`mlnews local demo`: the whole story, end to end, through the public HTTP API of local mode.

initial training through the state machine -> v1 promoted -> predictions (single, batch) -> feedback (with
corrections) -> feedback stats -> retrain check -> second training -> evaluation -> gate decision -> versions
-> rollback with the deploy route -> summary. Exit 0 on success; any failure stops the story with its reason.
"""

from __future__ import annotations

import json
import time
from dataclasses import dataclass, field
from pathlib import Path

from core.data.jsonl import DatasetError
from core.errors import MlNewsError
from local import bootstrap
from local.api_client import ApiClient
from local.session import LocalConfig, LocalSession
from local.waiting import WaitTimeout, wait_until

DEFAULT_SAMPLE = 3000  # records of the shared sample used by default: keeps the story under 3 minutes


@dataclass
class DemoOptions:
    data: str | None = None
    download: bool = False
    sample: int | None = DEFAULT_SAMPLE  # 0/None = all records
    port: int = 0
    feedback: int = 40
    template: Path | None = None
    quiet: bool = False


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
    config = LocalConfig(port=options.port, max_batching_window=1.0)
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
        summary = _story(session, dataset, options, story, out)
        return DemoResult(True, time.perf_counter() - story.started, story.steps, summary)
    except (MlNewsError, TimeoutError, RuntimeError) as error:  # the story's failures, told as one line
        return DemoResult(False, time.perf_counter() - story.started, story.steps, error=str(error))
    finally:
        session.stop() if session.deployment is not None else None


def _story(session: LocalSession, dataset, options: DemoOptions, story: Story, out) -> dict:
    api = ApiClient(session.front.base_url, correlation_prefix="demo")
    records = bootstrap.subsample(bootstrap.read_records(dataset.path), options.sample)
    # Records the model never trains on: the story's "new headlines" (and their true categories).
    unseen, train = records[: max(60, options.feedback + 10)], records[max(60, options.feedback + 10) :]

    with story.step("Load the dataset into the data bucket"):
        uri = bootstrap.upload_dataset(session, train)
        cats = len({r["category"] for r in train})
        out(
            f"         {len(train)} records, {cats} categories, from {dataset.path} "
            f"({dataset.source}) -> {uri}"
        )
        if not dataset.meaningful:
            out(
                "         NOTICE: this is the small invented demo corpus; accuracy on it means nothing. "
                "Pass --data PATH for the real dataset."
            )

    with story.step("Initial training through the state machine"):
        first = _train(api, {"include_feedback": False}, out, session)
        if (first.get("outcome") or {}).get("status") != "deployed":
            raise DemoFailure(f"the first model was not promoted: {json.dumps(first.get('outcome'))}")
        v1 = first["outcome"]["version"]
        out(f"         promoted {v1}: {'; '.join(first['outcome'].get('reasons') or [])[:300]}")

    with story.step(f"Predictions from {v1}"):
        one = unseen[0]
        single = api.call("POST", "/api/v1/predict", _item(one))
        p = single.body
        out(
            f'         "{one["headline"][:70]}" -> {p["category"]} ({p["confidence"]:.2f}) '
            f"[true: {one['category']}] in {single.millis:.0f} ms, model {p['model_version']}"
        )
        batch_items = unseen[1 : options.feedback + 1]
        batch = api.call("POST", "/api/v1/predict/batch", {"items": [_item(r) for r in batch_items]})
        results = batch.body["results"]
        right = sum(r["category"] == it["category"] for r, it in zip(results, batch_items, strict=True))
        out(
            f"         batch of {len(results)} in {batch.millis:.0f} ms: "
            f"{right}/{len(results)} match the label"
        )
        if p["model_version"] != v1 or len(results) != len(batch_items):
            raise DemoFailure("predictions did not come from the promoted model")

    with story.step("Feedback (confirmations and corrections) -> SQS -> consumer"):
        corrections = 0
        for prediction, record in zip(results, batch_items, strict=True):
            api.call(
                "POST",
                "/api/v1/feedback",
                {
                    **_item(record),
                    "prediction_id": prediction["prediction_id"],
                    "correct_category": record["category"],
                },
            )
            corrections += prediction["category"] != record["category"]
        out(f"         sent {len(results)} feedback items ({corrections} corrections)")

    with story.step("Feedback stats (after the consumer has processed the queue)"):
        stats = _wait_stats(api, len(results))
        out(
            f"         total {stats['total']}, correct {stats['correct']}, live accuracy "
            f"{stats.get('live_accuracy')}, per version {json.dumps(stats.get('per_model_version'))}"
        )

    with story.step("Retrain check"):
        check = api.call("POST", "/api/v1/model/retrain-check", {}).body
        out(f"         retrain={check['retrain']}: {'; '.join(check['reasons'])[:300]}")
        job_id = (check.get("execution") or {}).get("job_id")
        if not job_id:  # not due on this little feedback: the operator retrains explicitly
            out("         not due yet: the operator starts one (POST /api/v1/model/train, with feedback)")
            job_id = api.call("POST", "/api/v1/model/train", {"include_feedback": True}).body["job_id"]
        out(f"         retraining job {job_id}")

    with story.step("Second training (base data + verified feedback), evaluation, promotion gate"):
        second = _wait(api, job_id, out, session)
        outcome = second.get("outcome") or {}
        decision = outcome.get("status")
        if decision not in ("deployed", "rejected"):
            raise DemoFailure(f"second training ended without a gate decision: {json.dumps(second)[:600]}")
        v2 = outcome["version"]
        out(f"         gate decision for {v2}: {'PROMOTED' if decision == 'deployed' else 'REJECTED'}")
        for reason in outcome.get("reasons") or []:
            out(f"           - {reason}")

    with story.step("Versions"):
        versions = api.call("GET", "/api/v1/model/versions").body
        for item in versions["versions"]:
            acc = (item.get("metrics") or {}).get("accuracy")
            shown = f"{acc:.3f}" if isinstance(acc, (int, float)) else "-"
            # the training run's own held-out slice; the gate above compares both on the golden set
            out(f"         {item['version']}  {item['status']:<9} validation accuracy {shown}")
        out(f"         active: {versions['active_version']}")

    with story.step("Rollback with the deploy route"):
        if decision == "deployed":
            target = v1
        else:  # v2 was rejected: deploying it must be refused unless forced; then re-pin v1 explicitly
            refused = api.call("POST", f"/api/v1/model/deploy/{v2}", {"reason": "demo"}, expect=())
            out(f"         deploying rejected {v2} without allow_rejected -> HTTP {refused.status}")
            if refused.status < 400:
                raise DemoFailure("a rejected version was deployed without allow_rejected")
            target = v1
        rollback = api.call("POST", f"/api/v1/model/deploy/{target}", {"reason": "demo rollback"}).body
        out(
            f"         active {rollback.get('previous_version')} -> {rollback['version']} "
            f"(revision {rollback['revision']})"
        )
        after = _predict_until(api, unseen[0], target)
        out(f"         predictions now served by {after['model_version']}")

    summary = {
        "dataset": {"source": dataset.source, "records": len(train), "path": str(dataset.path)},
        "v1": v1,
        "v2": v2,
        "gate": decision,
        "gate_reasons": outcome.get("reasons"),
        "active_after_rollback": target,
        "feedback": {"sent": len(results), "corrections": corrections, "stats_total": stats["total"]},
        "versions": [(v["version"], v["status"]) for v in versions["versions"]],
        "timings": {s["step"]: s["seconds"] for s in story.steps},
    }
    out(f"\nSummary: {json.dumps(summary, indent=2)}")
    return summary


def _item(record: dict) -> dict:
    return {k: record[k] for k in ("headline", "short_description", "authors") if record.get(k)}


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


def _wait_stats(api: ApiClient, expected: int, timeout: float = 60) -> dict:
    try:
        return wait_until(
            lambda: api.call("GET", "/api/v1/feedback/stats").body,
            lambda stats: stats["total"] >= expected,
            timeout=timeout,
        )
    except WaitTimeout as timed_out:
        shown = timed_out.last["total"]
        raise DemoFailure(f"feedback stats show {shown} of {expected} items after {timeout:.0f}s") from None


def _predict_until(api: ApiClient, record: dict, version: str, timeout: float = 90) -> dict:
    # Serving refreshes its model on a timer (MODEL_REFRESH_SECONDS), as on AWS.
    try:
        return wait_until(
            lambda: api.call("POST", "/api/v1/predict", _item(record)).body,
            lambda prediction: prediction["model_version"] == version,
            timeout=timeout,
            interval=1,
        )
    except WaitTimeout as timed_out:
        serving = timed_out.last["model_version"]
        raise DemoFailure(f"still serving {serving} after rolling back to {version}") from None
