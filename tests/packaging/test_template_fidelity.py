"""What AWS enforces and moto does not: the roles as samtranslator builds them, the customer key behind every
encrypted resource, retained data, the Step Functions error names the retraining loop can really see."""

from __future__ import annotations

import copy
import functools
import json
import re

import pytest

from local.template import REPO_ROOT, TEMPLATE_PATH, default_parameters, load_template
from local.translation import translate
from tests.support.handler_calls import REGION

ENCRYPTED_TYPES = {
    "AWS::DynamoDB::Table": "dynamodb",
    "AWS::SQS::Queue": "sqs",
    "AWS::S3::Bucket": "s3",
    "AWS::SecretsManager::Secret": "secretsmanager",
    "AWS::SNS::Topic": "sns",
}
# Calls that make the service encrypt new data with the key as the caller (it then needs kms:GenerateDataKey);
# every read, and for DynamoDB every call, needs kms:Decrypt.
# https://docs.aws.amazon.com/kms/latest/developerguide/services-dynamodb.html, .../services-s3.html,
# https://docs.aws.amazon.com/AWSSimpleQueueService/latest/SQSDeveloperGuide/sqs-key-management.html
WRITE_ACTIONS = re.compile(
    r"^(dynamodb:(PutItem|UpdateItem|BatchWriteItem|\*)|sqs:(SendMessage|\*)|s3:(PutObject|\*)|sns:Publish)$"
)


@pytest.fixture(autouse=True)
def _region(monkeypatch):
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)  # samtranslator builds ARNs for a region


def _sam() -> dict:
    return load_template(TEMPLATE_PATH)


def _translate(sam: dict) -> dict:
    """samtranslator's output for `sam`, packaged as `sam package` would (code and definition in S3)."""
    sam = copy.deepcopy(sam)
    sam["Globals"]["Function"]["CodeUri"] = "s3://code-bucket/function.zip"
    for spec in sam["Resources"].values():
        if spec["Type"] == "AWS::Serverless::StateMachine":
            spec["Properties"]["DefinitionUri"] = "s3://code-bucket/definition.json"
    return translate(sam, default_parameters(sam))


@functools.cache
def _translated() -> str:
    return json.dumps(_translate(_sam()))


def cfn() -> dict:
    return json.loads(_translated())


def _mentions(node, logical_id: str) -> bool:
    return re.search(rf"\b{re.escape(logical_id)}\b", json.dumps(node)) is not None


def _as_list(value) -> list:
    return value if isinstance(value, list) else [value]


def _role_statements(template: dict, role_id: str) -> list[dict]:
    role = template["Resources"][role_id]["Properties"]
    return [
        statement
        for policy in role.get("Policies", [])
        for statement in _as_list(policy["PolicyDocument"]["Statement"])
        if statement.get("Effect") == "Allow"
    ]


def _allows_on_key(statements: list[dict], action: str) -> bool:
    for statement in statements:
        actions = _as_list(statement.get("Action", []))
        if not any(a in (action, "kms:*", "*") for a in actions):
            continue
        resources = _as_list(statement.get("Resource", []))
        if "*" in resources or _mentions(resources, "DataKey"):
            return True
    return False


def missing_key_permissions(template: dict) -> list[str]:
    """The key permissions missing from Lambda roles that act on resources encrypted with DataKey."""
    resources = template["Resources"]
    encrypted = {
        logical_id: ENCRYPTED_TYPES[spec["Type"]]
        for logical_id, spec in resources.items()
        if spec["Type"] in ENCRYPTED_TYPES and _mentions(spec.get("Properties", {}), "DataKey")
    }
    problems = []
    for function_id, spec in resources.items():
        if spec["Type"] != "AWS::Lambda::Function":
            continue
        role_id = spec["Properties"]["Role"]["Fn::GetAtt"][0]
        statements = _role_statements(template, role_id)
        needs: set[str] = set()
        for statement in statements:
            actions = _as_list(statement.get("Action", []))
            for target, service in encrypted.items():
                service_actions = [a for a in actions if a.startswith(f"{service}:") or a == "*"]
                if not service_actions or not _mentions(statement.get("Resource", []), target):
                    continue
                needs.add("kms:Decrypt")
                if any(WRITE_ACTIONS.match(a) for a in service_actions):
                    needs.add("kms:GenerateDataKey")
        for action in sorted(needs):
            if not _allows_on_key(statements, action):
                problems.append(f"{function_id}: {action} on DataKey")
    return problems


