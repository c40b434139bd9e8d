"""The monthly bill of the serverless stack: pure functions of (template facts, measured figures, prices,
scenario). No AWS calls.

Every line says where its quantities come from: 'template' (template.yaml / the state machine), 'measured'
(cost/measured.json), 'scaled' (a measured figure scaled to the full dataset), 'modelled' (an assumption of
this model, named in Assumptions with its reason) or 'price' (the dated price file). The free tier is
never subtracted: `Bill.free_tier` says apart what it would remove.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field, replace

from cost.inputs import FULL_DATASET_RECORDS, TemplateFacts, scaled_training_seconds, transitions
from cost.prices import Prices

SECONDS_PER_MONTH = 730 * 3600
MINUTES_PER_MONTH = 730 * 60
FIVE_MINUTE_WINDOWS = 730 * 12
FULL_CPU_MB = 1769  # Lambda gives one full vCPU at 1,769 MB; below it the CPU share is memory / 1769
LEVELS = (1_000, 10_000, 100_000, 1_000_000)


@dataclass(frozen=True)
class Assumptions:
    """What the model cannot read or measure. Each has a default and a reason; all are parameters."""

    # Local CPU (this machine) -> one Graviton vCPU: 1.0 = same speed. Not measured on AWS.
    cpu_speed_factor: float = 1.0
    # Round-trip of one AWS API call from Lambda in-region; the larger of this x calls and the local wait
    # (moto on loopback) is the waiting time. Typical single-digit-ms DynamoDB/SQS latency.
    aws_call_latency_ms: float = 5.0
    # An idle execution environment is reclaimed after this (AWS does not document it; 5-15 min is seen).
    keep_warm_minutes: float = 10.0
    # Environments are recycled even when busy (undocumented; a few hours is seen).
    environment_lifetime_hours: float = 2.0
    peak_to_average: float = 3.0  # busiest hour / average, for concurrency and capacity
    # Lambda's START/END/REPORT lines per invocation (REPORT carries the X-Ray trace id with tracing on).
    platform_log_bytes: int = 330
    # Archived log storage as a fraction of the ingested bytes (CloudWatch bills compressed storage;
    # 1.0 is the upper bound).
    log_compression_ratio: float = 1.0
    # The SQS event source mapping long-polls even an idle queue: pollers x one 20 s receive each.
    sqs_idle_pollers: int = 5
    sqs_long_poll_seconds: int = 20
    # SageMaker time around the script: container start, channel download, model upload (not measured).
    training_overhead_seconds: float = 120.0
    # HTTP response headers API Gateway adds to the body (data transfer out).
    response_header_bytes: int = 300
    # API Gateway detailed metrics published per method with traffic (Count, 4XX, 5XX, Latency,
    # IntegrationLatency); billed like custom metrics.
    api_detailed_metrics_per_method: int = 5
    # Serving bundle + model.tar.gz kept per trained version at full scale (bench: 13.8 MB v3 bundle).
    model_bytes_per_version: float = 2 * 14e6
    # Versions are kept this long on average (the registry keeps every version; 90-day noncurrent expiry).
    months_of_versions_kept: float = 12.0
    run_retention_months: float = 6.0  # DataBucket lifecycle: runs/ expire after 180 days


@dataclass(frozen=True)
class Scenario:
    predictions_per_day: float = 1_000
    feedback_rate: float = 0.05  # feedback items per prediction
    trainings_per_month: float | None = None  # None: one per week (a retraining only when the check says so)
    retrain_schedule: str | None = None  # None: the template's RetrainSchedule default
    batch_share: float = 0.0  # share of predictions that arrive in batch requests
    batch_size: int = 20
    api_kind: str | None = None  # None: the template's (REST); or "HTTP"
    api_detailed_metrics: bool | None = None  # None: the template's MethodSettings
    emf_metrics: tuple[str, ...] | None = None  # None: every metric the code emitted in the measurement
    memory_mb: dict[str, int] = field(default_factory=dict)  # per-function overrides
    log_retention_days: int | None = None
    spot: bool = True  # the state machine sets EnableManagedSpotTraining
    spot_discount: float | None = None  # None: the price file's figure
    training_instance_type: str | None = None
    training_records: int = FULL_DATASET_RECORDS
    cache_hit_rate: float | None = None  # None: measured on the data sample (LRU replay)
    dashboards: int | None = None  # None: the template's count
    admin_calls_per_month: float = 0.0
    assumptions: Assumptions = field(default_factory=Assumptions)

    @property
    def trainings(self) -> float:
        return 730 / 24 / 7 if self.trainings_per_month is None else self.trainings_per_month


@dataclass
class Line:
    service: str
    item: str
    quantity: float
    unit: str
    usd: float
    basis: str  # where the quantity comes from: measured / template / scaled / modelled
    function: str | None = None


@dataclass
class Bill:
    scenario: Scenario
    lines: list[Line]
    free_tier: dict[str, float]  # allowance -> USD it would remove (reported apart)
    free_tier_terms: dict[str, str]
    details: dict

    @property
    def total(self) -> float:
        return sum(line.usd for line in self.lines)

    def by_service(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            totals[line.service] = totals.get(line.service, 0.0) + line.usd
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    def by_function(self) -> dict[str, float]:
        totals: dict[str, float] = {}
        for line in self.lines:
            if line.function:
                totals[line.function] = totals.get(line.function, 0.0) + line.usd
        return dict(sorted(totals.items(), key=lambda kv: -kv[1]))

    @property
    def predictions_per_month(self) -> float:
        return self.scenario.predictions_per_day * 730 / 24

    @property
    def usd_per_1000_predictions(self) -> float:
        return self.total / self.predictions_per_month * 1000

    def free_tier_total(self, term: str | None = None) -> float:
        return sum(v for k, v in self.free_tier.items() if term is None or self.free_tier_terms[k] == term)


# ---------------------------------------------------------------- Lambda duration from the measurement


def cpu_share(memory_mb: int) -> float:
    """vCPUs a function gets: one at 1,769 MB (more adds vCPUs a single-threaded handler cannot use)."""
    return min(1.0, memory_mb / FULL_CPU_MB)


def lambda_duration_ms(cpu_ms: float, wait_ms: float, calls: float, memory_mb: int, a: Assumptions) -> float:
    """Duration on Lambda: the handler's CPU time stretched by its CPU share, plus its waiting."""
    cpu = cpu_ms * a.cpu_speed_factor / cpu_share(memory_mb)
    return cpu + max(wait_ms, calls * a.aws_call_latency_ms)


