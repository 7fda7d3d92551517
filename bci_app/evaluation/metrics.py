"""Metrics of online and pseudo-online decoding: nMCC, Wolpaw ITR, detection latency."""

import numpy as np
from sklearn.metrics import matthews_corrcoef

from ..errors import DataError


def nmcc(y_true, y_pred):
    """Normalised Matthews correlation coefficient, (MCC + 1) / 2, in [0, 1] (0.5 = chance).

    Uses the multiclass MCC (Gorodkin's R_K), so an idle class counts like any other.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise DataError("nMCC of no decisions is undefined.")
    return (matthews_corrcoef(y_true, y_pred) + 1.0) / 2.0


def confusion_counts(y_true, y_pred, labels):
    """Confusion matrix: ``cm[i, j]`` decisions ``labels[j]`` where the truth was
    ``labels[i]`` (pairs with a label outside ``labels`` are not counted).

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n,)
    labels : sequence

    Returns
    -------
    cm : ndarray of int, shape (n_labels, n_labels)
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    n = len(labels)
    t = np.full(y_true.shape, -1)
    p = np.full(y_pred.shape, -1)
    for k, label in enumerate(labels):
        t[y_true == label] = k
        p[y_pred == label] = k
    ok = (t >= 0) & (p >= 0)
    return np.bincount(t[ok] * n + p[ok], minlength=n * n).reshape(n, n)


def _mcc(cm):
    """Multiclass Matthews correlation (Gorodkin's R_K) from a confusion matrix; 0 when it
    is undefined (a single class in the truth or in the decisions), as scikit-learn does."""
    cm = np.asarray(cm, dtype=float)
    t, p = cm.sum(axis=1), cm.sum(axis=0)
    c, s = np.trace(cm), cm.sum()
    den = np.sqrt((s ** 2 - p @ p) * (s ** 2 - t @ t))
    return float((c * s - p @ t) / den) if den > 0 else 0.0


def wolpaw_bits(n_classes, accuracy):
    """Wolpaw information transfer rate per decision, in bits.

    ``B = log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))``, with B = 0 when P <= 1/N
    (below chance a decision carries no information in Wolpaw's model).

    Parameters
    ----------
    n_classes : int
        N >= 2.
    accuracy : float
        P in [0, 1].
    """
    n, p = int(n_classes), float(accuracy)
    if n < 2:
        raise DataError(f"ITR needs at least 2 classes, got {n}.")
    if not 0.0 <= p <= 1.0:
        raise DataError(f"ITR: accuracy must be in [0, 1], got {p}.")
    if p <= 1.0 / n:
        return 0.0
    bits = np.log2(n) + p * np.log2(p)
    if p < 1.0:
        bits += (1.0 - p) * np.log2((1.0 - p) / (n - 1))
    return float(bits)


def itr_bits_per_min(n_classes, accuracy, decisions_per_min):
    """Wolpaw ITR in bits/min: bits per decision x decisions per minute."""
    return wolpaw_bits(n_classes, accuracy) * float(decisions_per_min)


def detection_latencies(times, y_true, y_pred, onsets, labels, min_consecutive=2,
                        max_latency=None):
    """Cue onset -> first correct sustained decision, for each cue.

    Parameters
    ----------
    times : ndarray, shape (n_windows,)
        Time of each decision (end of its window), s.
    y_true : ignored if None; kept for symmetry with the other metrics.
    y_pred : ndarray, shape (n_windows,)
        Decisions.
    onsets : ndarray, shape (n_cues,)
        Cue onsets, s.
    labels : ndarray, shape (n_cues,)
        The class cued at each onset.
    min_consecutive : int
        Decisions in a row equal to the cued class that count as "sustained".
    max_latency : float | None
        Search window after the onset (s); default: until the next cue.

    Returns
    -------
    latencies : ndarray, shape (n_cues,)
        Seconds from onset to the first of ``min_consecutive`` correct decisions in a row
        (NaN where the class was never detected).
    """
    times, y_pred = np.asarray(times), np.asarray(y_pred)
    onsets = np.asarray(onsets, dtype=float)
    out = np.full(onsets.size, np.nan)
    for i, (onset, label) in enumerate(zip(onsets, labels)):
        end = onsets[i + 1] if i + 1 < onsets.size else np.inf
        if max_latency is not None:
            end = min(end, onset + max_latency)
        sel = np.flatnonzero((times >= onset) & (times < end))
        hits = y_pred[sel] == label
        run = 0
        for j, hit in enumerate(hits):
            run = run + 1 if hit else 0
            if run >= min_consecutive:
                out[i] = times[sel[j - min_consecutive + 1]] - onset
                break
    return out


def decision_metrics(y_true, y_pred, times=None, classes=None, decisions_per_min=None):
    """All scores of a sequence of decisions.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_decisions,)
    times : array-like | None
        Decision times (s), for the decision rate.
    classes : sequence | None
        Class order of the confusion matrix (default: sorted union of labels).
    decisions_per_min : float | None
        The decision rate, when known (e.g. 60 / window step); else estimated from ``times``.

    Returns
    -------
    metrics : dict
        ``accuracy``, ``nmcc``, ``mcc``, ``n_classes``, ``itr_bits`` (per decision),
        ``decisions_per_min``, ``itr_bits_per_min``, ``confusion`` (list of lists) and
        ``classes``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise DataError("scores of no decisions are undefined.")
    seen = np.unique(np.concatenate([y_true, y_pred])).tolist()
    classes = list(classes) if classes is not None else seen
    labels = classes + sorted(set(seen) - set(classes))
    cm = confusion_counts(y_true, y_pred, labels)
    acc = float(np.mean(y_true == y_pred))
    mcc = _mcc(cm)
    n_classes = max(2, len(classes))
    bits = wolpaw_bits(n_classes, acc)
    rate = np.nan if decisions_per_min is None else float(decisions_per_min)
    if decisions_per_min is None and times is not None and len(times) > 1:
        times = np.asarray(times, dtype=float)
        rate = 60.0 * (len(times) - 1) / (times[-1] - times[0])
    return {
        "accuracy": float(acc), "mcc": float(mcc), "nmcc": float((mcc + 1) / 2),
        "n_classes": n_classes, "itr_bits": bits, "decisions_per_min": float(rate),
        "itr_bits_per_min": float(bits * rate) if np.isfinite(rate) else float("nan"),
        "classes": classes,
        "confusion": cm[:len(classes), :len(classes)].tolist(),
    }
