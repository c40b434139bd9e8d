"""A card as one self-contained HTML page (Jinja2, autoescaped: the examples are headlines users sent).

The pictures are embedded as data: URIs, so the page needs nothing else: the API route serves it behind IAM
and the CLI writes it to a file.
"""

from __future__ import annotations

import base64
import functools
from collections.abc import Mapping
from pathlib import Path

from core.cards.card import ModelCard

TEMPLATES = Path(__file__).with_name("templates")


@functools.cache
def _template():
    from jinja2 import Environment, FileSystemLoader, StrictUndefined

    environment = Environment(
        loader=FileSystemLoader(TEMPLATES), autoescape=True, undefined=StrictUndefined, trim_blocks=True,
        lstrip_blocks=True,
    )  # fmt: skip
    environment.filters["pct"] = lambda value: "–" if value is None else f"{100 * value:.1f}%"
    environment.filters["num"] = lambda value, digits=3: "–" if value is None else f"{value:.{digits}f}"
    environment.filters["signed"] = lambda value: f"{value:+.3f}"
    return environment.get_template("card.html")


def render_html(card: ModelCard, images: Mapping[str, bytes]) -> str:
    """The page for `card`; `images` (file name -> PNG bytes) are the pictures its `plots` name."""
    pictures = [
        {"title": plot.title, "made_by": plot.made_by, "data_fingerprint": plot.data_fingerprint,
         "uri": "data:image/png;base64," + base64.b64encode(images[plot.file]).decode("ascii")}
        for _, plot in sorted(card.plots.items())
        if plot.file in images
    ]  # fmt: skip
    counts = card.data.categories if card.data else {}
    categories = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return _template().render(card=card, pictures=pictures, categories=categories)
