"""Load on local mode: concurrent clients send a fixed number of requests to its HTTP API; predict latency,
errors, and whether the feedback counters stay consistent with what was accepted.

    python -m bench.load [--clients 32] [--requests 3200] [--seed 9] [--out bench/results]

Local mode runs in this process (local.session.LocalSession: template.yaml in the embedded moto, the HTTP
front, the SQS poller delivering feedback to the consumer in the background), with a model trained here on
the v3 sample of ../shared/data (local/demo_data's 423 records when it is absent) with the default
hyperparameters, registered and deployed directly. Every request goes through the HTTP front, signed as
local mode's ApiClient signs.

1. One client, one request at a time (`--baseline` single predicts): what one request costs.
2. `--clients` threads share a fixed plan of `--requests` requests (seeded): single predicts, batch predicts
   (`--batch-size` headlines each) and feedback on a prediction the same client received, labelled with its
   first or second category. Headlines are drawn without repetition, so the serving LRU never answers.
   Meanwhile a monitor reads GET /api/v1/feedback/stats every half second: the stored feedback (total +
   held_back) must never exceed what had been submitted before the read, nor go down.
3. After the plan, the queue drains: total + held_back must equal the accepted feedback, and the per-category
   totals must add up to the total.

Local mode runs one function invocation at a time (environment variables are process-wide:
local.in_process_lambda.ENVIRONMENT_LOCK), so under 32 clients a request mostly waits for the others: the
figures measure local mode's throughput and queueing on this machine, not Lambda's, which runs concurrent
requests in separate containers. Results: bench/results/load-latest.{json,md} (+ a timestamped JSON).
"""

from __future__ import annotations

import argparse
import json
import random
import sys
import tempfile
import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass, field
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "bench" / "results"
EXPECTED = {"predict": 200, "batch": 200, "feedback": 202}


@dataclass
class Options:
    clients: int = 32
    requests: int = 3200  # in the concurrent phase
    baseline: int = 100  # single predicts, one at a time, before it
    batch_share: float = 0.2
    feedback_share: float = 0.15
    batch_size: int = 10
    seed: int = 9
    stats_interval: float = 0.5
    drain_timeout: float = 120


@dataclass
class Results:
    latencies: dict = field(default_factory=lambda: defaultdict(list))  # kind -> seconds
    statuses: dict = field(default_factory=lambda: defaultdict(Counter))  # kind -> status -> count
    failures: list = field(default_factory=list)  # first few unexpected answers
    feedback_submitted: int = 0
    feedback_accepted: int = 0
    stats_reads: list = field(default_factory=list)  # (stored = total + held_back, submitted before)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, kind: str, status: int | str, seconds: float, body: object = None) -> None:
        with self.lock:
            self.statuses[kind][str(status)] += 1
            if status == EXPECTED[kind]:
                self.latencies[kind].append(seconds)
            elif len(self.failures) < 20:
                self.failures.append({"kind": kind, "status": status, "body": str(body)[:300]})


def _headlines(rng: random.Random) -> tuple[list[str], str, list]:
    """Distinct headlines of the data, shuffled; the data's name; its records (for training)."""
    from core.data.dataset import load_records
    from local.bootstrap import DEMO_CORPUS, SHARED_SAMPLE

    path = SHARED_SAMPLE if SHARED_SAMPLE.exists() else DEMO_CORPUS
    records = load_records(path, skip_invalid=True)
    headlines = sorted({record.headline for record in records})
    rng.shuffle(headlines)
    return headlines, str(path.relative_to(path.parents[2])), records


def _plan(options: Options, rng: random.Random) -> list[str]:
    kinds = []
    for _ in range(options.requests):
        draw = rng.random()
        if draw < options.feedback_share:
            kinds.append("feedback")
        elif draw < options.feedback_share + options.batch_share:
            kinds.append("batch")
        else:
            kinds.append("predict")
    return kinds


