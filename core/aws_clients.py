"""The one place where boto3 clients and resources are created.

Clients are cached per process (Lambda containers reuse them across invocations). Endpoint, region and
credentials come only from the standard environment (AWS_ENDPOINT_URL, AWS_REGION / AWS_DEFAULT_REGION,
AWS_ACCESS_KEY_ID, ...), so AWS, LocalStack and moto all take the same code path.
"""

from __future__ import annotations

import functools
import os
import threading

import boto3
import botocore.loaders
import botocore.session
from botocore.config import Config

MAX_ATTEMPTS = 5  # per call, retries included (botocore's standard mode)
_CONFIG = Config(
    retries={"mode": "standard", "max_attempts": MAX_ATTEMPTS},
    connect_timeout=5,
    read_timeout=60,
    user_agent_extra="ml-news-pipeline",
)
_lock = threading.Lock()


def region() -> str:
    return os.environ.get("AWS_REGION") or os.environ.get("AWS_DEFAULT_REGION") or "us-east-1"


@functools.cache
def _loader() -> botocore.loaders.Loader:
    """Service models parsed once per process, even when sessions are recreated."""
    return botocore.loaders.create_loader()


@functools.cache
def _session() -> boto3.session.Session:
    core_session = botocore.session.get_session()
    core_session.register_component("data_loader", _loader())
    return boto3.session.Session(region_name=region(), botocore_session=core_session)


@functools.cache
def client(service: str):
    """A cached boto3 client for `service` (thread-safe creation; botocore clients are thread-safe)."""
    with _lock:
        return _session().client(service, config=_CONFIG)


@functools.cache
def resource(service: str):
    """A cached boto3 resource (resources are not thread-safe; use them from one thread)."""
    with _lock:
        return _session().resource(service, config=_CONFIG)


def reset_clients() -> None:
    """Drop cached clients, e.g. after the endpoint or credentials in the environment changed."""
    client.cache_clear()
    resource.cache_clear()
    _session.cache_clear()
