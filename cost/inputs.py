"""What the cost model takes from the project itself: template.yaml, the state machine, measured.json.

Nothing here is a guess: every figure is read from the template (its Globals, per-function overrides and
parameter defaults), from statemachines/*.asl.json, or from the committed measurement (cost/measured.json,
written by `python -m cost.measure`).
"""

from __future__ import annotations

import importlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

REPO_ROOT = Path(__file__).resolve().parent.parent
TEMPLATE = REPO_ROOT / "template.yaml"
MEASURED = Path(__file__).with_name("measured.json")
BENCH_RESULTS = REPO_ROOT / "bench" / "results"  # make bench-scale and make bench-cold-start write here
FULL_DATASET_RECORDS = 209_527  # News Category Dataset v3, the size users train on
DAYS_PER_MONTH = 730 / 24  # the price file's 730-hour month
# Lambda's defaults when neither the function nor Globals set a value.
LAMBDA_DEFAULTS = {"MemorySize": 128, "Timeout": 3, "Architectures": ["x86_64"]}


def load_template(path: Path = TEMPLATE) -> dict:
    """template.yaml with CloudFormation's short-form tags, through local mode's own loader (wherever the
    restructuring of local/ puts it)."""
    for module_name in ("local.stack", "local.cfn", "local.template", "local.deploy.stack", "local.deploy"):
        try:
            module = importlib.import_module(module_name)
        except ImportError:
            continue
        loader = getattr(module, "load_template", None)
        if loader is not None:
            return loader(Path(path))
    for candidate in sorted((REPO_ROOT / "local").rglob("*.py")):  # moved again: find it by name
        if "def load_template(" in candidate.read_text(encoding="utf-8", errors="ignore"):
            relative = candidate.relative_to(REPO_ROOT).with_suffix("")
            return importlib.import_module(".".join(relative.parts)).load_template(Path(path))
    raise ImportError("no load_template in local/: the CloudFormation-aware YAML loader moved")


@dataclass(frozen=True)
class FunctionConfig:
    logical_id: str
    memory_mb: int
    architecture: str  # arm64 | x86_64
    timeout_s: int
    ephemeral_mb: int
    handler: str
    event_kinds: tuple[str, ...]  # Api, SQS, Schedule
    sqs_batch_size: int | None = None
    sqs_batching_window_s: int | None = None


@dataclass(frozen=True)
class Alarm:
    logical_id: str
    metrics: int  # billed alarm metrics: a metric math alarm counts every metric it reads
    metric_math: bool


@dataclass
class TemplateFacts:
    parameters: dict[str, Any]
    functions: dict[str, FunctionConfig]
    alarms: list[Alarm]
    retrain_schedule: str
    log_retention_days: int
    training_instance_type: str
    training_instance_types: tuple[str, ...]
    training_max_runtime_s: int
    training_volume_gb: int
    api_kind: str  # REST | HTTP
    api_detailed_metrics: bool
    api_tracing: bool
    api_access_log_format: str | None
    tables: list[str]
    tables_with_pitr: list[str]
    queues: dict[str, int | None]  # logical id -> KmsDataKeyReusePeriodSeconds (None: not KMS-encrypted)
    buckets_with_bucket_key: list[str]
    buckets: list[str]
    kms_keys: int
    kms_rotation: bool
    secrets: int
    dashboards: int
    log_groups: list[str]
    state_machine_paths: dict[str, list[str]] = field(default_factory=dict)

    @property
    def alarm_metrics(self) -> int:
        return sum(alarm.metrics for alarm in self.alarms)

    @property
    def metric_math_alarms(self) -> list[Alarm]:
        return [alarm for alarm in self.alarms if alarm.metric_math]

    def checks_per_month(self, expression: str | None = None) -> float:
        return schedule_runs_per_month(expression or self.retrain_schedule)


