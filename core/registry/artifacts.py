"""A version's files in the artifacts bucket, and S3 URIs.

`models/<version>/bundle/<file>` is the serving bundle (what serving downloads and verifies against the
registry's sha256); `models/<version>/model.tar.gz` is the whole model directory: a server-side copy of the
training job's output, or the registered directory packed.
"""

from __future__ import annotations

import io
import shutil
import tempfile
from pathlib import Path
from urllib.parse import urlparse

from core import aws_clients
from core.errors import InvalidInput, NotFound
from core.registry.archives import tar_directory


def split_s3_uri(uri: str) -> tuple[str, str]:
    """s3://bucket/key -> (bucket, key)."""
    parsed = urlparse(uri)
    if parsed.scheme != "s3" or not parsed.netloc:
        raise InvalidInput(f"not an s3:// URI: {uri!r}")
    return parsed.netloc, parsed.path.lstrip("/")


def bundle_prefix(version: str) -> str:
    return f"models/{version}/bundle/"


def archive_key(version: str) -> str:
    return f"models/{version}/model.tar.gz"


class ArtifactStore:
    def __init__(self, bucket: str):
        self.bucket = bucket

    @property
    def _s3(self):
        return aws_clients.client("s3")

    def upload_bundle(self, version: str, files: Path) -> str:
        """Upload the files directly in `files` as the bundle of `version`; returns the bundle prefix."""
        prefix = bundle_prefix(version)
        for path in sorted(files.iterdir()):
            if path.is_file():
                self._s3.upload_file(str(path), self.bucket, prefix + path.name)
        return prefix

    def store_archive(self, version: str, model_dir: Path, source_uri: str | None = None) -> str:
        """model.tar.gz of `version`: a copy of `source_uri` when given, else `model_dir` packed. Its URI."""
        key = archive_key(version)
        if source_uri:
            source_bucket, source_key = split_s3_uri(source_uri)
            self._s3.copy_object(
                Bucket=self.bucket, Key=key, CopySource={"Bucket": source_bucket, "Key": source_key}
            )
        else:
            self._s3.upload_fileobj(io.BytesIO(tar_directory(model_dir)), self.bucket, key)
        return f"s3://{self.bucket}/{key}"

    def download(self, uri: str, target: Path) -> None:
        bucket, key = split_s3_uri(uri)
        self._s3.download_file(bucket, key, str(target))

    def download_bundle(self, version: str, prefix: str, dest_root: Path) -> Path:
        """Download the bundle under `prefix` into `<dest_root>/<version>/bundle` and return that path.

        Files land in a staging directory first, so a failed download never leaves a partial bundle there.
        """
        target = dest_root / version / "bundle"
        staging = Path(tempfile.mkdtemp(prefix=f"{version}-", dir=dest_root))
        try:
            found = False
            for page in self._s3.get_paginator("list_objects_v2").paginate(Bucket=self.bucket, Prefix=prefix):
                for obj in page.get("Contents", []):
                    name = obj["Key"][len(prefix) :]
                    if not name or "/" in name:
                        continue
                    # one GET a file: download_file adds a HEAD and a transfer thread pool, a measured
                    # share of the predict function's cold start (docs/scale.md); short reads raise
                    response = self._s3.get_object(Bucket=self.bucket, Key=obj["Key"])
                    with open(staging / name, "wb") as fh:
                        shutil.copyfileobj(response["Body"], fh, 1 << 20)
                    found = True
            if not found:
                raise NotFound(f"no bundle files under s3://{self.bucket}/{prefix}")
            if target.exists():
                shutil.rmtree(target)
            target.parent.mkdir(parents=True, exist_ok=True)
            staging.rename(target)
        finally:
            shutil.rmtree(staging, ignore_errors=True)
        return target
