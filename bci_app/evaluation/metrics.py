"""Metrics of online and pseudo-online decoding: nMCC, information transfer rate, detection
latency, and the permutations of the shuffled-decision chance level.

Information transfer rate
-------------------------
Bits per decision are the mutual information I(X;Y) between the true class X and the
decision Y, from their empirical joint distribution: the confusion matrix divided by its
total (Nykopp, 2001). It is 0 for a constant decoder whatever the class balance, and it is
what the decisions transmitted about the truth, no more. Wolpaw's formula
(:func:`wolpaw_bits`) assumes equiprobable classes and errors spread evenly over the other
classes: with an idle majority it credits a decoder that always decides idle. It is kept
(``wolpaw_bits_per_min``) for comparison with published figures only.

Overlapping windows are not independent decisions: the ITR per minute counts one decision
per window length (``itr_bits_per_min``, 60 / window_s decisions a minute). The figure at
the decoder's own rate, one decision per step, is ``itr_bits_per_min_overlapping``.

Chance
------
The majority-class baseline (always deciding the most frequent true class: accuracy = its
share, MCC 0, ITR 0) and the shuffled-decision baseline (the decisions permuted within each
run, :func:`shuffle_indices`: same decisions, no relation to the truth, mean over
:data:`N_SHUFFLES` permutations drawn from :data:`SHUFFLE_SEED`) are computed by
:mod:`bci_app.evaluation.scoring`.

For a count of independent trials (trial accuracy, the offline score of one epoch per
trial) both are averages: with few trials an accuracy well above them still happens by
chance. :func:`binomial_chance_level` is the accuracy such a count must reach to be better
than chance at a significance level (Müller-Putz et al., 2008). It does not apply to
overlapping windows, which are not independent decisions.
"""

import numpy as np
from sklearn.metrics import matthews_corrcoef

from ..errors import DataError

#: Permutations of the decisions averaged by the shuffled-decision chance level.
N_SHUFFLES = 100
#: Seed of those permutations (with the run's index: each run has its own, reproducible).
SHUFFLE_SEED = 0


