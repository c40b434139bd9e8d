"""Model registry: artifacts in S3, metadata and the active pointer in DynamoDB.

Layout (docs/DESIGN.md): `models/<version>/model.tar.gz` and `models/<version>/bundle/<file>` in the artifacts
bucket; one item per version (hash key `version`, e.g. "v0007") in the models table. Bookkeeping items share
the table and never look like versions: "ACTIVE" (the pointer), "SEQUENCE" (version counter) and
"JOB#<training job>" (makes registering a training job's output idempotent).

The active pointer changes only through a conditional write on its `revision`, in one transaction with the
status changes of the new and the previous version, so concurrent deploys cannot both win.
"""

from __future__ import annotations

import io
import json
import shutil
import tarfile
import tempfile
from datetime import UTC, datetime
from pathlib import Path
from urllib.parse import urlparse

from botocore.exceptions import ClientError

from core import aws_clients
from core.dynamodb_values import from_dynamodb, to_dynamodb
from core.errors import Conflict, InvalidInput, NotFound
from core.settings import Settings, get_settings

ACTIVE_KEY = "ACTIVE"
SEQUENCE_KEY = "SEQUENCE"
JOB_PREFIX = "JOB#"
RETRAINING_LOCK_KEY = "LOCK#retraining"
STATUSES = ("candidate", "active", "rejected", "retired")


def _condition_failed(error: ClientError) -> bool:
    return error.response["Error"]["Code"] == "ConditionalCheckFailedException"


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="seconds")


def split_s3_uri(uri: str) -> tuple[str, str]:
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def find_model_dir(root: Path) -> Path:
    """The directory holding manifest.json or bundle/ (a model.tar.gz may or may not nest a folder)."""
    for candidate in [root, *sorted(p for p in root.rglob("*") if p.is_dir())]:
        if (candidate / "manifest.json").is_file() or (candidate / "bundle" / "bundle.json").is_file():
            return candidate
    raise InvalidInput("model archive holds no manifest.json or bundle/bundle.json")


def _read_json(path: Path) -> dict | None:
    try:
        value = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    return value if isinstance(value, dict) else None


def _metrics_of(model_dir: Path) -> dict:
    metrics = _read_json(model_dir / "metrics.json")
    if metrics is None:
        metrics = (_read_json(model_dir / "manifest.json") or {}).get("metrics") or {}
    return metrics


