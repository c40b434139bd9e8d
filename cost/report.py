"""What `mlnews cost` prints: the monthly bill at 1k/10k/100k/1M predictions/day as a text table or JSON,
the seed's options with their break-even points, the knobs' before/after, and a log-log PNG plot.

    python -m cost.report [--json] [--plot cost.png] [--feedback-rate 0.05] [--trainings-per-month 4.35]
                          [--spot-discount 0.7] [--on-demand] [--api REST|HTTP] [--no-detailed-metrics]

`main(argv)` is the CLI entry point; `build(options)` returns the whole result as plain data.
"""

from __future__ import annotations

import argparse
import json
import sys
from dataclasses import asdict, replace
from pathlib import Path

from cost import knobs
from cost.inputs import MEASURED, TEMPLATE, load_measured, read_template
from cost.model import LEVELS, Scenario, bills_at, monthly_bill
from cost.options import compare, conclusion
from cost.prices import PRICE_FILE, load_prices

MATPLOTLIB_PIN = "matplotlib==3.11.2"
PLOT_RANGE = (100, 10_000_000)


def scenario_from(args: argparse.Namespace) -> Scenario:
    return Scenario(
        feedback_rate=args.feedback_rate,
        trainings_per_month=args.trainings_per_month,
        spot=not args.on_demand,
        spot_discount=args.spot_discount,
        api_kind=args.api,
        api_detailed_metrics=False if args.no_detailed_metrics else None,
    )


def build(args: argparse.Namespace) -> dict:
    facts = read_template(Path(args.template))
    measured = load_measured(Path(args.measured))
    prices = load_prices(Path(args.prices))
    scenario = scenario_from(args)
    levels = tuple(args.levels)
    bills = bills_at(facts, measured, prices, scenario, levels)
    every_check = bills_at(
        facts, measured, prices, replace(scenario, trainings_per_month=facts.checks_per_month()), levels
    )
    options = compare(facts, measured, prices, scenario, levels)
    at_low = replace(scenario, predictions_per_day=levels[0])
    knob_results = knobs.all_knobs(facts, measured, prices, at_low)
    at_high = replace(scenario, predictions_per_day=levels[-1])
    tuning_high = knobs.power_tuning(facts, measured, prices, at_high)
    knob_results["at_highest_level"] = {
        "predictions_per_day": levels[-1],
        "metrics": knobs.metrics(facts, measured, prices, at_high),
        "log_retention_days": knobs.log_retention(facts, measured, prices, at_high),
        "lambda_memory": tuning_high["bill"],
        "lambda_memory_recommended": tuning_high["recommended"],
    }
    knob_results["api_rest_vs_http_at_levels"] = {
        level: knobs.api_kind(facts, measured, prices, replace(scenario, predictions_per_day=level))
        for level in levels
    }
    low = bills[0]
    goal = {
        "goal_usd": 5.0,
        "predictions_per_day": levels[0],
        "total_usd": round(low.total, 2),
        "holds": low.total <= 5.0,
        "largest_lines": [
            {"service": line.service, "item": line.item, "usd": round(line.usd, 3)}
            for line in sorted(low.lines, key=lambda line: -line.usd)[:5]
        ],
    }
    return {
        "prices": {
            "file": Path(args.prices).name,
            "region": prices.region,
            "checked": prices.checked,
            "unverified": prices.unverified(),
        },
        "measured": {
            **{k: measured[k] for k in ("measured_at", "machine", "commit", "dataset", "mix")},
            "predict_cold_start_source": (measured["functions"]["PredictFunction"].get("cold") or {}).get(
                "source"
            ),
            "training_at_scale": measured["training"].get("at_scale"),
        },
        "template": {
            "retrain_schedule": facts.retrain_schedule,
            "checks_per_month": round(facts.checks_per_month(), 2),
            "log_retention_days": facts.log_retention_days,
            "training_instance_type": facts.training_instance_type,
            "api": facts.api_kind,
            "alarms": len(facts.alarms),
            "alarm_metrics": facts.alarm_metrics,
            "memory_mb": {f: c.memory_mb for f, c in facts.functions.items()},
            "state_transitions": {k: len(v) for k, v in facts.state_machine_paths.items()},
        },
        "scenario": {k: v for k, v in asdict(scenario).items() if k != "assumptions"},
        "assumptions": asdict(scenario.assumptions),
        "levels": list(levels),
        "bills": [_bill_json(bill) for bill in bills],
        "bills_if_every_check_retrains": [
            {"predictions_per_day": b.scenario.predictions_per_day, "total_usd": round(b.total, 2)}
            for b in every_check
        ],
        "goal_5_usd_at_1k": goal,
        "usd_per_1000_predictions_at_100k": next(
            (
                round(b.usd_per_1000_predictions, 4)
                for b in bills
                if b.scenario.predictions_per_day == 100_000
            ),
            None,
        ),
        "options": {
            "monthly": {
                name: {str(k): round(v, 2) for k, v in row.items()}
                for name, row in options["monthly"].items()
            },
            "lines_at_levels": {
                name: {
                    str(level): {k: round(v, 3) for k, v in bill.lines.items()}
                    | {"capacity": bill.capacity_note}
                    for level, bill in per_level.items()
                }
                for name, per_level in options["bills"].items()
            },
            "break_even_predictions_per_day": {
                k: (round(v) if v else None) for k, v in options["break_even_predictions_per_day"].items()
            },
            "break_even_lean_predictions_per_day": {
                k: (round(v) if v else None)
                for k, v in options["break_even_lean_predictions_per_day"].items()
            },
            "conclusion": conclusion(options, levels),
        },
        "knobs": knob_results,
        "plot_range": PLOT_RANGE,
    }