def nmcc(y_true, y_pred):
    """Normalised Matthews correlation coefficient, (MCC + 1) / 2, in [0, 1] (0.5 = chance).

    Uses the multiclass MCC (Gorodkin's R_K), so an idle class counts like any other.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise DataError("nMCC of no decisions is undefined.")
    return (matthews_corrcoef(y_true, y_pred) + 1.0) / 2.0


def label_codes(values, labels):
    """Index of each value in ``labels`` (-1 for a value outside them)."""
    values = np.asarray(values)
    codes = np.full(values.shape, -1, dtype=np.int64)
    for k, label in enumerate(labels):
        codes[values == label] = k
    return codes


def confusion_stack(true_codes, pred_codes, n_labels):
    """Confusion matrices of integer-coded decisions (pairs with a code < 0 not counted).

    Parameters
    ----------
    true_codes : ndarray of int, shape (n,)
    pred_codes : ndarray of int, shape (n,) or (n_sets, n)
        One or several sets of decisions on the same truth.
    n_labels : int

    Returns
    -------
    cm : ndarray of int, shape (n_labels, n_labels) or (n_sets, n_labels, n_labels)
        ``cm[..., i, j]``: decisions ``j`` where the truth was ``i``.
    """
    pred = np.asarray(pred_codes)
    stack = np.atleast_2d(pred)
    t = np.broadcast_to(np.asarray(true_codes), stack.shape)
    ok = (t >= 0) & (stack >= 0)
    sets = np.broadcast_to(np.arange(stack.shape[0])[:, None], stack.shape)
    flat = (sets[ok] * n_labels + t[ok]) * n_labels + stack[ok]
    cm = np.bincount(flat, minlength=stack.shape[0] * n_labels * n_labels)
    cm = cm.reshape(stack.shape[0], n_labels, n_labels)
    return cm if pred.ndim > 1 else cm[0]


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
    return confusion_stack(label_codes(y_true, labels), label_codes(y_pred, labels),
                           len(labels))


def mcc_of_confusion(cm):
    """Multiclass Matthews correlation (Gorodkin's R_K) of a confusion matrix, or of a stack
    of them (leading axes); 0 where it is undefined (a single class in the truth or in the
    decisions), as scikit-learn does."""
    cm = np.asarray(cm, dtype=float)
    t, p = cm.sum(axis=-1), cm.sum(axis=-2)
    c, s = np.trace(cm, axis1=-2, axis2=-1), cm.sum(axis=(-2, -1))
    den = np.sqrt((s ** 2 - np.sum(p * p, -1)) * (s ** 2 - np.sum(t * t, -1)))
    num = c * s - np.sum(p * t, -1)
    out = np.divide(num, den, out=np.zeros_like(num), where=den > 0)
    return float(out) if out.ndim == 0 else out


def mutual_information_bits(cm):
    """Mutual information between truth and decision, in bits per decision.

    ``I = sum_ij p_ij log2(p_ij / (p_i. p_.j))`` with ``p = cm / cm.sum()``: the plug-in
    estimate from the empirical joint distribution (Nykopp, 2001). Exactly 0 when every
    decision is the same (or the truth is a single class); 1 for a perfect decoder of two
    equiprobable classes.

    Parameters
    ----------
    cm : array-like, shape (..., n_labels, n_labels)
        Counts (truth in rows), or a stack of them.

    Returns
    -------
    bits : float or ndarray (the leading axes of ``cm``)
    """
    cm = np.asarray(cm, dtype=float)
    n = cm.sum(axis=(-2, -1), keepdims=True)
    if np.any(n <= 0):
        raise DataError("the information of no decisions is undefined.")
    # In counts: p_ij / (p_i. p_.j) = c_ij n / (r_i k_j), exact for a constant decoder.
    expected = cm.sum(axis=-1, keepdims=True) * cm.sum(axis=-2, keepdims=True)
    ratio = np.divide(cm * n, expected, out=np.ones_like(cm), where=cm > 0)
    bits = np.sum(cm / n * np.log2(ratio), axis=(-2, -1))
    bits = np.maximum(bits, 0.0)  # rounding only: I >= 0
    return float(bits) if bits.ndim == 0 else bits


def wolpaw_bits(n_classes, accuracy):
    """Wolpaw's bits per decision, for comparison with published figures only.

    ``B = log2 N + P log2 P + (1 - P) log2((1 - P) / (N - 1))``, with B = 0 when P <= 1/N.
    It assumes equiprobable classes and errors spread evenly: with unbalanced classes it
    credits a constant decoder (e.g. always idle) with information it does not transmit.
    The application's ITR is :func:`mutual_information_bits`.

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


def per_minute(period_s):
    """Decisions per minute at one decision every ``period_s`` seconds (NaN if unknown)."""
    return float("nan") if period_s is None else 60.0 / float(period_s)


def decision_metrics(y_true, y_pred, classes=None, window_s=None, step_s=None):
    """All scores of a sequence of decisions.

    Parameters
    ----------
    y_true, y_pred : array-like, shape (n_decisions,)
    classes : sequence | None
        Class order of the confusion matrix (default: sorted union of labels); labels
        outside it found in the data are appended.
    window_s : float | None
        Window length, s: the ITR counts one decision per window length (NaN per minute if
        None).
    step_s : float | None
        Decision step, s: the decoder's decision rate (overlapping windows).

    Returns
    -------
    metrics : dict
        ``accuracy``, ``mcc``, ``nmcc``, ``n_classes``; ``itr_bits`` (mutual information,
        bits per decision); ``itr_decisions_per_min`` (60 / window_s) and
        ``itr_bits_per_min`` (their product: the ITR); ``decisions_per_min`` (60 / step_s)
        and ``itr_bits_per_min_overlapping`` (one decision per step: overlapping windows,
        not independent); ``wolpaw_bits_per_min`` (Wolpaw's formula at one decision per
        window length, for comparison with the literature only); ``confusion`` (list of
        lists) and its ``classes``.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    if y_true.size == 0:
        raise DataError("scores of no decisions are undefined.")
    seen = np.unique(np.concatenate([y_true, y_pred])).tolist()
    classes = list(classes) if classes is not None else seen
    labels = classes + sorted(set(seen) - set(classes))
    cm = confusion_counts(y_true, y_pred, labels)
    acc = float(np.mean(y_true == y_pred))
    mcc = mcc_of_confusion(cm)
    bits = mutual_information_bits(cm)
    n_classes = max(2, len(classes))
    rate, step_rate = per_minute(window_s), per_minute(step_s)
    return {
        "accuracy": acc, "mcc": mcc, "nmcc": (mcc + 1.0) / 2.0, "n_classes": n_classes,
        "itr_bits": bits, "itr_decisions_per_min": rate, "itr_bits_per_min": bits * rate,
        "decisions_per_min": step_rate, "itr_bits_per_min_overlapping": bits * step_rate,
        "wolpaw_bits_per_min": wolpaw_bits(n_classes, acc) * rate,
        "classes": labels, "confusion": cm.tolist(),
    }


#: Significance level of the binomial chance level shown beside trial accuracies.
BINOMIAL_ALPHA = 0.05


def binomial_chance_level(n_trials, n_classes, alpha=BINOMIAL_ALPHA):
    """The accuracy ``n_trials`` independent trials must reach to beat chance at ``alpha``.

    Rule: the smallest accuracy ``c / n`` whose one-sided p-value under guessing is below
    ``alpha``, ``P(X >= c) < alpha`` with ``X ~ Binomial(n, 1 / n_classes)`` (the exact
    binomial test; Müller-Putz, Scherer, Brunner, Leeb & Pfurtscheller, 2008, "Better than
    random? A closer look on BCI results"). An accuracy at or above it is significant; one
    below it is not. With 2 classes and alpha 0.05: 20 trials 0.75, 40 trials (20 per
    class) 0.65, 100 trials 0.59, 320 trials 0.55. (The 95 % quantile of ``X``,
    ``binom.ppf(0.95, n, p) / n``, is one trial lower, 0.625 for 40 trials: an accuracy
    must then *exceed* it.)

    Parameters
    ----------
    n_trials : int
        Independent trials scored (not overlapping windows).
    n_classes : int
        Classes a trial is decided among (guessing is right with probability 1/n_classes).
    alpha : float
        Significance level, in (0, 1).

    Returns
    -------
    accuracy : float
        In (1/n_classes, 1]; NaN without trials; ``inf`` (no accuracy is significant)
        when even ``n_trials`` right out of ``n_trials`` is not (e.g. 4 trials, 2 classes:
        p = 0.0625).

    Raises
    ------
    DataError
        Fewer than 2 classes, a negative count or ``alpha`` outside (0, 1).
    """
    from scipy.stats import binom

    n, k, alpha = int(n_trials), int(n_classes), float(alpha)
    if k < 2:
        raise DataError(f"binomial chance level: at least 2 classes, got {k}.")
    if n < 0 or not 0.0 < alpha < 1.0:
        raise DataError(f"binomial chance level: needs n_trials >= 0 and 0 < alpha < 1 "
                        f"(got {n}, {alpha}).")
    if n == 0:
        return float("nan")
    counts = np.arange(n + 1)
    tail = binom.sf(counts - 1, n, 1.0 / k)  # P(X >= c)
    significant = np.flatnonzero(tail < alpha)
    return float(counts[significant[0]] / n) if significant.size else float("inf")


def shuffle_indices(n, run=0, n_permutations=N_SHUFFLES, seed=SHUFFLE_SEED):
    """Permutations of a run's ``n`` decisions, the same on every call.

    Parameters
    ----------
    n : int
        Decisions in the run.
    run : int
        The run's index among those pooled (each run its own permutations).
    n_permutations : int
    seed : int

    Returns
    -------
    index : ndarray of int, shape (n_permutations, n)
        Each row a permutation of ``range(n)``.
    """
    rng = np.random.default_rng([int(seed), int(run)])
    return rng.permuted(np.tile(np.arange(n, dtype=np.int32), (int(n_permutations), 1)),
                        axis=1)


def detection_latencies(times, y_true, y_pred, onsets, labels, min_consecutive=2,
                        durations=None):
    """Cue onset -> the decision that confirms the detection, for each cue.

    A cue is detected when ``min_consecutive`` decisions in a row equal its class, all
    within its imagery period (decision times in ``(onset, onset + duration]``); the latency
    runs to the last of them, the one that confirms the detection.

    Parameters
    ----------
    times : ndarray, shape (n_windows,)
        Time of each decision (end of its window), s.
    y_true : None
        Unused (the cues carry the truth).
    y_pred : ndarray, shape (n_windows,) or (n_sets, n_windows)
        Decisions (labels or integer codes), or several sets of them (e.g. permutations).
    onsets : array-like, shape (n_cues,)
        Cue onsets, s.
    labels : array-like, shape (n_cues,)
        The class cued at each onset (comparable with ``y_pred``).
    min_consecutive : int
        Decisions in a row equal to the cued class that confirm a detection.
    durations : array-like, shape (n_cues,)
        Length of each imagery period, s. Without it no period is known: every cue is NaN.

    Returns
    -------
    latencies : ndarray, shape (n_cues,) or (n_sets, n_cues)
        Seconds from onset to the confirming decision (NaN where the cue was not detected).
    """
    times = np.asarray(times, dtype=float)
    pred = np.asarray(y_pred)
    stack = pred.reshape(1, -1) if pred.ndim == 1 else pred
    onsets = np.asarray(onsets, dtype=float).reshape(-1)
    out = np.full((stack.shape[0], onsets.size), np.nan)
    k = int(min_consecutive)
    if k < 1:
        raise DataError(f"detection needs at least 1 decision, got {k}.")
    if durations is not None:
        ends = onsets + np.asarray(durations, dtype=float).reshape(-1)
        for i, (onset, end, label) in enumerate(zip(onsets, ends, labels)):
            sel = np.flatnonzero((times > onset) & (times <= end))
            if sel.size < k:
                continue
            hits = np.cumsum(stack[:, sel] == label, axis=1)
            hits = np.concatenate([np.zeros((stack.shape[0], 1), hits.dtype), hits], axis=1)
            confirmed = hits[:, k:] - hits[:, :-k] == k  # column j: decisions j .. j + k - 1
            found = confirmed.any(axis=1)
            last = sel[confirmed[found].argmax(axis=1) + k - 1]
            out[found, i] = times[last] - onset
    return out[0] if pred.ndim == 1 else out


def latency_summary(latencies):
    """Median latency over the detected cues and the fraction of all cues detected.

    Parameters
    ----------
    latencies : ndarray, shape (n_cues,) or (n_sets, n_cues)
        From :func:`detection_latencies` (NaN: not detected).

    Returns
    -------
    median_s, detected : float or ndarray (per set)
        NaN when there is no cue; the median is NaN when none was detected.
    """
    lat = np.atleast_2d(np.asarray(latencies, dtype=float))
    found = np.isfinite(lat)
    detected = found.mean(axis=1) if lat.shape[1] else np.full(lat.shape[0], np.nan)
    median = np.full(lat.shape[0], np.nan)
    rows = found.any(axis=1)
    if rows.any():
        median[rows] = np.nanmedian(lat[rows], axis=1)
    if np.ndim(latencies) == 1:
        return float(median[0]), float(detected[0])
    return median, detected