@dataclass(frozen=True)
class KindFigures:
    """What one kind of invocation costs in resources, from measured.json (warm medians, cold first call)."""

    cpu_ms: float
    wait_ms: float
    calls: dict[str, float]
    rru: float
    wru: float
    log_bytes: float
    response_body_bytes: float
    payload_bytes: dict[str, float]


def kind_figures(measured: dict, function: str, kind: str) -> KindFigures:
    figures = measured["functions"][function]["by_kind"][kind]
    return KindFigures(
        cpu_ms=figures["cpu_ms"].get("p50", 0.0),
        wait_ms=figures["wait_ms"].get("p50", 0.0),
        calls=figures["aws_calls_per_invocation"],
        rru=figures["dynamodb_rru_per_invocation"],
        wru=figures["dynamodb_wru_per_invocation"],
        log_bytes=figures["log_bytes"].get("mean", 0.0),
        response_body_bytes=figures["response_body_bytes"].get("mean", 0.0),
        payload_bytes=figures.get("payload_bytes_per_invocation", {}),
    )


def _training_basis(training: dict) -> str:
    at_scale = training.get("at_scale")
    if not at_scale:
        return "scaled linearly from the measured run"
    return f"scaled linearly from {at_scale['records']:,} records in {at_scale['source']}"


def cold_figures(measured: dict, function: str) -> tuple[float, float, dict[str, float]]:
    cold = measured["functions"][function].get("cold") or {}
    cpu = cold.get("cpu_ms", 0.0)
    return cpu, max(0.0, cold.get("wall_ms", 0.0) - cpu), cold.get("aws_calls", {})


