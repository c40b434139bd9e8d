"""A model card's pictures, drawn from the card's own numbers: the golden-set confusion matrix and the
reliability (calibration) diagram. Anyone with the card's JSON and matplotlib draws the same pictures."""

from __future__ import annotations

import io

import numpy as np
from matplotlib.figure import Figure

from core.cards.card import ModelCard, Plot

CONFUSION_MATRIX = "confusion_matrix"
RELIABILITY = "reliability"
DPI = 100


def _png(figure: Figure) -> bytes:
    buffer = io.BytesIO()
    # No software/date metadata: the same numbers give the same bytes.
    figure.savefig(buffer, format="png", dpi=DPI, metadata={"Software": None})
    return buffer.getvalue()


def confusion_matrix_png(card: ModelCard) -> bytes:
    """Rows are the true category, columns the predicted one; each row is shaded by its share (recall on the
    diagonal), so small categories read as well as large ones."""
    golden = card.golden
    labels = golden.confusion.labels
    counts = np.array(golden.confusion.matrix, dtype=np.float64).reshape(len(labels), len(labels))
    rows = counts.sum(axis=1, keepdims=True)
    shares = np.divide(counts, rows, out=np.zeros_like(counts), where=rows > 0)
    size = min(14.0, max(5.0, 0.24 * len(labels) + 3.0))
    figure = Figure(figsize=(size + 1.0, size), layout="constrained")
    axes = figure.subplots()
    image = axes.imshow(shares, cmap="Blues", vmin=0.0, vmax=1.0, interpolation="nearest")
    font = 9 if len(labels) <= 12 else 6
    axes.set_xticks(range(len(labels)), labels, rotation=90, fontsize=font)
    axes.set_yticks(range(len(labels)), labels, fontsize=font)
    axes.set_xlabel("predicted category")
    axes.set_ylabel("true category")
    if len(labels) <= 12:  # the counts fit in the cells
        for (row, column), count in np.ndenumerate(counts):
            if count:
                colour = "white" if shares[row, column] > 0.5 else "black"
                axes.text(column, row, f"{int(count)}", ha="center", va="center", fontsize=8, color=colour)
    axes.set_title(f"{card.version or card.bundle_version}: confusion matrix on the golden set\n"
                   f"n={golden.n}, accuracy {golden.accuracy:.3f}; rows: true, columns: predicted",
                   fontsize=10)
    figure.colorbar(image, ax=axes, shrink=0.6, label="share of the true category's headlines")
    return _png(figure)


def reliability_png(card: ModelCard) -> bytes:
    """Accuracy against mean confidence per confidence bin (on the diagonal when calibrated), above how many
    predictions fell in each bin."""
    golden = card.golden
    bins = golden.reliability
    figure = Figure(figsize=(6.0, 6.5), layout="constrained")
    top, bottom = figure.subplots(2, 1, sharex=True, height_ratios=[3, 1])
    top.plot([0, 1], [0, 1], linestyle="--", color="grey", linewidth=1, label="perfectly calibrated")
    used = [b for b in bins if b.count]
    centres = [(b.lower + b.upper) / 2 for b in bins]
    width = bins[0].upper - bins[0].lower if bins else 0.1
    top.bar([(b.lower + b.upper) / 2 for b in used], [b.accuracy for b in used], width=width * 0.9,
            color="#4c72b0", alpha=0.8, label="accuracy in the bin")
    top.plot([b.mean_confidence for b in used], [b.accuracy for b in used], "o", color="#dd8452",
             markersize=4, label="(mean confidence, accuracy)")
    top.set_xlim(0, 1)
    top.set_ylim(0, 1)
    top.set_ylabel("accuracy")
    top.legend(loc="upper left", fontsize=8)
    top.set_title(f"{card.version or card.bundle_version}: reliability on the golden set\n"
                  f"n={golden.n}, expected calibration error {golden.ece:.3f}", fontsize=10)
    bottom.bar(centres, [b.count for b in bins], width=width * 0.9, color="#8c8c8c")
    bottom.set_xlabel("confidence of the top category")
    bottom.set_ylabel("predictions")
    return _png(figure)


def draw(card: ModelCard, made_by: str) -> tuple[ModelCard, dict[str, bytes]]:
    """The card's pictures (file name -> PNG) and the card naming them; nothing without a golden-set part."""
    if card.golden is None:
        return card, {}
    drawings = {
        CONFUSION_MATRIX: ("Confusion matrix on the golden set", confusion_matrix_png),
        RELIABILITY: ("Reliability diagram on the golden set", reliability_png),
    }
    plots, images = dict(card.plots), {}
    for name, (title, render) in drawings.items():
        file = f"{name}.png"
        images[file] = render(card)
        plots[name] = Plot(
            file=file, title=title, made_by=made_by, data_fingerprint=card.golden.data_fingerprint
        )
    return card.model_copy(update={"plots": plots}), images
