"""Score tables and plots of evaluation results."""

from pathlib import Path

import numpy as np
import pandas as pd


def score_table(results):
    """Pipeline x subject table of scores, with the mean +- sd over subjects.

    Parameters
    ----------
    results : pandas.DataFrame
        MOABB results (columns ``pipeline``, ``subject``, ``score``).

    Returns
    -------
    table : pandas.DataFrame
        Rows: pipelines (best mean first); columns: subjects (score averaged over sessions),
        then ``mean`` and ``sd`` over subjects.
    """
    per_subject = results.groupby(["pipeline", "subject"])["score"].mean().unstack("subject")
    per_subject.columns = [str(c) for c in per_subject.columns]
    table = per_subject.copy()
    table["mean"] = per_subject.mean(axis=1)
    table["sd"] = per_subject.std(axis=1, ddof=1) if per_subject.shape[1] > 1 else 0.0
    return table.sort_values("mean", ascending=False)


def format_score_table(table, digits=3):
    """Render :func:`score_table` as fixed-width text (scores, then ``mean ± sd``)."""
    subjects = [c for c in table.columns if c not in ("mean", "sd")]
    header = ["pipeline"] + [f"S{s}" for s in subjects] + ["mean ± sd"]
    rows = []
    for name, row in table.iterrows():
        cells = [str(name)] + [f"{row[s]:.{digits}f}" if pd.notna(row[s]) else "-"
                               for s in subjects]
        sd = row["sd"] if pd.notna(row["sd"]) else 0.0
        cells.append(f"{row['mean']:.{digits}f} ± {sd:.{digits}f}")
        rows.append(cells)
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in [header] + rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


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
    metric = "ROC-AUC" if results.get("n_classes", pd.Series([2])).iloc[0] == 2 else "accuracy"
    chance = 0.5 if metric == "ROC-AUC" else 1.0 / results["n_classes"].iloc[0]
    ax.axhline(chance, color="k", ls="--", lw=0.8, label="chance")
    ax.set_xticks(x, table.index, rotation=30, ha="right")
    ax.set_ylabel(f"score ({metric})")
    ax.set_ylim(min(0.3, float(np.nanmin(table[subjects].to_numpy())) - 0.05), 1.0)
    ax.set_title(title or "Score per pipeline and subject")
    ax.legend(fontsize=7, ncol=2, loc="lower right")
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=120)
    plt.close(fig)
    return path


def metrics_table(metrics, columns=("nmcc", "itr_bits_per_min", "accuracy", "offline_accuracy",
                                    "latency_median_s")):
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


def format_metrics_table(metrics, digits=3):
    """Text table: one row per pipeline; nMCC and ITR per subject, then means."""
    subjects = sorted(metrics["subject"].unique(), key=lambda s: (len(str(s)), str(s)))
    mean = metrics.groupby("pipeline").mean(numeric_only=True)
    per = metrics.groupby(["pipeline", "subject"])[["nmcc"]].mean()["nmcc"].unstack("subject")
    header = (["pipeline"] + [f"S{s}" for s in subjects] +
              ["nMCC", "ITR b/min", "acc", "offline acc", "latency s"])
    rows = []
    for name in mean.sort_values("nmcc", ascending=False).index:
        m = mean.loc[name]
        rows.append([str(name)] + [f"{per.loc[name, s]:.{digits}f}" for s in subjects] + [
            f"{m['nmcc']:.{digits}f}", f"{m['itr_bits_per_min']:.1f}",
            f"{m['accuracy']:.{digits}f}", f"{m['offline_accuracy']:.{digits}f}",
            f"{m['latency_median_s']:.2f}"])
    widths = [max(len(r[i]) for r in [header] + rows) for i in range(len(header))]
    lines = ["  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in
                       enumerate(zip(r, widths))) for r in [header] + rows]
    lines.insert(1, "-" * len(lines[0]))
    return "\n".join(lines)


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
            for a, b in zip(change[:-1], change[1:]):
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
