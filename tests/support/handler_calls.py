"""Calling a handler directly in the test process: a Lambda context, and an environment overlaid for the call.

Functions invoked through moto run in local mode's in-process runner (local.in_process_lambda); these are for
tests that call a handler themselves.
"""

from __future__ import annotations

import importlib
import os
import uuid
from contextlib import contextmanager

from local.cfn import ACCOUNT_ID
from local.in_process_lambda import ENVIRONMENT_LOCK, restore_environ

REGION = "us-east-1"


class LambdaContext:
    def __init__(self, function_name: str = "test-function", memory: int = 512):
        self.function_name = function_name
        self.function_version = "$LATEST"
        self.memory_limit_in_mb = memory
        self.invoked_function_arn = f"arn:aws:lambda:{REGION}:{ACCOUNT_ID}:function:{function_name}"
        self.aws_request_id = str(uuid.uuid4())
        self.log_group_name = f"/aws/lambda/{function_name}"
        self.log_stream_name = "test"

    def get_remaining_time_in_millis(self) -> int:
        return 30_000


def reset_process_caches() -> None:
    """The process's settings and clients read the environment once: made again after it changes."""
    from core.aws_clients import reset_clients
    from core.settings import reset_settings

    reset_settings()
    reset_clients()


@contextmanager
def overlaid_environ(environment: dict[str, str]):
    """`environment` on top of os.environ for the block (under the lock the in-process runner takes), with
    the process's cached settings and clients made again on entry and exit."""
    with ENVIRONMENT_LOCK:
        saved = {name: os.environ.get(name) for name in environment}
        os.environ.update(environment)
        reset_process_caches()
        try:
            yield
        finally:
            restore_environ(saved)
            reset_process_caches()


def call_handler(handler_path: str, event, environment: dict[str, str], function_name: str = "fn"):
    """Import `handlers/x.lambda_handler` and call it with `environment` overlaid on os.environ."""
    module_name, _, attribute = handler_path.rpartition(".")
    with overlaid_environ(environment):
        handler = getattr(importlib.import_module(module_name.replace("/", ".")), attribute)
        return handler(event, LambdaContext(function_name))
