"""The serving contract, numpy only (no scikit-learn, no scipy, no pickle): text features, BERT's tokenizer
and the static embeddings, the bundle's format and the model that serves it, evaluation metrics, the model
directory's manifest. Training (core.fitting) computes its features with these same functions."""
