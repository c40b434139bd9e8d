"""SageMaker script-mode entry point (also runs locally with plain paths).

Reads every *.jsonl/*.json/*.csv file in the train channel, trains with core.fitting.training and writes
the model directory (manifest.json, pipeline.joblib, bundle/, metrics.json) to SM_MODEL_DIR, metrics.json to
SM_OUTPUT_DATA_DIR, and prints `validation:<metric>=<value>` lines for SageMaker metric definitions. Then the
model card goes into the model directory's card/ (docs/model-card.md): with the golden channel (the golden
holdout PrepareData cut, never trained on) the golden-set figures and their pictures (matplotlib, shipped as
wheels), and the serving latency measured on its headlines.

In a training job the sagemaker-training toolkit runs `python train.py --key value ...` (one pair per
hyperparameter) from the code dir, with SM_HPS holding the same hyperparameters as JSON: they are read from
SM_HPS, else from <SM_INPUT_CONFIG_DIR, default /opt/ml/input/config>/hyperparameters.json, and the
`--key value` arguments are ignored. By hand:

    python training/train.py --train DIR --model-dir DIR --output-data-dir DIR --hyperparameters '{"C": 4}' \
        [--golden FILE_OR_DIR]

Needs only core/ and training/ on the path (the SageMaker source dir).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import platform
import sys
from pathlib import Path

if __package__ in (None, "") and not (Path(__file__).resolve().parent / "core").is_dir():
    # training/train.py of the repository: `core` is one level up (in a source dir it is beside this file)
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from core.data.dataset import SUPPORTED_SUFFIXES, DatasetError, load_records  # noqa: E402
from core.fitting import hyperparameters  # noqa: E402
from core.fitting.hyperparameters import Hyperparameters, TrainingError  # noqa: E402
from core.fitting.training import train_to_dir  # noqa: E402

CONFIG_DIR = "/opt/ml/input/config"  # the toolkit's input_config_dir when SM_INPUT_CONFIG_DIR is not set
# Entry-point options that travel with the hyperparameters: text_fields ("headline,short_description"),
# skip_invalid (bool), model_version (label written into bundle.json). Everything else goes to
# core.fitting.training.
METRIC_KEYS = ("accuracy", "macro_f1", "top3_accuracy", "ece", "headline_only_accuracy", "training_seconds")

log = logging.getLogger("training.train")


def _without_toolkit_keys(values: dict) -> dict:
    """The script's hyperparameters: the toolkit's own `sagemaker_*` keys are not for it."""
    return {key: value for key, value in values.items() if not key.startswith("sagemaker_")}


def decode_hyperparameters(raw: dict) -> dict:
    """A job's hyperparameter strings decoded as the toolkit decodes them, without the toolkit's own keys."""
    return _without_toolkit_keys(hyperparameters.decode_hyperparameters(raw))


def data_files(channel: Path) -> list[Path]:
    if channel.is_file():
        return [channel]
    if not channel.is_dir():
        raise DatasetError(f"{channel}: training channel does not exist")
    files = sorted(p for p in channel.rglob("*") if p.is_file() and p.suffix.lower() in SUPPORTED_SUFFIXES)
    if not files:
        raise DatasetError(f"{channel}: no .jsonl, .json or .csv files in the training channel")
    return files


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    env = os.environ
    # allow_abbrev=False: a hyperparameter's `--hyper x` must not be taken for --hyperparameters
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0], allow_abbrev=False)
    parser.add_argument("--train", default=env.get("SM_CHANNEL_TRAIN", "/opt/ml/input/data/train"))
    parser.add_argument("--model-dir", default=env.get("SM_MODEL_DIR", "/opt/ml/model"))
    parser.add_argument("--output-data-dir", default=env.get("SM_OUTPUT_DATA_DIR", "/opt/ml/output/data"))
    parser.add_argument("--golden", default=env.get("SM_CHANNEL_GOLDEN"),
                        help="golden holdout for the model card (default: the job's golden channel, if any)")
    parser.add_argument("--hyperparameters", default=None,
                        help="JSON object; default: $SM_HPS, else the job's hyperparameters.json")
    # The toolkit also passes each hyperparameter as --key value: accepted and ignored (SM_HPS has them)
    args, _unknown = parser.parse_known_args(argv)
    return args


def _json_object(text: str, source: str) -> dict:
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise TrainingError(f"{source} is not valid JSON ({exc.msg})") from None
    if not isinstance(raw, dict):
        raise TrainingError(f"{source}: hyperparameters must be a JSON object")
    return raw


def load_hyperparameters(text: str | None) -> dict:
    """--hyperparameters (JSON, values possibly JSON-encoded strings), else SM_HPS (the toolkit's, already
    decoded), else hyperparameters.json (CreateTrainingJob's JSON strings), else none."""
    if text is not None:
        return decode_hyperparameters(_json_object(text, "--hyperparameters"))
    if "SM_HPS" in os.environ:
        return _without_toolkit_keys(_json_object(os.environ["SM_HPS"], "SM_HPS"))
    path = Path(os.environ.get("SM_INPUT_CONFIG_DIR", CONFIG_DIR)) / "hyperparameters.json"
    if path.is_file():
        return decode_hyperparameters(_json_object(path.read_text(encoding="utf-8"), str(path)))
    return {}


def runtime_line() -> str:
    """The interpreter and library versions this run uses (local mode's tests read it from the job's log)."""
    import numpy
    import pydantic
    import scipy
    import sklearn

    return (f"runtime: Python {platform.python_version()} ({sys.executable}); "
            f"scikit-learn {sklearn.__version__}, numpy {numpy.__version__}, scipy {scipy.__version__}, "
            f"pydantic {pydantic.VERSION}")


def read_golden_channel(channel: str | None) -> list[dict]:
    """The golden records as the Evaluate step reads them (JSON objects, one a line), so both find the same
    data fingerprint."""
    from core.data.jsonl import read_jsonl

    if not channel:
        return []
    return [record for path in data_files(Path(channel)) for _, record in read_jsonl(path)]


def write_card(model_dir: Path, golden: list[dict]) -> Path:
    """The model card of the trained directory, with its pictures, in <model dir>/card/."""
    from core.cards.build import card_for_model_dir
    from core.cards.files import CARD_DIR, write_card_dir
    from core.plotting.card_plots import draw

    instance = os.environ.get("SM_CURRENT_INSTANCE_TYPE") or "no instance type given"
    where = f"the training job ({instance}, Python {platform.python_version()}, {platform.machine()})"
    card = card_for_model_dir(
        model_dir,
        source="training",
        golden_records=golden,
        scored_by="the training job (its copy of the golden set)",
        measured_in=where,
    )
    card, images = draw(card, made_by="the training job")
    return write_card_dir(model_dir / CARD_DIR, card, images)


def run(args: argparse.Namespace) -> dict:
    log.info("%s", runtime_line())
    hyperparameters = load_hyperparameters(args.hyperparameters)
    text_fields = hyperparameters.pop("text_fields", "headline,short_description")
    if isinstance(text_fields, str):
        text_fields = [f.strip() for f in text_fields.split(",") if f.strip()]
    skip_invalid = bool(hyperparameters.pop("skip_invalid", False))
    version = hyperparameters.pop("model_version", None)
    hp = Hyperparameters.parse(hyperparameters)  # fail before reading the data
    stats: dict = {}
    records = load_records(data_files(Path(args.train)), skip_invalid=skip_invalid, stats=stats)
    log.info("loaded %d records (%d invalid lines skipped)", len(records), stats.get("invalid", 0))
    manifest = train_to_dir(records, args.model_dir, hyperparameters=hp, text_fields=text_fields,
                            version=None if version is None else str(version))
    metrics = manifest["metrics"]
    out = Path(args.output_data_dir)
    out.mkdir(parents=True, exist_ok=True)
    (out / "metrics.json").write_text(json.dumps(metrics, indent=2, sort_keys=True) + "\n")
    for key in METRIC_KEYS:
        if key in metrics:
            print(f"validation:{key}={metrics[key]:.6f}", flush=True)
    print(f"model:version={manifest['version']}", flush=True)
    golden = read_golden_channel(args.golden)
    card = write_card(Path(args.model_dir), golden)
    log.info("model card %s (%d golden records)", card, len(golden))
    return manifest


def main(argv: list[str] | None = None) -> int:
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    try:
        run(parse_args(argv))
    except (DatasetError, TrainingError) as exc:
        print(f"training failed: {exc}", file=sys.stderr)
        output_dir = os.environ.get("SM_OUTPUT_DIR")
        if output_dir:
            try:
                # SageMaker shows this file as the job's FailureReason
                (Path(output_dir) / "failure").write_text(str(exc))
            except OSError:
                pass
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