def test_every_function_has_the_key_permissions_its_encrypted_resources_need():
    assert missing_key_permissions(cfn()) == []


def test_the_key_check_notices_a_removed_permission():
    sam = _sam()
    broken = copy.deepcopy(sam)
    policies = broken["Resources"]["RecordOutcomeFunction"]["Properties"]["Policies"]
    broken["Resources"]["RecordOutcomeFunction"]["Properties"]["Policies"] = [
        p for p in policies if not (isinstance(p, dict) and _mentions(p.get("Statement", []), "DataKey"))
    ]
    problems = missing_key_permissions(_translate(broken))
    assert problems == [
        "RecordOutcomeFunction: kms:Decrypt on DataKey",
        "RecordOutcomeFunction: kms:GenerateDataKey on DataKey",
    ]


def test_the_key_outlives_the_stack_like_the_data_it_encrypts():
    resources = _sam()["Resources"]
    retained = [
        logical_id
        for logical_id, spec in resources.items()
        if spec.get("DeletionPolicy") == "Retain" and _mentions(spec.get("Properties", {}), "DataKey")
    ]
    assert retained, "no retained encrypted resource found"
    key = resources["DataKey"]
    assert key.get("DeletionPolicy") == "Retain" and key.get("UpdateReplacePolicy") == "Retain"


def test_key_grants_to_service_principals_are_scoped_to_this_account():
    statements = _sam()["Resources"]["DataKey"]["Properties"]["KeyPolicy"]["Statement"]
    services = [s for s in statements if "Service" in s["Principal"]]
    assert [s["Principal"]["Service"] for s in services] == ["cloudwatch.amazonaws.com"]
    for statement in services:
        assert statement["Condition"]["StringEquals"]["aws:SourceAccount"] == {"Ref": "AWS::AccountId"}
        assert "aws:SourceArn" in statement["Condition"]["ArnLike"]


def test_training_instance_types_have_no_local_storage():
    allowed = _sam()["Parameters"]["TrainingInstanceType"]["AllowedValues"]
    assert _sam()["Parameters"]["TrainingInstanceType"]["Default"] in allowed
    # A "d" after the generation (m5d, c5d, r5d) or a GPU family with NVMe (g4dn, p3dn) has instance storage.
    assert [t for t in allowed if re.match(r"^ml\.[a-z]+\d+[a-z]*d[a-z]*\.", t)] == []


def test_every_function_logs_to_a_group_with_a_retention():
    resources = _sam()["Resources"]
    functions = [k for k, v in resources.items() if v["Type"] == "AWS::Serverless::Function"]
    groups = {
        json.dumps(v["Properties"]["LogGroupName"]): v["Properties"]
        for v in resources.values()
        if v["Type"] == "AWS::Logs::LogGroup"
    }
    for function in functions:
        group = groups.get(json.dumps({"Fn::Sub": f"/aws/lambda/${{{function}}}"}))
        assert group is not None, function
        assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}


def test_alarms_cover_retrain_check_errors_and_aborted_executions():
    resources = _sam()["Resources"]
    check = resources["RetrainCheckErrorsAlarm"]["Properties"]
    assert check["MetricName"] == "Errors"
    assert check["Dimensions"][0]["Value"] == {"Ref": "RetrainCheckFunction"}
    metrics = resources["RetrainingFailedAlarm"]["Properties"]["Metrics"]
    names = {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m}
    assert names == {"ExecutionsFailed", "ExecutionsTimedOut", "ExecutionsAborted"}
    expression = next(m["Expression"] for m in metrics if "Expression" in m)
    assert all(m["Id"] in expression for m in metrics if "MetricStat" in m)


