"""The template's stack in moto, and running a handler as its function (environment and role credentials)."""

from __future__ import annotations

import functools
import importlib

from local.iam.enforcement import access_control
from tests.support.lambda_in_process import overlaid_environ
from tests.support.template_resources import Stack


def reset_process_state() -> None:
    from core.aws_clients import reset_clients
    from core.feedback.signing_keys import signing_key_cache
    from core.settings import reset_settings

    reset_settings()
    reset_clients()
    signing_key_cache.clear()

class AwsStack:
    """The created stack plus helpers to switch to one function's environment."""

    def __init__(self, stack: Stack, monkeypatch, base_env: dict):
        self.stack = stack
        self._monkeypatch = monkeypatch
        self._base_env = base_env

    def name(self, logical_id: str) -> str:
        return self.stack.attributes[logical_id]["Ref"]

    def use_function_env(self, logical_id: str, **extra: str) -> dict:
        """Exactly the environment the template gives `logical_id` (plus `extra`), as in Lambda; while its
        handler runs, AWS calls are made with the function's role and authorized against it (local/iam)."""
        environment = self.stack.function_environment(logical_id)
        environment.update({key: str(value) for key, value in extra.items()})
        for name, value in environment.items():
            self._monkeypatch.setenv(name, value)
        self._monkeypatch.setenv("MODEL_CACHE_DIR", self._base_env["MODEL_CACHE_DIR"])
        reset_process_state()
        module_name, _, attribute = self.stack.properties(logical_id)["Handler"].rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, attribute)
        handler = getattr(handler, "runs_as_role_of", handler)  # the original, if wrapped before
        self._monkeypatch.setattr(module, attribute, self._as_role(logical_id, handler))
        return environment

    def _as_role(self, logical_id: str, handler):
        role = self.stack.role_arns[logical_id]
        credentials = access_control.credentials(role, f"mlnews-test-{logical_id}")

        @functools.wraps(handler)
        def run(event, context):
            with overlaid_environ(credentials):  # clients made inside carry the function's credentials
                return handler(event, context)

        run.runs_as_role_of = handler
        return run
