"""Records of the News Category Dataset: reading them, and deterministic splits."""
