"""The active model, loaded once per container and swapped safely when the active pointer moves.

- The active pointer is re-read at most every MODEL_REFRESH_SECONDS; requests in between use the loaded model.
- A new version is downloaded to MODEL_CACHE_DIR and must match the registry's sha256 before it is used; if it
  fails to load (tampered, corrupt or unreadable), the previous model keeps serving, the failure is logged,
  exposed as `last_error` and reported to `on_load_refused` (the predict handler counts it as a metric that
  an alarm watches). It is tried again, and reported again, every interval while that version is active.
- Repeated inputs are answered from a PredictionLRU, emptied when the model changes.

Not a Powertools parameters cache like core.registry.active_model: a failed read or load waits for the next
interval instead of being retried on every request, and it keeps the old model rather than expiring it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable

from core.errors import NoActiveModel
from core.registry.versions import ModelRegistry
from core.serving.prediction_lru import PredictionLRU
from core.settings import Settings, get_settings

logger = logging.getLogger(__name__)


class ActiveModelCache:
    def __init__(
        self,
        settings: Settings | None = None,
        registry: ModelRegistry | None = None,
        clock: Callable[[], float] = time.monotonic,
        on_load_refused: Callable[[str, str], None] | None = None,
    ):
        self._settings = settings
        self._on_load_refused = on_load_refused  # (version, reason)
        self._registry = registry
        self._clock = clock
        self._lock = threading.Lock()
        self._model = None
        self._version: str | None = None
        self._checked_at: float | None = None
        self._predictions: PredictionLRU | None = None
        self.last_error: str | None = None

    @property
    def settings(self) -> Settings:
        return self._settings or get_settings()

    @property
    def registry(self) -> ModelRegistry:
        if self._registry is None:
            self._registry = ModelRegistry(self.settings)
        return self._registry

    @property
    def version(self) -> str | None:
        return self._version

    @property
    def predictions(self) -> PredictionLRU:
        if self._predictions is None:
            self._predictions = PredictionLRU(self.settings.prediction_cache_size)
        return self._predictions

    def current(self):
        """(version, model) of the active model; raises NoActiveModel when nothing can be served."""
        now = self._clock()
        fresh = self._checked_at is not None and now - self._checked_at < self.settings.model_refresh_seconds
        if self._model is not None and fresh:
            return self._version, self._model
        with self._lock:
            if (
                self._model is None
                or self._checked_at is None
                or now - self._checked_at >= self.settings.model_refresh_seconds
            ):
                self._checked_at = now
                self._refresh()
            if self._model is None:
                raise NoActiveModel(self.last_error or "no model is deployed yet")
            return self._version, self._model

    def _refresh(self) -> None:
        try:
            pointer = self.registry.active_pointer()
        except Exception as error:  # registry unreachable: keep serving what we have
            logger.warning("cannot read the active pointer: %s", error)
            self.last_error = f"cannot read the active pointer: {error}"
            return
        if pointer is None:
            if self._model is None:
                self.last_error = "no model is deployed yet"
            return
        version = pointer["active_version"]
        if version == self._version:
            return
        try:
            model = self.registry.load_model(version, self.settings.model_cache_dir)
        except Exception as error:  # a broken new version must not take serving down
            logger.error("cannot load model %s, still serving %s: %s", version, self._version, error)
            self.last_error = f"cannot load model {version}: {error}"
            if self._on_load_refused is not None:
                self._on_load_refused(version, str(error))
            return
        logger.info("serving model %s (was %s)", version, self._version)
        self._model, self._version, self.last_error = model, version, None
        self.predictions.clear()

    def predict(self, items: list[dict], top_k: int) -> tuple[str, list[dict]]:
        """Predictions for `items` (dicts with headline and optional short_description, authors)."""
        version, model = self.current()
        keys = [
            (
                version,
                item.get("headline", ""),
                item.get("short_description") or "",
                item.get("authors") or "",
                top_k,
            )
            for item in items
        ]
        results: list[dict | None] = [self.predictions.get(key) for key in keys]
        missing = [index for index, result in enumerate(results) if result is None]
        if missing:
            fresh = model.predict([items[index] for index in missing], top_k=top_k)
            for index, prediction in zip(missing, fresh, strict=True):
                results[index] = prediction
                self.predictions.put(keys[index], prediction)
        return version, [dict(result) for result in results]
