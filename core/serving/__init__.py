"""Serving predictions: the active model loaded once per container and refreshed safely, signed ids."""
