"""The key that signs prediction ids: a Secrets Manager secret, read with Powertools' parameters utility and
cached for SECRET_MAX_AGE_SECONDS, so a rotated key is picked up within that time."""

from __future__ import annotations

from aws_lambda_powertools.utilities.parameters import SecretsProvider

from core import aws_clients
from core.settings import Settings, get_settings

SECRET_MAX_AGE_SECONDS = 300
_MIN_KEY_BYTES = 32


class SigningKeyCache:
    """A SecretsProvider on the current Secrets Manager client.

    New credentials or a new endpoint (core.aws_clients.reset_clients) mean a new client and so an empty
    cache, as in a new Lambda container: a key is never served from a read made under another role.
    Verifying against AWSPREVIOUS as well (key rotation) would need a provider per version stage: Powertools
    keys its cache by secret id alone.
    """

    def __init__(self):
        self._provider: SecretsProvider | None = None

    def get(self, secret_arn: str) -> bytes:
        client = aws_clients.client("secretsmanager")
        if self._provider is None or self._provider.client is not client:
            self._provider = SecretsProvider(boto3_client=client)
        value = self._provider.get(secret_arn, max_age=SECRET_MAX_AGE_SECONDS)
        key = value.encode("utf-8") if isinstance(value, str) else value
        if len(key) < _MIN_KEY_BYTES:
            raise RuntimeError(f"prediction signing secret is shorter than {_MIN_KEY_BYTES} bytes")
        return key

    def clear(self) -> None:
        self._provider = None


signing_key_cache = SigningKeyCache()


def signing_key(settings: Settings | None = None) -> bytes:
    settings = settings or get_settings()
    settings.require("prediction_secret_arn")
    return signing_key_cache.get(settings.prediction_secret_arn)
