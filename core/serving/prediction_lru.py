"""Repeated inputs answered without predicting again: a bounded LRU of prediction dicts."""

from __future__ import annotations

import threading
from collections import OrderedDict


class PredictionLRU:
    """A small thread-safe LRU of prediction dicts (OrderedDict: O(1) get/put/evict)."""

    def __init__(self, max_size: int):
        self.max_size = max_size
        self._items: OrderedDict[tuple, dict] = OrderedDict()
        self._lock = threading.Lock()
        self.hits = 0
        self.misses = 0

    def get(self, key: tuple) -> dict | None:
        with self._lock:
            value = self._items.get(key)
            if value is None:
                self.misses += 1
                return None
            self._items.move_to_end(key)
            self.hits += 1
            return value

    def put(self, key: tuple, value: dict) -> None:
        if self.max_size <= 0:
            return
        with self._lock:
            self._items[key] = value
            self._items.move_to_end(key)
            while len(self._items) > self.max_size:
                self._items.popitem(last=False)

    def clear(self) -> None:
        with self._lock:
            self._items.clear()

    def __len__(self) -> int:
        return len(self._items)
