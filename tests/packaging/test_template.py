"""template.yaml keeps the properties the design depends on (cfn-lint runs once, in `make lint`)."""

from __future__ import annotations

import ast
import io
import json
import re
import subprocess
import zipfile

import pytest

from local.template import REPO_ROOT, load_template

TEMPLATE = load_template()
RESOURCES = TEMPLATE["Resources"]
FUNCTIONS = {name: res for name, res in RESOURCES.items() if res["Type"] == "AWS::Serverless::Function"}
ADMIN_ROUTES = {
    "/api/v1/model/train",
    "/api/v1/model/train/{job_id}",
    "/api/v1/model/versions",
    "/api/v1/model/versions/{version}/card",
    "/api/v1/model/deploy/{version}",
    "/api/v1/model/evaluate",
    "/api/v1/model/evaluate/{evaluation_id}",
    "/api/v1/model/retrain-check",
    "/api/v1/model/feedback/daily",
}
PUBLIC_ROUTES = {
    "/health",
    "/api/v1/predict",
    "/api/v1/predict/batch",
    "/api/v1/feedback",
    "/api/v1/feedback/stats",
}


def of_type(kind: str) -> dict:
    return {name: res for name, res in RESOURCES.items() if res["Type"] == kind}


def test_every_handler_module_exists_and_code_uri_is_the_repo():
    assert TEMPLATE["Globals"]["Function"]["CodeUri"] == "."
    assert TEMPLATE["Globals"]["Function"]["Runtime"] == "python3.12"
    for name, function in FUNCTIONS.items():
        module, _, attribute = function["Properties"]["Handler"].rpartition(".")
        path = REPO_ROOT / f"{module}.py"
        assert path.is_file(), f"{name}: {path} missing"
        assert f"def {attribute}(" in path.read_text()


