"""The session report: one self-contained HTML file (plots embedded as PNG) in the session.

Per online run it scores the live decisions the way the pseudo-online evaluation scores a
sweep: each decision's window (as recorded with the run) is labelled from the run's BIDS
recording by
:func:`~bci_app.evaluation.pseudo_online.window_labels` (idle outside task periods), then
:func:`~bci_app.evaluation.metrics.decision_metrics` gives accuracy, nMCC, Wolpaw ITR and the
confusion matrix, and :func:`~bci_app.evaluation.report.plot_timeline` draws the timeline.
No Qt here; matplotlib draws off screen.
"""

import base64
import html
import io
import json
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import DataError
from . import services


def _png(fig):
    import matplotlib.pyplot as plt

    buf = io.BytesIO()
    fig.savefig(buf, format="png", dpi=90)
    plt.close(fig)
    return base64.b64encode(buf.getvalue()).decode("ascii")


def _img(b64, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/>'


def _read_predictions(path):
    """The decoder's output recorded with a run (BIDS derivatives ``_predictions.tsv``):
    onsets in the recording (s), decisions, probabilities, classes."""
    import pandas as pd

    try:
        frame = pd.read_csv(path, sep="\t", na_values="n/a", keep_default_na=False)
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read the recorded predictions ({exc}).") from exc
    if frame.empty:
        raise DataError(f"{path}: no decision was recorded during this run.")
    classes = [c[2:] for c in frame.columns if c.startswith("p_")]
    onsets = frame["onset"].to_numpy(dtype=float)
    decisions = frame["decision"].astype(str).to_numpy()
    proba = frame[[f"p_{c}" for c in classes]].to_numpy(dtype=float)
    return onsets, decisions, proba, classes


def online_run_metrics(run):
    """Scores of an online run from its BIDS recording and the predictions recorded with it.

    The EEG and its events are read back from BIDS (:func:`services.load_run_recording`);
    the decoder's output is the ``Predictions`` stream LabRecorder recorded with the run
    (``derivatives/bci-app/.../eeg/*_predictions.tsv``, onsets on the EEG's sample grid).

    Parameters
    ----------
    run : RunInfo

    Returns
    -------
    out : dict
        ``metrics`` (from :func:`decision_metrics`), ``trial_accuracy``, ``n_trials``,
        ``frame`` (DataFrame for :func:`plot_timeline`).
    """
    import pandas as pd

    from ..evaluation.metrics import decision_metrics
    from ..evaluation.pseudo_online import IDLE, run_from_raw, sample_codes, window_labels

    pred_path = run.predictions_path
    if pred_path is None or not pred_path.is_file():
        raise DataError(f"Run {run.index}: no recorded predictions "
                        f"({pred_path or 'the run is not converted to BIDS'}).")
    raw = services.load_run_recording(run)
    rec = run_from_raw(raw, name=f"run-{run.index:02d}")
    meta = run.sidecar.get("BciAppModel") or {}
    if not meta and run.model and Path(run.model).is_file():
        from ..decoding.persistence import read_model_info

        meta = read_model_info(run.model)
    window_s = float(meta.get("window_s", 2.0))
    step_s = float(meta.get("step_s", 0.1))
    window = int(round(window_s * rec.sfreq))
    times, decisions, proba, classes = _read_predictions(pred_path)
    last = np.round(times * rec.sfreq).astype(int)
    ok = (last >= window - 1) & (last < rec.n_samples)
    times, decisions, proba, last = times[ok], decisions[ok], proba[ok], last[ok]
    all_classes = [IDLE] + [c for c in run.classes if c != IDLE]
    labels = window_labels(sample_codes(rec, all_classes), last, window, all_classes)
    keep = np.array([lab is not None for lab in labels], dtype=bool)
    if not keep.any():
        raise DataError(f"Run {run.index}: no decision fell in a scored period.")
    metrics = decision_metrics(labels[keep].astype(str), decisions[keep], classes=all_classes,
                               decisions_per_min=60.0 / step_s)
    # Trial accuracy: majority of the decisions within each imagery period.
    hits, n_trials = 0, 0
    for onset, duration, label in rec.events:
        if label not in run.classes:
            continue
        sel = (last / rec.sfreq >= onset + min(window_s, duration) * 0.5) & \
              (last / rec.sfreq <= onset + duration)
        if not sel.any():
            continue
        values, counts = np.unique(decisions[sel], return_counts=True)
        n_trials += 1
        hits += int(values[counts.argmax()] == label)
    frame = pd.DataFrame({"pipeline": meta.get("name", "decoder"), "session": "live",
                          "run": f"run-{run.index:02d}", "time": times,
                          "true": np.where(labels == None, "", labels).astype(str)})  # noqa: E711
    for k, c in enumerate(classes):
        frame[f"p_{c}"] = proba[:, k]
    return {"metrics": metrics, "trial_accuracy": hits / n_trials if n_trials else float("nan"),
            "n_trials": n_trials, "frame": frame, "model": meta.get("name")}


def _confusion_png(metrics, title):
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    cm = np.asarray(metrics["confusion"], dtype=float)
    classes = metrics["classes"]
    fig, ax = plt.subplots(figsize=(3.6, 3.2), layout="constrained")
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
    return _png(fig)


def r2_png(values, freqs, ch_names, classes):
    """The r² map (channels x frequency) as a base64 PNG."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

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
    return _png(fig)


def _timeline_png(frame, title):
    import tempfile

    from ..evaluation.report import plot_timeline

    with tempfile.TemporaryDirectory() as tmp:
        path = plot_timeline(frame, Path(tmp) / "timeline.png", title=title)
        return base64.b64encode(Path(path).read_bytes()).decode("ascii")


def _fmt(value, digits=2):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return html.escape(str(value))
    return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"


_STYLE = """
body { font-family: sans-serif; margin: 2em; color: #222; max-width: 1100px; }
h1 { font-size: 1.5em; } h2 { font-size: 1.2em; border-bottom: 1px solid #ccc; }
table { border-collapse: collapse; margin: 0.5em 0 1em 0; }
td, th { border: 1px solid #bbb; padding: 3px 8px; font-size: 0.9em; text-align: right; }
th { background: #eef; } td.l, th.l { text-align: left; }
.note { color: #555; font-size: 0.85em; }
"""


def build_report(session, path=None):
    """Write the session report (HTML with embedded plots).

    Parameters
    ----------
    session : Session
    path : Path | None
        Default: ``session.report_path``.

    Returns
    -------
    path : Path
    summary : dict
        Per online run: accuracy, trial accuracy, nMCC, ITR (for the GUI's table).
    """
    subject = session.subject
    meta = session.meta
    parts = [f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>BCI session report "
             f"sub-{html.escape(subject.subject_id)} ses-{html.escape(session.label)}</title>"
             f"<style>{_STYLE}</style></head><body>"]
    parts.append(f"<h1>BCI session report</h1><table>"
                 f"<tr><th class='l'>Subject</th><td class='l'>{html.escape(subject.subject_id)}"
                 f"</td></tr><tr><th class='l'>Age</th><td class='l'>"
                 f"{'' if subject.age is None else subject.age}</td></tr>"
                 f"<tr><th class='l'>Sex / handedness</th><td class='l'>"
                 f"{html.escape(str(subject.sex or 'n/a'))} / "
                 f"{html.escape(str(subject.hand or 'n/a'))}</td></tr>"
                 f"<tr><th class='l'>Affected side</th><td class='l'>"
                 f"{html.escape(subject.affected_side)}</td></tr>"
                 f"<tr><th class='l'>Notes</th><td class='l'>{html.escape(subject.notes)}"
                 f"</td></tr><tr><th class='l'>Session</th><td class='l'>"
                 f"{html.escape(session.label)} ({html.escape(str(meta.get('created', '')))})"
                 f"</td></tr><tr><th class='l'>Amplifier stream</th><td class='l'>"
                 f"{html.escape(str(meta.get('stream')))}, montage "
                 f"{html.escape(str(meta.get('montage')))}</td></tr>"
                 f"<tr><th class='l'>Bad channels</th><td class='l'>"
                 f"{html.escape(', '.join(meta.get('bad_channels') or []) or 'none')}</td></tr>"
                 f"</table>")
    runs = session.runs
    online_results = {}
    for run in runs:
        if run.run_type == "online" and run.status in services.USABLE:
            try:
                online_results[run.index] = online_run_metrics(run)
            except Exception as exc:
                logger.warning("report: run %d: %s", run.index, exc)
                online_results[run.index] = {"error": str(exc)}
    parts.append("<h2>Runs</h2><table><tr><th>run</th><th class='l'>type</th>"
                 "<th class='l'>protocol</th><th class='l'>status</th><th>trials</th>"
                 "<th>window accuracy</th><th>trial accuracy</th><th>nMCC</th>"
                 "<th>ITR (bits/min)</th><th class='l'>recording (BIDS)</th></tr>")
    summary = {}
    for run in runs:
        res = online_results.get(run.index, {})
        m = res.get("metrics")
        row = [str(run.index), html.escape(run.run_type), html.escape(run.protocol),
               html.escape(run.status), str(run.n_trials)]
        if m:
            row += [_fmt(m["accuracy"]), _fmt(res["trial_accuracy"]), _fmt(m["nmcc"]),
                    _fmt(m["itr_bits_per_min"], 1)]
            summary[run.index] = {"accuracy": m["accuracy"], "nmcc": m["nmcc"],
                                  "itr_bits_per_min": m["itr_bits_per_min"],
                                  "trial_accuracy": res["trial_accuracy"]}
        else:
            row += ["", "", "", ""] if "error" not in res else \
                [html.escape(res["error"]), "", "", ""]
        row.append(html.escape(Path(run.bids_path).name if run.bids_path
                               else (run.error or "not converted")))
        parts.append("<tr>" + "".join(
            f"<td class='l'>{c}</td>" if i in (1, 2, 3, 9) else f"<td>{c}</td>"
            for i, c in enumerate(row)) + "</tr>")
    parts.append("</table>")
    training = meta.get("training")
    if training:
        parts.append("<h2>Training (cross-validation on the calibration runs)</h2>"
                     "<table><tr><th class='l'>pipeline</th><th>offline accuracy</th>"
                     "<th>pseudo-online accuracy</th><th>pseudo-online nMCC</th>"
                     "<th>ITR (bits/min)</th></tr>")
        for s in training.get("scores", []):
            parts.append(f"<tr><td class='l'>{html.escape(s['pipeline'])}</td>"
                         f"<td>{_fmt(s['offline_accuracy'])}</td><td>{_fmt(s['accuracy'])}</td>"
                         f"<td>{_fmt(s['nmcc'])}</td><td>{_fmt(s['itr_bits_per_min'], 1)}</td>"
                         "</tr>")
        parts.append("</table>")
        if meta.get("model"):
            parts.append(f"<p>Decoder used for online runs: "
                         f"<code>{html.escape(Path(meta['model']).name)}</code></p>")
        parts.append("<p class='note'>Offline: one epoch per trial, task classes only. "
                     "Pseudo-online: sliding windows over the held-out data, rest included; "
                     "nMCC 0.5 is chance.</p>")
    r2_file = session.derivatives / "r2_map.npz"
    if r2_file.is_file():
        r2 = np.load(r2_file)
        parts.append("<h2>Where the classes differ (r² map)</h2>" + _img(
            r2_png(r2["values"], r2["freqs"], list(r2["ch_names"]), list(r2["classes"])),
            "r2 map"))
    for index, res in online_results.items():
        if "metrics" not in res:
            continue
        m = res["metrics"]
        parts.append(f"<h2>Online run {index}</h2><p>Decoder {html.escape(str(res['model']))}; "
                     f"{len(res['frame'])} decisions; {res['n_trials']} trials.</p>")
        parts.append(_img(_confusion_png(m, f"run {index}: confusion (windows)"),
                          "confusion matrix"))
        parts.append(_img(_timeline_png(res["frame"], f"run {index}: decoder output"),
                          "timeline"))
    parts.append(f"<p class='note'>Recordings (BIDS): {html.escape(str(session.folder))}; "
                 f"raw recordings (XDF) and the session log: "
                 f"{html.escape(str(session.rec.source_dir))}; models, online logs and this "
                 f"report: {html.escape(str(session.derivatives))}</p></body></html>")
    path = Path(path) if path else session.report_path
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("\n".join(parts), encoding="utf-8")
    (path.parent / "report_summary.json").write_text(
        json.dumps({str(k): v for k, v in summary.items()}, indent=2) + "\n", encoding="utf-8")
    return path, summary
