"""Figures of a run's scores as base64 PNG (to embed in HTML or show in a view).

Drawn off screen with matplotlib (Agg); no Qt.
"""

import base64
import io
import tempfile
from pathlib import Path

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    return plt


def png_base64(fig, dpi=90):
    """Save a matplotlib figure as a base64 PNG string, and close it."""
    plt = _pyplot()
    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=dpi)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def timeline_png(frame, title):
    """The decoder's output over time with the true label band, as a base64 PNG.

    Parameters
    ----------
    frame : pandas.DataFrame
        Columns ``pipeline``, ``session``, ``run``, ``time``, ``true`` and ``p_<class>``
        (see :func:`bci_app.evaluation.report.plot_timeline`).
    title : str
    """
    from .report import plot_timeline

    with tempfile.TemporaryDirectory() as tmp:
        path = plot_timeline(frame, Path(tmp) / "timeline.png", title=title)
        return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def chance_caption(metrics):
    """One line: accuracy, nMCC and ITR of ``metrics`` each with its chance levels (those
    of :func:`~bci_app.evaluation.scoring.run_metrics` that ``metrics`` holds)."""
    def fmt(key, digits=2):
        value = metrics.get(key, float("nan"))
        return "n/a" if value is None or not np.isfinite(value) else f"{value:.{digits}f}"

    return (f"accuracy {fmt('accuracy')} (majority {fmt('majority_accuracy')}, shuffled "
            f"{fmt('shuffled_accuracy')}); nMCC {fmt('nmcc')} (shuffled "
            f"{fmt('shuffled_nmcc')}); ITR {fmt('itr_bits_per_min', 1)} bits/min (shuffled "
            f"{fmt('shuffled_itr_bits_per_min', 1)})")


def confusion_png(metrics, title):
    """The confusion matrix of :func:`~bci_app.evaluation.scoring.run_metrics` (counts,
    coloured by row fraction) under its scores and their chance levels
    (:func:`chance_caption`), as a base64 PNG."""
    plt = _pyplot()
    cm = np.asarray(metrics["confusion"], dtype=float)
    classes = metrics["classes"]
    fig, ax = plt.subplots(figsize=(3.6, 3.8), layout="constrained")
    norm = cm / np.maximum(cm.sum(axis=1, keepdims=True), 1)
    ax.imshow(norm, cmap="Blues", vmin=0, vmax=1)
    for i in range(cm.shape[0]):
        for j in range(cm.shape[1]):
            ax.text(j, i, f"{int(cm[i, j])}", ha="center", va="center",
                    color="white" if norm[i, j] > 0.5 else "black", fontsize=8)
    ax.set_xticks(range(len(classes)), classes, rotation=30, fontsize=7)
    ax.set_yticks(range(len(classes)), classes, fontsize=7)
    ax.set_xlabel("decision")
    ax.set_ylabel("cued")
    ax.set_title(title, fontsize=9)
    fig.supxlabel(chance_caption(metrics).replace("; ", "\n"), fontsize=7)
    return png_base64(fig)


def r2_png(values, freqs, ch_names, classes):
    """The signed r² map (channels x frequency) as a base64 PNG.

    Parameters
    ----------
    values : ndarray, shape (n_channels, n_freqs)
    freqs : ndarray, shape (n_freqs,)
        Hz.
    ch_names : list of str
    classes : sequence of 2 str
        Red: more power in ``classes[1]``.
    """
    plt = _pyplot()
    values = np.asarray(values)
    lim = max(float(np.abs(values).max()), 1e-6)
    fig, ax = plt.subplots(figsize=(6, 0.18 * len(ch_names) + 1.2), layout="constrained")
    im = ax.imshow(values, aspect="auto", cmap="RdBu_r", vmin=-lim, vmax=lim,
                   extent=(freqs[0] - 0.5, freqs[-1] + 0.5, len(ch_names) - 0.5, -0.5))
    ax.set_yticks(range(len(ch_names)), ch_names, fontsize=6)
    ax.set_xlabel("frequency (Hz)")
    ax.set_title(f"signed r²: {classes[0]} vs {classes[1]} (red: more power in "
                 f"{classes[1]})", fontsize=8)
    fig.colorbar(im, ax=ax, shrink=0.8)
    return png_base64(fig)