def test_lambda_requirements_match_pyproject_and_exclude_scikit_learn():
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    requirements = [
        line.strip()
        for line in (REPO_ROOT / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith("#")
    ]
    assert sorted(requirements) == sorted(pyproject["project"]["dependencies"])
    assert not any(name.startswith(("scikit-learn", "scipy", "joblib")) for name in requirements)


def test_training_requirements_pin_what_pyproject_pins():
    """The SageMaker source dir installs training/requirements.txt: same pins as pyproject. Only what the
    training image lacks (tests/packaging/test_training_image.py)."""
    import tomllib

    pyproject = tomllib.loads((REPO_ROOT / "pyproject.toml").read_text())
    project = pyproject["project"]
    pinned = set(project["dependencies"]) | set(project["optional-dependencies"]["train"])
    requirements = {
        line.strip()
        for line in (REPO_ROOT / "training" / "requirements.txt").read_text().splitlines()
        if line.strip() and not line.startswith(("#", "--"))  # --no-index, --find-links wheels
    }
    assert requirements <= pinned
    assert {r.split("==")[0] for r in requirements} >= {"pydantic"}


def make(*arguments: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        ["make", "--no-print-directory", "-C", str(REPO_ROOT), *arguments],
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_every_function_is_built_lean_by_its_own_makefile_target(tmp_path):
    """`sam build` runs build-<LogicalId> of the Makefile: no function copies the whole repository, and the
    dependencies are installed for the runtime and architecture the template gives the functions."""
    for name, function in FUNCTIONS.items():
        assert function.get("Metadata", {}).get("BuildMethod") == "makefile", name
    targets = [f"build-{name}" for name in FUNCTIONS]
    dry_run = make("-n", *targets, f"ARTIFACTS_DIR={tmp_path}", "PYTHON=python3")
    assert dry_run.returncode == 0, dry_run.stderr
    runtime = TEMPLATE["Globals"]["Function"]["Runtime"].removeprefix("python")
    (architecture,) = TEMPLATE["Globals"]["Function"]["Architectures"]
    architecture = {"arm64": "aarch64", "x86_64": "x86_64"}[architecture]
    installs = [line for line in dry_run.stdout.replace("\\\n", " ").splitlines() if " pip install " in line]
    assert len(installs) == len(FUNCTIONS)
    for line in installs:
        assert "-r requirements.txt" in line and f"--target {tmp_path}" in line.replace('"', "")
        assert f"--python-version {runtime}" in line and "--only-binary=:all:" in line
        assert re.search(rf"--platform manylinux\S*_{architecture}\b", line), line
    missing = make("-n", "build-NoSuchFunction", f"ARTIFACTS_DIR={tmp_path}")
    assert missing.returncode != 0 and "No rule to make target" in missing.stderr


def test_sam_build_packages_exactly_what_local_mode_packages(tmp_path):
    from local.packaging import function_package, lambda_sources

    artifacts = tmp_path / "PredictFunction"
    built = make("build-PredictFunction", f"ARTIFACTS_DIR={artifacts}", "LAMBDA_PIP=true")  # code only
    assert built.returncode == 0, built.stdout + built.stderr
    built_files = [path.relative_to(artifacts) for path in artifacts.rglob("*") if path.is_file()]
    # the Lambda package also carries bytecode compiled by the runtime's Python (a read-only /var/task would
    # compile every import at each cold start); local mode runs functions in-process and packages sources only
    files = {path.as_posix() for path in built_files if "__pycache__" not in path.parts}
    assert "handlers/__pycache__/api_predict.cpython-312.pyc" in {path.as_posix() for path in built_files}
    with zipfile.ZipFile(io.BytesIO(function_package(REPO_ROOT, lambda_sources()))) as archive:
        assert files == set(archive.namelist())
    assert lambda_sources() == ("core", "handlers", "training")
    assert {"handlers/api_predict.py", "core/model/bundle.py", "training/train.py"} <= files
    assert {path.split("/")[0] for path in files} == set(lambda_sources())


def test_everything_is_encrypted_with_the_customer_key():
    for name, bucket in of_type("AWS::S3::Bucket").items():
        props = bucket["Properties"]
        rule = props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0][
            "ServerSideEncryptionByDefault"
        ]
        assert rule["SSEAlgorithm"] == "aws:kms", name
        assert props["VersioningConfiguration"]["Status"] == "Enabled", name
        assert all(props["PublicAccessBlockConfiguration"].values()), name
    for table in of_type("AWS::DynamoDB::Table").values():
        sse = table["Properties"]["SSESpecification"]
        assert (
            sse["SSEEnabled"] is True
            and sse["SSEType"] == "KMS"
            and sse["KMSMasterKeyId"] == {"Ref": "DataKey"}
        )
        assert table["Properties"]["PointInTimeRecoverySpecification"]["PointInTimeRecoveryEnabled"] is True
    for name, queue in of_type("AWS::SQS::Queue").items():
        assert queue["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}, name
    assert RESOURCES["PredictionSigningSecret"]["Properties"]["KmsKeyId"] == {"Ref": "DataKey"}
    assert RESOURCES["AlarmTopic"]["Properties"]["KmsMasterKeyId"] == {"Ref": "DataKey"}
    assert RESOURCES["DataKey"]["Properties"]["EnableKeyRotation"] is True


def test_buckets_deny_plain_http():
    policies = of_type("AWS::S3::BucketPolicy")
    protected = {
        policy["Properties"]["Bucket"]["Ref"]
        for policy in policies.values()
        if any(
            statement["Effect"] == "Deny"
            and statement["Condition"] == {"Bool": {"aws:SecureTransport": "false"}}
            for statement in policy["Properties"]["PolicyDocument"]["Statement"]
        )
    }
    assert protected == set(of_type("AWS::S3::Bucket"))


def test_feedback_queue_redrives_to_the_dead_letter_queue():
    props = RESOURCES["FeedbackQueue"]["Properties"]
    assert props["RedrivePolicy"] == {
        "deadLetterTargetArn": {"Fn::GetAtt": ["FeedbackDeadLetterQueue", "Arn"]},
        "maxReceiveCount": {"Ref": "FeedbackMaxReceiveCount"},
    }
    consumer = FUNCTIONS["FeedbackConsumerFunction"]["Properties"]
    source = consumer["Events"]["FeedbackQueue"]["Properties"]
    assert source["FunctionResponseTypes"] == ["ReportBatchItemFailures"]
    timeout = consumer.get("Timeout", TEMPLATE["Globals"]["Function"]["Timeout"])
    assert props["VisibilityTimeout"] >= 6 * timeout


def test_feedback_table_keys_and_day_index():
    props = RESOURCES["FeedbackTable"]["Properties"]
    assert props["KeySchema"] == [
        {"AttributeName": "prediction_id", "KeyType": "HASH"},
        {"AttributeName": "created_at", "KeyType": "RANGE"},
    ]
    assert props["GlobalSecondaryIndexes"][0]["IndexName"] == "by_day"
    assert RESOURCES["ModelsTable"]["Properties"]["KeySchema"] == [
        {"AttributeName": "version", "KeyType": "HASH"}
    ]


def test_routes_map_to_functions_and_admin_routes_need_iam():
    routes = {}
    for name, function in FUNCTIONS.items():
        for event in function["Properties"].get("Events", {}).values():
            if event["Type"] == "Api":
                props = event["Properties"]
                assert props["RestApiId"] == {"Ref": "Api"}
                routes[props["Path"]] = (name, props.get("Auth", {}).get("Authorizer"))
    assert set(routes) == ADMIN_ROUTES | PUBLIC_ROUTES
    assert {path for path, (_, auth) in routes.items() if auth == "AWS_IAM"} == ADMIN_ROUTES
    assert {routes[path][0] for path in ADMIN_ROUTES} == {"ModelAdminFunction"}
    assert routes["/api/v1/predict"][0] == "PredictFunction"
    assert routes["/api/v1/feedback"][0] == "FeedbackApiFunction"


def test_api_is_throttled_traced_and_allows_the_correlation_header():
    api = RESOURCES["Api"]["Properties"]
    assert api["TracingEnabled"] is True
    settings = api["MethodSettings"][0]
    assert settings["ThrottlingRateLimit"] == {"Ref": "ApiThrottlingRateLimit"}
    assert settings["ThrottlingBurstLimit"] == {"Ref": "ApiThrottlingBurstLimit"}
    assert "X-Correlation-ID" in api["Cors"]["AllowHeaders"] and "Content-Type" in api["Cors"]["AllowHeaders"]


def test_tracing_everywhere_and_no_function_can_reach_scikit_learn():
    assert TEMPLATE["Globals"]["Function"]["Tracing"] == "Active"
    assert RESOURCES["RetrainingStateMachine"]["Properties"]["Tracing"] == {"Enabled": True}
    for name, function in FUNCTIONS.items():
        source = (REPO_ROOT / (function["Properties"]["Handler"].rpartition(".")[0] + ".py")).read_text()
        assert "sklearn" not in source, name


@pytest.mark.parametrize(
    "alarm,namespace,metric",
    [
        ("Api5xxAlarm", "AWS/ApiGateway", "5XXError"),
        ("ModelAccuracyAlarm", "MLNews", "ModelAccuracy"),
        ("FeedbackDeadLetterAlarm", "AWS/SQS", "ApproximateNumberOfMessagesVisible"),
    ],
)
def test_alarms_watch_the_right_metrics(alarm, namespace, metric):
    props = RESOURCES[alarm]["Properties"]
    assert (props["Namespace"], props["MetricName"]) == (namespace, metric)
    assert props["AlarmActions"] == [{"Ref": "AlarmTopic"}]


def test_state_machine_failure_alarm_and_schedule():
    metrics = RESOURCES["RetrainingFailedAlarm"]["Properties"]["Metrics"]
    assert {m["MetricStat"]["Metric"]["MetricName"] for m in metrics if "MetricStat" in m} == {
        "ExecutionsFailed",
        "ExecutionsTimedOut",
        "ExecutionsAborted",
    }
    schedule = FUNCTIONS["RetrainCheckFunction"]["Properties"]["Events"]["Schedule"]
    assert schedule["Properties"]["Schedule"] == {"Ref": "RetrainSchedule"}
    assert TEMPLATE["Parameters"]["RetrainSchedule"]["Default"] == "rate(1 day)"


def test_state_machine_definition_shape():
    definition = json.loads((REPO_ROOT / "statemachines" / "retraining.asl.json").read_text())
    states = definition["States"]
    train = states["Train"]
    assert train["Resource"] == "arn:aws:states:::sagemaker:createTrainingJob.sync"
    params = train["Parameters"]
    assert params["EnableManagedSpotTraining"] is True
    assert set(params["StoppingCondition"]) == {"MaxRuntimeInSeconds.$", "MaxWaitTimeInSeconds.$"}
    assert params["AlgorithmSpecification"]["TrainingImage"] == "${TrainingImage}"
    assert "CheckpointConfig" not in params and params["OutputDataConfig"]["KmsKeyId"] == "${DataKeyArn}"
    assert states["PromotionGate"]["Choices"][0]["Variable"] == "$.evaluation.decision.promote"
    for name, state in states.items():
        if state["Type"] == "Task" and name != "RecordFailure":
            assert (
                state["Catch"][0]["ErrorEquals"] == ["States.ALL"]
                and state["Catch"][0]["Next"] == "RecordFailure"
            )
            assert state["Retry"], name
    assert (
        states["RecordFailure"]["Next"] == "RetrainingFailed" and states["RetrainingFailed"]["Type"] == "Fail"
    )
    substitutions = RESOURCES["RetrainingStateMachine"]["Properties"]["DefinitionSubstitutions"]
    text = (REPO_ROOT / "statemachines" / "retraining.asl.json").read_text()
    for name in substitutions:
        assert "${" + name + "}" in text, f"unused substitution {name}"


def test_training_role_is_only_assumable_by_sagemaker():
    role = RESOURCES["TrainingRole"]["Properties"]
    statement = role["AssumeRolePolicyDocument"]["Statement"][0]
    assert statement["Principal"] == {"Service": "sagemaker.amazonaws.com"}
    actions = {
        action
        for policy in role["Policies"]
        for s in policy["PolicyDocument"]["Statement"]
        for action in ([s["Action"]] if isinstance(s["Action"], str) else s["Action"])
    }
    assert not any(action.endswith(":*") or action == "*" for action in actions)


def test_every_environment_variable_is_a_setting():
    from core.settings import Settings

    known = {(field.alias or name).upper() for name, field in Settings.model_fields.items()}
    libraries = {"POWERTOOLS_METRICS_NAMESPACE", "POWERTOOLS_LOG_LEVEL", "PYDANTIC_DISABLE_PLUGINS"}
    names = set(TEMPLATE["Globals"]["Function"]["Environment"]["Variables"])
    for function in FUNCTIONS.values():
        names |= set(function["Properties"].get("Environment", {}).get("Variables", {}))
    assert names - libraries <= known, sorted(names - libraries - known)


def test_settings_parse_the_template_defaults_and_reject_bad_values():
    from core.settings import SettingsError, load_settings

    settings = load_settings({"RETRAIN_COOLDOWN_HOURS": "6", "RECORD_PREDICTION_COUNTS": "false"})
    assert settings.retrain_cooldown_hours == 6.0 and settings.record_prediction_counts is False
    with pytest.raises(SettingsError, match="PROMOTION_ALPHA"):
        load_settings({"PROMOTION_ALPHA": "lots"})
    with pytest.raises(SettingsError, match="TRAINING_MAX_WAIT_SECONDS"):
        load_settings({"TRAINING_MAX_RUNTIME_SECONDS": "7200", "TRAINING_MAX_WAIT_SECONDS": "3600"})
    with pytest.raises(SettingsError, match="STATE_MACHINE_ARN"):
        load_settings({}).require("state_machine_arn")


def test_template_settings_and_policies_agree_on_every_default():
    """A threshold's default lives in three places (template parameter, setting, policy); they must agree."""
    from core.retraining.policies import PromotionPolicy, RetrainPolicy
    from core.settings import Settings

    defaults = Settings()
    checked = set()
    for function in FUNCTIONS.values():
        for variable, value in function["Properties"].get("Environment", {}).get("Variables", {}).items():
            parameter = TEMPLATE["Parameters"].get(value.get("Ref")) if isinstance(value, dict) else None
            if parameter is None or variable.lower() not in Settings.model_fields:
                continue
            setting = getattr(defaults, variable.lower())
            assert type(setting)(parameter["Default"]) == setting, variable
            checked.add(variable.lower())
    assert {"promotion_alpha", "retrain_cooldown_hours", "training_max_wait_seconds"} <= checked
    for policy in (PromotionPolicy, RetrainPolicy):
        assert policy() == policy.from_settings(defaults), policy.__name__


def test_each_handler_needs_only_settings_its_function_is_given():
    pass


def test_functions_tell_pydantic_to_skip_its_plugin_scan(monkeypatch):
    """The value must be one pydantic honours, or every cold start scans the package's entry points."""
    import pydantic.plugin._loader as plugin_loader

    value = TEMPLATE["Globals"]["Function"]["Environment"]["Variables"]["PYDANTIC_DISABLE_PLUGINS"]
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", value)
    monkeypatch.setattr(plugin_loader, "_plugins", None)

    def scan():
        raise AssertionError("pydantic scanned the installed distributions")

    monkeypatch.setattr(plugin_loader.importlib_metadata, "distributions", scan)
    assert tuple(plugin_loader.get_plugins()) == ()
    monkeypatch.setenv("PYDANTIC_DISABLE_PLUGINS", "nonsense")
    with pytest.raises(AssertionError, match="scanned"):
        plugin_loader.get_plugins()


def _services_kept_in_the_package() -> set[str]:
    (line,) = [line for line in (REPO_ROOT / "Makefile").read_text().splitlines()
               if line.startswith("LAMBDA_AWS_SERVICES :=")]
    return set(line.partition(":=")[2].split())


def _client_creations() -> list[tuple[str, int, ast.Call]]:
    """Every client or resource the functions' code creates: (file, line, call)."""
    calls = []
    for folder in ("core", "handlers"):
        for path in sorted((REPO_ROOT / folder).rglob("*.py")):
            for node in ast.walk(ast.parse(path.read_text())):
                if (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute)
                        and node.func.attr in ("client", "resource")):
                    calls.append((path.relative_to(REPO_ROOT).as_posix(), node.lineno, node))
    return calls


def test_the_package_keeps_the_model_of_every_service_the_functions_call():
    """The build drops botocore's models of services no function calls (Makefile LAMBDA_AWS_SERVICES); a
    service missing from that list would fail on AWS only, with UnknownServiceError (local mode and the tests
    use the host's botocore)."""
    import botocore.session

    used = set()
    for path, line, call in _client_creations():
        if path == "core/aws_clients.py":
            continue  # the one place that creates them, for the names passed in below
        assert ast.unparse(call.func.value) == "aws_clients", f"{path}:{line} creates a client elsewhere"
        (service,) = call.args
        assert isinstance(service, ast.Constant), f"{path}:{line}: the service must be a literal name"
        used.add(service.value)
    kept = _services_kept_in_the_package()
    assert used == kept, {"called, not kept": sorted(used - kept), "kept, never called": sorted(kept - used)}
    assert kept <= set(botocore.session.get_session().get_available_services())


def test_the_build_drops_the_models_of_services_no_function_calls(tmp_path):
    data = tmp_path / "botocore" / "data"
    for service in ("s3", "ec2", "dynamodb", "iot"):
        (data / service / "2020-01-01").mkdir(parents=True)
        (data / service / "2020-01-01" / "service-2.json.gz").write_bytes(b"")
    (data / "endpoints.json").write_text("{}")
    built = make("build-PredictFunction", f"ARTIFACTS_DIR={tmp_path}", "LAMBDA_PIP=true")  # code only
    assert built.returncode == 0, built.stdout + built.stderr
    assert {path.name for path in data.iterdir()} == {"s3", "dynamodb", "endpoints.json"}
    assert (data / "s3" / "2020-01-01" / "service-2.json.gz").exists()