def _bill_json(bill) -> dict:
    return {
        "predictions_per_day": bill.scenario.predictions_per_day,
        "total_usd": round(bill.total, 4),
        "usd_per_1000_predictions": round(bill.usd_per_1000_predictions, 5),
        "by_service": {k: round(v, 4) for k, v in bill.by_service().items()},
        "by_function": {k: round(v, 4) for k, v in bill.by_function().items()},
        "free_tier_would_remove": {
            "always": round(bill.free_tier_total("always"), 4),
            "first_year_only": round(bill.free_tier_total() - bill.free_tier_total("always"), 4),
            "by_allowance": {k: round(v, 4) for k, v in bill.free_tier.items() if v},
        },
        "lines": [
            {
                "service": line.service,
                "item": line.item,
                "quantity": round(line.quantity, 4),
                "unit": line.unit,
                "usd": round(line.usd, 4),
                "basis": line.basis,
                "function": line.function,
            }
            for line in bill.lines
        ],
        "functions": bill.details["functions"],
        "kms": bill.details["kms"],
        "training": bill.details["training"],
    }


# ---------------------------------------------------------------- text


def _usd(value: float) -> str:
    if value >= 100:
        return f"{value:,.0f}"
    if value >= 1:
        return f"{value:,.2f}"
    return f"{value:.3f}"


def measured_cold_source(result: dict) -> str | None:
    return result["measured"].get("predict_cold_start_source")