def cold_starts(requests: float, duration_ms: float, a: Assumptions) -> tuple[float, float]:
    """(cold starts per month, environments) for a request-driven function: a cold start when the gap
    since the last request exceeds the keep-warm time (Poisson arrivals), at least one per environment
    lifetime, and one per extra environment the busiest hour needs."""
    if requests <= 0:
        return 0.0, 0.0
    rate = requests / SECONDS_PER_MONTH
    environments = max(1.0, math.ceil(rate * a.peak_to_average * duration_ms / 1000))
    idle = requests * math.exp(-rate * a.keep_warm_minutes * 60)
    recycled = environments * 730 / a.environment_lifetime_hours
    return min(requests, idle + recycled), environments


def active_windows(events_per_month: float, windows: float = FIVE_MINUTE_WINDOWS) -> float:
    """Expected windows with at least one event (Poisson): what a key cached for a window costs in calls."""
    if events_per_month <= 0:
        return 0.0
    return windows * (1 - math.exp(-events_per_month / windows))


def hours_published(events_per_month: float) -> float:
    """Share of the month's hours in which a metric is published at least once (metrics prorate hourly)."""
    return active_windows(events_per_month, 730) / 730


def xray_traces(requests: float) -> float:
    """Traces recorded under the default sampling rule: the first request each second, 5 % of the rest."""
    if requests <= 0:
        return 0.0
    rate = requests / SECONDS_PER_MONTH
    first = 1 - math.exp(-rate)
    return SECONDS_PER_MONTH * (first + 0.05 * max(0.0, rate - first))


# ---------------------------------------------------------------- the model


PREDICT = "PredictFunction"
FEEDBACK_API = "FeedbackApiFunction"
CONSUMER = "FeedbackConsumerFunction"
ADMIN = "ModelAdminFunction"
CHECK = "RetrainCheckFunction"
PREPARE = "PrepareDataFunction"
EVALUATE = "EvaluateModelFunction"
OUTCOME = "RecordOutcomeFunction"


def _kind(measured: dict, function: str, prefix: str) -> str:
    kinds = measured["functions"][function]["by_kind"]
    for kind in kinds:
        if kind.startswith(prefix):
            return kind
    raise KeyError(f"measured.json has no '{prefix}' invocation of {function}")


def measured_hit_rate(measured: dict) -> float:
    studies = measured.get("prediction_cache") or []
    return float(studies[0]["serving_key"]["lru_hit_rate"]) if studies else 0.0


