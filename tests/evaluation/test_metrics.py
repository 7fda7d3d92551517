import numpy as np
import pytest

from bci_app.errors import DataError
from bci_app.evaluation.metrics import (
    binomial_chance_level,
    confusion_counts,
    confusion_stack,
    decision_metrics,
    detection_latencies,
    latency_summary,
    mcc_of_confusion,
    mutual_information_bits,
    nmcc,
    shuffle_indices,
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


def test_mutual_information_by_hand():
    # a constant decoder transmits nothing, whatever the class balance
    assert mutual_information_bits([[314, 0, 0], [90, 0, 0], [90, 0, 0]]) == 0.0
    assert mutual_information_bits([[0, 7], [0, 3]]) == 0.0
    # perfect decoders of equiprobable classes: log2 N bits
    assert mutual_information_bits([[25, 0], [0, 25]]) == 1.0
    assert mutual_information_bits(np.eye(4) * 10) == 2.0
    # a binary symmetric channel with 20 % errors: 1 - H(0.2)
    h = -(0.2 * np.log2(0.2) + 0.8 * np.log2(0.8))
    assert mutual_information_bits([[40, 10], [10, 40]]) == pytest.approx(1 - h)
    assert 1 - h == pytest.approx(0.27807, abs=1e-5)
    # truth 1/4 - 3/4, decisions independent of it: 0 bits
    assert mutual_information_bits([[2, 8], [6, 24]]) == pytest.approx(0.0, abs=1e-15)
    # a stack of matrices gives each its own
    assert mutual_information_bits(np.array([[[25, 0], [0, 25]], [[0, 7], [0, 3]]])).tolist() \
        == [1.0, 0.0]
    with pytest.raises(DataError):
        mutual_information_bits([[0, 0], [0, 0]])


def test_always_idle_decoder_transmits_nothing_wolpaw_says_otherwise():
    """The idle majority of a pseudo-online run (64 %): Wolpaw credits the constant decoder,
    the mutual information does not."""
    truth = np.array(["idle"] * 314 + ["left_hand"] * 90 + ["right_hand"] * 90)
    m = decision_metrics(truth, np.full(truth.size, "idle"),
                         classes=["idle", "left_hand", "right_hand"], window_s=2.0, step_s=0.5)
    assert m["accuracy"] == pytest.approx(314 / 494)
    assert (m["mcc"], m["nmcc"]) == (0.0, 0.5)
    assert (m["itr_bits"], m["itr_bits_per_min"], m["itr_bits_per_min_overlapping"]) == \
        (0.0, 0.0, 0.0)
    assert m["wolpaw_bits_per_min"] == pytest.approx(wolpaw_bits(3, 314 / 494) * 30)
    assert m["wolpaw_bits_per_min"] == pytest.approx(8.23, abs=0.01)


def test_decision_metrics_rates_and_confusion():
    y = np.array(["a", "b"] * 10)
    m = decision_metrics(y, y, classes=["a", "b"], window_s=2.0, step_s=0.5)
    assert m["itr_bits"] == 1.0  # perfect, 2 equiprobable classes
    assert (m["itr_decisions_per_min"], m["decisions_per_min"]) == (30.0, 120.0)
    assert m["itr_bits_per_min"] == 30.0  # one decision per window length
    assert m["itr_bits_per_min_overlapping"] == 120.0  # one per step, labelled as such
    assert m["wolpaw_bits_per_min"] == 30.0
    assert m["confusion"] == [[10, 0], [0, 10]]
    assert np.isnan(decision_metrics(y, y)["itr_bits_per_min"])  # no window length given


def test_bits_per_decision_are_the_information_of_the_reported_confusion_matrix():
    rng = np.random.default_rng(3)
    labels = ["idle", "left", "right"]
    for _ in range(20):
        truth = rng.choice(labels, 200, p=[0.6, 0.2, 0.2])
        pred = np.where(rng.random(200) < 0.4, truth, rng.choice(labels, 200))
        m = decision_metrics(truth, pred, classes=labels, window_s=1.0)
        cm = np.array(m["confusion"])
        assert m["itr_bits"] == mutual_information_bits(cm)
        # never above what either side holds: I(X;Y) <= min(H(X), H(Y))
        hx = [-(p * np.log2(p)).sum() for p in (cm.sum(1) / 200, cm.sum(0) / 200)]
        assert m["itr_bits"] < min(hx)
        assert m["mcc"] == pytest.approx(mcc_of_confusion(cm))


def test_a_decision_outside_the_classes_is_in_the_reported_matrix():
    m = decision_metrics(["a", "b", "a", "b"], ["a", "b", "c", "b"], classes=["a", "b"],
                         window_s=1.0)
    assert m["classes"] == ["a", "b", "c"]
    assert m["confusion"] == [[1, 0, 1], [0, 2, 0], [0, 0, 0]]
    assert m["itr_bits"] == mutual_information_bits(m["confusion"])


def test_wolpaw_bits_by_hand():
    assert wolpaw_bits(2, 1.0) == pytest.approx(1.0)
    assert wolpaw_bits(2, 0.5) == 0.0
    assert wolpaw_bits(3, 0.2) == 0.0  # below chance
    expected = 2 + 0.8 * np.log2(0.8) + 0.2 * np.log2(0.2 / 3)
    assert wolpaw_bits(4, 0.8) == pytest.approx(expected)
    assert expected == pytest.approx(0.96108, abs=1e-5)
    with pytest.raises(DataError):
        wolpaw_bits(1, 0.9)


def test_confusion_counts_by_hand():
    y_true = ["idle", "idle", "left", "left", "right", "feet"]
    y_pred = ["idle", "left", "left", "right", "right", "left"]
    # rows: truth idle, left, right; columns: decision; "feet" is outside the labels
    assert confusion_counts(y_true, y_pred, ["idle", "left", "right"]).tolist() == [
        [1, 1, 0], [0, 1, 1], [0, 0, 1]]
    # several sets of coded decisions on one truth
    stack = confusion_stack(np.array([0, 0, 1]), np.array([[0, 1, 1], [1, 1, 0]]), 2)
    assert stack.tolist() == [[[1, 1], [0, 1]], [[0, 2], [1, 0]]]


def test_decision_metrics_of_one_class_so_far(recwarn):
    """The start of a run (only idle windows yet): MCC 0, nMCC 0.5, no warning."""
    m = decision_metrics(["idle"] * 5, ["idle"] * 4 + ["left"], classes=["idle", "left"])
    assert (m["mcc"], m["nmcc"], m["accuracy"], m["itr_bits"]) == (0.0, 0.5, 0.8, 0.0)
    assert m["confusion"] == [[4, 1], [0, 0]]
    assert not [w for w in recwarn if "label" in str(w.message)]
    with pytest.raises(DataError):
        decision_metrics([], [])


def test_detection_latency_runs_to_the_confirming_decision_within_the_imagery():
    times = np.arange(0, 30, 0.5)
    pred = np.array(["idle"] * len(times), dtype=object)
    pred[times == 2.5] = "left"  # a single blip: not sustained
    pred[(times >= 4.0) & (times < 6.0)] = "left"  # 4.0, 4.5 in a row: confirmed at 4.5
    pred[(times >= 13.0) & (times < 13.5)] = "right"  # one decision only
    pred[(times >= 15.5) & (times < 17.0)] = "right"  # after the imagery (12-15 s) ended
    pred[(times >= 24.5) & (times < 26.0)] = "left"  # 24.5, 25.0 in, 25.5 after 25 s
    lat = detection_latencies(times, None, pred, onsets=[2.0, 12.0, 22.0],
                              labels=["left", "right", "left"], durations=[4.0, 3.0, 3.0])
    assert lat[0] == 2.5  # 4.5 - 2.0: the second decision of the pair
    assert np.isnan(lat[1])
    assert lat[2] == 3.0  # 25.0 - 22.0: the end of the period (25 s) is inside it
    assert latency_summary(lat) == (2.75, 2 / 3)
    # three in a row: the cue at 22 s has only two decisions within its period
    lat3 = detection_latencies(times, None, pred, [2.0, 12.0, 22.0], ["left", "right", "left"],
                               min_consecutive=3, durations=[4.0, 3.0, 3.0])
    assert lat3[0] == 3.0 and np.isnan(lat3[1:]).all()
    # several sets of decisions at once give each its own
    both = detection_latencies(times, None, np.stack([pred, np.full(pred.shape, "left")]),
                               [2.0, 12.0], ["left", "right"], durations=[4.0, 3.0])
    assert both[0, 0] == 2.5 and np.isnan(both[0, 1])
    assert both[1, 0] == 1.0 and np.isnan(both[1, 1])  # always left: 2.5, 3.0 confirm
    assert np.isnan(detection_latencies(times, None, pred, [2.0], ["left"])).all()


def test_latency_summary_without_cues_or_detections():
    assert np.isnan(latency_summary(np.array([]))).all()
    median, detected = latency_summary(np.array([np.nan, np.nan]))
    assert np.isnan(median) and detected == 0.0
    median, detected = latency_summary(np.array([[1.0, np.nan, 3.0], [np.nan] * 3]))
    assert np.isnan(median[1]) and median[0] == 2.0 and detected.tolist() == [2 / 3, 0.0]


def test_shuffles_are_reproducible_permutations_of_each_run():
    a = shuffle_indices(50, run=0)
    assert a.shape == (100, 50)
    assert (np.sort(a, axis=1) == np.arange(50)).all()
    assert (a == shuffle_indices(50, run=0)).all()
    assert not (a == shuffle_indices(50, run=1)).all()
    assert len({tuple(row) for row in a}) == 100


@pytest.mark.parametrize("n, k, alpha, level", [
    (40, 2, 0.05, 26 / 40),    # 20 trials per class: 0.65 (Müller-Putz et al., 2008)
    (100, 2, 0.05, 59 / 100),  # 0.59
    (20, 2, 0.05, 15 / 20),
    (320, 2, 0.05, 176 / 320),
    (40, 2, 0.01, 28 / 40),
    (60, 3, 0.05, 27 / 60),    # 3 classes, 20 trials each: 0.45
    (40, 4, 0.05, 16 / 40),
])
def test_binomial_chance_level_known_values(n, k, alpha, level):
    assert binomial_chance_level(n, k, alpha) == pytest.approx(level)


def test_binomial_chance_level_is_the_smallest_significant_accuracy():
    from scipy.stats import binom

    for n, k in ((12, 2), (40, 2), (57, 3), (100, 2)):
        c = round(binomial_chance_level(n, k) * n)
        assert binom.sf(c - 1, n, 1 / k) < 0.05 <= binom.sf(c - 2, n, 1 / k)  # P(X >= c)
    # The 95 % quantile is one trial lower (0.625 for 40 trials): not the rule used.
    assert binom.ppf(0.95, 40, 0.5) / 40 == 0.625 < binomial_chance_level(40, 2)


def test_binomial_chance_level_without_enough_trials():
    assert np.isnan(binomial_chance_level(0, 2))
    assert binomial_chance_level(4, 2) == np.inf  # 4/4 right: p = 1/16, not < 0.05
    assert binomial_chance_level(5, 2) == 1.0     # 5/5: p = 1/32
    with pytest.raises(DataError, match="at least 2 classes"):
        binomial_chance_level(40, 1)
    with pytest.raises(DataError, match="alpha"):
        binomial_chance_level(40, 2, alpha=1.5)