def test_state_machine_role_has_what_create_training_job_sync_needs():
    # https://docs.aws.amazon.com/step-functions/latest/dg/sagemaker-iam.html
    template = cfn()
    role_id = template["Resources"]["RetrainingStateMachine"]["Properties"]["RoleArn"]["Fn::GetAtt"][0]
    actions = {a for s in _role_statements(template, role_id) for a in _as_list(s["Action"])}
    assert {
        "sagemaker:CreateTrainingJob",
        "sagemaker:DescribeTrainingJob",
        "sagemaker:StopTrainingJob",
        "sagemaker:AddTags",
        "sagemaker:ListTags",
        "events:PutTargets",
        "events:PutRule",
        "events:DescribeRule",
        "iam:PassRole",
    } <= actions


# Names Step Functions raises for the optimized SageMaker integration: the SDK's exception classes.
SAGEMAKER_ERRORS = {
    "SageMaker.AmazonSageMakerException",
    "SageMaker.ResourceInUseException",
    "SageMaker.ResourceLimitExceededException",
    "SageMaker.ResourceNotFoundException",
    "SageMaker.ConflictException",
}
RETRYABLE_SAGEMAKER = {"SageMaker.ResourceLimitExceededException"}


@pytest.fixture
def states() -> dict:
    return json.loads((REPO_ROOT / "statemachines" / "retraining.asl.json").read_text())["States"]


def test_train_retries_only_errors_that_exist_and_leave_no_job_behind(states):
    retried = {name for rule in states["Train"]["Retry"] for name in rule["ErrorEquals"]}
    assert retried <= SAGEMAKER_ERRORS, retried - SAGEMAKER_ERRORS
    # Any other error either means the request is wrong (same result every time) or the job exists, so a retry
    # with the same TrainingJobName could only fail with ResourceInUse.
    assert retried <= RETRYABLE_SAGEMAKER


def test_lambda_steps_retry_only_lambda_errors_step_functions_raises(states):
    # https://docs.aws.amazon.com/step-functions/latest/dg/bp-lambda-serviceexception.html
    known = {
        "Lambda.TooManyRequestsException",
        "Lambda.ServiceException",
        "Lambda.AWSLambdaException",
        "Lambda.SdkClientException",
        "Lambda.ClientExecutionTimeoutException",
    }
    for name, state in states.items():
        if state["Type"] == "Task" and name != "Train":
            retried = {error for rule in state["Retry"] for error in rule["ErrorEquals"]}
            assert retried <= known, (name, retried - known)


def test_the_api_stage_writes_access_logs_to_a_retained_group():
    """API Gateway writes access logs only with the account's CloudWatch role set; the stage waits for it."""
    template = cfn()
    stages = [v for v in template["Resources"].values() if v["Type"] == "AWS::ApiGateway::Stage"]
    assert len(stages) == 1
    setting = stages[0]["Properties"]["AccessLogSetting"]
    assert setting["DestinationArn"] == {"Fn::GetAtt": ["ApiAccessLogGroup", "Arn"]}
    assert json.loads(setting["Format"].replace("$context.", ""))["status"] == "status"  # one JSON line
    group = template["Resources"]["ApiAccessLogGroup"]["Properties"]
    assert group["RetentionInDays"] == {"Ref": "LogRetentionDays"}
    account = template["Resources"]["ApiGatewayAccount"]
    assert account["DeletionPolicy"] == "Retain"  # deleting the stack must not break the account setting
    assert account["Properties"]["CloudWatchRoleArn"] == {"Fn::GetAtt": ["ApiGatewayCloudWatchRole", "Arn"]}
    api = _sam()["Resources"]["Api"]
    assert api["DependsOn"] == "ApiGatewayAccountReady"
    assert _mentions(_sam()["Resources"]["ApiGatewayAccountReady"], "ApiGatewayAccount")


def test_failed_async_evaluations_are_kept_and_alarmed():
    """The admin API invokes EvaluateModelFunction asynchronously: a failure must not vanish."""
    template = cfn()
    (config,) = [
        spec["Properties"]
        for spec in template["Resources"].values()
        if spec["Type"] == "AWS::Lambda::EventInvokeConfig"
    ]
    assert config["FunctionName"] == {"Ref": "EvaluateModelFunction"}
    destination = config["DestinationConfig"]["OnFailure"]["Destination"]
    assert destination == {"Fn::GetAtt": ["EvaluationFailureQueue", "Arn"]}
    queue = template["Resources"]["EvaluationFailureQueue"]["Properties"]
    assert queue["KmsMasterKeyId"] == {"Ref": "DataKey"}
    alarm = template["Resources"]["EvaluationFailuresAlarm"]["Properties"]
    assert alarm["Dimensions"][0]["Value"] == {"Fn::GetAtt": ["EvaluationFailureQueue", "QueueName"]}


