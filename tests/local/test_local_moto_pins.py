"""Fails loudly when a moto internal that local mode patches or relies on moves or changes shape.

Local mode replaces or reads these private names of moto 5.2.5 (pinned in pyproject.toml). After a moto
upgrade, re-check local/in_process_lambda.py, local/async_invocations.py, local/sagemaker.py,
local/moto_cloudformation.py and local/sqs_poller.py against the new names.
"""

import inspect
from importlib.metadata import version

import pytest


def params(func) -> list[str]:
    return list(inspect.signature(func).parameters)


def test_moto_is_the_pinned_version():
    assert version("moto") == "5.2.5", (
        "local mode patches moto 5.2.5 internals; re-verify them before upgrading"
    )


def test_lambda_invoke_method_that_local_mode_replaces():
    from moto.awslambda.models import LambdaFunction

    assert params(LambdaFunction._invoke_lambda) == ["self", "event"]
    invoke_source = inspect.getsource(LambdaFunction.invoke)
    assert "self._invoke_lambda(event=body)" in invoke_source  # every invoke path goes through it
    for attribute in (
        "function_name",
        "function_arn",
        "handler",
        "environment_vars",
        "memory_size",
        "timeout",
        "run_time",
        "region",
        "logs_backend",
        "logs_group_name",
    ):
        assert attribute in inspect.getsource(LambdaFunction.__init__) or hasattr(
            LambdaFunction, attribute
        ), attribute
    assert params(LambdaFunction.save_logs) == ["self", "output"]
    # local mode replaces invoke too, to run InvocationType=Event invokes on a worker thread
    assert params(LambdaFunction.invoke) == ["self", "body", "request_headers", "response_headers"]
    assert 'request_headers.get("x-amz-invocation-type"' in invoke_source


def test_use_docker_false_would_bypass_the_patch():
    # This is why local mode keeps use_docker on and replaces the Docker call instead.
    from moto.awslambda import utils

    assert "lambda_simple_backends" in inspect.getsource(utils.get_backend)


def test_step_functions_service_factory_and_callback_base():
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import state_task_factory
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service import (
        state_task_service_callback as callback,
    )
    from moto.stepfunctions.parser.asl.component.state.exec.state_task.service.resource import (
        ResourceCondition,
    )

    assert params(state_task_factory.state_task_service_for) == ["service_name"]
    assert "state_task_service_for(service_name=resource.service_name)" in inspect.getsource(
        state_task_factory.state_task_for
    )
    base = callback.StateTaskServiceCallback
    assert params(base.__init__) == ["self", "supported_integration_patterns"]
    # local/sagemaker.py names SageMaker API errors (SageMaker.<code>) by overriding this
    assert params(base._from_error) == ["self", "env", "ex"]
    assert params(base._build_sync_resolver) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]
    assert params(base._eval_service_task) == [
        "self",
        "env",
        "resource_runtime_part",
        "normalised_parameters",
        "state_credentials",
    ]
    assert "callback_endpoint.interrupt_all()" in inspect.getsource(base._eval_integration_pattern)
    assert ResourceCondition.Sync == "sync" and ResourceCondition.WaitForTaskToken == "waitForTaskToken"


def test_sagemaker_training_job_model():
    from moto.sagemaker.models import FakeTrainingJob, SageMakerModelBackend

    create = params(SageMakerModelBackend.create_training_job)
    assert create[:3] == ["self", "training_job_name", "hyper_parameters"]
    source = inspect.getsource(FakeTrainingJob.__init__)
    for attribute in (
        "training_job_status",
        "secondary_status",
        "model_artifacts",
        "input_data_config",
        "hyper_parameters",
        "stopping_condition",
        "training_end_time",
        "last_modified_time",
    ):
        assert f"self.{attribute}" in source, attribute
    assert "gen_response_object" in inspect.getsource(FakeTrainingJob.response_object.fget)


def test_cloudformation_parses_template_bodies_in_one_static_method():
    """local/moto_cloudformation.py makes it try JSON first (moto's YAML-first parse costs 0.4 s a deploy)."""
    from moto.cloudformation.models import Stack

    assert isinstance(inspect.getattr_static(Stack, "parse_template"), staticmethod)
    assert params(Stack.parse_template) == ["template"]
    assert "self.parse_template(self.template)" in inspect.getsource(Stack._parse_template)


def test_sqs_queue_event_source_mappings_and_cloudformation_model_map():
    from moto.cloudformation.parsing import get_model_map
    from moto.sqs.models import Queue, sqs_backends

    assert "self.lambda_event_source_mappings" in inspect.getsource(Queue.__init__)
    assert "lambda_event_source_mappings.items()" in inspect.getsource(Queue.add_message)
    assert sqs_backends is not None and "AWS::Lambda::Function" in get_model_map()


@pytest.mark.parametrize(
    "module, name",
    [
        ("moto.moto_server.threaded_moto_server", "ThreadedMotoServer"),
        ("moto.core.config", "default_user_config"),
    ],
)
def test_server_and_config_entry_points(module, name):
    import importlib

    assert hasattr(importlib.import_module(module), name)


def test_threaded_server_signature_and_sfn_endpoint():
    from moto.moto_server.threaded_moto_server import ThreadedMotoServer
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert params(ThreadedMotoServer.__init__) == ["self", "ip_address", "port", "verbose"]
    assert "moto_server_port()" in inspect.getsource(boto_client.boto_client_for)  # follows MOTO_PORT


def test_what_local_iam_relies_on():
    """local/iam/enforcement.py: botocore's handler list and event arguments, moto's Step Functions clients
    and its bundled AWS managed policies."""
    import botocore.handlers
    from botocore.signers import RequestSigner
    from moto.iam.aws_managed_policies import aws_managed_policies_data
    from moto.stepfunctions.parser.asl.component.state.exec.state_task import lambda_eval_utils
    from moto.stepfunctions.parser.asl.utils import boto_client

    assert isinstance(botocore.handlers.BUILTIN_HANDLERS, list)
    assert "self._credentials = credentials" in inspect.getsource(RequestSigner.__init__)
    assert isinstance(RequestSigner.region_name, property)
    assert params(boto_client.boto_client_for) == ["region", "service", "state_credentials"]
    # the modules that call AWS for a state machine import it by name (local IAM swaps it there)
    assert "from moto.stepfunctions.parser.asl.utils.boto_client import boto_client_for" in inspect.getsource(
        lambda_eval_utils
    )
    for name in ("AWSLambdaBasicExecutionRole", "AWSXrayWriteOnlyAccess", "AWSLambdaSQSQueueExecutionRole"):
        assert f'"{name}"' in aws_managed_policies_data, name