def _resolve(value: Any, parameters: dict[str, Any], conditions: dict | None = None) -> Any:
    """Parameter references and conditions evaluated at the parameters' defaults (the deployment the model
    prices); a value that names a resource stays as it is."""
    from local.cfn import UnresolvedReference, Values, resolve

    try:
        return resolve(value, Values(region="us-east-1", parameters=parameters, conditions=conditions or {}))
    except UnresolvedReference:
        return value


def read_template(path: Path = TEMPLATE, asl_root: Path | None = None) -> TemplateFacts:
    template = load_template(path)
    parameters = {name: spec.get("Default") for name, spec in (template.get("Parameters") or {}).items()}
    globals_fn = ((template.get("Globals") or {}).get("Function")) or {}
    globals_api = ((template.get("Globals") or {}).get("Api")) or {}
    resources = template.get("Resources") or {}

    conditions = template.get("Conditions") or {}

    def deployed(resource: dict) -> bool:  # a resource whose Condition is false by default is not created
        name = resource.get("Condition")
        return name is None or bool(_resolve({"Condition": name}, parameters, conditions))

    def of_type(kind: str) -> dict[str, dict]:
        return {
            k: (v.get("Properties") or {})
            for k, v in resources.items()
            if v.get("Type") == kind and deployed(v)
        }

    functions = {}
    for logical_id, props in of_type("AWS::Serverless::Function").items():

        def setting(name: str, props=props):
            value = props.get(name, globals_fn.get(name, LAMBDA_DEFAULTS.get(name)))
            return _resolve(value, parameters)

        events = props.get("Events") or {}
        sqs = next((e.get("Properties") or {} for e in events.values() if e.get("Type") == "SQS"), None)
        functions[logical_id] = FunctionConfig(
            logical_id=logical_id,
            memory_mb=int(setting("MemorySize")),
            architecture=(setting("Architectures") or ["x86_64"])[0],
            timeout_s=int(setting("Timeout")),
            ephemeral_mb=int(((setting("EphemeralStorage") or {}).get("Size")) or 512),
            handler=str(setting("Handler")),
            event_kinds=tuple(sorted({e.get("Type") for e in events.values()})),
            sqs_batch_size=int(sqs.get("BatchSize", 10)) if sqs is not None else None,
            sqs_batching_window_s=(
                int(sqs.get("MaximumBatchingWindowInSeconds", 0)) if sqs is not None else None
            ),
        )

    alarms = []
    for logical_id, props in of_type("AWS::CloudWatch::Alarm").items():
        if "Metrics" in props:  # metric math: each MetricStat is a billed metric, expressions are not
            stats = [m for m in props["Metrics"] if "MetricStat" in m]
            alarms.append(Alarm(logical_id, len(stats), any("Expression" in m for m in props["Metrics"])))
        else:
            alarms.append(Alarm(logical_id, 1, False))

    apis = of_type("AWS::Serverless::Api")
    http_apis = of_type("AWS::Serverless::HttpApi")
    api = next(iter(apis.values()), None) or next(iter(http_apis.values()), {}) or {}
    method_settings = api.get("MethodSettings") or globals_api.get("MethodSettings") or []
    access_log = (api.get("AccessLogSetting") or api.get("AccessLogSettings") or {}).get("Format")

    queues = {
        k: (
            int(_resolve(p.get("KmsDataKeyReusePeriodSeconds", 300), parameters))
            if p.get("KmsMasterKeyId")
            else None
        )
        for k, p in of_type("AWS::SQS::Queue").items()
    }
    buckets = of_type("AWS::S3::Bucket")
    with_bucket_key = [
        k
        for k, p in buckets.items()
        if any(
            rule.get("BucketKeyEnabled")
            for rule in ((p.get("BucketEncryption") or {}).get("ServerSideEncryptionConfiguration") or [])
        )
    ]
    tables = of_type("AWS::DynamoDB::Table")
    keys = of_type("AWS::KMS::Key")

    facts = TemplateFacts(
        parameters=parameters,
        functions=functions,
        alarms=alarms,
        retrain_schedule=str(parameters.get("RetrainSchedule")),
        log_retention_days=int(parameters.get("LogRetentionDays") or 0),
        training_instance_type=str(parameters.get("TrainingInstanceType")),
        training_instance_types=tuple(
            (template["Parameters"].get("TrainingInstanceType") or {}).get("AllowedValues") or ()
        ),
        training_max_runtime_s=int(parameters.get("TrainingMaxRuntimeSeconds") or 0),
        training_volume_gb=10,
        api_kind="REST" if apis else ("HTTP" if http_apis else "none"),
        api_detailed_metrics=any(
            bool(_resolve(s.get("MetricsEnabled"), parameters, conditions)) for s in method_settings
        ),
        api_tracing=bool(api.get("TracingEnabled")),
        api_access_log_format=" ".join(access_log.split()) if isinstance(access_log, str) else None,
        tables=sorted(tables),
        tables_with_pitr=sorted(
            k
            for k, p in tables.items()
            if (p.get("PointInTimeRecoverySpecification") or {}).get("PointInTimeRecoveryEnabled")
        ),
        queues=queues,
        buckets_with_bucket_key=sorted(with_bucket_key),
        buckets=sorted(buckets),
        kms_keys=len(keys),
        kms_rotation=any(bool(p.get("EnableKeyRotation")) for p in keys.values()),
        secrets=len(of_type("AWS::SecretsManager::Secret")),
        dashboards=len(of_type("AWS::CloudWatch::Dashboard")),
        log_groups=sorted(of_type("AWS::Logs::LogGroup")),
    )
    for props in of_type("AWS::Serverless::StateMachine").values():
        uri = props.get("DefinitionUri")
        if isinstance(uri, str):
            asl = json.loads(((asl_root or Path(path).parent) / uri).read_text(encoding="utf-8"))
            facts.state_machine_paths = state_machine_paths(asl)
            train = (asl["States"].get("Train") or {}).get("Parameters") or {}  # the job's volume size
            resource = train.get("ResourceConfig") or {}
            facts.training_volume_gb = int(resource.get("VolumeSizeInGB", facts.training_volume_gb))
    return facts


