"""Paired significance tests across subjects: is the best pipeline's margin real?

Subjects are the paired unit: each pipeline's score is first averaged over the sessions of a
subject, then the best pipeline (by mean over subjects) is compared with every other one by a
two-sided Wilcoxon signed-rank test of the per-subject differences, with Holm's correction
over those comparisons.

MOABB's meta-analysis (``moabb.analysis.meta_analysis``) answers a different question: for
each dataset it computes one-sided p-values for every ordered pair of pipelines (an exact
sign-flip permutation test of the mean difference below 20 subjects, a one-sided Wilcoxon
above) and combines datasets with Stouffer's method, without a correction for the number of
pairs. For the one dataset of a ``scores.txt``, the two-sided Wilcoxon here, corrected for
the comparisons actually reported, is the more conservative reading of a margin.
"""

import textwrap
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

#: Fewest subjects for which a two-sided exact Wilcoxon test can give p < 0.05: with n
#: subjects its smallest p-value is 2 / 2**n (0.0625 with 5, 0.03125 with 6).
MIN_SUBJECTS_FOR_P05 = 6

#: Differences smaller than this are float noise: they count as zero (a tie).
_RESOLUTION = 1e-12


@dataclass(frozen=True)
class PairedTest:
    """The result of :func:`paired_test` (differences are ``a - b``)."""

    n: int
    mean_diff: float
    median_diff: float
    statistic: float
    pvalue: float
    method: str
    reason: str = ""


def paired_test(a, b):
    """Two-sided Wilcoxon signed-rank test of paired scores, one pair per subject.

    Parameters
    ----------
    a, b : array-like | pandas.Series
        Scores of two pipelines on the same subjects (Series are aligned on their index).
        Subjects missing (NaN) in either are left out.

    Returns
    -------
    result : PairedTest
        ``n`` subjects, mean and median of ``a - b``, the Wilcoxon statistic (the smaller of
        the positive and negative rank sums), the p-value and how it was computed: the exact
        null distribution up to 50 subjects (all sign flips when differences tie or are
        zero, up to 13 subjects), otherwise the normal approximation. Never raises on too
        few subjects: fewer than 2 give ``pvalue`` nan, all differences zero give 1, each
        with its ``reason``.
    """
    from scipy import stats

    if isinstance(a, pd.Series) and isinstance(b, pd.Series):
        a, b = a.align(b, join="inner")
    a = np.asarray(a, dtype=float)
    b = np.asarray(b, dtype=float)
    if a.shape != b.shape or a.ndim != 1:
        raise ValueError(f"paired scores need two 1-D arrays of one length, got shapes "
                         f"{a.shape} and {b.shape}")
    d = a - b
    d = d[np.isfinite(d)]
    d = np.where(np.abs(d) < _RESOLUTION, 0.0, d)
    n = int(d.size)
    mean = float(d.mean()) if n else float("nan")
    median = float(np.median(d)) if n else float("nan")
    if n < 2:
        return PairedTest(n, mean, median, float("nan"), float("nan"), "none",
                          f"{n} subject{'' if n == 1 else 's'}: a paired test needs at "
                          "least 2")
    nonzero = d[d != 0]
    if nonzero.size == 0:
        return PairedTest(n, mean, median, 0.0, 1.0, "none",
                          "the same score on every subject")
    # Differences equal up to float noise are ties.
    ties = np.unique(np.round(np.abs(nonzero), 12)).size < nonzero.size
    if not ties and nonzero.size == n and n <= 50:
        method, label = "exact", "exact"
    elif n <= 13:
        # All 2**n sign flips (the default resamples exceed 2**13): exact with ties/zeros.
        method, label = stats.PermutationMethod(), "exact (sign flips)"
    else:
        method, label = "asymptotic", "normal approximation"
    res = stats.wilcoxon(d, method=method, alternative="two-sided")
    return PairedTest(n, mean, median, float(res.statistic), float(res.pvalue), label)


def holm(pvalues):
    """Holm's step-down adjustment of p-values (family-wise error rate).

    NaN p-values are left out of the family and stay NaN.

    Parameters
    ----------
    pvalues : array-like

    Returns
    -------
    adjusted : numpy.ndarray
        In the order of ``pvalues``.
    """
    p = np.asarray(pvalues, dtype=float)
    out = np.full(p.shape, np.nan)
    valid = np.flatnonzero(np.isfinite(p))
    m = valid.size
    order = valid[np.argsort(p[valid], kind="stable")]
    running = 0.0
    for rank, idx in enumerate(order):
        running = max(running, min(1.0, (m - rank) * p[idx]))
        out[idx] = running
    return out


