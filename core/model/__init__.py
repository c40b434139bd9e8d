"""The serving contract, numpy only (no scikit-learn, no scipy, no pickle): text processing, static
embeddings, the serving bundle, evaluation metrics, the model directory's manifest."""
