"""Keeping local mode's data between runs (`--state-dir`).

moto keeps everything in memory. On shutdown the data that matters is written to the state directory, keyed
by the template's logical ids (physical names change between runs): S3 objects of the template's buckets,
DynamoDB items of its tables, and Secrets Manager secret values (so prediction ids issued before a restart
still verify). It is loaded back right after the next deployment. Queue contents, execution histories,
training job records and logs are not kept.
"""

from __future__ import annotations

import base64
import json
import shutil
from pathlib import Path

from local.deployment import Deployment

_FORMAT = 1


def snapshot(emulator, deployment: Deployment, state_dir: Path) -> dict[str, int]:
    """Write S3 objects, DynamoDB items and secret values to state_dir; returns counts."""
    target = Path(state_dir) / "data"
    temporary = target.with_name("data.partial")
    shutil.rmtree(temporary, ignore_errors=True)
    counts = {"objects": 0, "items": 0, "secrets": 0}
    s3, ddb, secrets = emulator.client("s3"), emulator.client("dynamodb"), emulator.client("secretsmanager")
    for logical_id, bucket in deployment.of_type("AWS::S3::Bucket").items():
        for page in s3.get_paginator("list_objects_v2").paginate(Bucket=bucket):
            for obj in page.get("Contents", []):
                path = temporary / "s3" / logical_id / obj["Key"]
                path.parent.mkdir(parents=True, exist_ok=True)
                path.write_bytes(s3.get_object(Bucket=bucket, Key=obj["Key"])["Body"].read())
                counts["objects"] += 1
    for logical_id, table in deployment.of_type("AWS::DynamoDB::Table").items():
        path = temporary / "dynamodb" / f"{logical_id}.jsonl"
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "w", encoding="utf-8") as fh:
            for page in ddb.get_paginator("scan").paginate(TableName=table):
                for item in page.get("Items", []):
                    fh.write(json.dumps(_encode_binary(item)) + "\n")
                    counts["items"] += 1
    values = {}
    for logical_id, arn in deployment.of_type("AWS::SecretsManager::Secret").items():
        secret = secrets.get_secret_value(SecretId=arn)
        values[logical_id] = secret.get("SecretString")
        counts["secrets"] += 1
    temporary.mkdir(parents=True, exist_ok=True)
    (temporary / "secrets.json").write_text(json.dumps(values))
    (temporary / "format.json").write_text(json.dumps({"format": _FORMAT, "counts": counts}))
    shutil.rmtree(target, ignore_errors=True)
    temporary.rename(target)  # a crash mid-snapshot never leaves a half-written state behind
    return counts


def restore(emulator, deployment: Deployment, state_dir: Path) -> dict[str, int]:
    """Load a snapshot into the freshly deployed stack; returns counts (all zero when there is none)."""
    source = Path(state_dir) / "data"
    counts = {"objects": 0, "items": 0, "secrets": 0}
    if not (source / "format.json").exists():
        return counts
    s3, ddb, secrets = emulator.client("s3"), emulator.client("dynamodb"), emulator.client("secretsmanager")
    buckets = deployment.of_type("AWS::S3::Bucket")
    for bucket_dir in sorted((source / "s3").glob("*")) if (source / "s3").exists() else []:
        bucket = buckets.get(bucket_dir.name)
        if bucket is None:  # the template no longer has this bucket
            continue
        for path in sorted(p for p in bucket_dir.rglob("*") if p.is_file()):
            s3.put_object(Bucket=bucket, Key=path.relative_to(bucket_dir).as_posix(), Body=path.read_bytes())
            counts["objects"] += 1
    tables = deployment.of_type("AWS::DynamoDB::Table")
    for path in sorted((source / "dynamodb").glob("*.jsonl")) if (source / "dynamodb").exists() else []:
        table = tables.get(path.stem)
        if table is None:
            continue
        with open(path, encoding="utf-8") as fh:
            for line in fh:
                if line.strip():
                    ddb.put_item(TableName=table, Item=_decode_binary(json.loads(line)))
                    counts["items"] += 1
    kept = json.loads((source / "secrets.json").read_text()) if (source / "secrets.json").exists() else {}
    for logical_id, arn in deployment.of_type("AWS::SecretsManager::Secret").items():
        if kept.get(logical_id):
            secrets.put_secret_value(SecretId=arn, SecretString=kept[logical_id])
            counts["secrets"] += 1
    return counts


def _encode_binary(value):
    if isinstance(value, bytes):
        return {"__b64__": base64.b64encode(value).decode("ascii")}
    if isinstance(value, dict):
        return {k: _encode_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_encode_binary(v) for v in value]
    return value


def _decode_binary(value):
    if isinstance(value, dict) and list(value) == ["__b64__"]:
        return base64.b64decode(value["__b64__"])
    if isinstance(value, dict):
        return {k: _decode_binary(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_decode_binary(v) for v in value]
    return value