# ---------------------------------------------------------------- state machine


def state_machine_paths(asl: dict) -> dict[str, list[str]]:
    """Every path through the machine as the states it enters (one billed transition each), keyed by
    'ok:<last state>' for paths without a Catch edge and 'caught:<first failing state>' for failure paths."""
    states = asl["States"]
    paths: dict[str, list[str]] = {}

    def walk(name: str, entered: list[str], caught_at: str | None) -> None:
        if name in entered:  # a loop: this machine has none, but never spin
            return
        entered = [*entered, name]
        state = states[name]
        nexts: list[tuple[str, str | None]] = []
        if state.get("Type") == "Choice":
            nexts += [(choice["Next"], caught_at) for choice in state.get("Choices") or []]
            if state.get("Default"):
                nexts.append((state["Default"], caught_at))
        elif state.get("Next"):
            nexts.append((state["Next"], caught_at))
        if not nexts:  # End: true, Succeed or Fail: the path ends here
            key = f"ok:{name}" if caught_at is None else f"caught:{caught_at}"
            paths.setdefault(key, entered)
        if caught_at is None:
            nexts += [(catch["Next"], name) for catch in state.get("Catch") or []]
        for following, caught in dict.fromkeys(nexts):
            walk(following, entered, caught)

    walk(asl["StartAt"], [], None)
    return paths


def transitions(paths: dict[str, list[str]], outcome: str) -> int:
    """Billed state transitions of the path that ends in `outcome` (e.g. 'Deploy', 'Reject')."""
    return len(paths[f"ok:{outcome}"])


# ---------------------------------------------------------------- schedules

_RATE = re.compile(r"^rate\((\d+)\s+(minute|minutes|hour|hours|day|days)\)$")
_UNIT_MINUTES = {"minute": 1, "hour": 60, "day": 1440}


