"""Signed prediction ids: issued with every prediction, verified before feedback is accepted (pure: the keys
are arguments; core.feedback.signing_keys reads them).

An id names the key that signed it (`k`, a fingerprint, never the key), so after a rotation an id signed with
the previous key still verifies and one signed two rotations back is refused with that reason instead of a
bare "signature does not verify". Ids issued before key ids existed carry none: every key of the ring is
tried.
"""

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
_KEY_ID_LABEL = b"mlnews prediction signing key id"
RETIRED_KEY_MESSAGE = (
    "prediction_id signature cannot be verified: it was signed with a key that is neither the current nor "
    "the previous signing key (retired by key rotation, or not issued by this service); predict again for a "
    "new id"
)


def same_text(a: str, b: str) -> bool:
    """Constant-time equality of two strings, any characters (compare_digest refuses non-ASCII str)."""
    return hmac.compare_digest(a.encode("utf-8", "surrogatepass"), b.encode("utf-8", "surrogatepass"))


def key_id(key: bytes) -> str:
    """A key's public name: an HMAC of a constant under the key, so it says nothing about the key."""
    return _b64encode(hmac.new(key, _KEY_ID_LABEL, hashlib.sha256).digest()[:9])


@dataclass(frozen=True)
class KeyRing:
    """The keys ids may be signed with: the current key and, once the secret was rotated, the previous one."""

    current: bytes
    previous: bytes | None = None

    def keys(self) -> tuple[bytes, ...]:
        return (self.current,) if self.previous is None else (self.current, self.previous)

    def find(self, wanted: str) -> bytes | None:
        return next((key for key in self.keys() if same_text(key_id(key), wanted)), None)


class RetiredSigningKey(InvalidPredictionId):
    """Signed with a key that is no longer current or previous: retired by rotation (or never ours)."""

    def __init__(self, message: str = RETIRED_KEY_MESSAGE):
        super().__init__(message, details={"reason": "signing_key_retired"})


@dataclass(frozen=True)
class PredictionClaims:
    model_version: str
    category: str
    headline_sha256: str
    issued_at: int
    nonce: str
    key_id: str | None = None

    def as_payload(self) -> dict:
        payload = {
            "v": self.model_version,
            "c": self.category,
            "h": self.headline_sha256,
            "t": self.issued_at,
            "n": self.nonce,
        }
        if self.key_id is not None:
            payload["k"] = self.key_id
        return payload


def _b64encode(raw: bytes) -> str:
    return base64.urlsafe_b64encode(raw).rstrip(b"=").decode("ascii")


def _b64decode(text: str) -> bytes:
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def sign(key: bytes, body: str) -> str:
    # surrogatepass: a forged body with lone surrogates must fail to verify, not fail to encode
    return _b64encode(hmac.new(key, body.encode("utf-8", "surrogatepass"), hashlib.sha256).digest())


def issue_prediction_id(
    key: bytes, headline: str, category: str, model_version: str, issued_at: int | None = None
) -> str:
    claims = PredictionClaims(
        model_version=model_version,
        category=category,
        headline_sha256=headline_sha256(headline),
        issued_at=int(time.time()) if issued_at is None else int(issued_at),
        nonce=secrets.token_hex(8),
        key_id=key_id(key),
    )
    body = _b64encode(json.dumps(claims.as_payload(), separators=(",", ":"), sort_keys=True).encode())
    return f"{body}.{sign(key, body)}"


def _payload(body: str) -> dict | None:
    try:
        payload = json.loads(_b64decode(body))
    except (ValueError, binascii.Error):
        return None
    return payload if isinstance(payload, dict) else None


def signing_key_id(prediction_id: str) -> str | None:
    """The key id an id claims (unverified: only to pick the key to verify with), None for ids without one."""
    payload = _payload(prediction_id.partition(".")[0])
    kid = payload.get("k") if payload else None
    return kid if isinstance(kid, str) else None


def verify_signature(keys: bytes | KeyRing, kid: str | None, body: str, signature: str) -> None:
    """Raise RetiredSigningKey for a key id outside the ring, InvalidPredictionId when no key verifies."""
    ring = keys if isinstance(keys, KeyRing) else KeyRing(keys)
    if kid is not None:
        key = ring.find(kid)
        if key is None:
            raise RetiredSigningKey()
        candidates: tuple[bytes, ...] = (key,)
    else:
        candidates = ring.keys()
    if not any(same_text(sign(key, body), signature) for key in candidates):
        raise InvalidPredictionId("prediction_id signature does not verify")


def verify_prediction_id(
    keys: bytes | KeyRing,
    prediction_id: str,
    headline: str,
    *,
    max_age_days: int = 30,
    now: float | None = None,
) -> PredictionClaims:
    """Return the claims of a genuine id for this headline, else raise InvalidPredictionId (says why)."""
    body, dot, signature = prediction_id.partition(".")
    if not dot or not body or not signature:
        raise InvalidPredictionId("prediction_id is malformed")
    payload = _payload(body)
    kid = payload.get("k") if payload else None
    verify_signature(keys, kid if isinstance(kid, str) else None, body, signature)
    try:
        claims = PredictionClaims(
            model_version=str(payload["v"]),
            category=str(payload["c"]),
            headline_sha256=str(payload["h"]),
            issued_at=int(payload["t"]),
            nonce=str(payload["n"]),
            key_id=kid if isinstance(kid, str) else None,
        )
    except (KeyError, TypeError, ValueError, OverflowError) as error:
        raise InvalidPredictionId("prediction_id payload is malformed") from error
    try:
        expected = headline_sha256(headline)
    except UnicodeError as error:  # lone surrogates: no headline a prediction was made for
        raise InvalidPredictionId("headline is not valid Unicode text") from error
    if not same_text(claims.headline_sha256, expected):
        raise InvalidPredictionId("headline does not match the headline of the prediction")
    now = time.time() if now is None else now
    if claims.issued_at > now + _CLOCK_SKEW_SECONDS:
        raise InvalidPredictionId("prediction_id is issued in the future")
    if now - claims.issued_at > max_age_days * 86400:
        raise InvalidPredictionId(f"prediction_id is older than {max_age_days} days")
    return claims
