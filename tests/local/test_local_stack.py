"""Template deployment, state machine with SageMaker createTrainingJob.sync, schedules and kept state."""

import io
import json
import tarfile
from pathlib import Path

import pytest

from local import template
from local.session import LocalConfig, LocalSession

FIXTURE_DIR = Path(__file__).parent / "fixtures" / "local_app"
FIXTURE = FIXTURE_DIR / "template.yaml"


@pytest.fixture(scope="module")
def session():
    with LocalSession(LocalConfig(port=0, template=FIXTURE, max_batching_window=0)) as running:
        yield running


def sourcedir() -> bytes:
    buffer = io.BytesIO()
    with tarfile.open(fileobj=buffer, mode="w:gz") as tar:
        tar.add(FIXTURE_DIR / "train_fixture.py", arcname="train_fixture.py")
    return buffer.getvalue()


def run_training(session, job: str, rows: list[str]) -> dict:
    s3 = session.emulator.client("s3")
    bucket = session.deployment.physical("Bucket")
    for key in [o["Key"] for o in s3.list_objects_v2(Bucket=bucket, Prefix="data/").get("Contents", [])]:
        s3.delete_object(Bucket=bucket, Key=key)
    s3.put_object(Bucket=bucket, Key="data/part-1.jsonl", Body="\n".join(rows).encode())
    s3.put_object(Bucket=bucket, Key="code/sourcedir.tar.gz", Body=sourcedir())
    machine = session.deployment.state_machines["Machine"]
    arn = session.start_execution(
        machine, json.dumps({"job": job, "program": f"s3://{bucket}/code/sourcedir.tar.gz"})
    )
    return session.wait_execution(arn, timeout=120)


def test_everything_comes_from_the_template(session):
    d = session.deployment
    assert set(d.functions) == {"EchoFunction", "ConsumerFunction", "TickFunction", "StepFunction"}
    assert d.state_machines["Machine"].endswith(":stateMachine:fixture-machine-test")
    assert d.outputs["MachineArn"] == d.state_machines["Machine"]
    assert d.physical("Secret").startswith("arn:aws:secretsmanager:")
    secret = session.emulator.client("secretsmanager").get_secret_value(SecretId=d.physical("Secret"))
    assert len(secret["SecretString"]) == 32
    assert [(s.expression, s.input) for s in d.schedules] == [
        ("rate(1 day)", '{"source": "fixture-schedule"}')
    ]
    machines = session.emulator.client("stepfunctions").list_state_machines()["stateMachines"]
    assert [m["name"] for m in machines] == ["fixture-machine-test"]  # in the executing backend


def test_definition_substitutions_are_applied(session):
    sfn = session.emulator.client("stepfunctions")
    definition = json.loads(
        sfn.describe_state_machine(stateMachineArn=session.deployment.state_machines["Machine"])["definition"]
    )
    assert definition["States"]["Prepare"]["Resource"].endswith(session.deployment.functions["StepFunction"])
    uri = definition["States"]["Train"]["Parameters"]["InputDataConfig"][0]["DataSource"]["S3DataSource"][
        "S3Uri"
    ]
    assert uri == f"s3://{session.deployment.physical('Bucket')}/data/"


def test_sync_training_runs_the_program_and_uploads_the_model(session):
    execution = run_training(session, "job-ok", ['{"a": 1}', '{"a": 2}', '{"a": 3}'])
    assert execution["status"] == "SUCCEEDED", execution
    output = json.loads(execution["output"])
    assert output["training"]["status"] == "Completed"
    bucket = session.deployment.physical("Bucket")
    assert output["training"]["model"] == f"s3://{bucket}/training/job-ok/output/model.tar.gz"
    archive = session.emulator.client("s3").get_object(
        Bucket=bucket, Key="training/job-ok/output/model.tar.gz"
    )
    with tarfile.open(fileobj=io.BytesIO(archive["Body"].read())) as tar:
        model = json.loads(tar.extractfile("model.json").read())
    assert model["rows"] == 3
    assert model["hps"] == {"epochs": 3}  # sagemaker_* are SageMaker's, not the script's
    assert json.loads(model["raw"]["sagemaker_program"]) == "train_fixture.py"
    job = session.emulator.client("sagemaker").describe_training_job(TrainingJobName="job-ok")
    assert job["TrainingJobStatus"] == "Completed" and job["BillableTimeInSeconds"] >= 1


def test_failed_training_fails_the_task_with_the_reason(session):
    execution = run_training(session, "job-poisoned", ['{"poison": true}'])
    assert execution["status"] == "FAILED" and execution["error"] == "TrainingFailed"
    job = session.emulator.client("sagemaker").describe_training_job(TrainingJobName="job-poisoned")
    assert job["TrainingJobStatus"] == "Failed"
    assert "AlgorithmError" in job["FailureReason"] and "refusing poisoned data" in job["FailureReason"]


def test_tick_fires_schedule_targets_with_their_input(session):
    fired = session.tick()
    assert [entry["ok"] for entry in fired] == [True]
    item = session.emulator.client("dynamodb").get_item(
        TableName=session.deployment.physical("Table"), Key={"pk": {"S": "ticks"}}
    )["Item"]
    assert item["n"]["N"] == "1" and item["src"]["S"] == "fixture-schedule"


def test_state_dir_keeps_objects_items_and_secrets(tmp_path):
    config = LocalConfig(port=0, template=FIXTURE, state_dir=tmp_path, max_batching_window=0)
    with LocalSession(config) as first:
        d = first.deployment
        first.emulator.client("s3").put_object(Bucket=d.physical("Bucket"), Key="k/v.bin", Body=b"\x00kept")
        first.emulator.client("dynamodb").put_item(
            TableName=d.physical("Table"), Item={"pk": {"S": "kept"}, "b": {"B": b"\x01"}}
        )
        secret = first.emulator.client("secretsmanager").get_secret_value(SecretId=d.physical("Secret"))
    with LocalSession(config) as second:
        d = second.deployment
        assert second.restored == {"objects": 1, "items": 1, "secrets": 1}
        body = (
            second.emulator.client("s3").get_object(Bucket=d.physical("Bucket"), Key="k/v.bin")["Body"].read()
        )
        assert body == b"\x00kept"
        item = second.emulator.client("dynamodb").get_item(
            TableName=d.physical("Table"), Key={"pk": {"S": "kept"}}
        )["Item"]
        assert item["b"]["B"] == b"\x01"
        again = second.emulator.client("secretsmanager").get_secret_value(SecretId=d.physical("Secret"))
        assert again["SecretString"] == secret["SecretString"]


def test_bad_template_parameters_are_reported():
    sam = template.load_template(FIXTURE)
    with pytest.raises(template.DeployError, match="unknown template parameters: Nope"):
        template.default_parameters(sam, {"Nope": "1"})


def test_local_modes_errors_reach_the_user_as_mlnews_errors():
    """The CLI prints an MlNewsError as one line and exits 2; local mode's own failures are of that family."""
    from core.errors import MlNewsError
    from local.api_client import ApiError
    from local.bootstrap import BootstrapError, DatasetError
    from local.demo import DemoFailure
    from local.training_image import ImageError

    for error in (template.DeployError, ApiError, BootstrapError, DatasetError, DemoFailure, ImageError):
        assert issubclass(error, MlNewsError), error