def monthly_bill(facts: TemplateFacts, measured: dict, prices: Prices, scenario: Scenario) -> Bill:
    a = scenario.assumptions
    lines: list[Line] = []
    free: dict[str, float] = {}
    details: dict = {"functions": {}}

    def add(service, item, quantity, unit, price_key, basis, function=None, usd=None):
        cost = prices.cost(price_key, quantity) if usd is None else usd
        lines.append(Line(service, item, quantity, unit, cost, basis, function))
        return cost

    month_days = 730 / 24
    predictions = scenario.predictions_per_day * month_days
    batch_requests = predictions * scenario.batch_share / scenario.batch_size
    single_requests = predictions * (1 - scenario.batch_share)
    feedback = predictions * scenario.feedback_rate
    trainings = scenario.trainings
    checks = facts.checks_per_month(scenario.retrain_schedule)
    api_kind = scenario.api_kind or facts.api_kind
    hit_rate = measured_hit_rate(measured) if scenario.cache_hit_rate is None else scenario.cache_hit_rate
    scale = scenario.training_records / max(1, measured["training"]["records"])

    # ---- invocations per function and kind: (invocations, figures, basis)
    new_kind, repeat_kind = _kind(measured, PREDICT, "POST /api/v1/predict (new"), None
    try:
        repeat_kind = _kind(measured, PREDICT, "POST /api/v1/predict (repeat")
    except KeyError:
        pass
    single_new = kind_figures(measured, PREDICT, new_kind)
    single_hit = kind_figures(measured, PREDICT, repeat_kind) if repeat_kind else single_new
    batch_kind = kind_figures(measured, PREDICT, _kind(measured, PREDICT, "POST /api/v1/predict/batch"))
    consumer_batch = facts.functions[CONSUMER].sqs_batch_size or 10
    window = facts.functions[CONSUMER].sqs_batching_window_s or 0
    per_batch = min(consumer_batch, 1 + feedback / SECONDS_PER_MONTH * window)  # records in one batch
    consumer_batches = feedback / per_batch if feedback else 0.0
    sqs_kind = kind_figures(measured, CONSUMER, "sqs batch")
    measured_per_batch = (
        measured["functions"][CONSUMER]["by_kind"]["sqs batch"].get("sqs_records_per_invocation")
        or measured["mix"]["feedback"]
    )
    workload: dict[str, list[tuple[float, KindFigures, str]]] = {
        PREDICT: [
            (single_requests * (1 - hit_rate), single_new, "measured"),
            (single_requests * hit_rate, single_hit, "measured"),
            (batch_requests, batch_kind, "measured"),
        ],
        FEEDBACK_API: [(feedback, kind_figures(measured, FEEDBACK_API, "POST /api/v1/feedback"), "measured")],
        CONSUMER: [(consumer_batches, _per_record(sqs_kind, per_batch / measured_per_batch), "measured")],
        ADMIN: [
            (
                scenario.admin_calls_per_month,
                kind_figures(measured, ADMIN, _kind(measured, ADMIN, "GET ")),
                "modelled",
            )
        ],
        CHECK: [(checks, kind_figures(measured, CHECK, "schedule"), "measured")],
        PREPARE: [(trainings, _scaled(kind_figures(measured, PREPARE, "step prepare"), scale), "scaled")],
        EVALUATE: [
            (trainings, _scaled(kind_figures(measured, EVALUATE, "step evaluate_candidate"), scale), "scaled")
        ],
        OUTCOME: [
            (trainings, kind_figures(measured, OUTCOME, _kind(measured, OUTCOME, "step deploy")), "measured")
        ],
    }
    request_driven = {PREDICT, FEEDBACK_API, CONSUMER, ADMIN}

    # ---- Lambda
    gb_seconds_total, lambda_requests_total = 0.0, 0.0
    calls_total: dict[str, float] = {}
    calls_by_function: dict[str, dict[str, float]] = {}
    log_bytes_total = 0.0
    for function, kinds in workload.items():
        config = facts.functions[function]
        memory = scenario.memory_mb.get(function, config.memory_mb)
        invocations = sum(n for n, _, _ in kinds)
        if invocations <= 0:
            details["functions"][function] = {"invocations": 0, "memory_mb": memory}
            continue
        warm_ms = (
            sum(
                n * lambda_duration_ms(f.cpu_ms, f.wait_ms, sum(f.calls.values()), memory, a)
                for n, f, _ in kinds
            )
            / invocations
        )
        cold_cpu, cold_wait, cold_calls = cold_figures(measured, function)
        cold_ms = lambda_duration_ms(cold_cpu, cold_wait, sum(cold_calls.values()), memory, a)
        if function in request_driven:
            colds, environments = cold_starts(invocations, warm_ms, a)
        else:  # a few runs a day or a month: every one starts cold
            colds, environments = invocations, 1.0
        if function in (PREPARE, EVALUATE):  # their measured run is already the scaled whole job
            cold_ms, colds = warm_ms, 0.0
        duration_ms = (invocations - colds) * math.ceil(warm_ms) + colds * math.ceil(cold_ms)
        gb_seconds = memory / 1024 * duration_ms / 1000
        storage_gb_s = max(0, config.ephemeral_mb - 512) / 1024 * duration_ms / 1000
        arch = "arm64" if config.architecture == "arm64" else "x86_64"
        gb_seconds_total += gb_seconds
        lambda_requests_total += invocations
        basis = kinds[0][2]
        add(
            "Lambda",
            f"{function} duration ({memory} MB {arch})",
            gb_seconds,
            "GB-s",
            f"lambda.{arch}.duration",
            basis,
            function,
            usd=gb_seconds * prices.unit_price(f"lambda.{arch}.duration"),
        )
        add(
            "Lambda", f"{function} requests", invocations, "requests", "lambda.requests", "template", function
        )
        if storage_gb_s:
            add(
                "Lambda",
                f"{function} ephemeral storage",
                storage_gb_s,
                "GB-s",
                "lambda.ephemeral_storage",
                "template",
                function,
            )
        # AWS calls: warm calls per kind, plus the cold start's own calls
        calls: dict[str, float] = {}
        for n, f, _ in kinds:
            for call, per in f.calls.items():
                calls[call] = calls.get(call, 0.0) + n * per
        for call, count in cold_calls.items():
            calls[call] = calls.get(call, 0.0) + colds * count
        calls_by_function[function] = calls
        for call, count in calls.items():
            calls_total[call] = calls_total.get(call, 0.0) + count
        logged = sum(n * f.log_bytes for n, f, _ in kinds) + invocations * a.platform_log_bytes
        log_bytes_total += logged
        details["functions"][function] = {
            "invocations": invocations,
            "memory_mb": memory,
            "architecture": arch,
            "warm_ms": round(warm_ms, 2),
            "cold_ms": round(cold_ms, 1),
            "cold_starts": round(colds, 1),
            "cold_share_of_duration": round(colds * cold_ms / duration_ms, 4) if duration_ms else 0.0,
            "environments": environments,
            "gb_seconds": gb_seconds,
            "log_bytes": logged,
        }
    # the account-wide Lambda allowances, applied in proportion (reported apart)
    free["lambda.requests"] = prices.free_tier_value(
        "lambda.requests", "lambda.requests", lambda_requests_total
    )
    free["lambda.duration"] = min(gb_seconds_total, 400_000) * prices.unit_price("lambda.arm64.duration")

    # ---- API Gateway + data transfer out
    api_requests = single_requests + batch_requests + feedback + scenario.admin_calls_per_month
    api_key = "apigateway.rest.requests" if api_kind == "REST" else "apigateway.http.requests"
    add("API Gateway", f"{api_kind} API requests", api_requests, "requests", api_key, "template")
    free[api_key] = prices.free_tier_value(api_key, api_key, api_requests)
    response_bytes = (
        single_requests * single_new.response_body_bytes
        + batch_requests * batch_kind.response_body_bytes
        + feedback * workload[FEEDBACK_API][0][1].response_body_bytes
        + api_requests * a.response_header_bytes
    )
    out_gb = response_bytes / 1e9
    add(
        "Data transfer",
        "responses to the internet",
        out_gb,
        "GB",
        "data_transfer.out_to_internet",
        "measured",
    )
    free["data_transfer.out_to_internet"] = prices.free_tier_value(
        "data_transfer.out_to_internet", "data_transfer.out_to_internet", out_gb
    )

    # ---- SQS: send, receive and delete per batch, idle long polls of the event source mapping
    sends = calls_total.get("sqs:SendMessage", 0.0)
    idle_receives = a.sqs_idle_pollers * SECONDS_PER_MONTH / a.sqs_long_poll_seconds
    sqs_requests = sends + 2 * consumer_batches + idle_receives
    add(
        "SQS",
        "feedback queue requests (send, receive+delete per batch, idle long polls)",
        sqs_requests,
        "requests",
        "sqs.standard.requests",
        "modelled",
    )
    free["sqs.standard.requests"] = prices.free_tier_value(
        "sqs.standard.requests", "sqs.standard.requests", sqs_requests
    )

    # ---- DynamoDB
    rru = sum(n * f.rru for kinds in workload.values() for n, f, _ in kinds)
    wru = sum(n * f.wru for kinds in workload.values() for n, f, _ in kinds)
    add("DynamoDB", "write request units", wru, "WRU", "dynamodb.on_demand.write_request_units", "measured")
    add("DynamoDB", "read request units", rru, "RRU", "dynamodb.on_demand.read_request_units", "measured")
    feedback_gb = feedback * 12 * 1.0e-6  # a year of feedback items of ~1 KB (the consumer's items)
    counters_gb = 0.001
    table_gb = feedback_gb + counters_gb
    add("DynamoDB", "storage (a year of feedback)", table_gb, "GB-month", "dynamodb.storage", "modelled")
    add("DynamoDB", "point-in-time recovery", table_gb, "GB-month", "dynamodb.pitr", "template")
    free["dynamodb.storage"] = prices.free_tier_value("dynamodb.storage", "dynamodb.storage", table_gb)

    # ---- Step Functions
    path = "Deploy"
    state_transitions = trainings * transitions(facts.state_machine_paths, path)
    add(
        "Step Functions",
        f"state transitions ({path} path)",
        state_transitions,
        "transitions",
        "stepfunctions.standard.state_transitions",
        "template",
    )
    free["stepfunctions.standard.state_transitions"] = prices.free_tier_value(
        "stepfunctions.standard.state_transitions",
        "stepfunctions.standard.state_transitions",
        state_transitions,
    )

    # ---- SageMaker training (managed Spot)
    instance = scenario.training_instance_type or facts.training_instance_type
    training = measured["training"]
    script_s = scaled_training_seconds(training, scenario.training_records)
    job_s = training.get("install_seconds", 0.0) + script_s + a.training_overhead_seconds
    hours = trainings * job_s / 3600
    discount = (
        prices.entry("sagemaker.training.spot_discount")["usd"]
        if scenario.spot_discount is None
        else scenario.spot_discount
    )
    on_demand = prices.cost(f"sagemaker.training.{instance}", hours)
    spot_factor = (1 - discount) if scenario.spot else 1.0
    add(
        "SageMaker",
        f"training {instance} ({'Spot' if scenario.spot else 'on-demand'})",
        hours,
        "instance-hours",
        f"sagemaker.training.{instance}",
        "scaled",
        usd=on_demand * spot_factor,
    )
    volume_gb_month = facts.training_volume_gb * hours / 730
    add("SageMaker", "training volume", volume_gb_month, "GB-month", "sagemaker.training.storage", "template")
    details["training"] = {
        "script_seconds_scaled": script_s,
        "basis": _training_basis(training),
        "job_seconds": job_s,
        "instance": instance,
        "records": scenario.training_records,
        "spot_discount": discount if scenario.spot else 0,
        "max_runtime_s": facts.training_max_runtime_s,  # the job is stopped past this (template)
        "within_max_runtime": job_s <= facts.training_max_runtime_s,
    }

    # ---- S3: storage and requests
    per_record = training.get("second", training).get("train_channel_bytes", 0) / max(1, training["records"])
    base_gb = per_record * scenario.training_records / 0.9 / 1e9  # the base dataset (training side is 90 %)
    run_gb = per_record * scenario.training_records / 1e9 / 0.9 + 9e-3  # train + golden channels + sourcedir
    stored_gb = (
        base_gb
        + trainings * a.run_retention_months * run_gb
        + trainings * a.months_of_versions_kept * a.model_bytes_per_version / 1e9
    )
    add(
        "S3",
        "storage (dataset, training runs, model versions)",
        stored_gb,
        "GB-month",
        "s3.standard.storage",
        "modelled",
    )
    gets = sum(
        v
        for k, v in calls_total.items()
        if k.startswith("s3:") and k.split(":")[1] in ("GetObject", "HeadObject")
    )
    puts = sum(
        v
        for k, v in calls_total.items()
        if k.startswith("s3:")
        and k.split(":")[1]
        in (
            "PutObject",
            "CopyObject",
            "ListObjectsV2",
            "CreateMultipartUpload",
            "UploadPart",
            "CompleteMultipartUpload",
        )
    )
    add("S3", "GET/HEAD requests", gets, "requests", "s3.standard.get", "measured")
    add("S3", "PUT/COPY/LIST requests", puts, "requests", "s3.standard.put", "measured")
    free["s3.standard.storage"] = prices.free_tier_value(
        "s3.standard.storage", "s3.standard.storage", stored_gb
    )

    # ---- KMS: one key, and requests where a data key is cached per window (DynamoDB table keys,
    # SQS data key reuse, S3 bucket keys) or one per call (Secrets Manager decrypts on every read)
    secret_reads = calls_total.get("secretsmanager:GetSecretValue", 0.0)
    kms_calls, kms_without_caching = secret_reads, secret_reads
    for calls in calls_by_function.values():
        for service in ("dynamodb", "sqs", "s3"):
            count = sum(v for k, v in calls.items() if k.startswith(service + ":"))
            if count:  # one key request per window in which this function calls the service
                kms_calls += active_windows(count)
                kms_without_caching += count if service in ("sqs", "s3") else active_windows(count)
    if sends:  # the consumer decrypts with the reused data key: one Decrypt per window too
        kms_calls += active_windows(consumer_batches)
        kms_without_caching += consumer_batches
    add("KMS", "customer managed key", facts.kms_keys, "key-months", "kms.key_month", "template")
    add("KMS", "requests", kms_calls, "requests", "kms.requests", "modelled")
    free["kms.requests"] = prices.free_tier_value("kms.requests", "kms.requests", kms_calls)
    details["kms"] = {
        "requests": kms_calls,
        "requests_without_bucket_keys_and_data_key_reuse": kms_without_caching,
        "rotation": facts.kms_rotation,
    }

    # ---- Secrets Manager
    add(
        "Secrets Manager", "secret", facts.secrets, "secret-months", "secretsmanager.secret_month", "template"
    )
    add(
        "Secrets Manager",
        "GetSecretValue calls",
        secret_reads,
        "calls",
        "secretsmanager.api_calls",
        "measured",
    )

    # ---- CloudWatch: custom metrics (EMF, prorated by the hours they are published in), API detailed
    # metrics, alarms, dashboards, logs
    metric_rows = []
    for metric in measured["metrics"]["emitted"]:
        if scenario.emf_metrics is not None and metric["name"] not in scenario.emf_metrics:
            continue
        function = metric["functions"][0]
        run_invocations = measured["functions"][function]["invocations"]
        share = metric["invocations_emitting"] / max(1, run_invocations)
        publishes = details["functions"].get(function, {}).get("invocations", 0) * share
        if metric["name"] == "ColdStart":
            publishes = details["functions"].get(function, {}).get("cold_starts", 0)
        metric_rows.append((metric["name"], hours_published(publishes)))
    detailed = (
        facts.api_detailed_metrics if scenario.api_detailed_metrics is None else scenario.api_detailed_metrics
    )
    if detailed:
        for method, calls_per_month in (
            ("POST /api/v1/predict", single_requests),
            ("POST /api/v1/predict/batch", batch_requests),
            ("POST /api/v1/feedback", feedback),
        ):
            for _ in range(a.api_detailed_metrics_per_method):
                metric_rows.append((f"API {method}", hours_published(calls_per_month)))
    metric_months = sum(h for _, h in metric_rows)
    add(
        "CloudWatch",
        f"custom metrics ({len(metric_rows)} series, hours published)",
        metric_months,
        "metric-months",
        "cloudwatch.custom_metrics",
        "measured",
    )
    free["cloudwatch.custom_metrics"] = min(metric_months, 10) * prices.unit_price(
        "cloudwatch.custom_metrics"
    )
    details["metrics"] = [{"name": n, "share_of_hours": round(h, 4)} for n, h in metric_rows]
    add(
        "CloudWatch",
        f"alarms ({len(facts.alarms)}, {len(facts.metric_math_alarms)} with metric math)",
        facts.alarm_metrics,
        "alarm metrics",
        "cloudwatch.alarm_metric.standard",
        "template",
    )
    listed = sum(alarm.metrics for alarm in facts.alarms if not alarm.metric_math)
    free["cloudwatch.alarm_metric.standard"] = min(listed, 10) * prices.unit_price(
        "cloudwatch.alarm_metric.standard"
    )
    dashboards = facts.dashboards if scenario.dashboards is None else scenario.dashboards
    add("CloudWatch", "dashboards", dashboards, "dashboards", "cloudwatch.dashboard", "template")
    free["cloudwatch.dashboard"] = min(dashboards, 3) * prices.unit_price("cloudwatch.dashboard")
    access_log_bytes = (
        len(_render_access_log(facts.api_access_log_format)) if facts.api_access_log_format else 0
    )
    log_bytes_total += api_requests * access_log_bytes
    ingested_gb = log_bytes_total / 1e9
    retention = (
        facts.log_retention_days if scenario.log_retention_days is None else scenario.log_retention_days
    )
    stored_log_gb = ingested_gb * a.log_compression_ratio * retention / (730 / 24)
    add(
        "CloudWatch",
        "log ingestion (functions + API access logs)",
        ingested_gb,
        "GB",
        "cloudwatch.logs.ingestion",
        "measured",
    )
    add(
        "CloudWatch",
        f"log storage ({retention}-day retention)",
        stored_log_gb,
        "GB-month",
        "cloudwatch.logs.storage",
        "modelled",
    )
    free["cloudwatch.logs"] = min(ingested_gb, 5) * prices.unit_price("cloudwatch.logs.ingestion")
    details["logs"] = {"ingested_gb": ingested_gb, "access_log_bytes_per_request": access_log_bytes}

    # ---- X-Ray (active tracing on the API, the functions and the state machine)
    traced = api_requests + consumer_batches + checks + trainings
    traces = xray_traces(traced)
    add("X-Ray", "traces recorded (default sampling)", traces, "traces", "xray.traces_recorded", "modelled")
    free["xray.traces_recorded"] = prices.free_tier_value(
        "xray.traces_recorded", "xray.traces_recorded", traces
    )

    # ---- EventBridge
    events = calls_total.get("events:PutEvents", 0.0)
    add(
        "EventBridge",
        "custom events (retraining outcomes)",
        events,
        "events",
        "eventbridge.custom_events",
        "measured",
    )
    add(
        "EventBridge",
        "schedule (retrain check)",
        checks,
        "invocations",
        "eventbridge.scheduled_rule_invocations",
        "template",
    )

    terms = {key: (prices.allowance(key) or {}).get("term", "always") for key in free}
    details["calls"] = calls_total
    details["requests"] = {
        "api": api_requests,
        "predictions": predictions,
        "feedback": feedback,
        "consumer_batches": consumer_batches,
        "checks": checks,
        "trainings": trainings,
    }
    return Bill(scenario, lines, free, terms, details)