def compare_pipelines(per_subject, best=None):
    """The best pipeline against each other one, subject by subject.

    Parameters
    ----------
    per_subject : pandas.DataFrame
        Index: pipelines; columns: subjects; values: the score of each pipeline on each
        subject (sessions already averaged). Missing subjects are NaN.
    best : str | None
        The reference pipeline (default: the highest mean over subjects; the first on ties).

    Returns
    -------
    comparisons : pandas.DataFrame
        One row per other pipeline, in the order of ``per_subject``: ``best``, ``other``, the
        fields of :class:`PairedTest` (differences are best - other) and ``p_holm``, the
        p-value with Holm's correction over these comparisons. ``attrs["best"]`` is the
        reference pipeline. Empty with fewer than 2 pipelines.
    """
    columns = ["best", "other", *PairedTest.__dataclass_fields__, "p_holm"]
    if per_subject.shape[0] == 0:
        frame = pd.DataFrame(columns=columns)
        frame.attrs["best"] = None
        return frame
    means = per_subject.mean(axis=1, skipna=True)
    if best is None:
        best = means.index[int(np.argmax(means.fillna(-np.inf).to_numpy()))]
    elif best not in per_subject.index:
        raise ValueError(f"no pipeline {best!r} in the table (pipelines: "
                         f"{', '.join(map(str, per_subject.index))})")
    rows = []
    for other in per_subject.index:
        if other == best:
            continue
        result = paired_test(per_subject.loc[best], per_subject.loc[other])
        rows.append({"best": best, "other": other, **asdict(result)})
    frame = pd.DataFrame(rows, columns=columns[:-1])
    frame["p_holm"] = holm(frame["pvalue"]) if len(frame) else []
    frame.attrs["best"] = best
    return frame


def _p(p):
    if not np.isfinite(p):
        return "n/a"
    if p >= 0.01:
        return f"{p:.3f}"
    return f"{p:.2g}"


def format_comparisons(comparisons, score="score", digits=3):
    """Text block for ``scores.txt``: one line per comparison of :func:`compare_pipelines`,
    then what the test is.

    Parameters
    ----------
    comparisons : pandas.DataFrame
        From :func:`compare_pipelines`.
    score : str
        The name of the score compared (e.g. ``"nMCC"``).
    digits : int
    """
    title = (f"paired test, best pipeline vs each other ({score}, one value per subject: "
             "sessions averaged first):")
    if len(comparisons) == 0:
        return f"{title}\none pipeline: nothing to compare."
    lines = [title]
    for row in comparisons.itertuples(index=False):
        diff = (f"mean diff {row.mean_diff:+.{digits}f} (median "
                f"{row.median_diff:+.{digits}f})")
        unit = f"n = {row.n} subject{'' if row.n == 1 else 's'}"
        if not np.isfinite(row.pvalue):
            test = f"no test ({row.reason})"
        elif row.reason:
            test = f"Wilcoxon p = {_p(row.pvalue)} ({row.reason})"
        else:
            test = (f"Wilcoxon W = {row.statistic:g}, p = {_p(row.pvalue)} "
                    f"(Holm {_p(row.p_holm)})")
        lines.append(f"best {row.best} vs {row.other}: {diff}, {test}, {unit}")
    methods = sorted(set(comparisons["method"]) - {"none"})
    k = int(np.isfinite(comparisons["pvalue"]).sum())
    note = (
        "test: two-sided Wilcoxon signed-rank test of the per-subject differences (best - "
        "other); subjects are the paired unit. p-values here: "
        + (", ".join(methods) if methods else "none")
        + " (the exact null distribution up to 50 subjects, by all 2^n sign flips when "
        "differences tie or are zero, up to 13; otherwise the normal approximation). "
        f"Holm: Holm's correction over the {k} comparison{'' if k == 1 else 's'} with the "
        f"best pipeline. With n < {MIN_SUBJECTS_FOR_P05} subjects a two-sided exact "
        "Wilcoxon test cannot reach p < 0.05 (its smallest p-value is 2 / 2^n).")
    lines.append(textwrap.fill(note, width=88))
    return "\n".join(lines)
