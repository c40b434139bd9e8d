"""The PrepareData step: base dataset + verified feedback -> training channel, golden holdout, source dir."""

from __future__ import annotations

import json
import logging
import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import InvalidInput, NotFound
from core.feedback import counters, history
from core.retraining.executions import training_job_name
from core.retraining.sourcedir import build_sourcedir
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def write_jsonl(records) -> bytes:
    return "".join(json.dumps(record, ensure_ascii=False) + "\n" for record in records).encode("utf-8")


def record_dict(record) -> dict:
    data = record.model_dump() if hasattr(record, "model_dump") else dict(record)
    return {key: data.get(key) or "" for key in ("headline", "category", "short_description", "authors")}


def load_base_dataset(settings: Settings, tmp: Path):
    from core.data.dataset import load_records

    s3 = aws_clients.client("s3")
    suffix = Path(settings.base_dataset_key).suffix or ".jsonl"
    target = tmp / f"base{suffix}"
    try:
        head = s3.head_object(Bucket=settings.data_bucket, Key=settings.base_dataset_key)
    except ClientError as error:
        raise NotFound(
            f"base dataset s3://{settings.data_bucket}/{settings.base_dataset_key} is missing; "
            "upload it before training"
        ) from error
    s3.download_file(settings.data_bucket, settings.base_dataset_key, str(target))
    return load_records([target], skip_invalid=True), head.get("VersionId") or head.get("ETag", "").strip('"')


def prepare_data(event: dict, settings: Settings | None = None) -> dict:
    from core.data.dataset import NewsRecord
    from core.data.splits import golden_split, is_golden

    settings = settings or get_settings()
    settings.require("data_bucket", "artifacts_bucket")
    execution_name = event["execution_name"]
    s3 = aws_clients.client("s3")
    with tempfile.TemporaryDirectory(prefix="mlnews-prepare-") as tmp:
        records, dataset_version = load_base_dataset(settings, Path(tmp))
    train, golden = golden_split(records, settings.golden_fraction)
    known = {record.category for record in records}
    feedback_train, feedback_golden, feedback_unknown = [], 0, 0
    if event.get("include_feedback", True):
        for item in history.iter_all_feedback(settings):
            if item["category"] not in known:
                feedback_unknown += 1
            elif is_golden(item, settings.golden_fraction):
                feedback_golden += 1  # evaluated later, never trained on
            else:
                feedback_train.append(
                    NewsRecord(
                        **{k: item[k] for k in ("headline", "category", "short_description", "authors")}
                    )
                )
    train = list(train) + feedback_train
    if not train or not golden:
        raise InvalidInput(
            f"not enough data to train: {len(train)} training and {len(golden)} golden records"
        )
    prefix = f"runs/{execution_name}"
    s3.put_object(
        Bucket=settings.data_bucket,
        Key=f"{prefix}/train/train.jsonl",
        Body=write_jsonl(record_dict(record) for record in train),
    )
    golden_body = write_jsonl(record_dict(record) for record in golden)
    s3.put_object(Bucket=settings.data_bucket, Key=f"{prefix}/golden/golden.jsonl", Body=golden_body)
    s3.put_object(Bucket=settings.data_bucket, Key=settings.golden_key, Body=golden_body)
    sourcedir, digest = build_sourcedir()
    code_key = f"code/sourcedir-{digest[:16]}.tar.gz"
    try:  # content-addressed: the same deployed code is uploaded once
        s3.head_object(Bucket=settings.data_bucket, Key=code_key)
    except ClientError:
        s3.put_object(Bucket=settings.data_bucket, Key=code_key, Body=sourcedir)
    job_name = training_job_name(settings, execution_name)
    user_hps = event.get("hyperparameters") or {}
    hyperparameters = {key: json.dumps(value) for key, value in user_hps.items()}
    hyperparameters.update(
        {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{settings.data_bucket}/{code_key}"),
            "sagemaker_region": json.dumps(aws_clients.region()),
            "sagemaker_container_log_level": "20",
        }
    )
    categories: dict[str, int] = {}
    for record in train:
        categories[record.category] = categories.get(record.category, 0) + 1
    totals = counters.feedback_stats(None, settings) if settings.stats_table else {"total": 0}
    return {
        "training_job_name": job_name,
        "train_uri": f"s3://{settings.data_bucket}/{prefix}/train/",
        "golden_uri": f"s3://{settings.data_bucket}/{prefix}/golden/golden.jsonl",
        "sourcedir_uri": f"s3://{settings.data_bucket}/{code_key}",
        "code_sha256": digest,
        "hyperparameters": hyperparameters,
        "max_runtime_seconds": settings.training_max_runtime_seconds,
        "max_wait_seconds": settings.training_max_wait_seconds,
        "data_summary": {
            "base_dataset": f"s3://{settings.data_bucket}/{settings.base_dataset_key}",
            "base_dataset_version": dataset_version,
            "n_train": len(train),
            "n_golden": len(golden),
            "n_feedback_train": len(feedback_train),
            "n_feedback_golden": feedback_golden,
            "n_feedback_unknown_category": feedback_unknown,
            "feedback_total": int(totals["total"]),
            "categories": dict(sorted(categories.items())),
        },
    }
