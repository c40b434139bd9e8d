"""`python -m cost.measure`: run the stack in local mode on the real data sample and record what the cost
model needs, per function, into cost/measured.json (with the date, machine and commit).

The mix: a first training through the state machine, single predictions (about a tenth of them repeating an
earlier headline), a few batch predictions, feedback for ~5 % of the predictions, the SQS consumer draining
the queue, the scheduled retrain check, and a second training with the feedback (gate: deploy or reject).

Per invocation it records wall time and the handler thread's CPU time (time.thread_time: moto answers the
AWS calls on other threads, so CPU here is the handler's own work and wall - CPU is waiting), request and
response sizes, bytes logged, AWS calls by service and operation (with DynamoDB request units and S3 / SQS
payload sizes), and the CloudWatch metrics in the EMF lines it printed. Local durations are this machine's:
cost/model.py maps them to Lambda (CPU share = MemorySize / 1769 vCPU below 1769 MB).
"""

from __future__ import annotations

import argparse
import datetime as dt
import importlib
import json
import math
import os
import platform
import statistics
import subprocess
import sys
import threading
import time
from collections import Counter, OrderedDict, defaultdict
from pathlib import Path

from cost.inputs import MEASURED, REPO_ROOT, read_template, transitions

DEFAULT_SAMPLE = 3000  # records of the shared sample: the demo's size, keeps the run to a few minutes
HELD_OUT = 450  # records never trained on: the "new headlines" the run predicts
SINGLE_PREDICTIONS = 400
REPEAT_EVERY = 10  # every 10th single prediction repeats an earlier headline (the cache path)
BATCHES, BATCH_SIZE = 5, 20
FEEDBACK_RATE = 0.05
FIRST_FEEDBACK_ROUND = 5
_PARAMS = "cost.measure.params"


# ---------------------------------------------------------------- recording


def _percentiles(values: list[float]) -> dict:
    if not values:
        return {"n": 0}
    ordered = sorted(values)

    def pick(q: float) -> float:
        return round(ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))], 3)

    return {
        "n": len(ordered),
        "mean": round(statistics.fmean(ordered), 3),
        "p50": pick(0.50),
        "p90": pick(0.90),
        "p99": pick(0.99),
        "max": round(ordered[-1], 3),
    }


def _ddb_item_bytes(item) -> int:
    """Approximate DynamoDB item size: attribute names plus values in their typed JSON form."""
    return len(json.dumps(item, separators=(",", ":"), default=str).encode()) if item else 0


def _request_units(operation: str, params: dict, parsed: dict) -> tuple[float, float]:
    """(read units, write units) one DynamoDB call consumes, on-demand rules, from its request/response."""
    eventual = 0.5 if not params.get("ConsistentRead") else 1.0

    def writes(nbytes: int) -> float:
        return max(1, math.ceil(nbytes / 1024))

    def reads(nbytes: int) -> float:
        return max(1, math.ceil(nbytes / 4096))

    if operation == "GetItem":
        return reads(_ddb_item_bytes(parsed.get("Item"))) * eventual, 0.0
    if operation in ("Query", "Scan"):
        return reads(sum(_ddb_item_bytes(i) for i in parsed.get("Items") or [])) * eventual, 0.0
    if operation == "PutItem":
        return 0.0, writes(_ddb_item_bytes(params.get("Item")))
    if operation in ("UpdateItem", "DeleteItem"):
        written = _ddb_item_bytes(params.get("Key"))
        written += _ddb_item_bytes(params.get("ExpressionAttributeValues"))
        return 0.0, writes(written)
    if operation == "TransactWriteItems":
        items = params.get("TransactItems") or []
        return 0.0, 2.0 * sum(writes(_ddb_item_bytes(next(iter(i.values()), {}))) for i in items)
    if operation == "TransactGetItems":
        return 2.0 * len(params.get("TransactItems") or []), 0.0
    if operation == "BatchWriteItem":
        requests = [r for rs in (params.get("RequestItems") or {}).values() for r in rs]
        return 0.0, float(sum(writes(_ddb_item_bytes(r)) for r in requests))
    if operation == "BatchGetItem":
        found = [i for items in (parsed.get("Responses") or {}).values() for i in items]
        return sum(reads(_ddb_item_bytes(i)) for i in found) * eventual, 0.0
    return 0.0, 0.0


