"""Serving predictions (numpy only: never imports scikit-learn or scipy).

- `predictions`: a prediction request: the batch limit, model output, signed prediction ids, served-category
  counters.
- `model_cache`: the active model, loaded once per container and swapped safely when the pointer moves.
- `prediction_lru`: repeated inputs answered from a bounded LRU.
"""
