"""`mlnews local up | tick | demo` (registered by cli/main.py through add_local_parser)."""

from __future__ import annotations

import argparse
import json
import signal
import sys
import threading
import urllib.error
import urllib.request
from pathlib import Path

DEFAULT_PORT = 3000


def add_local_parser(subparsers) -> argparse.ArgumentParser:
    local = subparsers.add_parser("local", help="run the whole pipeline on this machine (no Docker, no AWS)")
    commands = local.add_subparsers(dest="local_command", metavar="COMMAND", required=True)

    up = commands.add_parser("up", help="start local mode and serve the API until Ctrl-C")
    up.add_argument("--port", type=int, default=DEFAULT_PORT, help="HTTP API port (default 3000)")
    up.add_argument("--state-dir", type=Path, help="keep data (S3, DynamoDB, secrets) here between runs")
    up.add_argument("--no-bootstrap", action="store_true", help="do not train a first model when none exists")
    up.add_argument("--data", help="dataset (News Category JSON lines) for the first model; also $DATA")
    up.add_argument("--download", action="store_true", help="download the real dataset with kagglehub")
    up.add_argument("--sample", type=int, default=None, help="use at most N records of the dataset")
    up.add_argument(
        "--tick-seconds",
        type=float,
        default=600,
        help="fire the template's schedules every N seconds (0 = only on `mlnews local tick`)",
    )
    up.add_argument(
        "--echo-logs", action="store_true", help="print function logs here instead of the logs dir"
    )
    up.set_defaults(func=cmd_up)

    tick = commands.add_parser("tick", help="fire the schedules of a running `mlnews local up` now")
    tick.add_argument("--port", type=int, default=DEFAULT_PORT)
    tick.set_defaults(func=cmd_tick)

    demo = commands.add_parser("demo", help="run the end-to-end demo story against a fresh local mode")
    demo.add_argument("--data", help="dataset (JSON lines); default: ../shared/data sample, else demo corpus")
    demo.add_argument("--download", action="store_true", help="download the real dataset with kagglehub")
    demo.add_argument(
        "--sample", type=int, default=None, help="older records v1 trains on (default 6000; 0 = all)"
    )
    demo.add_argument("--port", type=int, default=0, help="HTTP API port (default: any free port)")
    demo.add_argument(
        "--keep-running",
        action="store_true",
        help="after the story, keep local mode up (operator page, cards) until Ctrl-C",
    )
    demo.set_defaults(func=cmd_demo)
    return local


def _fail(message: str) -> int:
    print(f"mlnews: error: {message}", file=sys.stderr)
    return 2


def cmd_up(args) -> int:
    from core.data.jsonl import DatasetError
    from local import bootstrap
    from local.session import LocalConfig, LocalSession

    try:
        dataset = bootstrap.choose_dataset(args.data, args.download)
    except DatasetError as error:
        return _fail(str(error))
    config = LocalConfig(
        port=args.port, state_dir=args.state_dir, tick_seconds=args.tick_seconds, echo_logs=args.echo_logs
    )
    if args.state_dir is not None:
        args.state_dir.mkdir(parents=True, exist_ok=True)
    session = LocalSession(config)
    stop = threading.Event()
    for signum in (signal.SIGINT, signal.SIGTERM):
        signal.signal(signum, lambda *_: stop.set())
    try:
        session.start()
    except OSError as error:
        return _fail(f"cannot start local mode: {error} (is port {args.port} in use? try --port)")
    try:
        if session.restored.get("objects") or session.restored.get("items"):
            print(f"restored from {args.state_dir}: {json.dumps(session.restored)}")
        if not args.no_bootstrap:
            if not dataset.meaningful:
                print("NOTICE: using the invented demo corpus; accuracy on it means nothing (--data PATH).")
            bootstrap.bootstrap(session, dataset, sample=args.sample)
        _print_where(session.describe())
        print("\nlocal mode is up; Ctrl-C to stop.", flush=True)
        stop.wait()
    finally:
        print("\nstopping local mode ...", flush=True)
        counts = session.stop()
        if args.state_dir is not None:
            print(f"state saved to {args.state_dir}: {json.dumps(counts)}")
    return 0


def _print_where(info: dict) -> None:
    print(f"\nAPI          {info['api_url']}")
    print(f"Operator     {info['operator_url']}   (the operator page)")
    print(f"API docs     {info['docs_url']}   OpenAPI {info['openapi_url']}")
    print(
        f"AWS endpoint {info['aws_endpoint_url']}  (AWS_ENDPOINT_URL=... AWS_ACCESS_KEY_ID=local "
        f"AWS_SECRET_ACCESS_KEY=local AWS_DEFAULT_REGION={info['region']})"
    )
    for title, key in (
        ("buckets", "buckets"),
        ("tables", "tables"),
        ("queues", "queues"),
        ("state machines", "state_machines"),
        ("secrets", "secrets"),
    ):
        for logical_id, physical in info[key].items():
            print(f"{title:<12} {logical_id:<28} {physical}")
    for route in info["routes"]:
        print(f"route        {route}")
    for schedule in info["schedules"]:
        clock = f"every {info['tick_seconds']}s" if info["tick_seconds"] else "only on `mlnews local tick`"
        print(f"schedule     {schedule}  (local clock: {clock})")
    if info.get("not_emulated"):
        skipped = ", ".join(f"{kind} x{count}" for kind, count in sorted(info["not_emulated"].items()))
        print(f"not emulated {skipped} (accepted by the template, inert locally)")
    print(f"function logs {info['logs_dir']}")
    print(f"state dir    {info['state_dir'] or '(ephemeral)'}")


def cmd_tick(args) -> int:
    request = urllib.request.Request(
        f"http://127.0.0.1:{args.port}/_local/tick",
        data=b"{}",
        method="POST",
        headers={"Content-Type": "application/json"},
    )
    try:
        with urllib.request.urlopen(request, timeout=300) as response:
            fired = json.loads(response.read())["fired"]
    except urllib.error.HTTPError as error:
        return _fail(f"tick failed: HTTP {error.code} {error.read().decode('utf-8', 'replace')[:300]}")
    except (urllib.error.URLError, OSError) as error:
        return _fail(f"no local mode on port {args.port} ({error}); start it with `mlnews local up`")
    for entry in fired:
        print(
            f"{entry['schedule']} -> {entry['target']}: {'ok' if entry['ok'] else 'FAILED'} "
            f"{json.dumps(entry.get('result', entry.get('execution_arn')))[:300]}"
        )
    if not fired:
        print("the template has no enabled schedules")
    return 0 if all(entry["ok"] for entry in fired) else 1


def cmd_demo(args) -> int:
    from local.demo import DEFAULT_SAMPLE, DemoOptions, run_demo

    sample = DEFAULT_SAMPLE if args.sample is None else args.sample
    result = run_demo(
        DemoOptions(
            data=args.data,
            download=args.download,
            sample=sample or None,
            port=args.port,
            keep_running=args.keep_running,
        )
    )
    if not result.ok:
        print(f"\nmlnews: demo FAILED after {result.seconds:.1f}s: {result.error}", file=sys.stderr)
        return 1
    print(f"\ndemo OK in {result.seconds:.1f}s")
    return 0
