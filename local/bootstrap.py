"""First start: load a dataset into the data bucket and, when the registry is empty, train and promote a
first model through the state machine (the same POST /api/v1/model/train an operator would call)."""

from __future__ import annotations

import json
import os
import random
from dataclasses import dataclass
from pathlib import Path

from core.data.jsonl import DatasetError, dumps_jsonl, read_jsonl
from core.data.shared_data import V3_SAMPLE_FILE, shared_data_dir
from core.errors import MlNewsError
from local.api_client import ApiClient
from local.template import REPO_ROOT

DEMO_CORPUS = REPO_ROOT / "local" / "demo_data" / "news_demo.jsonl"
SHARED_SAMPLE = shared_data_dir() / V3_SAMPLE_FILE
KAGGLE_DATASET = "rmisra/news-category-dataset"


class BootstrapError(MlNewsError, RuntimeError):
    """The first model could not be trained (message has the execution's outcome or error)."""

    code = "bootstrap_failed"


@dataclass
class DatasetChoice:
    path: Path
    source: str  # "user", "shared-sample", "download", "demo-corpus"
    meaningful: bool  # False for the invented demo corpus: accuracy on it means nothing


def choose_dataset(data: str | None = None, download: bool = False) -> DatasetChoice:
    """--data / $DATA first, then ../shared/data's sample, then a download if asked, else the demo corpus."""
    data = data or os.environ.get("DATA") or None
    if data:
        path = Path(data).expanduser()
        if not path.is_file():
            raise DatasetError(f"dataset {path} does not exist")
        return DatasetChoice(path, "user", True)
    if SHARED_SAMPLE.is_file():
        return DatasetChoice(SHARED_SAMPLE, "shared-sample", True)
    if download:
        return DatasetChoice(_download(), "download", True)
    return DatasetChoice(DEMO_CORPUS, "demo-corpus", False)


def _download() -> Path:
    try:
        import kagglehub  # optional; not a dependency of this project
    except ImportError as error:
        raise DatasetError(
            "--download needs kagglehub (pip install kagglehub) and Kaggle credentials; "
            "or download the News Category Dataset yourself and pass --data PATH"
        ) from error
    folder = Path(kagglehub.dataset_download(KAGGLE_DATASET))
    files = sorted(folder.glob("*.json")) + sorted(folder.glob("*.jsonl"))
    if not files:
        raise DatasetError(f"no JSON-lines file in the download at {folder}")
    return files[0]


def read_records(path: Path) -> list[dict]:
    """The dataset's records as they are (uploaded unchanged), each checked to have headline and category."""
    records = []
    for number, record in read_jsonl(path):
        if not isinstance(record, dict) or not record.get("headline") or not record.get("category"):
            raise DatasetError(f"{path}:{number}: a record needs 'headline' and 'category'")
        records.append(record)
    if not records:
        raise DatasetError(f"{path} holds no records")
    return records


def subsample(records: list[dict], size: int | None, seed: int = 0) -> list[dict]:
    """At most `size` records, every category kept (stratified, deterministic)."""
    if not size or size >= len(records):
        return records
    by_category: dict[str, list[dict]] = {}
    for record in records:
        by_category.setdefault(record["category"], []).append(record)
    rng = random.Random(seed)
    chosen = []
    for category in sorted(by_category):
        group = by_category[category]
        take = max(1, round(size * len(group) / len(records)))
        chosen += rng.sample(group, min(take, len(group)))
    return sorted(chosen, key=lambda r: r.get("date", ""), reverse=True)


def dataset_location(session) -> tuple[str, str]:
    """(bucket, key) where the template's functions read the base dataset."""
    for logical_id in session.deployment.functions:
        env = session.deployment.function_environment(logical_id)
        if env.get("DATA_BUCKET") and env.get("BASE_DATASET_KEY"):
            return env["DATA_BUCKET"], env["BASE_DATASET_KEY"]
    for logical_id in session.deployment.functions:
        env = session.deployment.function_environment(logical_id)
        if env.get("DATA_BUCKET"):
            return env["DATA_BUCKET"], session.deployment.parameters.get(
                "BaseDatasetKey", "datasets/base.jsonl"
            )
    raise DatasetError("no function of the template has DATA_BUCKET")


def upload_dataset(session, records: list[dict]) -> str:
    bucket, key = dataset_location(session)
    session.emulator.client("s3").put_object(Bucket=bucket, Key=key, Body=dumps_jsonl(records))
    return f"s3://{bucket}/{key}"


def has_dataset(session) -> bool:
    bucket, key = dataset_location(session)
    try:
        session.emulator.client("s3").head_object(Bucket=bucket, Key=key)
        return True
    except Exception:
        return False


def active_version(session) -> str | None:
    """The registry's active version (None when nothing was ever promoted)."""
    tables = [
        env["MODELS_TABLE"]
        for logical_id in session.deployment.functions
        if (env := session.deployment.function_environment(logical_id)).get("MODELS_TABLE")
    ]
    if not tables:
        return None
    item = session.emulator.client("dynamodb").get_item(TableName=tables[0], Key={"version": {"S": "ACTIVE"}})
    return (item.get("Item") or {}).get("active_version", {}).get("S")


def bootstrap(
    session, dataset: DatasetChoice, sample: int | None = None, say=print, timeout: float = 900
) -> dict:
    """Load the dataset if the bucket has none; train + promote a first model if the registry is empty."""
    result: dict = {"dataset": None, "training": None}
    if not has_dataset(session):
        records = subsample(read_records(dataset.path), sample)
        result["dataset"] = {
            "uri": upload_dataset(session, records),
            "records": len(records),
            "source": dataset.source,
        }
        say(f"dataset: {len(records)} records from {dataset.path} -> {result['dataset']['uri']}")
    if active_version(session) is not None:
        say(f"registry: active model {active_version(session)}; no bootstrap training needed")
        return result
    api = ApiClient(session.front.base_url, correlation_prefix="bootstrap")
    job = api.call("POST", "/api/v1/model/train", {"include_feedback": False}).body
    say(f"registry empty: training a first model (retraining job {job['job_id']})")
    status = api.wait_training(
        job["job_id"], timeout=timeout, on_step=lambda step, _: step and say(f"  step: {step}")
    )
    result["training"] = status
    if status["status"] != "SUCCEEDED":
        detail = status.get("outcome") or status.get("error")
        raise BootstrapError(f"bootstrap training {status['status']}: {json.dumps(detail)[:1200]}")
    say(f"first model: {json.dumps(status.get('outcome'))[:300]}")
    return result
