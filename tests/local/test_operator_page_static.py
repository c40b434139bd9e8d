"""The operator page as a static file for a deployed stack (python -m local.operator_page): what it is written
with, its refusals, and its signing with temporary credentials (a session token), run in node and checked the
way local mode checks signatures (local.sigv4), which is API Gateway's SigV4."""

from __future__ import annotations

import json
import shutil
import subprocess

import pytest

from local.browser_signing import SIGV4_JS
from local.operator_page import main, operator_page, region_of
from local.sigv4 import Caller, SignatureRefused, verify

API = "https://abc123defg.execute-api.eu-west-1.amazonaws.com/dev"
TEMPORARY = Caller("ASIATEMPORARYKEY0000", "temporary-secret", ("session-token/+=",),
                   "arn:aws:sts::123456789012:assumed-role/operator/alice")  # fmt: skip


def page_config(html: str) -> dict:
    return json.loads(html.split("const CONFIG=", 1)[1].split(";\n", 1)[0])


def test_the_static_page_calls_the_given_api_and_asks_for_credentials(tmp_path, capsys):
    out = tmp_path / "page" / "operator.html"
    assert main(["--api", API + "/", "--out", str(out)]) == 0
    html = out.read_text(encoding="utf-8")
    assert page_config(html) == {"apiBase": API, "localKey": False, "region": "eu-west-1"}
    assert "<script src" not in html and "sessionStorage" in html and "localStorage" not in html
    assert f"wrote {out}" in capsys.readouterr().out
    assert page_config(operator_page()) == {"apiBase": "", "localKey": True, "region": None}


def test_a_value_cannot_close_the_script_element():
    html = operator_page("http://example.test/</script><script>alert(1)", local_key=False, region="x")
    assert "</script><script>alert" not in html
    assert page_config(html)["apiBase"] == "http://example.test/</script><script>alert(1)"


@pytest.mark.parametrize(
    ("argv", "message"),
    [(["--api", "abc123.execute-api.eu-west-1.amazonaws.com"], "--api must be an http(s) URL"),
     (["--api", "https://api.example.com/prod"], "--region is needed")],
)
def test_bad_arguments_are_a_message_and_exit_2(argv, message, tmp_path, capsys):
    assert main([*argv, "--out", str(tmp_path / "page.html")]) == 2
    assert message in capsys.readouterr().err and not (tmp_path / "page.html").exists()
    assert region_of("https://x.execute-api.us-gov-west-1.amazonaws.com/prod") == "us-gov-west-1"


def sign_in_node(method: str, url: str, body: str, creds: dict) -> dict:
    """signRequest of the page's script, in node (Web Crypto as in browsers), at the page's location."""
    assert shutil.which("node"), "node runs the page's signing code here (make lint needs it too)"
    shim = "globalThis.window=globalThis;globalThis.location={href:'https://operator.example.com/page.html'};\n"
    run = (f"signRequest({json.dumps(method)},{json.dumps(url)},{json.dumps(body)},{json.dumps(creds)})"
           ".then(h=>console.log(JSON.stringify(h)))")  # fmt: skip
    out = subprocess.run(["node", "-e", shim + SIGV4_JS + run], capture_output=True, text=True, timeout=60)
    assert out.returncode == 0, out.stderr
    return json.loads(out.stdout)


@pytest.mark.parametrize(
    ("method", "path", "body"),
    [("GET", "/api/v1/model/train?limit=5", ""),
     ("POST", "/api/v1/model/deploy/v0002", '{"reason": "rollback from the operator page"}')],
)
def test_temporary_credentials_sign_with_their_session_token(method, path, body):
    creds = {"accessKeyId": TEMPORARY.access_key, "secretAccessKey": TEMPORARY.secret_key,
             "sessionToken": TEMPORARY.session_tokens[0], "region": "eu-west-1"}  # fmt: skip
    signed = sign_in_node(method, API + path, body, creds)
    assert "x-amz-security-token" in signed["Authorization"]
    headers = [("Host", "abc123defg.execute-api.eu-west-1.amazonaws.com"), *signed.items()]
    known = {TEMPORARY.access_key: TEMPORARY}.get
    assert verify(method, API + path, headers, body.encode(), "eu-west-1", known) is TEMPORARY
    without_token = [(name, value) for name, value in headers if name != "X-Amz-Security-Token"]
    with pytest.raises(SignatureRefused):
        verify(method, API + path, without_token, body.encode(), "eu-west-1", known)
