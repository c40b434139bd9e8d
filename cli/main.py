"""The `mlnews` console script: data inspection, training, evaluation and prediction.

Exit codes: 0 success, 1 the command ran but found a problem (e.g. invalid lines on inspect),
2 usage or input errors. Errors are one line on stderr, never a traceback.
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Sequence
from pathlib import Path

from core.errors import MlNewsError

EXIT_OK = 0
EXIT_PROBLEM = 1
EXIT_USAGE = 2
_BATCH = 512


class CliError(MlNewsError):
    """A usage or input error reported as 'mlnews: error: ...' with exit code 2."""


def _progress_enabled() -> bool:
    try:
        return sys.stderr.isatty()
    except (AttributeError, ValueError):
        return False


def _bar(total: int, desc: str, unit: str = "rec"):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit=unit, disable=not _progress_enabled(), leave=False)


# ---------------------------------------------------------------- data inspect


def cmd_data_inspect(args: argparse.Namespace) -> int:
    from core.data.dataset import inspect

    report = inspect(args.paths, skip_invalid=True)
    if args.json:
        print(json.dumps(report, indent=2))
    else:
        print(f"files:            {', '.join(report['files'])}")
        print(f"records:          {report['records']} valid of {report['lines']} lines")
        print(f"invalid lines:    {report['invalid_lines']}")
        for example in report["invalid_examples"]:
            print(f"  {example}")
        empty = report["empty_texts"]
        print(f"empty texts:      headline {empty['headline']}, "
              f"short_description {empty['short_description']}, authors {empty['authors']}")
        print(f"duplicates:       {report['duplicates']} (same normalised headline)")
        dates = report["date_range"]
        print(f"date range:       {dates['min']} .. {dates['max']}" if dates else "date range:       -")
        print(f"categories ({report['n_categories']}):")
        for category, count in report["categories"].items():
            print(f"  {count:8d}  {category}")
    if report["invalid_lines"] and not args.skip_invalid:
        print(f"mlnews: {report['invalid_lines']} invalid line(s); pass --skip-invalid to accept the rest",
              file=sys.stderr)
        return EXIT_PROBLEM
    if report["records"] == 0:
        print("mlnews: error: no valid records", file=sys.stderr)
        return EXIT_USAGE
    return EXIT_OK


# ---------------------------------------------------------------- train


def _parse_hyperparameters(text: str | None) -> dict:
    if not text:
        return {}
    source = text
    if not text.lstrip().startswith("{") and Path(text).is_file():
        source = Path(text).read_text()
    try:
        value = json.loads(source)
    except json.JSONDecodeError as exc:
        raise CliError(f"--hyperparameters is not valid JSON ({exc.msg} at column {exc.colno})") from None
    if not isinstance(value, dict):
        raise CliError("--hyperparameters must be a JSON object such as '{\"C\": 4}'")
    return value


def _parse_fields(text: str) -> tuple[str, ...]:
    from core.model.textproc import validate_text_fields

    fields = tuple(f.strip() for f in text.split(",") if f.strip())
    try:
        return validate_text_fields(fields)
    except ValueError as exc:
        raise CliError(f"--text-fields: {exc}") from None


def cmd_train(args: argparse.Namespace) -> int:
    fields = _parse_fields(args.text_fields)
    hyperparameters = _parse_hyperparameters(args.hyperparameters)
    from core.data.dataset import load_records
    from core.fitting.hyperparameters import Hyperparameters

    hp = Hyperparameters.parse(hyperparameters)  # fail fast, before reading data
    stats: dict = {}
    records = load_records(args.data, skip_invalid=args.skip_invalid, stats=stats)
    if not records:
        raise CliError("no valid records in " + ", ".join(args.data))
    if stats.get("invalid"):
        print(f"skipped {stats['invalid']} invalid line(s)", file=sys.stderr)
    out = Path(args.out)
    if out.exists() and not out.is_dir():
        raise CliError(f"--out {out}: exists and is not a directory")
    from core.fitting.training import FIT_STEPS, train_to_dir

    start = time.perf_counter()
    with _bar(len(FIT_STEPS), "train", unit="step") as bar:

        def show(step: str) -> None:
            bar.update(FIT_STEPS.index(step) - bar.n)
            bar.set_description(step)

        manifest = train_to_dir(records, out, hyperparameters=hp, text_fields=fields, on_step=show)
    metrics = manifest["metrics"]
    print(f"model {manifest['version']} written to {out} in {time.perf_counter() - start:.1f}s "
          f"({len(records)} records, {len(manifest['data']['categories'])} categories)")
    if "accuracy" in metrics:
        print(f"validation: accuracy {metrics['accuracy']:.4f}  macro-F1 {metrics['macro_f1']:.4f}  "
              f"top-3 {metrics['top3_accuracy']:.4f}  ECE {metrics['ece']:.4f}  "
              f"headline-only accuracy {metrics['headline_only_accuracy']:.4f}  (n={metrics['n']})")
    return EXIT_OK


# ---------------------------------------------------------------- evaluate


def _load_model(path: str):
    from core.model.bundle import ServingModel

    if not Path(path).exists():
        raise CliError(f"--model {path}: no such directory")
    return ServingModel.load(path)


def _predict_proba_batched(model, items: Sequence, desc: str):
    import numpy as np

    parts = []
    with _bar(len(items), desc) as bar:
        for i in range(0, len(items), _BATCH):
            chunk = items[i : i + _BATCH]
            parts.append(model.predict_proba(chunk))
            bar.update(len(chunk))
    return np.concatenate(parts) if parts else np.zeros((0, len(model.classes)))


def cmd_evaluate(args: argparse.Namespace) -> int:
    from core.data.dataset import load_records
    from core.model.evaluation import evaluate

    model = _load_model(args.model)
    records = load_records(args.data, skip_invalid=args.skip_invalid)
    if not records:
        raise CliError("no valid records in " + ", ".join(args.data))
    items = [r.model_dump() for r in records]
    if args.headline_only:
        items = [{"headline": item["headline"]} for item in items]
    start = time.perf_counter()
    proba = _predict_proba_batched(model, items, "evaluate")
    seconds = time.perf_counter() - start
    report = evaluate([r.category for r in records], proba, model.classes)
    unknown = sorted({r.category for r in records} - set(model.classes))
    report.update({"model_version": model.version, "model_sha256": model.sha256,
                   "unknown_categories": unknown, "predict_seconds": round(seconds, 3)})
    if args.json:
        print(json.dumps(report))
        return EXIT_OK
    print(f"model {model.version}  ({report['n']} records, {seconds:.2f}s)")
    print(f"accuracy        {report['accuracy']:.4f}")
    print(f"macro-F1        {report['macro_f1']:.4f}")
    print(f"top-3 accuracy  {report['top3_accuracy']:.4f}")
    print(f"calibration error (ECE, 15 bins)  {report['ece']:.4f}")
    if unknown:
        print(f"categories the model does not know: {', '.join(unknown)}")
    print(f"\n{'category':28s} {'precision':>9s} {'recall':>7s} {'f1':>7s} {'support':>8s}")
    for category, row in report["per_class"].items():
        print(f"{category[:28]:28s} {row['precision']:9.3f} {row['recall']:7.3f} {row['f1']:7.3f} "
              f"{row['support']:8d}")
    if report["confusion_pairs"]:
        print("\nmost frequent confusions (true -> predicted):")
        for pair in report["confusion_pairs"][:5]:
            print(f"  {pair['count']:5d}  {pair['true']} -> {pair['predicted']}")
    return EXIT_OK


# ---------------------------------------------------------------- predict


def _read_input_items(path: str) -> list[dict]:
    from core.data.jsonl import read_jsonl

    if not Path(path).is_file():
        raise CliError(f"--input {path}: no such file")
    items = []
    for lineno, item in read_jsonl(path):
        if isinstance(item, str):
            item = {"headline": item}
        if not isinstance(item, dict) or not str(item.get("headline") or "").strip():
            raise CliError(f"{path}:{lineno}: expected a JSON object with a non-empty 'headline'")
        items.append(item)
    if not items:
        raise CliError(f"--input {path}: no records")
    return items


def cmd_predict(args: argparse.Namespace) -> int:
    if bool(args.headlines) == bool(args.input):
        raise CliError("give either headline text or --input FILE.jsonl (not both)")
    if args.output and not args.input:
        raise CliError("--output needs --input")
    if args.top_k < 1:
        raise CliError("--top-k must be at least 1")
    model = _load_model(args.model)
    if args.input:
        from core.data.jsonl import write_jsonl

        items = _read_input_items(args.input)
        out = open(args.output, "w", encoding="utf-8") if args.output else sys.stdout  # noqa: SIM115
        try:
            with _bar(len(items), "predict") as bar:
                for i in range(0, len(items), _BATCH):
                    chunk = items[i : i + _BATCH]
                    predictions = model.predict(chunk, top_k=args.top_k)
                    write_jsonl(out, ({**item, **p} for item, p in zip(chunk, predictions, strict=True)))
                    bar.update(len(chunk))
        finally:
            if out is not sys.stdout:
                out.close()
        if args.output:
            print(f"{len(items)} predictions written to {args.output}", file=sys.stderr)
        return EXIT_OK
    headlines = [h for h in args.headlines if h.strip()]
    if not headlines:
        raise CliError("headline text is empty")
    for headline, prediction in zip(headlines, model.predict(headlines, top_k=args.top_k), strict=True):
        if args.json:
            print(json.dumps({"headline": headline, **prediction}, ensure_ascii=False))
            continue
        top = ", ".join(f"{p['category']} {p['probability']:.2f}" for p in prediction["top_k"])
        terms = ", ".join(t["term"] for t in prediction["explanation"]) or "-"
        print(f"{prediction['category']}  ({prediction['confidence']:.2f})  top: {top}  terms: {terms}")
    return EXIT_OK


# ---------------------------------------------------------------- card


def _model_dir_card(path: Path, golden: list[str] | None, save: bool):
    """A model directory's card: the one it holds (card/, from the training job or --save), else made here;
    with --golden, scored on those records (and the latency measured on their headlines)."""
    import platform

    from core.cards.build import card_for_model_dir
    from core.cards.files import CARD_DIR, read_card_dir, write_card_dir
    from core.data.dataset import load_records
    from core.registry.archives import find_model_dir

    model_dir = find_model_dir(path)
    stored = None if golden else read_card_dir(model_dir / CARD_DIR)
    if stored:
        card, images = stored
    else:
        records = [record.model_dump() for record in load_records(golden)] if golden else []
        if golden and not records:
            raise CliError("no valid records in " + ", ".join(golden))
        where = f"mlnews card on this machine (Python {platform.python_version()}, {platform.machine()})"
        card = card_for_model_dir(model_dir, measured_in=where, golden_records=records,
                                  scored_by="mlnews card (--golden " + ", ".join(golden or []) + ")")
        images = {}
    if card.golden is not None and not images:
        from core.plotting.card_plots import draw

        card, images = draw(card, made_by="mlnews card")
    if save:
        print(f"card saved in {write_card_dir(model_dir / CARD_DIR, card, images).parent}", file=sys.stderr)
    return card, images


def _version_card(version: str, api: str, region: str | None):
    """A registered version's card through the API (GET /api/v1/model/versions/{version}/card, signed)."""
    from cli.smoke import Client, SmokeFailure, region_for
    from core.cards.card import ModelCard

    path = f"/api/v1/model/versions/{version}/card"
    try:
        status, payload = Client(api, region_for(api, region)).call("GET", path)
    except SmokeFailure as failure:
        raise CliError(str(failure)) from None
    if status != 200 or not isinstance(payload, dict):
        detail = payload.get("message") if isinstance(payload, dict) else str(payload)[:300]
        raise CliError(f"GET {api.rstrip('/')}{path} returned HTTP {status}: {detail}")
    return ModelCard.model_validate(payload)


