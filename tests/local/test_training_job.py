"""Local training jobs run the way the default image runs them (local/sagemaker.py `run_entry_point`).

A probe program reports what it sees: the image's Python and packages (local/training_image.py), the
sagemaker-training toolkit's layout, arguments and SM_* variables, only the code dir on its path; what one
job installs from its source dir's wheels never reaches the next job; no network for pip.
"""

from __future__ import annotations

import io
import json
import re
import tarfile
import time
import zipfile
from types import SimpleNamespace

import boto3
import pytest
from moto import mock_aws

from core.registry.archives import tar_gz
from local import sagemaker, training_image
from local.template import REPO_ROOT
from tests.support.handler_calls import REGION

BUCKET = "jobs"
PROBE = '''
import importlib.metadata, importlib.util, json, os, platform, sys
from pathlib import Path

def installed(name):
    try:
        return importlib.metadata.version(name)
    except importlib.metadata.PackageNotFoundError:
        return None

report = {
    "python": platform.python_version(),
    "executable": sys.executable,
    "argv": sys.argv[1:],
    "cwd": os.getcwd(),
    "sys_path": sys.path,
    "env": {k: v for k, v in os.environ.items() if k.startswith(("SM_", "PYTHONPATH", "PIP_", "HTTP"))},
    "probe_dep": importlib.util.find_spec("probe_dep") is not None,
    "repository_importable": importlib.util.find_spec("local") is not None,
    "versions": {name: installed(name) for name in ("scikit-learn", "numpy", "pydantic", "moto")},
    "config": json.loads((Path(os.environ["SM_INPUT_CONFIG_DIR"]) / "hyperparameters.json").read_text()),
    "channel": sorted(p.name for p in Path(os.environ["SM_CHANNEL_TRAIN"]).iterdir()),
}
Path(os.environ["SM_MODEL_DIR"], "report.json").write_text(json.dumps(report))
if os.environ.get("SM_HP_FAIL"):
    Path(os.environ["SM_OUTPUT_DIR"], "failure").write_text("probe refused: fail was set")
    sys.exit(3)
'''


