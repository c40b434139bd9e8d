"""Records of the News Category Dataset: reading them (JSON lines, JSON, CSV), a headline's identity, where
the shared evaluation data lives, and deterministic splits (golden holdout included)."""
