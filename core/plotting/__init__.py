"""Pictures drawn with matplotlib: only the training job and the CLI import this package (the Lambda packages
have no matplotlib; tests/packaging/test_serving_imports.py holds the serving side to that)."""
