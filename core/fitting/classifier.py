"""The classifier: a linear SVM or logistic regression, calibrated by temperature scaling (scikit-learn)."""

from __future__ import annotations

import math
import warnings

import numpy as np
from scipy.optimize import minimize_scalar
from sklearn.base import BaseEstimator, ClassifierMixin
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.svm import LinearSVC


class TemperatureScaledLinearClassifier(BaseEstimator, ClassifierMixin):
    """A linear classifier (SVM or logistic regression) whose probabilities are softmax(decision / T).

    Coefficients are rounded to float16 after fitting so the numpy bundle (float16 weights on disk) computes
    with the very same numbers.
    """

    def __init__(self, classifier: str = "linear_svm", C: float = 0.5, solver: str = "saga",
                 max_iter: int = 100, tol: float = 1e-2, class_weight=None, random_state: int = 0):
        self.classifier = classifier
        self.C = C
        self.solver = solver
        self.max_iter = max_iter
        self.tol = tol
        self.class_weight = class_weight
        self.random_state = random_state

    def fit(self, X, y):
        if self.classifier == "linear_svm":
            # dual coordinate descent: its cost grows with the non-zeros. scikit-learn's dual="auto" picks the
            # primal solver once rows outnumber features (past ~55k records here), which took 10x longer
            # (docs/scale.md); on the standard splits "auto" chose the dual too: their models are unchanged.
            model = LinearSVC(C=self.C, dual=True, class_weight=self.class_weight,
                              random_state=self.random_state)
        else:
            model = LogisticRegression(C=self.C, solver=self.solver, max_iter=self.max_iter, tol=self.tol,
                                       class_weight=self.class_weight, random_state=self.random_state)
        with warnings.catch_warnings():
            # early stopping at `tol` is deliberate: saga's ConvergenceWarning is noise here
            warnings.simplefilter("ignore", ConvergenceWarning)
            model.fit(X, y)
        coef, intercept = model.coef_, np.atleast_1d(model.intercept_)
        if coef.shape[0] == 1:  # two classes: one decision value s becomes logits (-s/2, s/2)
            coef = np.vstack([-coef / 2, coef / 2])
            intercept = np.concatenate([-intercept / 2, intercept / 2])
        self.classes_ = model.classes_
        self.coef_ = coef.astype(np.float16).astype(np.float64)  # exactly what the bundle stores
        self.intercept_ = intercept.astype(np.float64)
        self.n_iter_ = int(np.max(model.n_iter_))
        self.temperature_ = 1.0
        return self

    def decision_function(self, X):
        return np.asarray(X @ self.coef_.T) + self.intercept_

    def calibrate(self, X, y) -> float:
        """Fit the single temperature T minimising the negative log-likelihood on held-out data."""
        logits = self.decision_function(X)
        index = {c: i for i, c in enumerate(self.classes_)}
        known = np.array([label in index for label in y])
        if not known.any():
            self.temperature_ = 1.0
            return 1.0
        logits = logits[known]
        target = np.array([index[label] for label, k in zip(y, known, strict=True) if k])

        def nll(log_t: float) -> float:
            z = logits / math.exp(log_t)
            z = z - z.max(axis=1, keepdims=True)
            logsum = np.log(np.exp(z).sum(axis=1))
            return float(np.mean(logsum - z[np.arange(len(target)), target]))

        # T in [0.1, 10]: beyond that a tiny or separable held-out slice is talking, not calibration
        result = minimize_scalar(nll, bounds=(math.log(0.1), math.log(10.0)), method="bounded",
                                 options={"xatol": 1e-4})
        self.temperature_ = float(math.exp(result.x))
        return self.temperature_

    def predict_proba(self, X):
        z = self.decision_function(X) / self.temperature_
        z -= z.max(axis=1, keepdims=True)
        np.exp(z, out=z)
        z /= z.sum(axis=1, keepdims=True)
        return z

    def predict(self, X):
        return self.classes_[np.argmax(self.decision_function(X), axis=1)]