def _payload_bytes(service: str, operation: str, params: dict, parsed: dict) -> int:
    if service == "s3" and operation == "GetObject":
        return int(parsed.get("ContentLength") or 0)
    if service == "s3" and operation in ("PutObject", "UploadPart"):
        body = params.get("Body")
        if isinstance(body, bytes | str):
            return len(body)
        try:
            return int(os.fstat(body.fileno()).st_size)
        except Exception:  # a stream without a size: unknown
            return 0
    if service == "sqs" and operation == "SendMessage":
        return len(str(params.get("MessageBody") or "").encode())
    if service == "events" and operation == "PutEvents":
        return sum(len(json.dumps(e).encode()) for e in params.get("Entries") or [])
    return 0


def parse_emf(logs: str) -> list[tuple[str, str, tuple[tuple[str, str], ...]]]:
    """(namespace, metric name, dimension set) of every metric in the EMF lines of a log text."""
    found = []
    for line in logs.splitlines():
        line = line.strip()
        if not line.startswith("{") or '"_aws"' not in line:
            continue
        try:
            document = json.loads(line)
        except ValueError:
            continue
        for directive in (document.get("_aws") or {}).get("CloudWatchMetrics") or []:
            namespace = directive.get("Namespace", "")
            for dimension_names in directive.get("Dimensions") or [[]]:
                dimensions = tuple(sorted((name, str(document.get(name))) for name in dimension_names))
                for metric in directive.get("Metrics") or []:
                    found.append((namespace, metric.get("Name", ""), dimensions))
    return found


