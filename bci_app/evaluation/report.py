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
