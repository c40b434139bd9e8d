"""`mlnews card VERSION` reads the card through the API: a SigV4-signed GET of the card route (a stand-in
server on the loopback answers as the route does), the pictures drawn from the card's numbers, the API's
errors as a message and exit 2."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import numpy as np
import pytest

from cli.main import main
from core.cards import sections
from core.cards.card import ModelCard

CLASSES = ["POLITICS", "SPORTS"]


def served_card() -> dict:
    records = [{"headline": f"h{i}", "category": CLASSES[i % 2]} for i in range(6)]
    proba = np.array([[0.8, 0.2], [0.3, 0.7], [0.6, 0.4], [0.55, 0.45], [0.9, 0.1], [0.2, 0.8]])
    golden = sections.golden_section(records, proba, CLASSES, scored_by="the Evaluate step")
    card = ModelCard(version="v0007", status="active", source="training", golden=golden)
    return card.model_dump(mode="json")


@pytest.fixture
def api(monkeypatch):
    """A loopback server answering GET /api/v1/model/versions/v0007/card with a card, 404 otherwise."""
    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_REGION": "us-east-1"}.items():  # fmt: skip
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_PROFILE", raising=False)
    requests = []

    class Route(BaseHTTPRequestHandler):
        def do_GET(self):  # noqa: N802 (http.server's name)
            requests.append((self.path, dict(self.headers)))
            found = self.path == "/api/v1/model/versions/v0007/card"
            refusal = {"error": "not_found", "message": "model version 'v0008' is not registered"}
            body = served_card() if found else refusal
            data = json.dumps(body).encode()
            self.send_response(200 if found else 404)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Route)
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True)
    thread.start()
    yield f"http://127.0.0.1:{server.server_address[1]}", requests
    server.shutdown()
    server.server_close()


def test_a_versions_card_comes_signed_from_the_api_with_pictures_drawn_here(api, tmp_path, capsys):
    url, requests = api
    page = tmp_path / "card.html"
    assert main(["card", "v0007", "--api", url, "--html", str(page), "--json"]) == 0
    card = json.loads(capsys.readouterr().out)
    assert (card["version"], card["status"], card["golden"]["n"]) == ("v0007", "active", 6)
    assert {plot["made_by"] for plot in card["plots"].values()} == {"mlnews card, from the card's numbers"}
    assert page.read_text().count("data:image/png;base64,") == 2
    ((path, headers),) = requests
    assert path == "/api/v1/model/versions/v0007/card"
    assert headers["Authorization"].startswith("AWS4-HMAC-SHA256 Credential=testing/")
    assert "/us-east-1/execute-api/aws4_request" in headers["Authorization"]


def test_the_apis_refusal_is_a_message_and_exit_2(api, capsys):
    url, _ = api
    assert main(["card", "v0008", "--api", url]) == 2
    err = capsys.readouterr().err
    assert "returned HTTP 404: model version 'v0008' is not registered" in err and "Traceback" not in err
