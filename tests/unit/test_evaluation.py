import numpy as np
import pytest
from sklearn.metrics import accuracy_score, f1_score, precision_recall_fscore_support, top_k_accuracy_score

from core.model.evaluation import correct_vector, evaluate, expected_calibration_error

CLASSES = ["A", "B", "C", "D"]


def random_case(n=500, seed=0):
    rng = np.random.default_rng(seed)
    logits = rng.normal(size=(n, len(CLASSES))) * 2
    proba = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    # labels correlated with the scores, with some that the model never predicts
    y = [CLASSES[i] if rng.random() < 0.6 else CLASSES[rng.integers(4)] for i in proba.argmax(axis=1)]
    return y, proba


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_matches_sklearn_metrics(seed):
    y, proba = random_case(seed=seed)
    report = evaluate(y, proba, CLASSES)
    y_pred = [CLASSES[i] for i in proba.argmax(axis=1)]
    assert report["n"] == 500
    assert report["accuracy"] == pytest.approx(accuracy_score(y, y_pred))
    assert report["macro_f1"] == pytest.approx(f1_score(y, y_pred, average="macro"))
    assert report["top3_accuracy"] == pytest.approx(top_k_accuracy_score(y, proba, k=3, labels=CLASSES))
    p, r, f, s = precision_recall_fscore_support(y, y_pred, labels=CLASSES, zero_division=0)
    for i, c in enumerate(CLASSES):
        row = report["per_class"][c]
        got = (row["precision"], row["recall"], row["f1"], row["support"])
        assert got == pytest.approx((p[i], r[i], f[i], s[i]))


def test_unknown_true_labels_count_as_errors_and_in_macro_f1():
    proba = np.array([[0.9, 0.1], [0.2, 0.8], [0.7, 0.3]])
    report = evaluate(["A", "B", "Z"], proba, ["A", "B"])
    assert report["accuracy"] == pytest.approx(2 / 3)
    assert report["per_class"]["Z"]["support"] == 1
    assert report["macro_f1"] == pytest.approx(f1_score(["A", "B", "Z"], ["A", "B", "A"], average="macro"))
    assert report["top3_accuracy"] == pytest.approx(2 / 3)


def test_ece_known_values():
    # all predictions at confidence 0.8 with 50% right: ECE = 0.3
    conf = np.full(10, 0.8)
    correct = np.array([True, False] * 5)
    assert expected_calibration_error(conf, correct) == pytest.approx(0.3)
    # perfectly calibrated bins give 0
    assert expected_calibration_error(np.array([1.0, 1.0]), np.array([True, True])) == pytest.approx(0.0)
    proba = np.array([[0.8, 0.2]] * 10)
    y = ["A", "B"] * 5
    assert evaluate(y, proba, ["A", "B"])["ece"] == pytest.approx(0.3)


def test_confusion_pairs_and_correct_vector():
    proba = np.array([[0.1, 0.9], [0.2, 0.8], [0.6, 0.4], [0.3, 0.7]])
    y = ["A", "A", "B", "B"]
    report = evaluate(y, proba, ["A", "B"])
    assert report["confusion_pairs"][0] == {"true": "A", "predicted": "B", "count": 2}
    assert report["confusion_pairs"][1] == {"true": "B", "predicted": "A", "count": 1}
    assert correct_vector(y, proba, ["A", "B"]).tolist() == [False, False, False, True]


def test_shape_errors_and_empty():
    with pytest.raises(ValueError, match="shape"):
        evaluate(["A"], np.array([[1.0, 0.0, 0.0]]), ["A", "B"])
    with pytest.raises(ValueError, match="labels"):
        evaluate(["A", "B"], np.array([[1.0, 0.0]]), ["A", "B"])
    assert evaluate([], np.zeros((0, 2)), ["A", "B"])["n"] == 0