def _card_text(card) -> list[str]:
    """The card in a few lines for the terminal."""
    lines = [f"model card {card.version or card.bundle_version}"
             + (f" ({card.status})" if card.status else "") + f", source: {card.source}"
             + (f", training job {card.training_job}" if card.training_job else "")]
    if card.data:
        d = card.data
        share = "" if d.feedback_share is None else f", verified feedback {d.n_feedback} "
        share += "" if d.feedback_share is None else f"({d.feedback_share:.1%})"
        lines.append(f"data:     {d.n_records} records{share}; fingerprint {(d.fingerprint or '-')[:16]}")
        lines += [f"          from {source}" for source in d.sources]
    if card.golden:
        g = card.golden
        lines.append(f"golden:   n={g.n}  accuracy {g.accuracy:.4f}  macro-F1 {g.macro_f1:.4f}  "
                     f"top-3 {g.top3_accuracy:.4f}  ECE {g.ece:.4f}  (scored by {g.scored_by})")
        for pair in g.top_confusions[:3]:
            example = f'  e.g. "{pair.examples[0].headline}"' if pair.examples else ""
            lines.append(f"          {pair.count:4d}  {pair.true} -> {pair.predicted}{example}")
    if card.serving_cost:
        s = card.serving_cost
        latency = (f", one headline p50 {s.latency.p50_ms:.2f} ms / p95 {s.latency.p95_ms:.2f} ms"
                   if s.latency else "")
        load = f", load {s.load_seconds:.3f} s" if s.load_seconds is not None else ""
        lines.append(f"serving:  bundle {s.bundle_bytes / 1e6:.2f} MB{load}{latency} (in {s.measured_in})")
    if card.comparison and card.comparison.active:
        c = card.comparison
        lines.append(f"against:  {c.active_version}: accuracy {c.active.accuracy:.4f} -> "
                     f"{c.candidate.accuracy:.4f}, macro-F1 {c.active.macro_f1:.4f} -> "
                     f"{c.candidate.macro_f1:.4f}")
    if card.decision:
        lines.append(f"gate:     {'promote' if card.decision.promote else 'reject'}")
        lines += [f"          - {reason}" for reason in card.decision.reasons]
    lines += [f"missing:  {line}" for line in card.missing]
    return lines