class Recorder:
    """Wraps local mode's in-process Lambda invoke and every botocore client made from now on."""

    def __init__(self):
        self._local = threading.local()
        self.invocations: list[dict] = []
        self.calls_outside: Counter[str] = Counter()
        self.logical: dict[str, str] = {}
        self._lock = threading.Lock()
        self._handlers = (("before-parameter-build", self._remember), ("after-call", self._after_call))
        self.seen_bodies: set[str] = set()
        self.active: dict | None = None  # the invocation holding local mode's runner lock

    # botocore handlers (added to every session created after install)
    def install(self) -> None:
        import botocore.handlers

        for handler in self._handlers:
            botocore.handlers.BUILTIN_HANDLERS.append(handler)

    def uninstall(self) -> None:
        import botocore.handlers

        for handler in self._handlers:
            if handler in botocore.handlers.BUILTIN_HANDLERS:
                botocore.handlers.BUILTIN_HANDLERS.remove(handler)

    @staticmethod
    def _remember(params, context, **_kwargs) -> None:
        if context is not None:
            context[_PARAMS] = params

    def _after_call(self, http_response, parsed, model, context=None, **_kwargs) -> None:
        service = model.service_model.service_name
        operation = model.name
        params = dict((context or {}).get(_PARAMS) or {})
        stack = getattr(self._local, "stack", None)
        key = f"{service}:{operation}"
        record = stack[-1] if stack else None
        if record is None and threading.current_thread().name.startswith("ThreadPoolExecutor"):
            record = self.active  # s3transfer's worker threads download for the invocation that runs
        if record is None:
            with self._lock:
                self.calls_outside[key] += 1
            return
        record["calls"][key] += 1
        if service == "dynamodb":
            read, write = _request_units(operation, params, parsed or {})
            record["rru"] += read
            record["wru"] += write
        nbytes = _payload_bytes(service, operation, params, parsed or {})
        if nbytes:
            record["payload_bytes"][key] += nbytes

    # the invoke wrapper
    def wrap(self, lambdas) -> None:
        original = lambdas.invoke
        recorder = self

        def invoke(function, event):
            if isinstance(event, str | bytes):
                event = json.loads(event or "{}")
            name = recorder.logical.get(function.function_name, function.function_name)
            with lambdas.lock:  # re-entrant: timing starts once this invocation holds the runner
                first = not any(r["function"] == name for r in recorder.invocations)
                record = {
                    "function": name,
                    "kind": recorder._kind(event),
                    "cold": first,
                    "calls": Counter(),
                    "payload_bytes": Counter(),
                    "rru": 0.0,
                    "wru": 0.0,
                    "event_bytes": len(json.dumps(event).encode()),
                    "body_bytes": len(str(event.get("body") or "").encode()),
                    "records": len(event.get("Records") or []),  # an SQS batch's messages
                }
                stack = recorder._local.__dict__.setdefault("stack", [])
                stack.append(record)
                outer, recorder.active = recorder.active, record
                wall0, cpu0 = time.perf_counter(), time.thread_time()
                try:
                    payload, errored, logs = original(function, event)
                finally:
                    record["wall_ms"] = (time.perf_counter() - wall0) * 1000
                    record["cpu_ms"] = (time.thread_time() - cpu0) * 1000
                    stack.pop()
                    recorder.active = outer
            record["errored"] = errored
            record["response_bytes"] = len(payload.encode())
            try:
                body = json.loads(payload).get("body") if payload.startswith("{") else None
            except ValueError:
                body = None
            record["response_body_bytes"] = len(str(body).encode()) if body is not None else 0
            record["log_bytes"] = len(logs.encode())
            record["metrics"] = parse_emf(logs)
            with recorder._lock:
                recorder.invocations.append(record)
            return payload, errored, logs

        lambdas.invoke = invoke

    def _kind(self, event) -> str:
        if not isinstance(event, dict):
            return "other"
        if "httpMethod" in event:
            kind = f"{event['httpMethod']} {event.get('resource') or event.get('path')}"
            if kind == "POST /api/v1/predict":
                body = str(event.get("body") or "")
                kind += " (repeat)" if body in self.seen_bodies else " (new)"
                self.seen_bodies.add(body)
            return kind
        if event.get("Records") and str(event["Records"][0].get("eventSource")) == "aws:sqs":
            return "sqs batch"
        if event.get("trigger") == "schedule":
            return "schedule"
        if event.get("action"):
            return f"step {event['action']}"
        if "execution_name" in event:
            return "step prepare"
        return "other"


# ---------------------------------------------------------------- training jobs


class TrainingTimer:
    """Times the steps of local training jobs (pip install of what the image lacks, then train.py)."""

    def __init__(self):
        self.steps: list[dict] = []

    def install(self):
        from local import sagemaker

        self._module = sagemaker
        self._original = sagemaker._step
        timer = self

        def _step(command, cwd, env, log, deadline, error, output_dir=None):
            started = time.perf_counter()
            try:
                return timer._original(command, cwd, env, log, deadline, error, output_dir)
            finally:
                timer.steps.append({"step": error, "seconds": time.perf_counter() - started})

        sagemaker._step = _step

    def uninstall(self):
        self._module._step = self._original


# ---------------------------------------------------------------- the run


def _local_session_classes():
    """LocalSession and LocalConfig wherever the restructuring of local/ puts them."""
    for name in ("local.session", "local.mode.session", "local.runtime.session"):
        try:
            module = importlib.import_module(name)
            return module.LocalSession, module.LocalConfig
        except (ImportError, AttributeError):
            continue
    raise ImportError("local mode's LocalSession moved: adapt cost/measure.py")


def _item(record: dict) -> dict:
    return {k: record[k] for k in ("headline", "short_description", "authors") if record.get(k)}


