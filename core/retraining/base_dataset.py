"""The base dataset in the data bucket (what every retraining starts from) and the line format of the files
cut from it: the training channel and the golden holdout."""

from __future__ import annotations

import tempfile
from pathlib import Path

from botocore.exceptions import ClientError

from core import aws_clients
from core.errors import NotFound
from core.settings import Settings

LINE_FIELDS = ("headline", "category", "short_description", "authors")


def record_line(record) -> dict:
    """A record (NewsRecord or dict) as one line of the training channel or the golden holdout."""
    data = record.model_dump() if hasattr(record, "model_dump") else dict(record)
    return {key: data.get(key) or "" for key in LINE_FIELDS}


def load_base_dataset(settings: Settings):
    """The base dataset's valid records and the S3 version (or ETag) they were read from."""
    from core.data.dataset import load_records

    s3 = aws_clients.client("s3")
    suffix = Path(settings.base_dataset_key).suffix or ".jsonl"
    try:
        head = s3.head_object(Bucket=settings.data_bucket, Key=settings.base_dataset_key)
    except ClientError as error:
        raise NotFound(
            f"base dataset s3://{settings.data_bucket}/{settings.base_dataset_key} is missing; "
            "upload it before training"
        ) from error
    with tempfile.TemporaryDirectory(prefix="mlnews-base-") as tmp:
        target = Path(tmp) / f"base{suffix}"
        s3.download_file(settings.data_bucket, settings.base_dataset_key, str(target))
        records = load_records([target], skip_invalid=True)
    return records, head.get("VersionId") or head.get("ETag", "").strip('"')
