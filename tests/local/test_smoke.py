"""`mlnews smoke` against local mode (the real template): the walk, its failures, SigV4 on admin routes."""

import time

import pytest

from cli import smoke
from cli.main import main
from local import bootstrap
from local.api_client import ApiClient
from local.session import LocalConfig, LocalSession

STEPS = ("health", "predict", "feedback", "stats", "versions")


def walk_lines(out: str) -> list[str]:
    """smoke's own lines (local mode's in-process functions also print their metrics to stdout)."""
    return [line for line in out.splitlines() if line.startswith(("ok ", "FAIL ", "..", "smoke "))]


@pytest.fixture(scope="module")
def session():
    with pytest.MonkeyPatch.context() as patch:
        for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                            "AWS_REGION": "us-east-1"}.items():
            patch.setenv(name, value)
        patch.delenv("AWS_PROFILE", raising=False)
        with LocalSession(LocalConfig(port=0, max_batching_window=0)) as running:
            records = bootstrap.subsample(bootstrap.read_records(bootstrap.DEMO_CORPUS), 400)
            bootstrap.upload_dataset(running, records)
            yield running


@pytest.fixture
def signed(monkeypatch):
    """Every request smoke sends, with its headers."""
    sent = []
    original = smoke.Client.call

    def recording(self, method, path, body=None):
        import urllib.request

        opener = urllib.request.urlopen

        def capture(request, timeout=None):
            sent.append((request.get_method(), path, dict(request.header_items())))
            return opener(request, timeout=timeout)

        monkeypatch.setattr(urllib.request, "urlopen", capture)
        try:
            return original(self, method, path, body)
        finally:
            monkeypatch.setattr(urllib.request, "urlopen", opener)

    monkeypatch.setattr(smoke.Client, "call", recording)
    return sent


def test_predict_without_a_model_fails_at_predict(session, capsys):
    assert bootstrap.active_version(session) is None
    assert main(["smoke", "--api", session.front.base_url]) == 1
    out, err = capsys.readouterr()
    assert walk_lines(out)[0].startswith("ok   health")
    assert "FAIL POST /api/v1/predict returned HTTP" in out and "Traceback" not in out + err
    assert err.startswith("mlnews: smoke test failed: POST /api/v1/predict")


def test_the_walk_with_training_passes_and_signs_admin_routes(session, capsys, signed):
    ApiClient(session.front.base_url).wait_training(
        ApiClient(session.front.base_url).call("POST", "/api/v1/model/train", {"include_feedback": False})
        .body["job_id"], timeout=300)
    t0 = time.perf_counter()
    assert main(["smoke", "--api", session.front.base_url, "--train", "--timeout", "300"]) == 0
    out, _ = capsys.readouterr()
    lines = walk_lines(out)
    for name in STEPS:
        found = [line for line in lines if line.startswith(f"ok   {name} ")]
        assert found and "HTTP 20" in found[0] and found[0].endswith(" ms)"), out
    assert any(line.startswith("ok   training  HTTP 200  status=SUCCEEDED") for line in lines), out
    assert lines[-1].startswith("smoke test passed in")
    assert time.perf_counter() - t0 < 300
    for method, path, headers in signed:
        authorization = {k.lower(): v for k, v in headers.items()}.get("authorization", "")
        if path.startswith("/api/v1/model/"):
            assert authorization.startswith("AWS4-HMAC-SHA256 Credential=")
            assert "/us-east-1/execute-api/aws4_request" in authorization
        else:
            assert not authorization, (method, path)
    assert {p for _, p, _ in signed} >= {"/api/v1/model/versions", "/api/v1/model/train"}


def test_closed_port_is_a_clear_failure(capsys):
    assert main(["smoke", "--api", "http://127.0.0.1:9"]) == 1
    out, err = capsys.readouterr()
    assert "cannot connect" in err and "127.0.0.1:9/health" in err and "Traceback" not in err


def test_no_credentials_is_a_clear_failure(session, capsys, monkeypatch, tmp_path):
    for name in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_CONFIG_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(tmp_path / "none"))
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")
    monkeypatch.setattr(smoke, "load_credentials", lambda: None)
    assert main(["smoke", "--api", session.front.base_url]) == 1
    assert "no AWS credentials found" in capsys.readouterr().err


def test_sigv4_signing_and_region_from_host():
    from botocore.credentials import Credentials

    url = "https://abc123.execute-api.eu-west-2.amazonaws.com/prod/api/v1/model/versions"
    assert smoke.region_for(url) == "eu-west-2"
    assert smoke.region_for("http://127.0.0.1:3000", "ap-south-1") == "ap-south-1"
    headers = smoke.sign("GET", url, {"Accept": "application/json"}, None, "eu-west-2",
                         Credentials("AKIDEXAMPLE", "secret", "token"))
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=AKIDEXAMPLE/")
    assert "/eu-west-2/execute-api/aws4_request" in headers["Authorization"]
    assert "X-Amz-Date" in headers and headers["X-Amz-Security-Token"] == "token"