def schedule_runs_per_month(expression: str) -> float:
    """Runs of an EventBridge schedule expression in a 730-hour month (rate() exactly, cron() by counting
    its minute, hour and day fields)."""
    expression = expression.strip()
    rate = _RATE.match(expression)
    if rate:
        minutes = int(rate.group(1)) * _UNIT_MINUTES[rate.group(2).rstrip("s")]
        return 730 * 60 / minutes
    if expression.startswith("cron(") and expression.endswith(")"):
        minute, hour, day_of_month, _month, day_of_week, *_ = expression[5:-1].split()
        per_day = _field_count(minute, 60) * _field_count(hour, 24)
        if day_of_month not in ("*", "?"):
            days = _field_count(day_of_month, 31) * 12 / 365.25 * DAYS_PER_MONTH
        elif day_of_week not in ("*", "?"):
            days = _field_count(day_of_week.replace("MON-FRI", "2-6"), 7) / 7 * DAYS_PER_MONTH
        else:
            days = DAYS_PER_MONTH
        return per_day * days
    raise ValueError(f"unsupported schedule expression: {expression}")


def _field_count(field_text: str, size: int) -> int:
    if field_text in ("*", "?"):
        return size
    count = 0
    for part in field_text.split(","):
        if part.startswith("*/") or "/" in part:
            base, step = part.split("/")
            start = 0 if base in ("*", "") else int(base.split("-")[0])
            count += len(range(start, size, int(step)))
        elif "-" in part:
            low, high = part.split("-")
            count += int(high) - int(low) + 1 if low.isdigit() and high.isdigit() else 1
        else:
            count += 1
    return count


# ---------------------------------------------------------------- measured figures


class MeasuredError(ValueError):
    pass


def load_measured(path: Path = MEASURED, bench_results: Path | None = BENCH_RESULTS) -> dict:
    """The committed measurement run (python -m cost.measure), with the benchmarks' closer figures where
    they exist: training at the largest size `make bench-scale` ran, and the predict function's cold start
    as Lambda runs it (`make bench-cold-start`: its package, a new process), not in local mode's process."""
    if not Path(path).is_file():
        raise MeasuredError(f"{path} is missing: run `python -m cost.measure` first")
    data = json.loads(Path(path).read_text(encoding="utf-8"))
    for key in ("measured_at", "machine", "commit", "functions", "metrics", "training"):
        if key not in data:
            raise MeasuredError(f"{path}: missing '{key}'")
    if bench_results is not None:
        _take_bench_figures(data, Path(bench_results))
    return data


def _take_bench_figures(data: dict, results: Path) -> None:
    scale = results / "training-scale-latest.json"
    if scale.is_file():
        runs = json.loads(scale.read_text(encoding="utf-8"))["runs"]
        records = max(runs, key=int)
        # CPU time: on the shared bench machine the wall time also holds waits for a CPU
        data["training"]["at_scale"] = {
            "records": int(records),
            "script_seconds": float(runs[records]["cpu_seconds"]),
            "source": f"bench/results/{scale.name}",
        }
    cold = results / "lambda-cold-start-latest.json"
    predict = data["functions"].get("PredictFunction")
    if cold.is_file() and predict is not None:
        median = json.loads(cold.read_text(encoding="utf-8"))["median"]
        waits = sum(median["phases_s"].values()) - sum(median["phases_cpu_s"].values())
        predict["cold"] = {
            **(predict.get("cold") or {}),
            "cpu_ms": 1000 * float(median["process_cpu_s"]),
            "wall_ms": 1000 * (float(median["process_cpu_s"]) + max(0.0, waits)),
            "source": f"bench/results/{cold.name}",
        }


def scaled_training_seconds(measured_training: dict, records: int = FULL_DATASET_RECORDS) -> float:
    """The training script's time at `records` records, scaled linearly (training is linear in the records:
    docs/scale.md) from the largest measured run: the scale benchmark's when there is one."""
    run = measured_training.get("at_scale") or measured_training
    return float(run["script_seconds"]) * records / max(1, int(run["records"]))


def ceil_div(numerator: float, denominator: float) -> int:
    return int(math.ceil(numerator / denominator)) if numerator > 0 else 0
