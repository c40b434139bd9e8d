"""Prediction ids across key rotations: each id names its key; the current and the previous key verify, an
older one is refused with that reason; ids from before key ids existed still verify."""

from __future__ import annotations

import base64
import json

import pytest

from core.data.headlines import headline_sha256
from core.errors import InvalidInput, InvalidPredictionId
from core.feedback import messages
from core.feedback.prediction_ids import (
    KeyRing,
    PredictionClaims,
    RetiredSigningKey,
    issue_prediction_id,
    key_id,
    sign,
    signing_key_id,
    verify_prediction_id,
)

OLD, CURRENT, NEXT = b"o" * 48, b"c" * 48, b"n" * 48
HEADLINE = "Senate passes the annual budget"


def test_an_id_names_its_key_without_revealing_it():
    token = issue_prediction_id(CURRENT, HEADLINE, "POLITICS", "v0001")
    assert signing_key_id(token) == key_id(CURRENT) != key_id(OLD)
    assert CURRENT.decode() not in base64.urlsafe_b64decode(token.split(".")[0] + "==").decode()
    assert verify_prediction_id(KeyRing(CURRENT), token, HEADLINE).key_id == key_id(CURRENT)


def test_ids_of_the_previous_key_verify_and_older_ones_are_refused_with_the_reason():
    before = issue_prediction_id(OLD, HEADLINE, "POLITICS", "v0001")
    after_one_rotation = KeyRing(current=CURRENT, previous=OLD)
    assert verify_prediction_id(after_one_rotation, before, HEADLINE).category == "POLITICS"
    after_two = KeyRing(current=NEXT, previous=CURRENT)
    with pytest.raises(RetiredSigningKey, match="retired by key rotation") as refused:
        verify_prediction_id(after_two, before, HEADLINE)
    assert refused.value.code == "invalid_prediction_id"
    assert refused.value.details == {"reason": "signing_key_retired"}


def test_a_forged_id_naming_a_known_key_still_needs_that_keys_signature():
    genuine = issue_prediction_id(CURRENT, HEADLINE, "POLITICS", "v0001")
    body = genuine.split(".")[0]
    # signed with another key but claiming the current key's id
    assert signing_key_id(f"{body}.{sign(OLD, body)}") == key_id(CURRENT)
    with pytest.raises(InvalidPredictionId, match="signature does not verify"):
        verify_prediction_id(KeyRing(CURRENT, OLD), f"{body}.{sign(OLD, body)}", HEADLINE)


def test_ids_without_a_key_id_are_tried_against_both_keys():
    claims = PredictionClaims("v0001", "POLITICS", headline_sha256(HEADLINE), 1_767_268_800, "ab")
    payload = claims.as_payload()  # as issued before key ids existed
    assert "k" not in payload
    body = base64.urlsafe_b64encode(json.dumps(payload).encode()).rstrip(b"=").decode()
    legacy = f"{body}.{sign(OLD, body)}"
    assert signing_key_id(legacy) is None
    got = verify_prediction_id(KeyRing(CURRENT, OLD), legacy, HEADLINE, now=1_767_268_900)
    assert got.key_id is None and got.model_version == "v0001"
    with pytest.raises(InvalidPredictionId, match="signature does not verify"):
        verify_prediction_id(KeyRing(NEXT, CURRENT), legacy, HEADLINE, now=1_767_268_900)


@pytest.mark.parametrize("token", ["\ud800.abc", "eyJ\ud800.x", "é.é"])
def test_ids_that_are_not_ascii_fail_to_verify_instead_of_failing_to_encode(token):
    with pytest.raises(InvalidPredictionId):
        verify_prediction_id(KeyRing(CURRENT), token, HEADLINE)


def test_a_headline_with_lone_surrogates_is_refused_not_crashed_on():
    token = issue_prediction_id(CURRENT, HEADLINE, "POLITICS", "v0001")
    with pytest.raises(InvalidPredictionId, match="not valid Unicode"):
        verify_prediction_id(KeyRing(CURRENT), token, "Senate \ud800")


def test_receipts_outlive_one_rotation_and_cover_every_field():
    message = {"prediction_id": "p", "headline": "h", "correct_category": "A", "received_at": "t"}
    message["issued_at"] = 1
    sealed = messages.seal(message, OLD)
    messages.check_receipt(sealed, KeyRing(CURRENT, OLD))  # the API sealed it before the rotation
    with pytest.raises(messages.ReceiptKeyRetired):
        messages.check_receipt(sealed, KeyRing(NEXT, CURRENT))
    for field, value in [("correct_category", "B"), ("api_key_id", "someone-else"), ("issued_at", 2)]:
        with pytest.raises(InvalidInput, match="does not verify"):  # InvalidInput
            messages.check_receipt(dict(sealed, **{field: value}), KeyRing(CURRENT, OLD))
    with pytest.raises(InvalidInput, match="malformed"):
        messages.check_receipt(dict(sealed, receipt="nodot"), KeyRing(CURRENT, OLD))
