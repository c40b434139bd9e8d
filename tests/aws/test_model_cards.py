"""GET /api/v1/model/versions/{version}/card, run as ModelAdminFunction (its role authorizes the S3 reads):
JSON by default, one HTML page with the pictures for ?format=html or an Accept header naming text/html; a
version registered by hand gets a card from what is known; bad input is a 4xx JSON error."""

from __future__ import annotations

import json
import shutil

import pytest

from core.cards.build import card_for_model_dir
from core.cards.card import Plot
from core.cards.files import CARD_DIR, write_card_dir
from tests.support.api_events import api_event
from tests.support.handler_calls import LambdaContext
from tests.support.records import make_records

PNG = b"\x89PNG\r\n\x1a\n-a-stand-in-picture"


@pytest.fixture
def admin(aws):
    import handlers.api_model_admin as module

    aws.use_function_env("ModelAdminFunction")
    return module


def get_card(admin, version: str, query: dict | None = None, accept: str | None = None):
    headers = {"Accept": accept} if accept else None
    event = api_event("api_model_card.json", path_parameters={"version": version}, headers=headers)
    event["queryStringParameters"] = query
    event["multiValueQueryStringParameters"] = {key: [value] for key, value in (query or {}).items()} or None
    response = admin.lambda_handler(event, LambdaContext())
    headers = {key.lower(): value for key, value in (response.get("headers") or {}).items()}
    for key, values in (response.get("multiValueHeaders") or {}).items():
        headers[key.lower()] = values[-1]
    return response["statusCode"], headers.get("content-type", ""), response["body"]


def test_a_hand_registered_version_gets_a_card_from_what_is_known(admin, registry, good_model_dir):
    version = registry.register_model_dir(good_model_dir)["version"]
    assert registry.require(version)["card"]["uri"].endswith(f"/models/{version}/card/card.json")
    status, content_type, body = get_card(admin, version)
    assert status == 200 and content_type.startswith("application/json")
    card = json.loads(body)
    assert (card["version"], card["status"], card["source"]) == (version, "candidate", "manual")
    assert card["data"]["n_records"] == 160 and len(card["data"]["categories"]) == 4
    assert card["validation"]["accuracy"] > 0.5 and card["serving_cost"]["bundle_bytes"] > 0
    assert card["golden"] is None and card["plots"] == {} and card["decision"] is None
    missing = " | ".join(card["missing"])
    for lacking in ("golden-set metrics: not scored", "latency", "the gate's decision", "data sources"):
        assert lacking in missing


def test_a_stored_card_is_served_as_html_with_its_pictures_and_escaped_headlines(
    admin, registry, good_model_dir, tmp_path
):
    model_dir = tmp_path / "model"
    shutil.copytree(good_model_dir, model_dir)
    golden = make_records(3, seed=9, label_noise=0.8)
    golden[0]["headline"] = "<script>alert('card')</script> senate vote"
    card = card_for_model_dir(model_dir, measured_in="the test", golden_records=golden, scored_by="the test")
    plot = Plot(file="confusion_matrix.png", title="Confusion", made_by="the test",
                data_fingerprint=card.golden.data_fingerprint)  # fmt: skip
    card.plots = {"confusion_matrix": plot}
    write_card_dir(model_dir / CARD_DIR, card, {"confusion_matrix.png": PNG})
    version = registry.register_model_dir(model_dir)["version"]

    status, content_type, body = get_card(admin, version, {"format": "html"})
    assert status == 200 and content_type.startswith("text/html"), body[:800]
    assert f"Model card {version}" in body and "data:image/png;base64," in body
    assert "<script>alert" not in body and "&lt;script&gt;alert(&#39;card&#39;)&lt;/script&gt;" in body
    browser = "text/html,application/xhtml+xml,application/xml;q=0.9,*/*;q=0.8"
    assert get_card(admin, version, accept=browser)[1].startswith("text/html")
    status, content_type, body = get_card(admin, version, {"format": "json"}, accept=browser)
    served = json.loads(body)
    assert served["golden"]["n"] == 12 and served["golden"]["scored_by"] == "the test"
    assert served["plots"]["confusion_matrix"]["file"] == "confusion_matrix.png"
    assert served["serving_cost"]["latency"]["n"] == 12


def test_a_version_without_a_stored_card_still_has_one(admin, registry, aws, good_model_dir):
    """Versions registered before cards existed: the registry item is all there is."""
    import boto3

    version = registry.register_model_dir(good_model_dir)["version"]
    registry.reject(version, ["worse than the active model"])
    s3 = boto3.client("s3")
    s3.delete_object(Bucket=aws.name("ArtifactsBucket"), Key=f"models/{version}/card/card.json")
    status, _, body = get_card(admin, version)
    card = json.loads(body)
    assert status == 200 and (card["status"], card["source"]) == ("rejected", "manual")
    assert card["data"]["categories"] and card["serving_cost"] is None
    assert "serving cost: not measured" in card["missing"]


@pytest.mark.parametrize(
    "version, query, expected",
    [
        ("latest", None, (400, "invalid_input")),
        ("v0042", None, (404, "not_found")),
        ("v0001", {"format": "pdf"}, (422, "validation_error")),
    ],
)
def test_bad_requests_are_4xx_json(admin, registry, good_model_dir, version, query, expected):
    registry.register_model_dir(good_model_dir)
    status, content_type, body = get_card(admin, version, query)
    assert (status, json.loads(body)["error"]) == expected and content_type.startswith("application/json")
