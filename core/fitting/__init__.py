"""Fitting models with scikit-learn: the only code that imports it (SageMaker job, CLI, tests)."""
