"""PredictionKeyRotationFunction: Secrets Manager's rotation of the prediction signing key, one step per call
({"Step", "SecretId", "ClientRequestToken"}); core.feedback.key_rotation does the work."""

from __future__ import annotations

from core.feedback import key_rotation
from core.settings import function_settings
from handlers.observability import logger

function_settings()  # the secret comes with each event


@logger.inject_lambda_context(clear_state=True)
def lambda_handler(event: dict, context) -> dict:
    step, secret_id, token = event["Step"], event["SecretId"], event["ClientRequestToken"]
    outcome = key_rotation.rotate(step, secret_id, token)
    logger.info("rotation step done", extra={"step": step, "version": token, "outcome": outcome})
    return {"step": step, "outcome": outcome}
