"""Paired tests across subjects: known p-values, Holm's correction, and the scores.txt block."""

import numpy as np
import pandas as pd
import pytest
from scipy import stats

from bci_app.evaluation.paired import compare_pipelines, holm, paired_test
from bci_app.evaluation.report import (
    format_metrics_table,
    format_score_table,
    score_table,
)

SUBJECTS = [str(s) for s in range(1, 10)]


def test_a_pipeline_better_on_all_9_subjects_has_the_exact_smallest_p():
    b = np.linspace(0.55, 0.75, 9)
    a = b + np.arange(1, 10) / 100  # better by 0.01 ... 0.09
    result = paired_test(a, b)
    # exact two-sided null: only "all +" and "all -" are as extreme, 2 of 2^9 sign patterns
    assert result.pvalue == pytest.approx(2 / 2 ** 9)
    assert (result.n, result.statistic, result.method) == (9, 0.0, "exact")
    assert result.mean_diff == pytest.approx(0.05) and result.median_diff == pytest.approx(0.05)
    assert result.reason == ""
    # the other way round: the same p, negative differences
    assert paired_test(b, a).pvalue == pytest.approx(2 / 2 ** 9)
    assert paired_test(b, a).mean_diff == pytest.approx(-0.05)


def test_equal_pipelines_and_too_few_subjects_give_a_reason_not_an_error():
    a = np.array([0.6, 0.7, 0.8, 0.65])
    same = paired_test(a, a.copy())
    assert (same.pvalue, same.n, same.mean_diff) == (1.0, 4, 0.0)
    assert "same score on every subject" in same.reason
    # float noise is not a difference
    assert paired_test(a, a + 1e-15).pvalue == 1.0
    one = paired_test([0.8], [0.6])
    assert np.isnan(one.pvalue) and one.n == 1 and "needs at least 2" in one.reason
    assert one.mean_diff == pytest.approx(0.2)
    none = paired_test([], [])
    assert np.isnan(none.pvalue) and none.n == 0
    # a subject missing for one pipeline is left out of the pairs
    left = pd.Series([0.9, 0.8, np.nan], index=["1", "2", "3"])
    right = pd.Series([0.5, 0.6, 0.7], index=["3", "2", "1"])  # aligned by subject
    aligned = paired_test(left, right)
    assert aligned.n == 2 and aligned.mean_diff == pytest.approx((0.2 + 0.2) / 2)
    with pytest.raises(ValueError, match="1-D arrays of one length"):
        paired_test([0.1, 0.2], [0.1])


def test_same_as_scipy_on_random_scores():
    rng = np.random.default_rng(7)
    a, b = rng.uniform(0.5, 0.9, 12), rng.uniform(0.5, 0.9, 12)
    expected = stats.wilcoxon(a, b, method="exact")
    result = paired_test(a, b)
    assert result.statistic == expected.statistic
    assert result.pvalue == pytest.approx(expected.pvalue)
    assert result.median_diff == pytest.approx(np.median(a - b))
    # tied and zero differences: every sign flip of the ranks, as scipy's permutation method
    c = np.round(a, 1)
    d = np.round(b, 1)
    tied = paired_test(c, d)
    assert tied.method == "exact (sign flips)"
    assert tied.pvalue == pytest.approx(
        stats.wilcoxon(c - d, method=stats.PermutationMethod()).pvalue)
    # more than 50 distinct differences: the normal approximation
    big_a, big_b = rng.uniform(0.5, 0.9, 60), rng.uniform(0.5, 0.9, 60)
    big = paired_test(big_a, big_b)
    assert big.method == "normal approximation"
    assert big.pvalue == pytest.approx(
        stats.wilcoxon(big_a, big_b, method="asymptotic").pvalue)


def test_holm_on_known_p_values():
    # sorted: 0.005 x 4 = 0.02, 0.01 x 3 = 0.03, 0.03 x 2 = 0.06, 0.04 x 1 -> 0.06 (monotone)
    adjusted = holm([0.01, 0.04, 0.03, 0.005])
    np.testing.assert_allclose(adjusted, [0.03, 0.06, 0.06, 0.02])
    capped = holm([0.5, np.nan, 0.4])  # NaN stays out of the family (m = 2)
    np.testing.assert_allclose(capped[[0, 2]], [0.8, 0.8])
    assert np.isnan(capped[1])
    assert holm([]).size == 0


def _three_pipelines():
    """Rows A, C, B: C - A = 0.01 ... 0.09; C - B the same, but the smallest is negative."""
    a = np.linspace(0.55, 0.75, 9)
    gains = np.arange(1, 10) / 100
    c = a + gains
    b = c - gains * np.r_[-1, np.ones(8)]
    return pd.DataFrame([a, c, b], index=["A", "C", "B"], columns=SUBJECTS)


