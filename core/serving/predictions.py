"""Serving a prediction request: model output + signed prediction ids + counters for the drift signal."""

from __future__ import annotations

import logging
import time

from core.errors import InvalidInput
from core.feedback import counters, prediction_ids, signing_keys
from core.serving.model_cache import ActiveModelCache
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


def predict(
    items: list[dict],
    top_k: int,
    cache: ActiveModelCache,
    settings: Settings | None = None,
    api_key_id: str | None = None,
) -> tuple[str, list[dict]]:
    """(model_version, results) where each result is a Prediction plus prediction_id and model_version.
    `api_key_id`: the caller's API key (None without one): whose daily drift budget the predictions use."""
    settings = settings or get_settings()
    if len(items) > settings.max_batch_size:
        raise InvalidInput(f"a batch holds at most {settings.max_batch_size} items, got {len(items)}")
    version, predictions = cache.predict(items, top_k)
    key = signing_keys.signing_key(settings)
    issued_at = int(time.time())
    results = [
        {
            **prediction,
            "model_version": version,
            "prediction_id": prediction_ids.issue_prediction_id(
                key, item["headline"], prediction["category"], version, issued_at
            ),
        }
        for item, prediction in zip(items, predictions, strict=True)
    ]
    try:
        counters.record_predictions(
            version, [result["category"] for result in results], settings, sender=api_key_id
        )
    except Exception as error:  # counters feed a slow signal; never fail a prediction for them
        logger.warning("could not count predictions: %s", error)
    return version, results
