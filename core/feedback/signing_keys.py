"""The keys that sign prediction ids: a Secrets Manager secret, read with Powertools' parameters utility and
cached for SECRET_MAX_AGE_SECONDS.

Ids are verified against the current (AWSCURRENT) and the previous (AWSPREVIOUS) version, so a rotation never
voids ids issued shortly before it. Powertools keys its cache by secret id alone, so each stage has its own
provider. After a rotation, a container whose cache still holds the old pair meets ids naming the new key: an
unknown key id re-reads the secret at once, at most every REFRESH_INTERVAL_SECONDS (so made-up key ids cannot
turn every request into a Secrets Manager call).
"""

from __future__ import annotations

import logging
import time

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from core import aws_clients
from core.feedback.prediction_ids import KeyRing
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)

SECRET_MAX_AGE_SECONDS = 300
REFRESH_INTERVAL_SECONDS = 30
_MIN_KEY_BYTES = 32


class _PreviousVersionProvider(SecretsProvider):
    """AWSPREVIOUS of a secret. A secret never rotated has none: "" is returned, and cached like a value."""

    def _get(self, name: str, **sdk_options) -> str | bytes:
        try:
            return super()._get(name, VersionStage="AWSPREVIOUS", **sdk_options)
        except self.client.exceptions.ResourceNotFoundException:
            return ""


def _as_key(value: str | bytes) -> bytes:
    return value.encode("utf-8") if isinstance(value, str) else value


class SigningKeyCache:
    """Providers on the current Secrets Manager client.

    New credentials or a new endpoint (core.aws_clients.reset_clients) mean a new client and so an empty
    cache, as in a new Lambda container: a key is never served from a read made under another role.
    """

    def __init__(self):
        self._client = None
        self._current: SecretsProvider | None = None
        self._previous: SecretsProvider | None = None
        self._refreshed_at = float("-inf")

    def _providers(self) -> tuple[SecretsProvider, SecretsProvider]:
        client = aws_clients.client("secretsmanager")
        if self._current is None or self._previous is None or self._client is not client:
            self._client = client
            self._current = SecretsProvider(boto3_client=client)
            self._previous = _PreviousVersionProvider(boto3_client=client)
            self._refreshed_at = float("-inf")
        return self._current, self._previous

    def get(self, secret_arn: str, force: bool = False) -> bytes:
        """The current key."""
        current, _ = self._providers()
        key = _as_key(
            current.get(
                secret_arn, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force, VersionStage="AWSCURRENT"
            )
        )
        if len(key) < _MIN_KEY_BYTES:
            raise RuntimeError(f"prediction signing secret is shorter than {_MIN_KEY_BYTES} bytes")
        return key

    def ring(self, secret_arn: str, wanted_key_id: str | None = None) -> KeyRing:
        """Current and previous key; re-read at once (rate-limited) when `wanted_key_id` is in neither."""
        ring = self._read(secret_arn, force=False)
        if wanted_key_id is not None and ring.find(wanted_key_id) is None:
            if time.monotonic() - self._refreshed_at >= REFRESH_INTERVAL_SECONDS:
                self._refreshed_at = time.monotonic()
                ring = self._read(secret_arn, force=True)
        return ring

    def _read(self, secret_arn: str, force: bool) -> KeyRing:
        _, previous_provider = self._providers()
        current = self.get(secret_arn, force=force)
        previous = _as_key(
            previous_provider.get(secret_arn, max_age=SECRET_MAX_AGE_SECONDS, force_fetch=force) or b""
        )
        if previous and len(previous) < _MIN_KEY_BYTES:
            logger.warning("ignoring the previous signing key: shorter than %d bytes", _MIN_KEY_BYTES)
            previous = b""
        return KeyRing(current, previous if previous and previous != current else None)

    def clear(self) -> None:
        self._client = self._current = self._previous = None
        self._refreshed_at = float("-inf")


signing_key_cache = SigningKeyCache()


def signing_key(settings: Settings | None = None) -> bytes:
    """The key new prediction ids are signed with."""
    settings = settings or get_settings()
    settings.require("prediction_secret_arn")
    return signing_key_cache.get(settings.prediction_secret_arn)


def signing_keyring(settings: Settings | None = None, wanted_key_id: str | None = None) -> KeyRing:
    """The keys ids are verified with (see SigningKeyCache.ring)."""
    settings = settings or get_settings()
    settings.require("prediction_secret_arn")
    return signing_key_cache.ring(settings.prediction_secret_arn, wanted_key_id)
