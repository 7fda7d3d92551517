"""Score tables and plots of evaluation results, each score next to its chance level."""

import itertools
from pathlib import Path

import numpy as np
import pandas as pd

from ..errors import DataError


def paradigm_chance(results):
    """The chance level of MOABB scores, and the metric.

    MOABB scores 2 classes with ROC-AUC, whose chance is 0.5 whatever the class balance,
    and more classes with accuracy, whose chance is 1 / n_classes: the paradigms' classes
    are cued equally often (with unbalanced classes, the majority share would be the one).

    Parameters
    ----------
    results : pandas.DataFrame
        MOABB results with a ``paradigm`` column (one of
        :data:`~bci_app.processing.paradigms.PARADIGMS`) or an ``n_classes`` column.

    Returns
    -------
    chance : float
    metric : str
        ``"ROC-AUC"`` or ``"accuracy"``.
    """
    from ..processing.paradigms import PARADIGMS

    if "n_classes" in results:
        n_classes = int(results["n_classes"].iloc[0])
    elif "paradigm" in results and results["paradigm"].iloc[0] in PARADIGMS:
        n_classes = len(PARADIGMS[results["paradigm"].iloc[0]][0])
    else:
        raise DataError("the results name neither their paradigm nor their number of "
                        "classes: the chance level is unknown (give a 'paradigm' column).")
    if n_classes == 2:
        return 0.5, "ROC-AUC"
    return 1.0 / n_classes, "accuracy"


def score_table(results):
    """Pipeline x subject table of scores, with the mean +- sd over subjects.

    Parameters
    ----------
    results : pandas.DataFrame
        MOABB results (columns ``pipeline``, ``subject``, ``score``, ``paradigm``).

    Returns
    -------
    table : pandas.DataFrame
        Rows: pipelines (best mean first); columns: subjects (score averaged over sessions),
        then ``mean`` and ``sd`` over subjects. ``table.attrs`` holds ``chance`` and
        ``metric`` (:func:`paradigm_chance`).
    """
    per_subject = results.groupby(["pipeline", "subject"])["score"].mean().unstack("subject")
    per_subject.columns = [str(c) for c in per_subject.columns]
    table = per_subject.copy()
    table["mean"] = per_subject.mean(axis=1)
    table["sd"] = per_subject.std(axis=1, ddof=1) if per_subject.shape[1] > 1 else 0.0
    table = table.sort_values("mean", ascending=False)
    table.attrs["chance"], table.attrs["metric"] = paradigm_chance(results)
    return table


def _text_table(header, rows):
    """Fixed-width text: the first column left-aligned, the others right-aligned."""
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in [header] + rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


def format_score_table(table, digits=3, paired=True):
    """Render :func:`score_table` as fixed-width text (scores, ``mean ± sd``, then the
    chance level), then (``paired``) the best pipeline's paired test against each other
    one across subjects (:func:`~bci_app.evaluation.paired.compare_pipelines`)."""
    subjects = [c for c in table.columns if c not in ("mean", "sd")]
    chance = table.attrs.get("chance", float("nan"))
    header = ["pipeline"] + [f"S{s}" for s in subjects] + ["mean ± sd", "chance"]
    rows = []
    for name, row in table.iterrows():
        cells = [str(name)] + [f"{row[s]:.{digits}f}" if pd.notna(row[s]) else "-"
                               for s in subjects]
        sd = row["sd"] if pd.notna(row["sd"]) else 0.0
        cells.append(f"{row['mean']:.{digits}f} ± {sd:.{digits}f}")
        cells.append(f"{chance:.{digits}f}")
        rows.append(cells)
    note = (f"\nscore: {table.attrs.get('metric', 'score')}; chance: "
            + ("0.5 for ROC-AUC whatever the class balance" if table.attrs.get("metric") ==
               "ROC-AUC" else "the accuracy of always deciding the most frequent class"))
    text = _text_table(header, rows) + note
    if paired:
        text += "\n\n" + _paired_block(table[subjects], table.attrs.get("metric", "score"),
                                       digits)
    return text