def _stored(stats: dict) -> int:
    return int(stats["total"]) + int(stats["held_back"])


def run(options: Options | None = None, progress=None) -> dict:
    options = options or Options()
    from core.fitting.training import train_to_dir
    from core.registry.versions import ModelRegistry
    from core.settings import load_settings
    from local.api_client import ApiClient
    from local.in_process_lambda import ENVIRONMENT_LOCK
    from local.session import LocalConfig, LocalSession

    say = progress or (lambda _message: None)
    rng = random.Random(options.seed)
    headlines, data_name, records = _headlines(rng)
    needed = 1 + options.baseline + options.requests * options.batch_size
    if len(headlines) < needed:  # small data: headlines repeat, and the serving LRU answers some
        headlines = headlines * (needed // len(headlines) + 1)
    report: dict = {"options": vars(options).copy(), "data": data_name}
    with tempfile.TemporaryDirectory(prefix="mlnews-load-") as work:
        say(f"training a model on {data_name} ({len(records)} records)")
        started = time.monotonic()
        model_dir = Path(work) / "model"
        train_to_dir(records, model_dir)
        report["training_s"] = round(time.monotonic() - started, 1)
        with LocalSession(LocalConfig(port=0, max_batching_window=0)) as session:
            environment = session.deployment.function_environment("ModelAdminFunction")
            with ENVIRONMENT_LOCK:  # nothing runs as a function while the host registers the model
                registry = ModelRegistry(load_settings(environment))
                item = registry.register_model_dir(model_dir)
                registry.activate(item["version"], reason="load benchmark")
            report["model"] = {"version": item["version"], "classes": len(item["classes"])}
            api = ApiClient(session.front.base_url, correlation_prefix="load", timeout=120)
            report.update(_measure(api, options, rng, headlines, say))
    return report


def _measure(api, options: Options, rng: random.Random, headlines: list[str], say) -> dict:
    from bench.latency_stats import summarise_latencies, throughput
    from local.waiting import WaitTimeout, wait_until

    source = iter(headlines)
    source_lock = threading.Lock()

    def take(n: int) -> list[str]:
        with source_lock:
            return [next(source) for _ in range(n)]

    say(f"baseline: {options.baseline} single predicts, one at a time, after the first (cold start)")
    (first,) = take(1)
    cold = api.call("POST", "/api/v1/predict", {"headline": first}, expect=(200,)).millis
    baseline = []
    for headline in take(options.baseline):
        answer = api.call("POST", "/api/v1/predict", {"headline": headline}, expect=(200,))
        baseline.append(answer.millis / 1000)

    results = Results()
    plan, plan_lock = iter(_plan(options, rng)), threading.Lock()
    finished = threading.Event()

    def next_kind() -> str | None:
        with plan_lock:
            return next(plan, None)

    def timed(kind: str, method: str, path: str, body: dict):
        started = time.perf_counter()
        try:
            answer = api.call(method, path, body, expect=())
        except Exception as error:  # a refused or dropped connection, a timeout: an error of the run
            results.record(kind, type(error).__name__, time.perf_counter() - started, error)
            return None
        results.record(kind, answer.status, time.perf_counter() - started, answer.body)
        return answer if answer.status == EXPECTED[kind] else None

    def client(number: int) -> None:
        own = random.Random(options.seed * 1000 + number)
        received: list[dict] = []  # predictions this client got and has not given feedback on
        while (kind := next_kind()) is not None:
            if kind == "feedback" and received:
                prediction = received.pop(own.randrange(len(received)))
                label = prediction["top_k"][0 if own.random() < 0.6 else 1]["category"]
                body = {
                    "prediction_id": prediction["prediction_id"],
                    "correct_category": label,
                    "headline": prediction["headline"],
                }
                with results.lock:
                    results.feedback_submitted += 1
                if timed("feedback", "POST", "/api/v1/feedback", body) is not None:
                    with results.lock:
                        results.feedback_accepted += 1
            elif kind == "batch":
                items = [{"headline": headline} for headline in take(options.batch_size)]
                timed("batch", "POST", "/api/v1/predict/batch", {"items": items, "top_k": 2})
            else:
                (headline,) = take(1)
                answer = timed("predict", "POST", "/api/v1/predict", {"headline": headline, "top_k": 2})
                if answer is not None:
                    received.append({**answer.body, "headline": headline})

    def monitor() -> None:
        while not finished.is_set():
            stats = api.call("GET", "/api/v1/feedback/stats", expect=(200,)).body
            with results.lock:
                results.stats_reads.append((_stored(stats), results.feedback_submitted))
            finished.wait(options.stats_interval)

    say(f"load: {options.requests} requests from {options.clients} clients")
    watcher = threading.Thread(target=monitor, name="stats-monitor", daemon=True)
    threads = [threading.Thread(target=client, args=(n,), name=f"client-{n}") for n in range(options.clients)]
    started = time.perf_counter()
    watcher.start()
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    elapsed = time.perf_counter() - started
    finished.set()
    watcher.join()

    say("draining the feedback queue")
    drain_started = time.perf_counter()
    try:
        final = wait_until(
            lambda: api.call("GET", "/api/v1/feedback/stats", expect=(200,)).body,
            lambda stats: _stored(stats) >= results.feedback_accepted,
            timeout=options.drain_timeout,
            interval=0.5,
        )
    except WaitTimeout as timed_out:  # reported as inconsistent below, with what the stats held
        final = timed_out.last
    drained_s = time.perf_counter() - drain_started
    sent = sum(sum(counts.values()) for counts in results.statuses.values())
    errors = sum(
        n
        for kind, counts in results.statuses.items()
        for status, n in counts.items()
        if status != str(EXPECTED[kind])
    )
    return {
        "first_predict_ms": round(cold, 1),
        "baseline_predict": summarise_latencies(baseline),
        "latency": {
            kind: summarise_latencies(results.latencies[kind]) for kind in EXPECTED if results.latencies[kind]
        },
        "statuses": {kind: dict(counts) for kind, counts in results.statuses.items()},
        "requests_sent": sent,
        "errors": errors,
        "failures": results.failures,
        "elapsed_s": round(elapsed, 2),
        "requests_per_s": round(throughput(sent, elapsed), 1),
        "headlines_per_s": round(
            throughput(
                results.statuses["predict"]["200"] + results.statuses["batch"]["200"] * options.batch_size,
                elapsed,
            ),
            1,
        ),
        "feedback": {
            "submitted": results.feedback_submitted,
            **feedback_consistency(results.stats_reads, final, results.feedback_accepted),
            "drained_in_s": round(drained_s, 1),
        },
    }


def feedback_consistency(reads: list[tuple[int, int]], final: dict, accepted: int) -> dict:
    """The feedback stats against what was sent: `reads` are (stored = total + held_back, submitted before
    the read) during the load, `final` the stats once the queue drained, `accepted` the 202 answers."""
    stored_series = [stored for stored, _ in reads]
    over = [{"stored": stored, "submitted_before": before} for stored, before in reads if stored > before]
    per_category = sum(int(c["total"]) for c in final["per_category"].values())
    never_decreased = stored_series == sorted(stored_series)
    return {
        "accepted": accepted,
        "stored_total": int(final["total"]),
        "stored_held_back": int(final["held_back"]),
        "per_category_sum": per_category,
        "stats_reads_during_load": len(reads),
        "reads_above_submitted": over[:10],
        "never_decreased": never_decreased,
        "consistent": not over
        and never_decreased
        and _stored(final) == accepted
        and per_category == int(final["total"]),
    }


def render_markdown(report: dict) -> str:
    options, feedback = report["options"], report["feedback"]
    ok = "PASS" if not report["errors"] and feedback["consistent"] else "MISS"
    rows = []
    measured = [(kind, report["latency"][kind]) for kind in EXPECTED if kind in report["latency"]]
    for name, figures in (("predict, one client", report["baseline_predict"]), *measured):
        label = {"predict": "predict", "batch": f"predict/batch ({options['batch_size']} headlines)"}.get(
            name, name
        )
        if name in report["latency"]:
            label += f", {options['clients']} clients"
        rows.append(
            f"| {label} | {figures['n']} | {figures['p50_ms']:.1f} | {figures['p90_ms']:.1f} | "
            f"{figures['p99_ms']:.1f} | {figures['max_ms']:.1f} |"
        )
    lines = [
        f"# Load on local mode: {report['requests_sent']} requests from {options['clients']} clients: {ok}",
        "",
        "| requests | n | p50 ms | p90 ms | p99 ms | max ms |",
        "|---|---|---|---|---|---|",
        *rows,
        "",
        f"- first request (the predict function's cold start: imports, model download and load): "
        f"{report['first_predict_ms']:.0f} ms",
        f"- errors: **{report['errors']}** (answers other than 200/202, or no answer); statuses "
        f"{json.dumps(report['statuses'], sort_keys=True)}",
        f"- throughput: {report['requests_per_s']} requests/s, {report['headlines_per_s']} headlines/s "
        f"({report['elapsed_s']} s)",
        f"- feedback: {feedback['accepted']} accepted of {feedback['submitted']}; after the queue drained "
        f"({feedback['drained_in_s']} s) the stats hold {feedback['stored_total']} counted + "
        f"{feedback['stored_held_back']} held back (over the keyless callers' daily limit) = "
        f"{feedback['stored_total'] + feedback['stored_held_back']}; per-category totals add up to "
        f"{feedback['per_category_sum']}; {feedback['stats_reads_during_load']} reads during the load, "
        f"never above what had been submitted ({len(feedback['reads_above_submitted'])} were), "
        f"never decreasing ({feedback['never_decreased']}): "
        f"**{'consistent' if feedback['consistent'] else 'INCONSISTENT'}**",
        f"- model {report['model']['version']} ({report['model']['classes']} categories) trained on "
        f"{report['data']} with the default hyperparameters in {report['training_s']} s",
        "",
        "Local mode runs one function invocation at a time: under many clients a request mostly waits for "
        "the others, so these are local mode's figures on this machine, not Lambda's.",
        "",
        f"Measured {report.get('measured_at', '')} on {report.get('machine', {}).get('cpu_count', '?')} CPUs "
        f"(load average {report.get('load_average', {}).get('start')} at the start), commit "
        f"{report.get('git', {}).get('commit', '?')[:12]}; `python -m bench.load` (docs/reliability.md).",
    ]
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    from bench.run import git_facts, load_average, stamp_report, write_result_files

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--clients", type=int, default=Options.clients)
    parser.add_argument("--requests", type=int, default=Options.requests)
    parser.add_argument("--baseline", type=int, default=Options.baseline)
    parser.add_argument("--batch-size", type=int, default=Options.batch_size)
    parser.add_argument("--seed", type=int, default=Options.seed)
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    if args.clients < 1 or args.requests < 1 or args.baseline < 1 or not 1 <= args.batch_size <= 50:
        parser.error("--clients, --requests and --baseline must be >= 1, --batch-size between 1 and 50")
    load_before, git = load_average(), git_facts()  # the code as it was when the run started
    options = Options(
        clients=args.clients,
        requests=args.requests,
        baseline=args.baseline,
        batch_size=args.batch_size,
        seed=args.seed,
    )
    report = run(options, progress=lambda message: print(message, file=sys.stderr))
    stamp = stamp_report(report, load_before, git)
    markdown = render_markdown(report)
    write_result_files(args.out, f"load-{stamp}", "load-latest", report, markdown)
    print(markdown)
    return 0 if "PASS" in markdown.splitlines()[0] else 1


if __name__ == "__main__":
    sys.exit(main())
