"""A version's model card in the artifacts bucket, beside its bundle: `models/<version>/card/card.json` and
the pictures it names (docs/model-card.md)."""

from __future__ import annotations

from collections.abc import Mapping

from botocore.exceptions import ClientError

from core import aws_clients
from core.cards.card import CARD_FILE, ModelCard
from core.cards.files import card_json, parse_card

_MISSING = ("NoSuchKey", "404", "NotFound")


def card_prefix(version: str) -> str:
    return f"models/{version}/card/"


class CardStore:
    def __init__(self, bucket: str):
        self.bucket = bucket

    @property
    def _s3(self):
        return aws_clients.client("s3")

    def put(self, version: str, card: ModelCard, images: Mapping[str, bytes] | None = None) -> dict:
        """Write card.json (and any `images`, file name -> PNG); returns what the registry item lists. The
        status is left out: it changes without the card (readers take it from the registry)."""
        prefix = card_prefix(version)
        card = card.model_copy(update={"status": None})
        for name, data in (images or {}).items():
            self._s3.put_object(Bucket=self.bucket, Key=prefix + name, Body=data, ContentType="image/png")
        self._s3.put_object(
            Bucket=self.bucket, Key=prefix + CARD_FILE, Body=card_json(card), ContentType="application/json"
        )
        return {
            "uri": f"s3://{self.bucket}/{prefix}{CARD_FILE}",
            "plots": sorted(plot.file for plot in card.plots.values()),
            "updated_at": card.updated_at,
        }

    def _read(self, key: str) -> bytes | None:
        try:
            return self._s3.get_object(Bucket=self.bucket, Key=key)["Body"].read()
        except ClientError as error:
            if error.response.get("Error", {}).get("Code") in _MISSING:
                return None
            raise

    def get(self, version: str) -> tuple[ModelCard, dict[str, bytes]] | None:
        """The stored card and those of its pictures that are stored; None when the version has no card."""
        prefix = card_prefix(version)
        body = self._read(prefix + CARD_FILE)
        if body is None:
            return None
        card = parse_card(body, f"s3://{self.bucket}/{prefix}{CARD_FILE}")
        images = {}
        for plot in card.plots.values():
            data = self._read(prefix + plot.file)
            if data is not None:
                images[plot.file] = data
        return card, images
