"""The seed's other two options in the same model, at the same traffic: Option 2 (ALB + ECS Fargate tasks,
RDS db.t4g.micro, ElastiCache cache.t4g.micro; Fargate Spot as a variant) and Option 3 (one EC2 t3.small +
EBS gp3). Both keep the retraining pipeline and the operations lines of the serverless stack (SageMaker,
Step Functions and its functions, S3, KMS, Secrets Manager, alarms, custom metrics, logs): only serving and
the feedback path change. Capacity follows the measured CPU time per prediction.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, replace

from cost.model import (
    CONSUMER,
    EVALUATE,
    FEEDBACK_API,
    OUTCOME,
    PREDICT,
    PREPARE,
    Bill,
    Scenario,
    kind_figures,
    monthly_bill,
)
from cost.prices import Prices

PIPELINE = {PREPARE, EVALUATE, OUTCOME, "RetrainCheckFunction"}
SHARED_SERVICES = {"SageMaker", "Step Functions", "S3", "KMS", "Secrets Manager", "EventBridge"}


@dataclass(frozen=True)
class FargateOption:
    """Option 2 as the seed sizes it: two tasks for availability, each 0.5 vCPU / 1 GB."""

    min_tasks: int = 2
    task_vcpu: float = 0.5
    task_gb: float = 1.0
    spot: bool = False
    target_utilisation: float = 0.6  # scale out before a task's CPU passes this
    rds_storage_gb: int = 20  # the RDS minimum for gp3
    alb_public_ips: int = 2  # an internet-facing ALB has an address in each of its (at least) two subnets
    private_subnets_with_nat: bool = False  # tasks in private subnets need a NAT gateway for AWS APIs
    name: str = "Option 2: ALB + Fargate (2 x 0.5 vCPU / 1 GB), RDS t4g.micro, ElastiCache t4g.micro"


@dataclass(frozen=True)
class Ec2Option:
    """Option 3: one t3.small (2 vCPU burstable, 20 % baseline each, T3 Unlimited) with an EBS gp3 volume."""

    ebs_gb: int = 20
    baseline_vcpu: float = 0.4  # 2 vCPU x 20 % baseline
    vcpus: int = 2
    target_utilisation: float = 0.7
    name: str = "Option 3: one EC2 t3.small + EBS gp3 20 GB"


@dataclass
class OptionBill:
    name: str
    lines: dict[str, float]
    capacity_note: str

    @property
    def total(self) -> float:
        return sum(self.lines.values())


def cpu_seconds_per_prediction(measured: dict, scenario: Scenario) -> float:
    """Handler CPU per prediction on one vCPU (measured), with its share of feedback work."""
    a = scenario.assumptions
    predict = kind_figures(measured, PREDICT, _first_kind(measured, PREDICT, "POST /api/v1/predict (new"))
    feedback = kind_figures(measured, FEEDBACK_API, "POST /api/v1/feedback")
    consumer = measured["functions"][CONSUMER]["by_kind"]["sqs batch"]
    per_record = consumer["cpu_ms"].get("p50", 0.0) / max(
        1.0, consumer.get("sqs_records_per_invocation") or 1
    )
    cpu_ms = predict.cpu_ms + scenario.feedback_rate * (feedback.cpu_ms + per_record)
    return cpu_ms * a.cpu_speed_factor / 1000


def _first_kind(measured: dict, function: str, prefix: str) -> str:
    return next(k for k in measured["functions"][function]["by_kind"] if k.startswith(prefix))


def shared_lines(serverless: Bill) -> dict[str, float]:
    """What every option keeps from the serverless stack: the retraining pipeline and operations."""
    shared: dict[str, float] = {}
    for line in serverless.lines:
        keep = (
            line.service in SHARED_SERVICES
            or (line.service == "Lambda" and line.function in PIPELINE)
            or (line.service == "CloudWatch" and not line.item.startswith("log"))
        )
        if keep:
            key = f"shared: {line.service}"
            shared[key] = shared.get(key, 0.0) + line.usd
    return shared


def _shared_and_logs(facts, measured, prices, scenario) -> tuple[dict[str, float], float, float]:
    # operations without API Gateway's detailed metrics (an ALB's metrics are free)
    serverless = monthly_bill(facts, measured, prices, replace(scenario, api_detailed_metrics=False))
    shared = shared_lines(serverless)
    logs = sum(line.usd for line in serverless.lines if line.item.startswith("log"))
    transfer = sum(line.usd for line in serverless.lines if line.service == "Data transfer")
    return shared, logs, transfer


def fargate_bill(facts, measured, prices: Prices, scenario: Scenario, option: FargateOption) -> OptionBill:
    a = scenario.assumptions
    hours = prices.month_hours
    rps = scenario.predictions_per_day / 86400
    peak_vcpu = rps * a.peak_to_average * cpu_seconds_per_prediction(measured, scenario)
    tasks = max(option.min_tasks, math.ceil(peak_vcpu / (option.task_vcpu * option.target_utilisation)))
    arch = "linux_x86"
    task_hour = option.task_vcpu * prices.unit_price(f"fargate.{arch}.vcpu_hour") + option.task_gb * (
        prices.unit_price(f"fargate.{arch}.gb_hour")
    )
    spot = (1 - prices.entry("fargate.spot_discount")["usd"]) if option.spot else 1.0
    shared, logs, transfer = _shared_and_logs(facts, measured, prices, scenario)
    requests_per_hour = scenario.predictions_per_day * (1 + scenario.feedback_rate) / 24
    processed_gb_per_hour = requests_per_hour * 1.5e3 / 1e9  # ~1.5 KB request + response
    lcu = max(requests_per_hour / 3600 / 25, processed_gb_per_hour / 1.0, 0.0)  # new connections, bytes
    lines = {
        f"Fargate {tasks} tasks{' (Spot)' if option.spot else ''}": tasks * task_hour * hours * spot,
        "ALB hours": prices.cost("alb.hour", hours),
        "ALB LCU-hours": prices.cost("alb.lcu_hour", lcu * hours),
        "RDS db.t4g.micro": prices.cost("rds.db.t4g.micro.hour", hours),
        "RDS gp3 storage": prices.cost("rds.gp3.storage", option.rds_storage_gb),
        "ElastiCache cache.t4g.micro": prices.cost("elasticache.cache.t4g.micro.hour", hours),
        "public IPv4 (ALB + tasks)": prices.cost(
            "vpc.public_ipv4.hour", (option.alb_public_ips + tasks) * hours
        ),
        "CloudWatch logs": logs,
        "Data transfer": transfer,
        **shared,
    }
    if option.private_subnets_with_nat:
        lines["public IPv4 (ALB + tasks)"] = prices.cost(
            "vpc.public_ipv4.hour", (option.alb_public_ips + 1) * hours
        )
        lines["NAT gateway"] = prices.cost("vpc.nat_gateway.hour", hours)
    note = f"{tasks} tasks for a busiest hour of {peak_vcpu:.3f} vCPU (measured CPU per prediction)"
    return OptionBill(option.name + (" - Fargate Spot" if option.spot else ""), lines, note)


def ec2_bill(facts, measured, prices: Prices, scenario: Scenario, option: Ec2Option) -> OptionBill:
    a = scenario.assumptions
    hours = prices.month_hours
    rps = scenario.predictions_per_day / 86400
    cpu = cpu_seconds_per_prediction(measured, scenario)
    average_vcpu, peak_vcpu = rps * cpu, rps * a.peak_to_average * cpu
    instances = max(1, math.ceil(peak_vcpu / (option.vcpus * option.target_utilisation)))
    surplus = max(0.0, average_vcpu / instances - option.baseline_vcpu) * instances * hours
    shared, logs, transfer = _shared_and_logs(facts, measured, prices, scenario)
    lines = {
        f"EC2 t3.small x {instances}": prices.cost("ec2.t3.small.hour", instances * hours),
        "T3 Unlimited surplus vCPU-hours": prices.cost("ec2.t3.unlimited_surplus_vcpu_hour", surplus),
        "EBS gp3": prices.cost("ebs.gp3.storage", option.ebs_gb * instances),
        "public IPv4": prices.cost("vpc.public_ipv4.hour", instances * hours),
        "CloudWatch logs": logs,
        "Data transfer": transfer,
        **shared,
    }
    note = f"{instances} instance(s); sustained {average_vcpu:.3f} vCPU, baseline {option.baseline_vcpu}"
    if instances > 1:  # more than one instance needs a load balancer in front
        lines["ALB hours"] = prices.cost("alb.hour", hours)
        note += "; beyond one instance an ALB is added"
    return OptionBill(option.name, lines, note)


def break_even(cost_a, cost_b, low: float = 100.0, high: float = 1e8, steps: int = 120) -> float | None:
    """Smallest predictions/day in [low, high] where cost_a(x) reaches cost_b(x) (log grid + bisection);
    None when it never does (or already does at `low`)."""
    if cost_a(low) >= cost_b(low):
        return None
    grid = [low * (high / low) ** (i / steps) for i in range(steps + 1)]
    for before, after in zip(grid, grid[1:], strict=False):
        if cost_a(after) >= cost_b(after):
            lo, hi = before, after
            for _ in range(40):
                mid = math.sqrt(lo * hi)
                lo, hi = (lo, mid) if cost_a(mid) >= cost_b(mid) else (mid, hi)
            return hi
    return None


def compare(facts, measured, prices: Prices, scenario: Scenario, levels) -> dict:
    """Monthly totals per option at each level, and the break-even points against the serverless stack
    (as deployed, and lean: HTTP API without API Gateway detailed metrics)."""

    def serverless(x: float, **change) -> float:
        return monthly_bill(facts, measured, prices, replace(scenario, predictions_per_day=x, **change)).total

    def lean(x: float) -> float:
        return serverless(x, api_kind="HTTP", api_detailed_metrics=False)

    options = {
        "option2_fargate": lambda x: fargate_bill(
            facts, measured, prices, replace(scenario, predictions_per_day=x), FargateOption()
        ),
        "option2_fargate_spot": lambda x: fargate_bill(
            facts, measured, prices, replace(scenario, predictions_per_day=x), FargateOption(spot=True)
        ),
        "option3_ec2": lambda x: ec2_bill(
            facts, measured, prices, replace(scenario, predictions_per_day=x), Ec2Option()
        ),
    }
    table = {
        "serverless": {level: serverless(level) for level in levels},
        "serverless_lean": {level: lean(level) for level in levels},
        **{name: {level: bill(level).total for level in levels} for name, bill in options.items()},
    }
    details = {name: {level: bill(level) for level in levels} for name, bill in options.items()}
    even = {
        name: break_even(serverless, lambda x, bill=bill: bill(x).total) for name, bill in options.items()
    }
    even_lean = {name: break_even(lean, lambda x, bill=bill: bill(x).total) for name, bill in options.items()}
    return {
        "monthly": table,
        "bills": details,
        "break_even_predictions_per_day": even,
        "break_even_lean_predictions_per_day": even_lean,
    }


def conclusion(result: dict, levels) -> str:
    """One paragraph for the README, from the numbers."""
    monthly, even, lean = (
        result["monthly"],
        result["break_even_predictions_per_day"],
        result["break_even_lean_predictions_per_day"],
    )
    low, high = levels[0], levels[-1]

    def usd(x: float) -> str:
        return f"${x:,.0f}" if x >= 100 else f"${x:,.2f}"

    def day(x: float | None) -> str:
        return "never below 100 million" if x is None else f"{x:,.0f}"

    parts = [
        f"At {low:,} predictions/day the serverless stack costs {usd(monthly['serverless'][low])}/month,",
        f"Option 2 (ALB + two Fargate tasks + RDS + ElastiCache) {usd(monthly['option2_fargate'][low])}",
        f"({usd(monthly['option2_fargate_spot'][low])} on Fargate Spot) and Option 3 (one t3.small)",
        f"{usd(monthly['option3_ec2'][low])}: the options pay for servers, a load balancer, a database,",
        "a cache and public addresses whether or not a request comes. The serverless bill grows with traffic",
        "(API Gateway, X-Ray, the DynamoDB counter write per prediction) and reaches Option 2 only at about",
        f"{day(even['option2_fargate'])} predictions/day ({day(even['option2_fargate_spot'])} with Fargate",
        f"Spot; {day(lean['option2_fargate'])} once the API is an HTTP API without detailed metrics), so the",
        "seed's advice to move to Fargate above 1,000 requests/day does not hold for this workload and",
        f"Option 2 is not worth building. Option 3 is cheaper from about {day(even['option3_ec2'])}",
        f"predictions/day ({day(lean['option3_ec2'])} against the lean API; at {high:,}/day",
        f"{usd(monthly['option3_ec2'][high])} against {usd(monthly['serverless'][high])}), but it is one",
        "instance without failover, scaling or managed patching and still needs the same retraining",
        "pipeline: the cheaper choice only for a steady high load that tolerates downtime. Recommendation:",
        "keep the serverless stack, switch to an HTTP API and drop the detailed metrics when traffic passes",
        "~10,000/day, and revisit a single-instance deployment only above its break-even.",
    ]
    return " ".join(parts)