class ModelRegistry:
    def __init__(self, settings: Settings | None = None):
        self.settings = settings or get_settings()
        self.settings.require("models_table", "artifacts_bucket")
        self.table_name = self.settings.models_table
        self.bucket = self.settings.artifacts_bucket

    @property
    def _table(self):
        return aws_clients.resource("dynamodb").Table(self.table_name)

    @property
    def _s3(self):
        return aws_clients.client("s3")

    # ------------------------------------------------------------ reading
    def get(self, version: str) -> dict | None:
        item = self._table.get_item(Key={"version": version}, ConsistentRead=True).get("Item")
        return from_dynamodb(item) if item else None

    def require(self, version: str) -> dict:
        item = self.get(version) if version.startswith("v") else None
        if not item:
            raise NotFound(f"model version {version!r} is not registered")
        return item

    def list_versions(self) -> list[dict]:
        """All versions, newest first (the table holds one item per version: a small, bounded scan)."""
        items, kwargs = [], {"ConsistentRead": True}
        while True:
            page = self._table.scan(**kwargs)
            items.extend(from_dynamodb(item) for item in page["Items"] if item["version"].startswith("v"))
            if "LastEvaluatedKey" not in page:
                break
            kwargs["ExclusiveStartKey"] = page["LastEvaluatedKey"]
        return sorted(items, key=lambda item: item["version"], reverse=True)

    def active_pointer(self) -> dict | None:
        item = self._table.get_item(Key={"version": ACTIVE_KEY}, ConsistentRead=True).get("Item")
        return from_dynamodb(item) if item and item.get("active_version") else None

    # ------------------------------------------------------------ one retraining at a time
    def acquire_retraining_lock(self, holder: str, ttl_seconds: int, now: datetime | None = None) -> None:
        """Claim the single retraining slot for execution `holder`; Conflict while another holds it.

        The slot frees itself after `ttl_seconds`, so an execution stopped from outside (and so never
        reaching RecordOutcome) blocks retraining for a bounded time only.
        """
        now = now or datetime.now(UTC)
        expires = int(now.timestamp()) + int(ttl_seconds)
        try:
            self._table.put_item(
                Item={"version": RETRAINING_LOCK_KEY, "holder": holder, "expires_at": expires,
                      "acquired_at": now.isoformat(timespec="seconds")},
                ConditionExpression="attribute_not_exists(version) OR expires_at < :now OR holder = :holder",
                ExpressionAttributeValues={":now": int(now.timestamp()), ":holder": holder},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise
            key = {"version": RETRAINING_LOCK_KEY}
            current = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
            other = (current or {}).get("holder", "another retraining")
            raise Conflict(f"retraining {other} is in progress", details={"job_id": other}) from error

    def release_retraining_lock(self, holder: str) -> None:
        """Free the slot if `holder` still has it (a retried or late release is harmless)."""
        try:
            self._table.delete_item(
                Key={"version": RETRAINING_LOCK_KEY},
                ConditionExpression="holder = :holder",
                ExpressionAttributeValues={":holder": holder},
            )
        except ClientError as error:
            if not _condition_failed(error):
                raise

    def active_item(self) -> dict | None:
        pointer = self.active_pointer()
        return self.get(pointer["active_version"]) if pointer else None

    # ------------------------------------------------------------ registering
    def _allocate_version(self) -> str:
        response = self._table.update_item(
            Key={"version": SEQUENCE_KEY},
            UpdateExpression="ADD next_value :one",
            ExpressionAttributeValues={":one": 1},
            ReturnValues="UPDATED_NEW",
        )
        return f"v{int(response['Attributes']['next_value']):04d}"

    def version_for_training_job(self, training_job: str) -> str | None:
        key = {"version": JOB_PREFIX + training_job}
        item = self._table.get_item(Key=key, ConsistentRead=True).get("Item")
        return item["model_version"] if item else None

    def register_model_dir(
        self,
        model_dir: Path | str,
        *,
        training_job: str | None = None,
        artifact_uri: str | None = None,
        training_distribution: dict | None = None,
        data_summary: dict | None = None,
        source: str = "manual",
    ) -> dict:
        """Register a model directory (see docs/DESIGN.md) as a new candidate version and return its item.

        The bundle is verified by loading it before anything is written. With `training_job`, registering
        the same job twice returns the first registration (retries of the Evaluate step are harmless).
        """
        from core.model.bundle import ServingModel  # numpy-only; imported lazily to keep cold starts small

        model_dir = find_model_dir(Path(model_dir))
        if training_job and (existing := self.version_for_training_job(training_job)):
            return self.require(existing)
        model = ServingModel.load(model_dir)
        bundle_dir = model_dir / "bundle" if (model_dir / "bundle").is_dir() else model_dir
        version = self._allocate_version()
        prefix = f"models/{version}"
        for path in sorted(bundle_dir.iterdir()):
            if path.is_file():
                self._s3.upload_file(str(path), self.bucket, f"{prefix}/bundle/{path.name}")
        artifact_key = f"{prefix}/model.tar.gz"
        if artifact_uri:
            source_bucket, source_key = split_s3_uri(artifact_uri)
            self._s3.copy_object(
                Bucket=self.bucket, Key=artifact_key, CopySource={"Bucket": source_bucket, "Key": source_key}
            )
        else:
            self._s3.upload_fileobj(io.BytesIO(_tar_directory(model_dir)), self.bucket, artifact_key)
        manifest = _read_json(model_dir / "manifest.json") or {}
        item = {
            "version": version,
            "status": "candidate",
            "created_at": utc_now(),
            "bundle_version": str(model.version),
            "sha256": model.sha256,
            "classes": list(model.classes),
            "metrics": _metrics_of(model_dir),
            "bundle_prefix": f"{prefix}/bundle/",
            "artifact": f"s3://{self.bucket}/{artifact_key}",
            "training_job": training_job or "",
            "source": source,
            "hyperparameters": manifest.get("hyperparameters") or {},
            "training_distribution": (
                training_distribution or (manifest.get("data") or {}).get("categories") or {}
            ),
            "data_summary": data_summary or {},
            "reasons": [],
        }
        writes = [
            {
                "Put": {
                    "TableName": self.table_name,
                    "Item": _typed(item),
                    "ConditionExpression": "attribute_not_exists(version)",
                }
            }
        ]
        if training_job:
            job_item = {"version": JOB_PREFIX + training_job, "model_version": version}
            writes.append(
                {
                    "Put": {
                        "TableName": self.table_name,
                        "Item": _typed(job_item),
                        "ConditionExpression": "attribute_not_exists(version)",
                    }
                }
            )
        try:
            aws_clients.client("dynamodb").transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException" and training_job:
                existing = self.version_for_training_job(training_job)
                if existing:
                    return self.require(existing)
            raise
        return item

    def register_training_output(
        self,
        model_artifact_uri: str,
        *,
        training_job: str,
        training_distribution: dict | None = None,
        data_summary: dict | None = None,
    ) -> dict:
        """Register what a SageMaker training job wrote (its S3ModelArtifacts model.tar.gz)."""
        if existing := self.version_for_training_job(training_job):
            return self.require(existing)
        bucket, key = split_s3_uri(model_artifact_uri)
        with tempfile.TemporaryDirectory(prefix="mlnews-register-") as tmp:
            archive = Path(tmp) / "model.tar.gz"
            self._s3.download_file(bucket, key, str(archive))
            extracted = Path(tmp) / "model"
            with tarfile.open(archive) as tar:
                tar.extractall(extracted, filter="data")
            return self.register_model_dir(
                extracted,
                training_job=training_job,
                artifact_uri=model_artifact_uri,
                training_distribution=training_distribution,
                data_summary=data_summary,
                source="training",
            )

    # ------------------------------------------------------------ status changes
    def activate(
        self,
        version: str,
        *,
        expected_revision: int | None = None,
        reason: str = "",
        allow_rejected: bool = False,
    ) -> dict:
        """Make `version` active. With `expected_revision`, refuse if the pointer moved since it was read."""
        item = self.require(version)
        if item["status"] == "rejected" and not allow_rejected:
            raise Conflict(f"model version {version} was rejected; pass allow_rejected to deploy it anyway")
        pointer = self.active_pointer() or {}
        revision = int(pointer.get("revision", 0))
        if expected_revision is not None and expected_revision != revision:
            if pointer.get("active_version") == version and revision == expected_revision + 1:
                # A retried step whose first attempt already made exactly this change: done, not a conflict.
                return {"version": version, "previous_version": pointer.get("previous_version") or None,
                        "revision": revision}
            raise Conflict(f"active model changed (revision {revision}, expected {expected_revision})")
        previous = pointer.get("active_version")
        if previous == version:
            return {"version": version, "previous_version": previous, "revision": revision}
        now = utc_now()
        condition = "attribute_not_exists(revision)" if revision == 0 else "revision = :expected"
        values = {
            ":v": version,
            ":next": revision + 1,
            ":now": now,
            ":reason": reason or "deploy",
            ":prev": previous or "",
        }
        if revision:
            values[":expected"] = revision
        writes = [
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _typed({"version": ACTIVE_KEY}),
                    "UpdateExpression": "SET active_version = :v, revision = :next, updated_at = :now, "
                    "reason = :reason, previous_version = :prev",
                    "ConditionExpression": condition,
                    "ExpressionAttributeValues": _typed(values),
                }
            },
            {
                "Update": {
                    "TableName": self.table_name,
                    "Key": _typed({"version": version}),
                    "UpdateExpression": "SET #status = :active, deployed_at = :now",
                    "ConditionExpression": "attribute_exists(version)",
                    "ExpressionAttributeNames": {"#status": "status"},
                    "ExpressionAttributeValues": _typed({":active": "active", ":now": now}),
                }
            },
        ]
        if previous:
            writes.append(
                {
                    "Update": {
                        "TableName": self.table_name,
                        "Key": _typed({"version": previous}),
                        "UpdateExpression": "SET #status = :retired, retired_at = :now",
                        "ConditionExpression": "attribute_exists(version)",
                        "ExpressionAttributeNames": {"#status": "status"},
                        "ExpressionAttributeValues": _typed({":retired": "retired", ":now": now}),
                    }
                }
            )
        try:
            aws_clients.client("dynamodb").transact_write_items(TransactItems=writes)
        except ClientError as error:
            if error.response["Error"]["Code"] == "TransactionCanceledException":
                raise Conflict("active model changed concurrently; read the registry and retry") from error
            raise
        return {"version": version, "previous_version": previous, "revision": revision + 1}

    def reject(self, version: str, reasons: list[str]) -> None:
        self._set_fields(
            version,
            {"status": "rejected", "reasons": reasons, "rejected_at": utc_now()},
            condition_status="candidate",
        )

    def record_evaluation(self, version: str, evaluation: dict) -> None:
        self._set_fields(version, {"evaluation": evaluation})

    def _set_fields(self, version: str, fields: dict, condition_status: str | None = None) -> None:
        names = {f"#f{i}": name for i, name in enumerate(fields)}
        values = {f":v{i}": value for i, value in enumerate(fields.values())}
        condition = "attribute_exists(version)"
        if condition_status:
            names["#status"] = "status"
            values[":expected_status"] = condition_status
            condition += " AND #status = :expected_status"
        try:
            self._table.update_item(
                Key={"version": version},
                UpdateExpression="SET " + ", ".join(f"#f{i} = :v{i}" for i in range(len(fields))),
                ConditionExpression=condition,
                ExpressionAttributeNames=names,
                ExpressionAttributeValues=to_dynamodb(values),
            )
        except ClientError as error:
            if _condition_failed(error):
                raise Conflict(f"model version {version} is not in the expected state") from error
            raise

    # ------------------------------------------------------------ artifacts
    def download_bundle(self, version: str, dest_root: Path | str, item: dict | None = None) -> Path:
        """Download the bundle of `version` into `<dest_root>/<version>/bundle` and return that path."""
        item = item or self.require(version)
        target = Path(dest_root) / version / "bundle"
        staging = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=Path(dest_root)))
        try:
            paginator = self._s3.get_paginator("list_objects_v2")
            found = False
            for page in paginator.paginate(Bucket=self.bucket, Prefix=item["bundle_prefix"]):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(item["bundle_prefix"]) :]
                    if not name or "/" in name:
                        continue
                    self._s3.download_file(self.bucket, obj["Key"], str(staging / name))
                    found = True
            if not found:
                raise NotFound(f"no bundle files under s3://{self.bucket}/{item['bundle_prefix']}")
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target

    def load_model(self, version: str, cache_dir: Path | str | None = None, item: dict | None = None):
        """Download and load a version, refusing a bundle whose sha256 differs from the registry's."""
        from core.model.bundle import ServingModel

        item = item or self.require(version)
        root = Path(cache_dir or self.settings.model_cache_dir)
        root.mkdir(parents=True, exist_ok=True)
        path = self.download_bundle(version, root, item)
        # Refuses files whose digest differs from the registry item (corrupt or tampered bundle).
        return ServingModel.load(path, expected_sha256=item["sha256"], version=version)


def _typed(value: dict) -> dict:
    """Python dict -> DynamoDB attribute-value map (for the low-level client used in transactions)."""
    from boto3.dynamodb.types import TypeSerializer

    serializer = TypeSerializer()
    return {key: serializer.serialize(item) for key, item in to_dynamodb(value).items()}


def _tar_directory(directory: Path) -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        for path in sorted(directory.rglob("*")):
            if path.is_file():
                tar.add(path, arcname=str(path.relative_to(directory)))
    return buffer.getvalue()
