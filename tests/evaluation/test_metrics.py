import numpy as np
import pytest

from bci_app.errors import DataError
from bci_app.evaluation.metrics import (
    confusion_counts,
    decision_metrics,
    detection_latencies,
    itr_bits_per_min,
    nmcc,
    wolpaw_bits,
)


def test_nmcc_binary_by_hand():
    # TP=3, TN=2, FP=1, FN=2 -> MCC = (6 - 2) / sqrt(4*5*3*4) = 4 / sqrt(240)
    y_true = [1, 1, 1, 1, 1, 0, 0, 0]
    y_pred = [1, 1, 1, 0, 0, 0, 0, 1]
    assert nmcc(y_true, y_pred) == pytest.approx((4 / np.sqrt(240) + 1) / 2)
    assert nmcc(y_true, y_true) == 1.0
    assert nmcc([0, 1, 0, 1], [1, 0, 1, 0]) == 0.0


def test_nmcc_multiclass_by_hand():
    # Gorodkin R_K from the confusion matrix C: (c*s - sum_k p_k t_k) /
    # sqrt((s^2 - sum p_k^2)(s^2 - sum t_k^2))
    y_true = ["idle"] * 4 + ["left"] * 3 + ["right"] * 3
    y_pred = ["idle", "idle", "left", "idle", "left", "left", "right", "right", "right", "idle"]
    c, s = 7, 10
    t = np.array([4, 3, 3])
    p = np.array([4, 3, 3])
    r = (c * s - p @ t) / np.sqrt((s**2 - p @ p) * (s**2 - t @ t))
    assert nmcc(y_true, y_pred) == pytest.approx((r + 1) / 2)
    with pytest.raises(DataError):
        nmcc([], [])


def test_wolpaw_bits_by_hand():
    assert wolpaw_bits(2, 1.0) == pytest.approx(1.0)
    assert wolpaw_bits(2, 0.5) == 0.0
    assert wolpaw_bits(3, 0.2) == 0.0  # below chance
    expected = 2 + 0.8 * np.log2(0.8) + 0.2 * np.log2(0.2 / 3)
    assert wolpaw_bits(4, 0.8) == pytest.approx(expected)
    assert expected == pytest.approx(0.96108, abs=1e-5)
    assert itr_bits_per_min(4, 0.8, 12) == pytest.approx(12 * expected)
    with pytest.raises(DataError):
        wolpaw_bits(1, 0.9)


def test_decision_metrics_rate_and_confusion():
    times = np.arange(0, 10, 0.5)  # 2 decisions per second
    y = np.array(["a", "b"] * 10)
    m = decision_metrics(y, y, times, classes=["a", "b"])
    assert m["decisions_per_min"] == pytest.approx(120.0)
    assert m["itr_bits_per_min"] == pytest.approx(120.0)
    assert m["confusion"] == [[10, 0], [0, 10]]


def test_confusion_counts_by_hand():
    y_true = ["idle", "idle", "left", "left", "right", "feet"]
    y_pred = ["idle", "left", "left", "right", "right", "left"]
    # rows: truth idle, left, right; columns: decision; "feet" is outside the labels
    assert confusion_counts(y_true, y_pred, ["idle", "left", "right"]).tolist() == [
        [1, 1, 0], [0, 1, 1], [0, 0, 1]]


def test_decision_metrics_of_one_class_so_far(recwarn):
    """The start of a run (only idle windows yet): MCC 0, nMCC 0.5, no warning."""
    m = decision_metrics(["idle"] * 5, ["idle"] * 4 + ["left"], classes=["idle", "left"])
    assert (m["mcc"], m["nmcc"], m["accuracy"]) == (0.0, 0.5, 0.8)
    assert m["confusion"] == [[4, 1], [0, 0]]
    assert not [w for w in recwarn if "label" in str(w.message)]
    with pytest.raises(DataError):
        decision_metrics([], [])


def test_detection_latency_needs_sustained_correct_decisions():
    times = np.arange(0, 20, 0.5)
    pred = np.array(["idle"] * len(times), dtype=object)
    pred[(times >= 2.5) & (times < 3.0)] = "left"  # a single blip: not sustained
    pred[(times >= 4.0) & (times < 6.0)] = "left"
    pred[(times >= 13.0) & (times < 13.5)] = "right"
    lat = detection_latencies(times, None, pred, onsets=[2.0, 12.0], labels=["left", "right"])
    assert lat[0] == pytest.approx(2.0)
    assert np.isnan(lat[1])