def _per_record(figures: KindFigures, factor: float) -> KindFigures:
    """A consumer batch's figures scaled to the batch size the scenario produces (the run sent one batch)."""
    return replace(
        figures,
        cpu_ms=figures.cpu_ms * factor,
        wait_ms=figures.wait_ms * factor,
        calls={k: v * factor if k.startswith("dynamodb:") else v for k, v in figures.calls.items()},
        rru=figures.rru * factor,
        wru=figures.wru * factor,
        log_bytes=figures.log_bytes * factor,
    )


def _scaled(figures: KindFigures, factor: float) -> KindFigures:
    """A pipeline step's figures at the full dataset: CPU and waiting linear in records."""
    return replace(figures, cpu_ms=figures.cpu_ms * factor, wait_ms=figures.wait_ms * factor)


def _render_access_log(format_text: str) -> str:
    """The API access log line with typical values in place of $context variables."""
    typical = {
        "requestId": "c0ffee00-1234-4567-89ab-0123456789ab",
        "identity.sourceIp": "203.0.113.10",
        "identity.caller": "-",
        "identity.userArn": "-",
        "requestTime": "03/Dec/2026:10:00:00 +0000",
        "httpMethod": "POST",
        "resourcePath": "/api/v1/predict",
        "status": "200",
        "responseLength": "700",
        "responseLatency": "25",
        "integrationLatency": "20",
        "error.message": "-",
    }
    import re

    return re.sub(r"\$context\.([A-Za-z.]+)", lambda m: typical.get(m.group(1), "-"), format_text)


def bills_at(facts, measured, prices, scenario: Scenario, levels=LEVELS) -> list[Bill]:
    return [
        monthly_bill(facts, measured, prices, replace(scenario, predictions_per_day=level))
        for level in levels
    ]