def _execution(session, job_id: str) -> dict:
    """States entered, their timings and the prepared data of one retraining execution."""
    sfn = session.emulator.client("stepfunctions")
    for arn in session.deployment.state_machines.values():
        execution = arn.replace(":stateMachine:", ":execution:") + f":{job_id}"
        try:
            events = sfn.get_execution_history(executionArn=execution, maxResults=1000)["events"]
        except Exception:  # not this state machine's execution
            continue
        entered = [e["stateEnteredEventDetails"]["name"] for e in events if "stateEnteredEventDetails" in e]
        described = sfn.describe_execution(executionArn=execution)
        output = json.loads(described.get("output") or "{}")
        stopped = described.get("stopDate")
        seconds = (stopped - described["startDate"]).total_seconds() if stopped else None
        return {
            "states_entered": entered,
            "transitions": len(entered),
            "status": described["status"],
            "seconds": seconds,
            "output": output,
        }
    raise RuntimeError(f"no execution {job_id}")


def _s3_objects_under(s3, uri: str) -> list[tuple[str, int]]:
    bucket, _, key = uri.removeprefix("s3://").partition("/")
    found = []
    for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket, Prefix=key):
        found += [(f"s3://{bucket}/{o['Key']}", int(o["Size"])) for o in page.get("Contents") or []]
    return found


def _training_record(session, execution: dict, timer_steps: list[dict]) -> dict:
    s3 = session.emulator.client("s3")
    prepared = execution["output"].get("prepared") or {}
    training = execution["output"].get("training") or {}
    train_objects = _s3_objects_under(s3, prepared["train_uri"]) if prepared.get("train_uri") else []
    records = 0
    for uri, _size in train_objects:
        bucket, _, key = uri.removeprefix("s3://").partition("/")
        body = s3.get_object(Bucket=bucket, Key=key)["Body"].read()
        records += sum(1 for line in body.splitlines() if line.strip())
    uris = sorted({v for v in _walk_strings(prepared) if v.startswith("s3://")})
    sizes = {uri: sum(size for _, size in _s3_objects_under(s3, uri)) for uri in uris}
    artifact = training.get("S3ModelArtifacts")
    model_bytes = sum(size for _, size in _s3_objects_under(s3, artifact)) if artifact else 0
    job = {}
    if training.get("TrainingJobName"):
        described = session.emulator.client("sagemaker").describe_training_job(
            TrainingJobName=training["TrainingJobName"]
        )
        job = {k: described.get(k) for k in ("TrainingTimeInSeconds", "BillableTimeInSeconds")}
    steps = {s["step"]: round(s["seconds"], 3) for s in timer_steps}
    return {
        "records": records,
        "train_channel_bytes": sum(size for _, size in train_objects),
        "prepared_objects_bytes": sizes,
        "model_artifact_bytes": model_bytes,
        "install_seconds": steps.get("InstallRequirementsError", 0.0),
        "script_seconds": steps.get("ExecuteUserScriptError", 0.0),
        "job_seconds": job.get("TrainingTimeInSeconds"),
        "execution_seconds": execution["seconds"],
        "states_entered": execution["states_entered"],
        "transitions": execution["transitions"],
        "outcome": ((execution["output"].get("outcome") or {}).get("status")),
    }


def _walk_strings(node):
    if isinstance(node, str):
        yield node
    elif isinstance(node, dict):
        for value in node.values():
            yield from _walk_strings(value)
    elif isinstance(node, list):
        for value in node:
            yield from _walk_strings(value)