def test_compare_pipelines_tests_the_best_against_each_other_with_holm():
    table = _three_pipelines()  # C has the highest mean
    comparisons = compare_pipelines(table)
    assert comparisons.attrs["best"] == "C"
    assert list(comparisons["other"]) == ["A", "B"]
    assert set(comparisons["best"]) == {"C"}
    p_a, p_b = comparisons["pvalue"]
    assert p_a == pytest.approx(2 / 2 ** 9)  # C > A on all 9 subjects
    # C - B is negative on one subject only, the smallest |difference|: W = 1,
    # p = 2 P(W <= 1) = 2 x 2 / 2^9
    assert comparisons["statistic"].iloc[1] == 1.0 and p_b == pytest.approx(4 / 2 ** 9)
    # Holm, 2 comparisons: min(2 x 2/512, ...) = 4/512, then max(4/512, 1 x 4/512)
    np.testing.assert_allclose(comparisons["p_holm"], [4 / 2 ** 9, 4 / 2 ** 9])
    assert list(comparisons["n"]) == [9, 9]
    chosen = compare_pipelines(table, best="A")
    assert list(chosen["other"]) == ["C", "B"] and (chosen["mean_diff"] < 0).all()
    with pytest.raises(ValueError, match="no pipeline 'Z'"):
        compare_pipelines(table, best="Z")
    single = compare_pipelines(table.iloc[[0]])
    assert len(single) == 0 and single.attrs["best"] == "A"


def test_score_table_text_ends_with_the_paired_tests():
    table = _three_pipelines()
    rows = [{"pipeline": p, "subject": int(s), "session": session, "paradigm": "left-right",
             "score": table.loc[p, s] + shift}
            for p in table.index for s in SUBJECTS for session, shift in (("0", -0.1),
                                                                           ("1", 0.1))]
    text = format_score_table(score_table(pd.DataFrame(rows)))
    block = text[text.index("paired test"):]
    assert "ROC-AUC" in block.splitlines()[0]
    # sessions averaged first: 9 pairs, not 18; the table's order (best mean first)
    c_vs_b, c_vs_a = block.splitlines()[1:3]
    assert c_vs_a == ("best C vs A: mean diff +0.050 (median +0.050), Wilcoxon W = 0, "
                      "p = 0.0039 (Holm 0.0078), n = 9 subjects")
    assert c_vs_b.startswith("best C vs B:") and "W = 1, p = 0.0078 (Holm 0.0078)" in c_vs_b
    flat = " ".join(block.split())
    assert "subjects are the paired unit" in flat and "Holm's correction over the 2" in flat
    assert "With n < 6 subjects a two-sided exact Wilcoxon test cannot reach p < 0.05" in flat
    assert "paired test" not in format_score_table(score_table(pd.DataFrame(rows)),
                                                   paired=False)


def test_metrics_table_text_ends_with_the_paired_nmcc_tests():
    # 6 subjects x 2 sessions: "good" beats "weak" on every subject's mean nMCC, though not
    # on every session; subjects, not sessions, are the pairs
    rows = []
    for s in range(1, 7):
        weak = 0.5 + 0.01 * s
        for session, (good, bad) in (("0", (weak + 0.12, weak + 0.02)),
                                     ("1", (weak - 0.07 + 0.02 * s, weak - 0.02))):
            rows.append({"pipeline": "good", "subject": str(s), "session": session,
                         "nmcc": good})
            rows.append({"pipeline": "weak", "subject": str(s), "session": session,
                         "nmcc": bad})
    metrics = pd.DataFrame(rows)
    text = format_metrics_table(metrics)
    assert text.splitlines()[2].startswith("good")  # the table is still first
    block = text[text.index("paired test"):]
    assert "nMCC" in block.splitlines()[0]
    # per session: good - weak = 0.10, then 0.02 s - 0.05 (negative for subjects 1 and 2);
    # per subject: (0.05 + 0.02 s) / 2 > 0 on all 6, so p = 2 / 2^6; mean = median = 0.06
    line = block.splitlines()[1]
    assert line.startswith("best good vs weak: mean diff +0.060 (median +0.060)")
    assert "W = 0, p = 0.031 (Holm 0.031), n = 6 subjects" in line
    # one subject: no test, and a clear reason
    one = format_metrics_table(metrics[metrics["subject"] == "1"])
    assert "no test (1 subject: a paired test needs at least 2), n = 1 subject" in one
    only = format_metrics_table(metrics[metrics["pipeline"] == "good"])
    assert only.endswith("one pipeline: nothing to compare.")
