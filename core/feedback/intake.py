"""The API side of feedback: verify a request and queue it, sealed with the API's receipt."""

from __future__ import annotations

import hashlib
import json

from core import aws_clients
from core.errors import InvalidInput
from core.feedback.messages import build_feedback_message, seal
from core.feedback.prediction_ids import signing_key_id, verify_prediction_id
from core.feedback.signing_keys import signing_keyring
from core.settings import Settings, get_settings


def accept_feedback(
    request: dict,
    *,
    known_categories: list[str] | None,
    correlation_id: str | None,
    api_key_id: str | None = None,
    settings: Settings | None = None,
) -> dict:
    """Verify a feedback request and queue it. Returns {"message_id", "message"}; raises InvalidInput.

    `api_key_id`: the API key the request came with (None without one), recorded with the feedback.
    """
    settings = settings or get_settings()
    settings.require("feedback_queue_url")
    keys = signing_keyring(settings, wanted_key_id=signing_key_id(request["prediction_id"]))
    claims = verify_prediction_id(
        keys,
        request["prediction_id"],
        request["headline"],
        max_age_days=settings.prediction_id_max_age_days,
    )
    if known_categories is not None and request["correct_category"] not in known_categories:
        raise InvalidInput(
            f"unknown category {request['correct_category']!r}",
            details={"known_categories": sorted(known_categories)},
        )
    message = seal(
        build_feedback_message(request, claims, correlation_id=correlation_id, api_key_id=api_key_id),
        keys.current,
    )
    attributes = {
        "prediction_id_sha256": {
            "DataType": "String",
            "StringValue": hashlib.sha256(request["prediction_id"].encode()).hexdigest(),
        }
    }
    if correlation_id:
        attributes["correlation_id"] = {"DataType": "String", "StringValue": correlation_id}
    response = aws_clients.client("sqs").send_message(
        QueueUrl=settings.feedback_queue_url,
        MessageBody=json.dumps(message),
        MessageAttributes=attributes,
    )
    return {"message_id": response["MessageId"], "message": message}