def _paired_block(per_subject, score, digits):
    """The text of the paired tests of a pipeline x subject table."""
    from .paired import compare_pipelines, format_comparisons

    return format_comparisons(compare_pipelines(per_subject), score=score, digits=digits)


def plot_scores(results, path, title=None):
    """Save a plot of the score of each pipeline, one dot per subject, with the mean.

    Parameters
    ----------
    results : pandas.DataFrame
        MOABB results.
    path : str | Path
        Output image (PNG, SVG or PDF by extension).
    title : str | None
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    table = score_table(results)
    subjects = [c for c in table.columns if c not in ("mean", "sd")]
    fig, ax = plt.subplots(figsize=(max(6, 1.1 * len(table) + 2), 4.5), layout="constrained")
    x = np.arange(len(table))
    ax.bar(x, table["mean"], color="0.85", edgecolor="0.4", label="mean over subjects")
    cmap = plt.get_cmap("tab10" if len(subjects) <= 10 else "tab20")
    jitter = np.linspace(-0.25, 0.25, max(len(subjects), 1))
    for j, s in enumerate(subjects):
        ax.scatter(x + jitter[j], table[s], s=18, color=cmap(j % cmap.N), label=f"S{s}",
                   zorder=3)
    chance, metric = table.attrs["chance"], table.attrs["metric"]
    ax.axhline(chance, color="k", ls="--", lw=0.8, label=f"chance ({chance:.2f})")
    ax.set_xticks(x, table.index, rotation=30, ha="right")
    ax.set_ylabel(f"score ({metric})")
    ax.set_ylim(min(0.3, chance - 0.05, float(np.nanmin(table[subjects].to_numpy())) - 0.05),
                1.0)
    ax.set_title(title or "Score per pipeline and subject")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


#: The columns of :func:`format_metrics_table`: (header, metric key, decimals), each score
#: followed by its chance levels.
SCORE_COLUMNS = (
    ("nMCC", "nmcc", 3), ("shuffled", "shuffled_nmcc", 3),
    ("ITR b/min", "itr_bits_per_min", 2), ("shuffled", "shuffled_itr_bits_per_min", 2),
    ("acc", "accuracy", 3), ("majority", "majority_accuracy", 3),
    ("shuffled", "shuffled_accuracy", 3),
    ("offline acc", "offline_accuracy", 3), ("majority", "offline_majority_accuracy", 3),
    ("detected", "detected_fraction", 2), ("shuffled", "shuffled_detected_fraction", 2),
    ("latency s", "latency_median_s", 2), ("shuffled", "shuffled_latency_median_s", 2),
)

#: What the columns of :func:`format_metrics_table` are.
SCORES_NOTE = (
    "nMCC: (MCC + 1) / 2 over the test windows, idle included (0.5: chance). ITR: mutual\n"
    "information of the confusion matrix (Nykopp), one decision per window length.\n"
    "majority: always deciding the most frequent class. shuffled: the decisions permuted\n"
    "within each run, mean of {n} permutations. detected: fraction of all cues confirmed by\n"
    "{k} decisions in a row of the cued class within the imagery period; latency: median\n"
    "over the detected cues, from the cue to the confirming decision.")


def metrics_table(metrics, columns=tuple(key for _, key, _ in SCORE_COLUMNS)):
    """Pipeline x subject table of pseudo-online metrics (mean over sessions).

    Returns
    -------
    table : pandas.DataFrame
        Index: pipeline; columns: (metric, subject) pairs plus (metric, "mean").
    """
    grouped = metrics.groupby(["pipeline", "subject"])[list(columns)].mean()
    table = grouped.unstack("subject")
    for col in columns:
        table[(col, "mean")] = grouped[col].groupby("pipeline").mean()
    return table.sort_index(axis=1, level=0, sort_remaining=False)


def format_metrics_table(metrics, digits=3, paired=True):
    """Text table (``scores.txt``): one row per pipeline, nMCC per subject, then the mean
    of each score over subjects next to its chance levels (:data:`SCORE_COLUMNS`), what
    they are, then (``paired``) the paired test of the best pipeline's nMCC against each
    other one across subjects (:func:`~bci_app.evaluation.paired.compare_pipelines`)."""
    from .metrics import N_SHUFFLES
    from .scoring import MIN_CONSECUTIVE

    subjects = sorted(metrics["subject"].unique(), key=lambda s: (len(str(s)), str(s)))
    mean = metrics.groupby("pipeline").mean(numeric_only=True)
    per = metrics.groupby(["pipeline", "subject"])[["nmcc"]].mean()["nmcc"].unstack("subject")
    header = ["pipeline"] + [f"S{s}" for s in subjects] + [h for h, _, _ in SCORE_COLUMNS]
    rows = []
    for name in mean.sort_values("nmcc", ascending=False).index:
        m = mean.loc[name]
        rows.append([str(name)] + [f"{per.loc[name, s]:.{digits}f}" for s in subjects] + [
            f"{m[key]:.{min(d, digits)}f}" if key in m and pd.notna(m[key]) else "-"
            for _, key, d in SCORE_COLUMNS])
    text = (_text_table(header, rows) + "\n\n"
            + SCORES_NOTE.format(n=N_SHUFFLES, k=MIN_CONSECUTIVE))
    if paired:
        text += "\n\n" + _paired_block(per, "nMCC", digits)
    return text


def plot_timeline(predictions, path, title=None, max_seconds=None):
    """True label band and predicted probabilities over time, one panel per pipeline.

    Parameters
    ----------
    predictions : pandas.DataFrame
        Rows of one subject from the pseudo-online evaluation (columns ``pipeline``,
        ``run``, ``time``, ``true``, ``p_<class>``).
    path : str | Path
    title : str | None
    max_seconds : float | None
        Show only the first seconds of the test data (default: all).
    """
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    pipelines = list(dict.fromkeys(predictions["pipeline"]))
    classes = [c[2:] for c in predictions.columns if c.startswith("p_")]
    colors = {c: plt.get_cmap("tab10")(i) for i, c in enumerate(classes)}
    fig, axes = plt.subplots(len(pipelines), 1, figsize=(12, 1.6 * len(pipelines) + 0.8),
                             sharex=True, squeeze=False, layout="constrained")
    for ax, name in zip(axes[:, 0], pipelines):
        df = predictions[predictions["pipeline"] == name]
        offset, t_all = 0.0, []
        for _run, part in df.groupby(["session", "run"], sort=False):
            t = part["time"].to_numpy() - part["time"].iloc[0] + offset
            t_all.append(t)
            true = part["true"].astype(str).to_numpy()
            change = np.flatnonzero(np.r_[True, true[1:] != true[:-1], True])
            for a, b in itertools.pairwise(change):
                if true[a] in colors:
                    ax.axvspan(t[a], t[b - 1], ymin=0, ymax=0.12, color=colors[true[a]],
                               lw=0)
            for c in classes:
                ax.plot(t, part[f"p_{c}"], color=colors[c], lw=0.8)
            offset = t[-1] + 5.0
        ax.set_ylim(0, 1.02)
        ax.set_ylabel(name, fontsize=8, rotation=0, ha="right", va="center")
        if max_seconds:
            ax.set_xlim(0, max_seconds)
    handles = [plt.Line2D([], [], color=colors[c], label=c) for c in classes]
    axes[0, 0].legend(handles=handles, fontsize=7, ncol=len(classes), loc="upper right")
    axes[-1, 0].set_xlabel("test time (s; runs joined, 5 s apart) — band: true label")
    fig.suptitle(title or "pseudo-online timeline", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path
