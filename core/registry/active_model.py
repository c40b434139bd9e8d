"""The active version and its categories, for a function that checks against them but never loads the
model (the feedback API): registry reads cached for ACTIVE_MAX_AGE_SECONDS by Powertools' parameters utility.

Powertools' DynamoDBProvider returns one attribute and raises on a missing item, while "no model deployed
yet" is a normal state here: so the cache is Powertools' own provider base around the registry's read, and
a missing item is cached as {}.
"""

from __future__ import annotations

from aws_lambda_powertools.utilities.parameters.base import BaseProvider

from core.registry.versions import ACTIVE_KEY, ModelRegistry
from core.settings import Settings, get_settings

ACTIVE_MAX_AGE_SECONDS = 60


class _RegistryItems(BaseProvider):
    def __init__(self, settings: Settings | None):
        super().__init__()
        self._settings = settings

    def _get(self, name: str, **sdk_options) -> dict:
        return ModelRegistry(self._settings or get_settings()).get(name) or {}

    def _get_multiple(self, path: str, **sdk_options) -> dict:
        raise NotImplementedError("registry items are read one at a time")


class ActiveModelLookup:
    def __init__(self, settings: Settings | None = None, max_age: int = ACTIVE_MAX_AGE_SECONDS):
        self._items = _RegistryItems(settings)
        self.max_age = max_age

    def item(self) -> dict | None:
        """The active version's registry item; None while no model is deployed."""
        version = self._items.get(ACTIVE_KEY, max_age=self.max_age).get("active_version")
        return (self._items.get(version, max_age=self.max_age) or None) if version else None

    def version(self) -> str | None:
        item = self.item()
        return item["version"] if item else None

    def known_categories(self) -> list[str] | None:
        """What a correction may name: the active model's classes; None (any) while none is deployed."""
        item = self.item()
        return item["classes"] if item else None

    def clear(self) -> None:
        self._items.clear_cache()