def _emitted_metric_names() -> set[str]:
    """The custom metrics the handlers emit: add_metric/add_detailed_metric names (both branches of a
    conditional; `Retraining{status}` for every outcome status the steps declare), Powertools' ColdStart."""
    import ast
    import typing

    from core.retraining import steps

    statuses = {
        typing.get_args(model.model_fields["status"].annotation)[0]
        for model in (steps.Deployed, steps.Rejected, steps.Failed)
    }
    names: set[str] = set()
    for path in (REPO_ROOT / "handlers").glob("*.py"):
        for node in ast.walk(ast.parse(path.read_text())):
            if not isinstance(node, ast.Call):
                continue
            called = getattr(node.func, "attr", None) or getattr(node.func, "id", None)
            if called == "log_metrics" or (called is None and "log_metrics" in ast.dump(node)):
                if any(k.arg == "capture_cold_start_metric" for k in node.keywords):
                    names.add("ColdStart")
            if called not in ("add_metric", "add_detailed_metric"):
                continue
            (value,) = [k.value for k in node.keywords if k.arg == "name"]
            if isinstance(value, ast.Name) and path.name == "observability.py":
                continue  # add_detailed_metric passes its callers' names on
            if isinstance(value, ast.Constant):
                names.add(value.value)
            elif isinstance(value, ast.IfExp):
                names |= {value.body.value, value.orelse.value}
            elif isinstance(value, ast.JoinedStr) and ast.unparse(value).startswith("f'Retraining"):
                names |= {f"Retraining{status.capitalize()}" for status in statuses}
            else:
                raise AssertionError(f"{path.name}: cannot read the metric name {ast.unparse(value)}")
    return names


def test_the_dashboard_shows_only_metrics_the_code_emits():
    from local.cfn import Values, resolve

    sam = _sam()
    dashboard = sam["Resources"]["PipelineDashboard"]
    assert dashboard["Condition"] == "CreateDashboard"
    stand_ins = {
        logical: {"Ref": f"{logical}-ref", "Arn": f"{logical}-arn", "QueueName": f"{logical}-queue"}
        for logical in sam["Resources"]
    }
    values = Values(region=REGION, parameters=default_parameters(sam), attributes=stand_ins)
    body = json.loads(resolve(dashboard["Properties"]["DashboardBody"], values))
    shown, namespace = set(), None
    for widget in body["widgets"]:
        for metric in widget["properties"].get("metrics", []):
            namespace = metric[0] if metric[0] != "." else namespace
            if namespace == "MLNews":
                shown.add(metric[1])
    emitted = _emitted_metric_names()
    assert shown and shown <= emitted, sorted(shown - emitted)
    assert {"ModelAccuracy", "FeedbackStored", "RetrainingDeployed", "RetrainingFailed"} <= shown
    # live accuracy by version reads the retrain check's log, where the version rides as a property
    (query,) = [w["properties"]["query"] for w in body["widgets"] if w["type"] == "log"]
    assert "RetrainCheckFunction" in query and "by model_version" in query
    assert 'add_metadata(key="model_version"' in (REPO_ROOT / "handlers" / "retrain_check.py").read_text()


def test_detailed_metrics_are_off_by_default_and_switch_api_and_custom_metrics_together():
    sam = _sam()
    assert sam["Parameters"]["DetailedMetrics"]["Default"] == "false"
    (settings,) = sam["Resources"]["Api"]["Properties"]["MethodSettings"]
    assert settings["MetricsEnabled"] == {"Fn::If": ["UseDetailedMetrics", True, False]}
    variables = sam["Globals"]["Function"]["Environment"]["Variables"]
    assert variables["DETAILED_METRICS"] == {"Ref": "DetailedMetrics"}