def render_text(result: dict) -> str:
    levels = result["levels"]
    bills = result["bills"]
    out = []
    head = f"{'':44}" + "".join(f"{level:>12,}" for level in levels)
    out.append(
        f"Monthly cost (USD, {result['prices']['region']} list prices checked {result['prices']['checked']}, "
        "before free tier) by predictions/day"
    )
    out.append(
        f"feedback {result['scenario']['feedback_rate']:.0%} of predictions; retrain check "
        f"{result['template']['retrain_schedule']}; {bills[0]['training']['records']:,}-record training "
        f"on {bills[0]['training']['instance']} Spot, "
        f"{(result['scenario']['trainings_per_month'] or 730 / 24 / 7):.2f} trainings/month"
    )
    out.append(head)
    services = sorted(
        {s for b in bills for s in b["by_service"]}, key=lambda s: -bills[-1]["by_service"].get(s, 0)
    )
    for service in services:
        out.append(f"  {service:42}" + "".join(f"{_usd(b['by_service'].get(service, 0)):>12}" for b in bills))
    out.append(f"  {'TOTAL':42}" + "".join(f"{_usd(b['total_usd']):>12}" for b in bills))
    out.append(
        f"  {'per 1,000 predictions':42}" + "".join(f"{b['usd_per_1000_predictions']:>12.4f}" for b in bills)
    )
    out.append(
        f"  {'free tier would remove (always)':42}"
        + "".join(f"{_usd(b['free_tier_would_remove']['always']):>12}" for b in bills)
    )
    first_year = "  ... and in a new account's first year"
    out.append(
        f"  {first_year:42}"
        + "".join(f"{_usd(b['free_tier_would_remove']['first_year_only']):>12}" for b in bills)
    )
    out.append(
        f"  {'if every daily check retrains':42}"
        + "".join(f"{_usd(b['total_usd']):>12}" for b in result["bills_if_every_check_retrains"])
    )
    out.append("")
    out.append("Lambda by function (memory, warm duration on Lambda, USD/month at each level)")
    functions = sorted({f for b in bills for f in b["by_function"]})
    for function in functions:
        info = bills[0]["functions"].get(function, {})
        out.append(
            f"  {function:28} {info.get('memory_mb', ''):>5} MB warm {info.get('warm_ms', 0):>9.1f} ms"
            + "".join(f"{_usd(b['by_function'].get(function, 0)):>10}" for b in bills)
        )
    predict = [b["functions"].get("PredictFunction", {}) for b in bills]
    out.append(
        "  PredictFunction cold-start share of its duration: "
        + ", ".join(f"{p.get('cold_share_of_duration', 0):.0%}" for p in predict)
        + f" (cold start {predict[0].get('cold_ms', 0):.0f} ms on Lambda"
        + (f", from {source}" if (source := measured_cold_source(result)) else "")
        + ")"
    )
    goal = result["goal_5_usd_at_1k"]
    out.append("")
    out.append(
        f"Goal <= $5/month at {goal['predictions_per_day']:,}/day, weekly Spot retraining, before free tier: "
        f"{'HOLDS' if goal['holds'] else 'MISSED'} at ${goal['total_usd']:.2f}; largest lines: "
        + "; ".join(f"{x['service']} {x['item']} ${x['usd']:.2f}" for x in goal["largest_lines"][:4])
    )
    out.append(f"Cost per 1,000 predictions at 100k/day: ${result['usd_per_1000_predictions_at_100k']:.4f}")
    training = bills[0]["training"]
    out.append(
        f"Training at {training['records']:,} records ({training['basis']}): "
        f"{training['script_seconds_scaled'] / 60:.1f} min of train.py, "
        f"{training['job_seconds'] / 60:.1f} min billed per job; "
        + ("within" if training["within_max_runtime"] else "OVER")
        + f" TrainingMaxRuntimeSeconds {training['max_runtime_s']}"
    )
    out.append("")
    options = result["options"]
    out.append("The seed's options (USD/month)")
    for name, row in options["monthly"].items():
        out.append(f"  {name:42}" + "".join(f"{_usd(row[str(level)]):>12}" for level in levels))
    for name, value in options["break_even_lean_predictions_per_day"].items():
        out.append(
            f"  lean serverless (HTTP API, no detailed metrics) reaches {name}: "
            + (f"{value:,} predictions/day" if value else "never (<100M/day)")
        )
    for name, value in options["break_even_predictions_per_day"].items():
        out.append(
            f"  serverless reaches {name}: "
            + (f"{value:,} predictions/day" if value else "never (<100M/day)")
        )
    out.append("  " + options["conclusion"])
    k = result["knobs"]
    out.append("")
    out.append(f"Knobs at {levels[0]:,}/day (before -> after, USD/month)")
    for level, pair in k["api_rest_vs_http_at_levels"].items():
        out.append(
            f"  REST -> HTTP API at {level:,}/day: {pair['before']} -> {pair['after']} "
            f"(saves {pair['saves']})"
        )
    out.append(f"    HTTP API loses {k['api_rest_vs_http']['loses']}; keeps {k['api_rest_vs_http']['keeps']}")
    m = k["metrics"]
    out.append(
        f"  API detailed metrics off: {m['api_detailed_metrics_off']['before']} -> "
        f"{m['api_detailed_metrics_off']['after']}; and the detailed EMF metrics off: "
        f"{m['detailed_emf_metrics_off_too']['after']}"
    )
    for row in m["per_metric"]:
        if not row["name"].startswith("API "):
            out.append(
                f"    {row['name']:20} ${row['usd_per_month']:.3f}/month  {row['verdict']:8} {row['why']}"
            )
    memory = k["lambda_memory"]
    out.append(
        f"  Lambda memory as recommended {memory['recommended']}: {memory['bill']['before']} -> "
        f"{memory['bill']['after']}"
    )
    for function, table in memory["functions"].items():
        cells = "  ".join(
            f"{r['memory_mb']}MB {r['warm_ms']}ms/{r['cold_ms']:.0f}ms ${r['usd_per_month']:.3f}"
            for r in table["rows"]
        )
        out.append(f"    {function:26} {cells}")
    out.append(
        "  log retention (days -> total): "
        + ", ".join(f"{d}: {v}" for d, v in k["log_retention_days"].items())
    )
    high = k["at_highest_level"]
    out.append(
        f"  at {high['predictions_per_day']:,}/day: API detailed metrics off "
        f"{high['metrics']['api_detailed_metrics_off']['before']} -> "
        f"{high['metrics']['api_detailed_metrics_off']['after']}, detailed EMF off too "
        f"{high['metrics']['detailed_emf_metrics_off_too']['after']}; Lambda memory as recommended "
        f"{high['lambda_memory']['before']} -> {high['lambda_memory']['after']}; log retention "
        + ", ".join(f"{d}: {v}" for d, v in high["log_retention_days"].items())
    )
    cache = k["prediction_cache"]
    out.append(
        f"  prediction cache: measured hit rate {cache['measured_hit_rate']:.4%} on the data sample; "
        f"off -> on {cache['cache_off']['before']} -> {cache['cache_off']['after']}; "
        f"at a 30% hit rate {cache['if_30_percent_repeated']['after']}"
    )
    t = k["training"]
    out.append(
        f"  training: weekly Spot {t['weekly_spot']}, weekly on-demand {t['weekly_on_demand']}, "
        f"on every daily check {t['every_scheduled_check']}"
    )
    kms = bills[-1]["kms"]
    out.append(
        f"  KMS requests at {levels[-1]:,}/day: {kms['requests']:,.0f} with S3 Bucket Keys and SQS data key "
        f"reuse ({kms['requests_without_bucket_keys_and_data_key_reuse']:,.0f} without)"
    )
    out.append("")
    meta = result["measured"]
    out.append(
        f"Measured {meta['measured_at']} on {meta['machine']['cpu']} ({meta['machine']['cores']} cores), "
        f"commit {meta['commit'][:12]}; {len(result['prices']['unverified'])} prices not verified on an "
        f"AWS page (see {result['prices']['file']})"
    )
    return "\n".join(out)


