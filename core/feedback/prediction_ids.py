"""Signed prediction ids: issued with every prediction, verified before feedback is accepted (pure: the key
is an argument; core.feedback.signing_keys reads it)."""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import secrets
import time
from dataclasses import dataclass

from core.data.headlines import headline_sha256
from core.errors import InvalidPredictionId

_CLOCK_SKEW_SECONDS = 300


@dataclass(frozen=True)
class PredictionClaims:
    model_version: str
    category: str
    headline_sha256: str
    issued_at: int
    nonce: str

    def as_payload(self) -> dict:
        return {
            "v": self.model_version,
            "c": self.category,
            "h": self.headline_sha256,
            "t": self.issued_at,
            "n": self.nonce,
        }


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def _sign(key: bytes, body: str) -> str:
    return _b64encode(hmac.new(key, body.encode("ascii"), hashlib.sha256).digest())


def issue_prediction_id(
    key: bytes, headline: str, category: str, model_version: str, issued_at: int | None = None
) -> str:
    claims = PredictionClaims(
        model_version=model_version,
        category=category,
        headline_sha256=headline_sha256(headline),
        issued_at=int(time.time()) if issued_at is None else int(issued_at),
        nonce=secrets.token_hex(8),
    )
    body = _b64encode(json.dumps(claims.as_payload(), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{_sign(key, body)}"


def verify_prediction_id(
    key: bytes, prediction_id: str, headline: str, *, max_age_days: int = 30, now: float | None = None
) -> PredictionClaims:
    """Return the claims of a genuine id for this headline, else raise InvalidPredictionId (says why)."""
    body, dot, signature = prediction_id.partition(".")
    if not dot or not body or not signature:
        raise InvalidPredictionId("prediction_id is malformed")
    if not hmac.compare_digest(_sign(key, body), signature):
        raise InvalidPredictionId("prediction_id signature does not verify")
    try:
        payload = json.loads(_b64decode(body))
        claims = PredictionClaims(
            model_version=str(payload["v"]),
            category=str(payload["c"]),
            headline_sha256=str(payload["h"]),
            issued_at=int(payload["t"]),
            nonce=str(payload["n"]),
        )
    except (ValueError, KeyError, TypeError, binascii.Error) as error:
        raise InvalidPredictionId("prediction_id payload is malformed") from error
    if not hmac.compare_digest(claims.headline_sha256, headline_sha256(headline)):
        raise InvalidPredictionId("headline does not match the headline of the prediction")
    now = time.time() if now is None else now
    if claims.issued_at > now + _CLOCK_SKEW_SECONDS:
        raise InvalidPredictionId("prediction_id is issued in the future")
    if now - claims.issued_at > max_age_days * 86400:
        raise InvalidPredictionId(f"prediction_id is older than {max_age_days} days")
    return claims
