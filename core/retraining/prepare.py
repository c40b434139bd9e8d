"""The PrepareData step: base dataset + verified feedback -> training channel, golden holdout, source dir."""

from __future__ import annotations

import json
import logging
from collections import Counter

from botocore.exceptions import ClientError
from pydantic import JsonValue

from core import aws_clients
from core.data.jsonl import dumps_jsonl
from core.errors import InvalidInput
from core.feedback import counters, history
from core.retraining.base_dataset import LINE_FIELDS, load_base_dataset, record_line
from core.retraining.executions import training_job_name
from core.retraining.golden import store_golden_copy
from core.retraining.sourcedir import build_sourcedir
from core.retraining.steps import DataSummary, PreparedData
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def prepare_data(
    execution_name: str,
    *,
    include_feedback: bool,
    hyperparameters: dict[str, JsonValue],
    settings: Settings | None = None,
) -> PreparedData:
    """Write the execution's training channel and golden holdout, upload the training code, and return what
    the training job is created from."""
    from core.data.dataset import NewsRecord
    from core.data.splits import golden_split, is_golden

    settings = settings or get_settings()
    settings.require("data_bucket", "artifacts_bucket")
    s3 = aws_clients.client("s3")
    records, dataset_version = load_base_dataset(settings)
    train, golden = golden_split(records, settings.golden_fraction)
    known = {record.category for record in records}
    feedback_train, feedback_golden, feedback_unknown = [], 0, 0
    if include_feedback:
        for item in history.iter_all_feedback(settings):
            if item["category"] not in known:
                feedback_unknown += 1
            elif is_golden(item, settings.golden_fraction):
                feedback_golden += 1  # evaluated later, never trained on
            else:
                feedback_train.append(NewsRecord(**{key: item[key] for key in LINE_FIELDS}))
    train = list(train) + feedback_train
    if not train or not golden:
        raise InvalidInput(
            f"not enough data to train: {len(train)} training and {len(golden)} golden records"
        )
    prefix = f"runs/{execution_name}"
    s3.put_object(
        Bucket=settings.data_bucket,
        Key=f"{prefix}/train/train.jsonl",
        Body=dumps_jsonl(record_line(record) for record in train),
    )
    golden_body = dumps_jsonl(record_line(record) for record in golden)
    s3.put_object(Bucket=settings.data_bucket, Key=f"{prefix}/golden/golden.jsonl", Body=golden_body)
    store_golden_copy(golden_body, settings)
    sourcedir, digest = build_sourcedir()
    code_key = f"code/sourcedir-{digest[:16]}.tar.gz"
    try:  # content-addressed: the same deployed code is uploaded once
        s3.head_object(Bucket=settings.data_bucket, Key=code_key)
    except ClientError:
        s3.put_object(Bucket=settings.data_bucket, Key=code_key, Body=sourcedir)
    job_name = training_job_name(settings, execution_name)
    # SageMaker's convention: every hyperparameter a JSON-encoded string, the toolkit's own included.
    job_hyperparameters = {key: json.dumps(value) for key, value in hyperparameters.items()}
    job_hyperparameters.update(
        {
            "sagemaker_program": json.dumps("train.py"),
            "sagemaker_submit_directory": json.dumps(f"s3://{settings.data_bucket}/{code_key}"),
            "sagemaker_region": json.dumps(aws_clients.region()),
            "sagemaker_container_log_level": "20",
        }
    )
    categories = Counter(record.category for record in train)
    totals = counters.feedback_stats(None, settings) if settings.stats_table else {"total": 0}
    return PreparedData(
        training_job_name=job_name,
        train_uri=f"s3://{settings.data_bucket}/{prefix}/train/",
        golden_uri=f"s3://{settings.data_bucket}/{prefix}/golden/golden.jsonl",
        sourcedir_uri=f"s3://{settings.data_bucket}/{code_key}",
        code_sha256=digest,
        hyperparameters=job_hyperparameters,
        max_runtime_seconds=settings.training_max_runtime_seconds,
        max_wait_seconds=settings.training_max_wait_seconds,
        data_summary=DataSummary(
            base_dataset=f"s3://{settings.data_bucket}/{settings.base_dataset_key}",
            base_dataset_version=dataset_version,
            n_train=len(train),
            n_golden=len(golden),
            n_feedback_train=len(feedback_train),
            n_feedback_golden=feedback_golden,
            n_feedback_unknown_category=feedback_unknown,
            feedback_total=int(totals["total"]),
            categories=dict(sorted(categories.items())),
        ),
    )