# ---------------------------------------------------------------- plot


def write_plot(args: argparse.Namespace, path: Path) -> Path:
    """Monthly cost vs predictions/day for the three options, log-log (needs matplotlib)."""
    try:
        import matplotlib

        matplotlib.use("Agg")
        import matplotlib.pyplot as plt
    except ImportError as error:
        raise SystemExit(
            f"the plot needs {MATPLOTLIB_PIN}: pip install '{MATPLOTLIB_PIN}' ({error})"
        ) from None
    from cost.options import Ec2Option, FargateOption, ec2_bill, fargate_bill

    facts = read_template(Path(args.template))
    measured = load_measured(Path(args.measured))
    prices = load_prices(Path(args.prices))
    scenario = scenario_from(args)
    low, high = PLOT_RANGE
    xs = [low * (high / low) ** (i / 60) for i in range(61)]
    series = {
        "serverless (this stack, REST API)": [],
        "serverless with HTTP API, no detailed metrics": [],
        "Option 2: ALB + 2 Fargate tasks + RDS + ElastiCache": [],
        "Option 2 on Fargate Spot": [],
        "Option 3: one EC2 t3.small": [],
    }
    for x in xs:
        s = replace(scenario, predictions_per_day=x)
        values = (
            monthly_bill(facts, measured, prices, s).total,
            monthly_bill(
                facts, measured, prices, replace(s, api_kind="HTTP", api_detailed_metrics=False)
            ).total,
            fargate_bill(facts, measured, prices, s, FargateOption()).total,
            fargate_bill(facts, measured, prices, s, FargateOption(spot=True)).total,
            ec2_bill(facts, measured, prices, s, Ec2Option()).total,
        )
        for key, value in zip(series, values, strict=True):
            series[key].append(value)
    figure, axes = plt.subplots(figsize=(8, 5), dpi=120)
    for (label, ys), style in zip(series.items(), ("-", "--", "-", ":", "-."), strict=True):
        axes.plot(xs, ys, style, label=label, linewidth=2)
    axes.axhline(5, color="grey", linewidth=0.8)
    axes.text(xs[0], 5.4, "$5/month goal", color="grey", fontsize=8)
    axes.set_xscale("log")
    axes.set_yscale("log")
    axes.set_xlabel("predictions per day (5 % feedback, weekly Spot retraining)")
    axes.set_ylabel("USD per month, before free tier")
    axes.set_title(f"ml-news-pipeline monthly cost, {prices.region} prices of {prices.checked}")
    axes.grid(True, which="both", linewidth=0.3)
    axes.legend(fontsize=8)
    figure.tight_layout()
    figure.savefig(path)
    plt.close(figure)
    return path


def parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(prog="mlnews cost", description="Monthly cost of the stack, measured inputs.")
    p.add_argument("--json", action="store_true", help="print the whole result as JSON")
    p.add_argument("--plot", type=Path, help="also write the log-log PNG plot here")
    p.add_argument("--levels", type=int, nargs="+", default=list(LEVELS), help="predictions per day")
    p.add_argument("--feedback-rate", type=float, default=0.05)
    p.add_argument("--trainings-per-month", type=float, default=None, help="default: weekly")
    p.add_argument("--spot-discount", type=float, default=None, help="default: the price file's")
    p.add_argument("--on-demand", action="store_true", help="train on on-demand instead of Spot")
    p.add_argument("--api", choices=("REST", "HTTP"), default=None, help="default: the template's")
    p.add_argument("--no-detailed-metrics", action="store_true", help="API Gateway detailed metrics off")
    p.add_argument("--measured", default=str(MEASURED))
    p.add_argument("--prices", default=str(PRICE_FILE))
    p.add_argument("--template", default=str(TEMPLATE))
    return p


def main(argv: list[str] | None = None) -> int:
    return run(parser().parse_args(argv))


def run(args: argparse.Namespace) -> int:
    """Print the bill for parsed `parser()` arguments (and write the plot); `mlnews cost` calls this."""
    result = build(args)
    if args.plot:
        result["plot"] = str(write_plot(args, args.plot))
    print(json.dumps(result, indent=1, default=str) if args.json else render_text(result))
    return 0


if __name__ == "__main__":
    sys.exit(main())
