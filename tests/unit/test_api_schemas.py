"""The published request schemas say exactly what the service accepts: a headline passes the model iff it
passes its JSON Schema (length, and the pattern, whose \\xNN and \\uNNNN class means the same in ECMA-262
and Python's re), for every character of the Basic Multilingual Plane, alone and padded."""

import re

import pytest
from pydantic import ValidationError

from core.schemas import VISIBLE_CHARACTER, FeedbackRequest, PredictRequest

HEADLINE = PredictRequest.model_json_schema()["properties"]["headline"]


def schema_accepts(text: str) -> bool:
    return HEADLINE["minLength"] <= len(text) <= HEADLINE["maxLength"] and bool(
        re.search(HEADLINE["pattern"], text)
    )


def service_accepts(text: str) -> bool:
    try:
        PredictRequest.model_validate({"headline": text})
    except ValidationError:
        return False
    return True


def test_every_character_alone_and_padded_is_accepted_by_both_or_neither():
    assert HEADLINE["pattern"] == VISIBLE_CHARACTER
    disagreements = [
        hex(code)
        for code in range(0x10000)
        if not 0xD800 <= code <= 0xDFFF  # lone surrogates are not text a JSON body can carry as UTF-8
        for text in (chr(code), f" {chr(code)} ")
        if schema_accepts(text) != service_accepts(text)
    ]
    assert disagreements == []


@pytest.mark.parametrize(
    ("text", "accepted"),
    [("\f\f", False), ("\x00", False), ("\u3000\u2028", False), ("a", True), ("\u200bx", True),
     (" " * 5 + "a" * 507, True), (" " * 5 + "a" * 508, False)],  # limits hold as sent, before stripping
)
def test_whitespace_and_control_characters_alone_are_refused_by_both(text, accepted):
    assert schema_accepts(text) is accepted and service_accepts(text) is accepted


def test_accepted_text_is_stripped_after_its_limits_held():
    assert PredictRequest(headline="  a  ").headline == "a"
    request = FeedbackRequest(headline="h", prediction_id=" 0123456789 ", correct_category=" SPORTS ")
    assert (request.prediction_id, request.correct_category) == ("0123456789", "SPORTS")