def probe_wheel() -> bytes:
    """A minimal pure-Python wheel (probe-dep 1.0) for the source dir's wheels/."""
    files = {
        "probe_dep/__init__.py": "VALUE = 1\n",
        "probe_dep-1.0.dist-info/METADATA": "Metadata-Version: 2.1\nName: probe-dep\nVersion: 1.0\n",
        "probe_dep-1.0.dist-info/WHEEL": "Wheel-Version: 1.0\nGenerator: test\nRoot-Is-Purelib: true\n"
        "Tag: py3-none-any\n",
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, text in files.items():
            archive.writestr(name, text)
        record = "probe_dep-1.0.dist-info/RECORD"
        archive.writestr(record, "".join(f"{name},,\n" for name in [*files, record]))
    return buffer.getvalue()


def sourcedir(requirements: str | None = None, wheel: bool = False) -> bytes:
    entries = {"probe.py": PROBE.encode()}
    if requirements is not None:
        entries["requirements.txt"] = requirements.encode()
    if wheel:
        entries["wheels/probe_dep-1.0-py3-none-any.whl"] = probe_wheel()
    return tar_gz(entries.items())


@pytest.fixture
def s3(monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        monkeypatch.setenv(name, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    with mock_aws():
        client = boto3.client("s3", region_name=REGION)
        client.create_bucket(Bucket=BUCKET)
        client.put_object(Bucket=BUCKET, Key="data/part-1.jsonl", Body=b'{"a": 1}\n')
        yield client


@pytest.fixture
def jobs(tmp_path) -> sagemaker.TrainingJobs:
    """Local mode's training jobs, their work dirs kept under tmp_path for the tests to read."""
    return sagemaker.TrainingJobs(work_root=tmp_path, keep_work_dirs=True)


def run_job(jobs, s3, name: str, code: bytes, hyperparameters: dict[str, str]) -> SimpleNamespace:
    s3.put_object(Bucket=BUCKET, Key=f"code/{name}.tar.gz", Body=code)
    job = SimpleNamespace(
        training_job_name=name,
        input_data_config=[
            {"ChannelName": "train", "DataSource": {"S3DataSource": {"S3Uri": f"s3://{BUCKET}/data/"}}}
        ],
        hyper_parameters={
            "sagemaker_program": '"probe.py"',
            "sagemaker_submit_directory": json.dumps(f"s3://{BUCKET}/code/{name}.tar.gz"),
            **hyperparameters,
        },
        stopping_condition={"MaxRuntimeInSeconds": 120},
        resource_config={"InstanceType": "ml.m5.large"},
        model_artifacts={"S3ModelArtifacts": f"s3://{BUCKET}/out/{name}/output/model.tar.gz"},
    )
    jobs.run(job)
    return job


def report_of(jobs, job) -> dict:
    """What the probe wrote to its model dir (the job's work dir is kept: the `jobs` fixture)."""
    (report,) = jobs.work_root.glob(f"{job.training_job_name}-*/ml/model/report.json")
    return json.loads(report.read_text())


def test_a_job_runs_like_the_image_and_what_it_installs_stays_in_it(s3, jobs):
    requirements = "--no-index\n--find-links wheels\nprobe-dep==1.0\n"
    hyperparameters = {"C": "5.0", "embeddings": '"none"', "hyper": '"x"', "flag": "true"}
    first = run_job(jobs, s3, "probe-1", sourcedir(requirements, wheel=True), hyperparameters)
    assert first.training_job_status == "Completed", getattr(first, "failure_reason", None)
    report = report_of(jobs, first)
    image = training_image.load()
    model = s3.get_object(Bucket=BUCKET, Key="out/probe-1/output/model.tar.gz")["Body"].read()
    assert tarfile.open(fileobj=io.BytesIO(model)).getnames() == ["report.json"]

    assert report["python"].startswith(image["python"] + ".")  # the image's Python, not this interpreter's
    assert report["versions"] == {
        "scikit-learn": image["packages"]["scikit-learn"],
        "numpy": image["local_substitutes"]["numpy"]["version"],
        "pydantic": None,  # the image has none, and this job did not ask for it
        "moto": None,  # nothing of the test environment
    }
    assert report["probe_dep"] is True
    assert not report["repository_importable"] and not any(str(REPO_ROOT) == p for p in report["sys_path"])

    code_dir = report["cwd"]
    assert code_dir.endswith("/ml/code") and report["sys_path"][0] == code_dir
    assert report["argv"] == ["-C", "5.0", "--embeddings", "none", "--flag", "True", "--hyper", "x"]
    env = report["env"]
    assert env["PYTHONPATH"] == code_dir
    assert json.loads(env["SM_HPS"]) == {"C": 5.0, "embeddings": "none", "flag": True, "hyper": "x"}
    assert (env["SM_HP_C"], env["SM_HP_EMBEDDINGS"], env["SM_HP_FLAG"]) == ("5.0", "none", "true")
    assert json.loads(env["SM_USER_ARGS"]) == report["argv"] and env["SM_CHANNELS"] == '["train"]'
    assert env["SM_MODEL_DIR"].endswith("/ml/model")
    assert env["SM_CHANNEL_TRAIN"].endswith("/ml/input/data/train")
    assert env["SM_MODULE_DIR"] == f"s3://{BUCKET}/code/probe-1.tar.gz"
    assert env["SM_USER_ENTRY_POINT"] == "probe.py"
    assert env["PIP_NO_INDEX"] == "1" and env["HTTPS_PROXY"].startswith("http://127.0.0.1:")
    assert report["config"] == first.hyper_parameters  # hyperparameters.json: the JSON strings as given
    assert report["channel"] == ["part-1.jsonl"]

    second = run_job(jobs, s3, "probe-2", sourcedir(), {"fail": "1"})
    assert report_of(jobs, second)["probe_dep"] is False  # the first job's install did not leak
    assert second.training_job_status == "Failed"
    assert second.failure_reason == "AlgorithmError: probe refused: fail was set, exit code: 3"


def test_a_requirement_the_image_and_the_wheels_cannot_satisfy_fails_the_job_with_pips_message(s3, jobs):
    """No network: not the index (PIP_NO_INDEX) and not a find-links URL (a dead proxy), at once."""
    requirements = "--find-links https://example.com/wheels/\nprobe-dep==2.0\n"
    started = time.monotonic()
    job = run_job(jobs, s3, "probe-3", sourcedir(requirements, wheel=True), {})
    assert time.monotonic() - started < 30
    assert job.training_job_status == "Failed"
    reason = job.failure_reason
    assert reason.startswith("AlgorithmError: InstallRequirementsError:\nExitCode 1\nErrorMessage ")
    assert "No matching distribution found for probe-dep==2.0" in reason
    command = r'Command "\S+/venv/bin/python -m pip install -r requirements.txt", exit code: 1$'
    assert re.search(command, reason), reason
    assert not list(jobs.work_root.glob("probe-3-*/ml/model/*"))  # the program never ran


def test_a_source_dir_without_its_program_is_a_client_error(s3, jobs):
    job = run_job(jobs, s3, "probe-4", sourcedir(), {"sagemaker_program": '"missing.py"'})
    assert job.training_job_status == "Failed"
    where = f"s3://{BUCKET}/code/probe-4.tar.gz"
    assert job.failure_reason == f"ClientError: training program missing.py not found in {where}"
