"""A card directory: card.json and the pictures its `plots` name, side by side. The training job writes one
into the model directory (`<model dir>/card/`); the registry keeps one per version
(`models/<version>/card/`, core.registry.cards)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from pathlib import Path

from pydantic import ValidationError

from core.cards.card import CARD_FILE, ModelCard
from core.errors import InvalidInput

CARD_DIR = "card"  # in a model directory


def card_json(card: ModelCard) -> bytes:
    text = json.dumps(card.model_dump(mode="json"), indent=2, sort_keys=True, ensure_ascii=False)
    return (text + "\n").encode()


def parse_card(body: bytes | str, source: str) -> ModelCard:
    try:
        return ModelCard.model_validate_json(body)
    except ValidationError as error:
        raise InvalidInput(f"{source} is not a model card: {error.errors()[0]['msg']}") from None


def write_card_dir(directory: Path, card: ModelCard, images: Mapping[str, bytes]) -> Path:
    """card.json and the pictures (file name -> PNG bytes) into `directory`; returns card.json's path."""
    directory.mkdir(parents=True, exist_ok=True)
    for name, data in images.items():
        (directory / name).write_bytes(data)
    path = directory / CARD_FILE
    path.write_bytes(card_json(card))
    return path


def read_card_dir(directory: Path) -> tuple[ModelCard, dict[str, bytes]] | None:
    """The card in `directory` and the pictures it names that are there; None when there is no card.json."""
    path = directory / CARD_FILE
    if not path.is_file():
        return None
    card = parse_card(path.read_bytes(), str(path))
    images = {
        plot.file: (directory / plot.file).read_bytes()
        for plot in card.plots.values()
        if (directory / plot.file).is_file()
    }
    return card, images