def cmd_card(args: argparse.Namespace) -> int:
    import re

    from core.schemas import VERSION_PATTERN

    path = Path(args.target)
    if path.is_dir():
        card, images = _model_dir_card(path, args.golden, args.save)
    elif re.match(VERSION_PATTERN, args.target):
        if args.golden or args.save:
            raise CliError("--golden and --save are for a model directory; the pipeline scored this version")
        card = _version_card(args.target, args.api, args.region)
        images = {}
        if card.golden is not None:  # the API's JSON has the numbers: the pictures are drawn here
            from core.plotting.card_plots import draw

            card, images = draw(card, made_by="mlnews card, from the card's numbers")
    else:
        raise CliError(f"{args.target}: neither a model directory nor a model version such as v0001")
    if args.html:
        from core.cards.html import render_html

        Path(args.html).write_text(render_html(card, images), encoding="utf-8")
        print(f"card written to {args.html}", file=sys.stderr)
    if args.json:
        print(json.dumps(card.model_dump(mode="json"), ensure_ascii=False))
    elif not args.html:
        print("\n".join(_card_text(card)))
    return EXIT_OK


# ---------------------------------------------------------------- parser


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="mlnews", description="News headline categorisation.")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    data = sub.add_parser("data", help="inspect data files")
    data_sub = data.add_subparsers(dest="data_command", metavar="ACTION")
    data_sub.required = True
    insp = data_sub.add_parser("inspect", help="counts per category, duplicates, invalid lines, date range")
    insp.add_argument("paths", nargs="+", metavar="PATH")
    insp.add_argument("--skip-invalid", action="store_true", help="invalid lines are not an error")
    insp.add_argument("--json", action="store_true", help="print one JSON object")
    insp.set_defaults(func=cmd_data_inspect)

    train = sub.add_parser("train", help="train a model directory")
    train.add_argument("--data", action="append", required=True, metavar="PATH",
                       help="JSON-lines/CSV file or directory (repeatable)")
    train.add_argument("--out", required=True, metavar="DIR")
    train.add_argument("--text-fields", default="headline,short_description",
                       help="comma-separated: headline,short_description,authors")
    train.add_argument("--hyperparameters", metavar="JSON", help="JSON object (or a file holding one)")
    train.add_argument("--skip-invalid", action="store_true", help="skip invalid lines instead of failing")
    train.set_defaults(func=cmd_train)

    ev = sub.add_parser("evaluate", help="accuracy, macro-F1, per-class P/R/F1, top-3, calibration error")
    ev.add_argument("--model", required=True, metavar="DIR")
    ev.add_argument("--data", action="append", required=True, metavar="PATH")
    ev.add_argument("--json", action="store_true", help="print one JSON object")
    ev.add_argument("--headline-only", action="store_true", help="evaluate on headlines alone")
    ev.add_argument("--skip-invalid", action="store_true")
    ev.set_defaults(func=cmd_evaluate)

    pr = sub.add_parser("predict", help="categorise headlines")
    pr.add_argument("--model", required=True, metavar="DIR")
    pr.add_argument("headlines", nargs="*", metavar="HEADLINE")
    pr.add_argument("--input", metavar="FILE.jsonl", help="one JSON object with 'headline' per line")
    pr.add_argument("--output", metavar="FILE.jsonl", help="write predictions here (default: stdout)")
    pr.add_argument("--top-k", type=int, default=3)
    pr.add_argument("--json", action="store_true", help="JSON lines output for headline arguments")
    pr.set_defaults(func=cmd_predict)

    card = sub.add_parser("card", help="a model's card: data, golden-set figures, pictures, cost, the gate")
    card.add_argument("target", metavar="VERSION|MODEL_DIR",
                      help="a registered version (read through the API) or a model directory")
    card.add_argument("--html", metavar="PATH", help="write the card as one HTML page with its pictures")
    card.add_argument("--json", action="store_true", help="print the card as one JSON object")
    card.add_argument("--golden", action="append", metavar="PATH",
                      help="model directory: score it on these records (JSON lines/CSV; repeatable)")
    card.add_argument("--save", action="store_true",
                      help="model directory: keep the card in MODEL_DIR/card/ (registration stores it)")
    card.add_argument("--api", default=os.environ.get("MLNEWS_API_URL", "http://127.0.0.1:3000"),
                      metavar="URL", help="VERSION: the API (default $MLNEWS_API_URL, else local mode's)")
    card.add_argument("--region", help="VERSION: region for SigV4 (default: the URL's, else AWS_REGION)")
    card.set_defaults(func=cmd_card)

    from cli import smoke

    smoke.add_parser(sub)

    from cost import report as cost_report

    cost = sub.add_parser(
        "cost",
        parents=[cost_report.parser()],
        add_help=False,
        help="monthly cost of the stack at 1k-1M predictions/day, from dated prices and measured figures",
    )
    cost.set_defaults(func=cost_report.run)

    from local import cli as local_cli

    local_cli.add_local_parser(sub)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return int(args.func(args) or EXIT_OK)
    except KeyboardInterrupt:
        print("mlnews: interrupted", file=sys.stderr)
        return 130
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return EXIT_OK
    except Exception as exc:  # noqa: BLE001 - the one place that turns errors into messages
        if isinstance(exc, MlNewsError):
            print(f"mlnews: error: {exc}", file=sys.stderr)
            return EXIT_USAGE
        if isinstance(exc, OSError):
            print(f"mlnews: error: {exc.strerror or exc}: {exc.filename or ''}".rstrip(": "), file=sys.stderr)
            return EXIT_USAGE
        print(f"mlnews: internal error: {type(exc).__name__}: {exc}", file=sys.stderr)
        return EXIT_PROBLEM


if __name__ == "__main__":
    sys.exit(main())
