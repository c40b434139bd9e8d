"""template.yaml in moto, deployed by local mode's deployer (local.stack), its functions run by local mode's
in-process runner (local.in_process_lambda); and running a handler as its function (environment, role).

Each test gets a fresh deployment inside mock_aws: template loading, packaging and translation are cached by
the deployer, so one costs a few tenths of a second.
"""

from __future__ import annotations

import functools
import importlib

from local.cfn import resolve
from local.deployment import Deployment
from local.iam.enforcement import access_control
from local.in_process_lambda import InProcessLambda
from local.sqs_poller import disable_moto_sqs_mappings
from local.stack import MotoInThisProcess, deploy
from local.template import TEMPLATE_PATH
from tests.support.handler_calls import REGION, overlaid_environ

STACK_NAME = "mlnews-test"


class DeployedStack:
    """A deployment as the tests read it: attributes by logical id (Ref, Arn, ...), each function's role, the
    template's properties and its intrinsics resolved against what was deployed."""

    def __init__(self, deployment: Deployment):
        self.deployment = deployment
        self.template = deployment.sam
        self.parameters = deployment.parameters
        self.role_arns = deployment.role_arns
        self._values = deployment.values()
        self.attributes = self._values.attributes

    def resolve(self, value):
        return resolve(value, self._values)

    def properties(self, logical_id: str) -> dict:
        return self.template["Resources"][logical_id].get("Properties", {})

    def function_environment(self, logical_id: str) -> dict[str, str]:
        """The function's environment variables as Lambda gives them (strings)."""
        return {name: str(value) for name, value in self.deployment.function_environment(logical_id).items()}


def deploy_stack(lambdas: InProcessLambda, template: dict | None = None, parameters=None) -> DeployedStack:
    """template.yaml, or `template` (a changed copy of it), deployed into moto (call inside mock_aws); its
    roles are enforced by local IAM and `lambdas` runs its functions."""
    target = MotoInThisProcess(lambdas, REGION)
    deployment = deploy(target, TEMPLATE_PATH, STACK_NAME, parameters, template=template)
    disable_moto_sqs_mappings()  # as in local mode: no queue is consumed behind the tests' back
    return DeployedStack(deployment)


def reset_process_state() -> None:
    from core.feedback.signing_keys import signing_key_cache
    from tests.support.handler_calls import reset_process_caches

    reset_process_caches()
    signing_key_cache.clear()


class AwsStack:
    """The deployed stack plus switching the test process to one function's environment."""

    def __init__(self, stack: DeployedStack, monkeypatch, base_env: dict):
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
        handler_path = self.stack.properties(logical_id)["Handler"]
        module_name, _, attribute = handler_path.rpartition(".")
        module = importlib.import_module(module_name.replace("/", "."))
        handler = getattr(module, attribute)
        handler = getattr(handler, "runs_as_role_of", handler)  # the original, if wrapped before
        self._monkeypatch.setattr(module, attribute, self._as_role(logical_id, handler))
        return environment

    def _as_role(self, logical_id: str, handler):
        role = self.stack.role_arns[logical_id]
        credentials = access_control.credentials(role, self.stack.deployment.functions[logical_id])

        @functools.wraps(handler)
        def run(event, context):
            with overlaid_environ(credentials):  # clients made inside carry the function's credentials
                return handler(event, context)

        run.runs_as_role_of = handler
        return run