def prediction_cache_study(path: Path, cache_size: int = 2048) -> dict:
    """How often a headline repeats in the data, and the serving LRU's hit rate replaying it in order."""
    records = [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
    records.sort(key=lambda r: r.get("date", ""))

    def replay(key_of) -> dict:
        lru: OrderedDict = OrderedDict()
        hits = 0
        seen: set = set()
        repeats = 0
        for record in records:
            key = key_of(record)
            repeats += key in seen
            seen.add(key)
            if key in lru:
                hits += 1
                lru.move_to_end(key)
            else:
                lru[key] = True
                if len(lru) > cache_size:
                    lru.popitem(last=False)
        total = len(records)
        return {"repeated_fraction": round(repeats / total, 5), "lru_hit_rate": round(hits / total, 5)}

    return {
        "file": path.name,
        "records": len(records),
        "cache_size": cache_size,
        "headline_only": replay(lambda r: r.get("headline", "").strip().lower()),
        "serving_key": replay(
            lambda r: (r.get("headline", ""), r.get("short_description") or "", r.get("authors") or "")
        ),
    }


def _summarize(recorder: Recorder, template) -> dict:
    by_function: dict[str, list[dict]] = defaultdict(list)
    for record in recorder.invocations:
        by_function[record["function"]].append(record)
    functions = {}
    for name, records in sorted(by_function.items()):
        warm = [r for r in records if not r["cold"]]
        cold = next((r for r in records if r["cold"]), None)
        kinds = {}
        for kind in sorted({r["kind"] for r in records}):
            of_kind = [r for r in warm if r["kind"] == kind] or [r for r in records if r["kind"] == kind]
            calls: Counter = Counter()
            payload: Counter = Counter()
            for r in of_kind:
                calls.update(r["calls"])
                payload.update(r["payload_bytes"])
            n = len(of_kind)
            kinds[kind] = {
                "invocations": sum(1 for r in records if r["kind"] == kind),
                "warm_invocations": len([r for r in warm if r["kind"] == kind]),
                "wall_ms": _percentiles([r["wall_ms"] for r in of_kind]),
                "cpu_ms": _percentiles([r["cpu_ms"] for r in of_kind]),
                "wait_ms": _percentiles([max(0.0, r["wall_ms"] - r["cpu_ms"]) for r in of_kind]),
                "request_body_bytes": _percentiles([r["body_bytes"] for r in of_kind]),
                "event_bytes": _percentiles([r["event_bytes"] for r in of_kind]),
                "response_body_bytes": _percentiles([r["response_body_bytes"] for r in of_kind]),
                "log_bytes": _percentiles([r["log_bytes"] for r in of_kind]),
                "aws_calls_per_invocation": {k: round(v / n, 4) for k, v in sorted(calls.items())},
                "payload_bytes_per_invocation": {k: round(v / n, 1) for k, v in sorted(payload.items())},
                "dynamodb_rru_per_invocation": round(sum(r["rru"] for r in of_kind) / n, 4),
                "dynamodb_wru_per_invocation": round(sum(r["wru"] for r in of_kind) / n, 4),
                "errors": sum(1 for r in of_kind if r["errored"]),
                "sqs_records_per_invocation": round(sum(r["records"] for r in of_kind) / n, 3),
            }
        config = template.functions.get(name)
        functions[name] = {
            "memory_mb_at_measurement": config.memory_mb if config else None,
            "invocations": len(records),
            "cold": None
            if cold is None
            else {
                "kind": cold["kind"],
                "sqs_records": cold["records"],
                "wall_ms": round(cold["wall_ms"], 3),
                "cpu_ms": round(cold["cpu_ms"], 3),
                "aws_calls": dict(sorted(cold["calls"].items())),
                "log_bytes": cold["log_bytes"],
            },
            "warm": {
                "wall_ms": _percentiles([r["wall_ms"] for r in warm]),
                "cpu_ms": _percentiles([r["cpu_ms"] for r in warm]),
                "wait_ms": _percentiles([max(0.0, r["wall_ms"] - r["cpu_ms"]) for r in warm]),
            },
            "by_kind": kinds,
        }
    metrics: dict[tuple, set] = {}
    for record in recorder.invocations:
        for metric in record["metrics"]:
            metrics.setdefault(metric, set()).add(record["function"])
    emitted = [
        {
            "namespace": ns,
            "name": name,
            "dimensions": dict(dims),
            "functions": sorted(fns),
            "invocations_emitting": sum(1 for r in recorder.invocations if (ns, name, dims) in r["metrics"]),
        }
        for (ns, name, dims), fns in sorted(metrics.items())
    ]
    return {"functions": functions, "metrics": {"distinct": len(emitted), "emitted": emitted}}


def _machine() -> dict:
    model = ""
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = None
    try:
        pages, size = os.sysconf("SC_PHYS_PAGES"), os.sysconf("SC_PAGE_SIZE")
        memory_gb = round(pages * size / 2**30, 1)
    except (ValueError, OSError, AttributeError):
        pass
    return {
        "platform": platform.platform(),
        "machine": platform.machine(),
        "cpu": model,
        "cores": os.cpu_count(),
        "memory_gb": memory_gb,
        "python": platform.python_version(),
    }


def _commit() -> str:
    try:
        head = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO_ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        return head + ("+uncommitted-changes" if dirty else "")
    except (OSError, subprocess.CalledProcessError):
        return "unknown"


def run(sample: int = DEFAULT_SAMPLE, data: str | None = None, say=print) -> dict:
    from local import bootstrap
    from local.api_client import ApiClient
    from local.iam.enforcement import access_control

    LocalSession, LocalConfig = _local_session_classes()
    template = read_template()
    dataset = bootstrap.choose_dataset(data, False)
    records = bootstrap.subsample(bootstrap.read_records(dataset.path), sample)
    unseen, train = records[:HELD_OUT], records[HELD_OUT:]
    recorder, timer = Recorder(), TrainingTimer()
    recorder.install()
    timer.install()
    session = LocalSession(LocalConfig(port=0, max_batching_window=1.0))
    started = time.perf_counter()
    try:
        session.start()
        recorder.logical = {physical: logical for logical, physical in session.deployment.functions.items()}
        recorder.wrap(session.emulator.lambdas)
        api = ApiClient(session.front.base_url, correlation_prefix="cost")
        say(f"local mode up; {len(train)} training records from {dataset.path.name}")
        bootstrap.upload_dataset(session, train)

        def train_once(body: dict) -> dict:
            steps_before = len(timer.steps)
            job_id = api.call("POST", "/api/v1/model/train", body).body["job_id"]
            status = api.wait_training(job_id, timeout=900)
            if status["status"] != "SUCCEEDED":
                raise RuntimeError(f"training {job_id} {status['status']}: {json.dumps(status)[:800]}")
            execution = _execution(session, job_id)
            return _training_record(session, execution, timer.steps[steps_before:])

        say("first training through the state machine ...")
        first = train_once({"include_feedback": False})
        say(f"  {first['records']} records, train.py {first['script_seconds']:.1f}s, {first['outcome']}")

        say(f"{SINGLE_PREDICTIONS} single predictions, {BATCHES} batches of {BATCH_SIZE} ...")
        results = []
        for index in range(SINGLE_PREDICTIONS):
            if index % REPEAT_EVERY == REPEAT_EVERY - 1:
                record = unseen[index // 2]  # an earlier headline, sent again
            else:
                record = unseen[index % len(unseen)]
            results.append((record, api.call("POST", "/api/v1/predict", _item(record)).body))
        for batch in range(BATCHES):
            chunk = unseen[batch * BATCH_SIZE : (batch + 1) * BATCH_SIZE]
            body = api.call("POST", "/api/v1/predict/batch", {"items": [_item(r) for r in chunk]}).body
            results += list(zip(chunk, body["results"], strict=True))
        predictions = len(results)
        feedback = results[:: round(1 / FEEDBACK_RATE)]
        say(f"feedback for {len(feedback)} of {predictions} predictions, in two rounds ...")
        sent = 0
        for round_size in (FIRST_FEEDBACK_ROUND, len(feedback) - FIRST_FEEDBACK_ROUND):
            # two rounds: the consumer's first (cold) batch, then a warm one
            for record, prediction in feedback[sent : sent + round_size]:
                body = {
                    **_item(record),
                    "prediction_id": prediction["prediction_id"],
                    "correct_category": record["category"],
                }
                api.call("POST", "/api/v1/feedback", body)
            sent += round_size
            deadline = time.monotonic() + 120
            while api.call("GET", "/api/v1/feedback/stats").body["total"] < sent:
                if time.monotonic() > deadline:
                    raise RuntimeError("the consumer did not store the feedback within 120 s")
                time.sleep(1.0)
        say("scheduled retrain check ...")
        session.tick()
        say("second training (with feedback) ...")
        second = train_once({"include_feedback": True})
        say(f"  {second['records']} records, train.py {second['script_seconds']:.1f}s, {second['outcome']}")
        time.sleep(2.0)  # let async work (evaluations, outcome events) finish before stopping
        iam_calls = Counter()
        for (label, call), count in access_control.checked.items():
            iam_calls[f"{label} {call}"] += count
    finally:
        recorder.uninstall()
        timer.uninstall()
        if session.deployment is not None:
            session.stop()

    summary = _summarize(recorder, template)
    shared = REPO_ROOT.parent / "shared" / "data"
    cache = [
        prediction_cache_study(p)
        for p in (shared / "news_category_v3_sample.jsonl", shared / "news_category_41_balanced.jsonl")
        if p.is_file()
    ]
    paths = template.state_machine_paths
    return {
        "measured_at": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "machine": _machine(),
        "commit": _commit(),
        "run_seconds": round(time.perf_counter() - started, 1),
        "dataset": {
            "file": dataset.path.name,
            "source": dataset.source,
            "sample": sample,
            "trained_on": len(train),
            "held_out": len(unseen),
        },
        "mix": {
            "single_predictions": SINGLE_PREDICTIONS,
            "repeat_every": REPEAT_EVERY,
            "batches": BATCHES,
            "batch_size": BATCH_SIZE,
            "predictions": predictions,
            "feedback": len(feedback),
        },
        "note": (
            "Durations are this machine's, in-process against moto on loopback: CPU time is the handler's "
            "own work (time.thread_time of its thread), wait = wall - CPU (moto's answers stand in for "
            "AWS's). A cold invocation is the first of a function in the run: it imports the handler (its "
            "module copy) and creates clients, as a Lambda init does."
        ),
        **summary,
        "training": {
            "first": first,
            "second": second,
            "records": second["records"],
            # the slower of the two runs, so the scaled figure errs high
            "script_seconds": max(first["script_seconds"], second["script_seconds"]),
            "install_seconds": max(first["install_seconds"], second["install_seconds"]),
            "template_transitions": {o: transitions(paths, o) for o in ("Deploy", "Reject")},
        },
        "calls_outside_functions": dict(sorted(recorder.calls_outside.items())),
        "iam_checked_calls": dict(sorted(iam_calls.items())),
        "prediction_cache": cache,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m cost.measure", description=__doc__.split("\n\n")[0])
    parser.add_argument("--sample", type=int, default=DEFAULT_SAMPLE, help="records of the dataset to use")
    parser.add_argument("--data", help="dataset (JSON lines); default: the shared sample, as local mode")
    parser.add_argument("--out", type=Path, default=MEASURED)
    args = parser.parse_args(argv)
    measured = run(args.sample, args.data, say=lambda text: print(text, file=sys.stderr, flush=True))
    args.out.write_text(json.dumps(measured, indent=1, sort_keys=False) + "\n", encoding="utf-8")
    print(f"wrote {args.out} ({measured['run_seconds']} s run, {measured['metrics']['distinct']} metrics)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
