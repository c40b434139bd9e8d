"""Rotating the prediction signing key: the four steps Secrets Manager asks a rotation function for.

The key is a random string only this service uses, so there is nothing to set anywhere else: createSecret
stores a new random key as AWSPENDING, setSecret has nothing to do, testSecret checks the pending key signs
and verifies an id, finishSecret moves AWSCURRENT to it (Secrets Manager moves AWSPREVIOUS to the old key,
which keeps verifying ids and receipts until the next rotation). Every step is idempotent: Secrets Manager
retries a failed step. https://docs.aws.amazon.com/secretsmanager/latest/userguide/rotate-secrets_lambda-functions.html
"""

from __future__ import annotations

import logging
import secrets

from core import aws_clients
from core.errors import MlNewsError
from core.feedback.prediction_ids import KeyRing, issue_prediction_id, key_id, verify_prediction_id

logger = logging.getLogger(__name__)

STEPS = ("createSecret", "setSecret", "testSecret", "finishSecret")
KEY_CHARACTERS = 64  # as the template's GenerateSecretString: 64 characters, here of the base64url alphabet
_MIN_KEY_BYTES = 32


class RotationError(MlNewsError):
    """The secret is not in a state this step can work from (the message says why)."""

    code = "rotation_error"


def new_key() -> str:
    """A fresh key: 48 random bytes (384 bits) from the operating system's CSPRNG, base64url."""
    return secrets.token_urlsafe(KEY_CHARACTERS * 3 // 4)


def rotate(step: str, secret_id: str, token: str) -> str:
    """Run one rotation step for version `token` of the secret; returns what was done."""
    if step not in STEPS:
        raise RotationError(f"unknown rotation step {step!r} (expected one of {', '.join(STEPS)})")
    client = aws_clients.client("secretsmanager")
    metadata = client.describe_secret(SecretId=secret_id)
    if not metadata.get("RotationEnabled"):
        raise RotationError(f"secret {secret_id} is not enabled for rotation")
    stages = (metadata.get("VersionIdsToStages") or {}).get(token)
    if stages is None:
        raise RotationError(f"secret version {token} has no stage for rotation of {secret_id}")
    if "AWSCURRENT" in stages:
        if step == "finishSecret" and "AWSPENDING" in stages:
            _drop_pending(client, secret_id, token)
        return "already current"
    if "AWSPENDING" not in stages:
        raise RotationError(f"secret version {token} is not AWSPENDING for rotation of {secret_id}")
    return _STEP[step](client, secret_id, token, metadata)


def _create(client, secret_id: str, token: str, metadata: dict) -> str:
    client.get_secret_value(SecretId=secret_id, VersionStage="AWSCURRENT")  # the secret must have a value
    try:
        client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
        return "pending key exists"
    except client.exceptions.ResourceNotFoundException:
        client.put_secret_value(
            SecretId=secret_id, ClientRequestToken=token, SecretString=new_key(), VersionStages=["AWSPENDING"]
        )
    return "pending key created"


def _set(client, secret_id: str, token: str, metadata: dict) -> str:
    return "nothing to set: only this service uses the key"


def _test(client, secret_id: str, token: str, metadata: dict) -> str:
    value = client.get_secret_value(SecretId=secret_id, VersionId=token, VersionStage="AWSPENDING")
    key = value.get("SecretString", "").encode("utf-8")
    if len(key) < _MIN_KEY_BYTES:
        raise RotationError(f"pending key of {secret_id} is shorter than {_MIN_KEY_BYTES} bytes")
    probe = issue_prediction_id(key, "rotation probe", "PROBE", "rotation")
    verify_prediction_id(KeyRing(key), probe, "rotation probe")
    return f"pending key {key_id(key)} signs and verifies"


def _finish(client, secret_id: str, token: str, metadata: dict) -> str:
    versions = metadata["VersionIdsToStages"]
    current = next((version for version, stages in versions.items() if "AWSCURRENT" in stages), None)
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSCURRENT", MoveToVersionId=token, RemoveFromVersionId=current
    )
    _drop_pending(client, secret_id, token)
    return f"version {token} is current, {current} previous"


def _drop_pending(client, secret_id: str, token: str) -> None:
    """End with no AWSPENDING at all: AWS also accepts AWSPENDING left on the current version, but moto
    5.2.5 then refuses the next RotateSecret as "still in progress"; this end state suits both."""
    client.update_secret_version_stage(
        SecretId=secret_id, VersionStage="AWSPENDING", RemoveFromVersionId=token
    )


_STEP = {"createSecret": _create, "setSecret": _set, "testSecret": _test, "finishSecret": _finish}
