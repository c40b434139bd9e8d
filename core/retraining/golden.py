"""The golden sets every model is scored on: the golden holdout of the base dataset (never trained on), kept
as a copy in the data bucket, and the recent verified feedback that falls in the golden split."""

from __future__ import annotations

from botocore.exceptions import ClientError

from core import aws_clients
from core.data.jsonl import dumps_jsonl, parse_jsonl
from core.feedback import history
from core.registry.artifacts import split_s3_uri
from core.retraining.base_dataset import load_base_dataset, record_line
from core.settings import Settings


def read_golden(uri: str) -> list[dict]:
    """A golden holdout file (JSON lines) from S3."""
    bucket, key = split_s3_uri(uri)
    return parse_jsonl(aws_clients.client("s3").get_object(Bucket=bucket, Key=key)["Body"].read(), uri)


def store_golden_copy(body: bytes, settings: Settings) -> None:
    """The copy asynchronous evaluations read: the holdout of the latest PrepareData."""
    aws_clients.client("s3").put_object(Bucket=settings.data_bucket, Key=settings.golden_key, Body=body)


def golden_records(settings: Settings) -> list[dict]:
    """The golden holdout: the copy PrepareData maintains, else derived from the base dataset (and kept)."""
    from core.data.splits import golden_split

    try:
        return read_golden(f"s3://{settings.data_bucket}/{settings.golden_key}")
    except ClientError:
        pass
    records, _ = load_base_dataset(settings)
    _, golden = golden_split(records, settings.golden_fraction)
    lines = [record_line(record) for record in golden]
    store_golden_copy(dumps_jsonl(lines), settings)
    return lines


def golden_feedback(settings: Settings, days: int | None = None) -> list[dict]:
    """Verified feedback of the last `days` (default: the setting) whose headline is in the golden split."""
    from core.data.splits import is_golden

    recent = history.recent_feedback(days or settings.feedback_eval_days, settings)
    return [item for item in recent if is_golden(item, settings.golden_fraction)]
