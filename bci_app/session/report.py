"""The session report: one self-contained HTML file (plots embedded as PNG) in the session.

The content comes from the evaluation layer: each online run is scored from its BIDS
recording and the decisions recorded with it by
:func:`bci_app.evaluation.online_runs.score_recorded_run` (the one scoring of
:mod:`bci_app.evaluation.scoring`, which the running score of the run used too), and the
figures are :mod:`bci_app.evaluation.figures`. This module reads the session
(:class:`bci_app.session.Session`: subject, settings, runs) and assembles the HTML.
"""

import html
import json
from pathlib import Path

import numpy as np

from .._logging import logger
from .._utils import atomic_write
from ..errors import DataError
from ..evaluation.figures import confusion_png, r2_png, timeline_png
from . import runs as _runs


def _img(b64, alt):
    return f'<img alt="{html.escape(alt)}" src="data:image/png;base64,{b64}"/>'


def online_run_metrics(run):
    """Scores of an online run from its BIDS recording and the predictions recorded with it.

    The EEG and its events are read back from BIDS
    (:func:`bci_app.session.runs.load_run_recording`);
    the decoder's output is the ``Predictions`` stream LabRecorder recorded with the run
    (``derivatives/bci-app/.../eeg/*_predictions.tsv``, onsets on the EEG's sample grid).

    Parameters
    ----------
    run : bci_app.session.runs.RunInfo

    Returns
    -------
    out : dict
        See :func:`bci_app.evaluation.online_runs.score_recorded_run`.
    """
    from ..evaluation.online_runs import read_predictions, score_recorded_run
    from ..processing.runs import run_from_raw

    pred_path = run.predictions_path
    if pred_path is None or not pred_path.is_file():
        raise DataError(f"Run {run.index}: no recorded predictions "
                        f"({pred_path or 'the run is not converted to BIDS'}).")
    rec = run_from_raw(_runs.load_run_recording(run), name=f"run-{run.index:02d}")
    meta = run.sidecar.get("BciAppModel") or {}
    if not meta and run.model and Path(run.model).is_file():
        from ..decoding.persistence import read_model_info

        meta = read_model_info(run.model)
    onsets, decisions, proba, proba_classes = read_predictions(pred_path)
    return score_recorded_run(rec.events, rec.sfreq, onsets, decisions, proba, proba_classes,
                              run.classes, float(meta.get("window_s", 2.0)),
                              float(meta.get("step_s", 0.1)),
                              name=meta.get("name", "decoder"), run_name=rec.name)


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


def _header(session):
    subject, meta = session.participant, session.meta
    rows = [("Subject", html.escape(subject.id)),
            ("Age", "" if subject.age is None else subject.age),
            ("Sex / handedness", f"{html.escape(str(subject.sex or 'n/a'))} / "
                                 f"{html.escape(str(subject.hand or 'n/a'))}"),
            ("Affected side", html.escape(subject.affected_side)),
            ("Notes", html.escape(subject.notes)),
            ("Session", f"{html.escape(session.label)} "
                        f"({html.escape(str(meta.get('created', '')))})"),
            ("Amplifier stream", f"{html.escape(str(meta.get('stream')))}, montage "
                                 f"{html.escape(str(meta.get('montage')))}"),
            ("Bad channels", html.escape(', '.join(meta.get('bad_channels') or []) or 'none'))]
    return ([f"<!DOCTYPE html><html><head><meta charset='utf-8'><title>BCI session report "
             f"sub-{html.escape(subject.id)} ses-{html.escape(session.label)}</title>"
             f"<style>{_STYLE}</style></head><body>",
             "<h1>BCI session report</h1><table>"]
            + [f"<tr><th class='l'>{k}</th><td class='l'>{v}</td></tr>" for k, v in rows]
            + ["</table>"])


_RUN_COLUMNS = ("run", "type", "protocol", "status", "trials", "window accuracy",
                "chance (majority)", "trial accuracy", "nMCC", "ITR (bits/min)",
                "ITR, 1 decision per window (bits/min)", "recording (BIDS)")
_LEFT = (1, 2, 3, 11)


def _runs_table(runs, online_results):
    """The table of runs (HTML parts) and the summary of the scored online runs."""
    parts = ["<h2>Runs</h2><table><tr>" + "".join(
        f"<th class='l'>{c}</th>" if i in _LEFT else f"<th>{c}</th>"
        for i, c in enumerate(_RUN_COLUMNS)) + "</tr>"]
    summary = {}
    for run in runs:
        res = online_results.get(run.index, {})
        m = res.get("metrics")
        row = [str(run.index), html.escape(run.run_type), html.escape(run.protocol),
               html.escape(run.status), str(run.n_trials)]
        if m:
            row += [_fmt(m["accuracy"]), _fmt(m["chance_accuracy"]),
                    _fmt(res["trial_accuracy"]), _fmt(m["nmcc"]),
                    _fmt(m["itr_bits_per_min"], 1), _fmt(m["itr_bits_per_min_nonoverlap"], 1)]
            summary[run.index] = {
                "accuracy": m["accuracy"], "nmcc": m["nmcc"],
                "itr_bits_per_min": m["itr_bits_per_min"],
                "itr_bits_per_min_nonoverlap": m["itr_bits_per_min_nonoverlap"],
                "chance_accuracy": m["chance_accuracy"], "windows": res["score"].windows,
                "trial_accuracy": res["trial_accuracy"], "n_trials": res["n_trials"]}
        else:
            row += [html.escape(res.get("error", ""))] + [""] * 5
        row.append(html.escape(Path(run.bids_path).name if run.bids_path
                               else (run.error or "not converted")))
        parts.append("<tr>" + "".join(
            f"<td class='l'>{c}</td>" if i in _LEFT else f"<td>{c}</td>"
            for i, c in enumerate(row)) + "</tr>")
    parts.append("</table><p class='note'>Online runs are scored as they were live: each "
                 "decision's window takes the majority label of its samples (rest and "
                 "inter-trial periods are idle; fixation, cue and pauses are not scored); a "
                 "trial is decided by the majority of its windows (a tie is a miss). Chance: "
                 "the accuracy of always deciding the most frequent label. ITR counts one "
                 "decision per step (overlapping windows: optimistic) or one per window "
                 "length (conservative).</p>")
    return parts, summary


def _training_section(meta):
    training = meta.get("training")
    if not training:
        return []
    parts = ["<h2>Training (cross-validation on the calibration runs)</h2>"
             "<table><tr><th class='l'>pipeline</th><th>offline accuracy</th>"
             "<th>pseudo-online accuracy</th><th>pseudo-online nMCC</th>"
             "<th>ITR (bits/min)</th></tr>"]
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
    return parts


def _online_sections(online_results):
    parts = []
    for index, res in online_results.items():
        if "metrics" not in res:
            continue
        parts.append(f"<h2>Online run {index}</h2><p>Decoder {html.escape(str(res['model']))}; "
                     f"{len(res['frame'])} decisions; {res['n_trials']} trials.</p>")
        parts.append(_img(confusion_png(res["metrics"], f"run {index}: confusion (windows)"),
                          "confusion matrix"))
        parts.append(_img(timeline_png(res["frame"], f"run {index}: decoder output"),
                          "timeline"))
    return parts


def build_report(session, path=None):
    """Write the session report (HTML with embedded plots).

    Parameters
    ----------
    session : bci_app.session.Session
    path : Path | None
        Default: ``session.report_path``.

    Returns
    -------
    path : Path
    summary : dict
        Per online run: accuracy, chance accuracy, trial accuracy, nMCC, ITR (per step and
        per window length), windows and trials scored (for the GUI's table).
    """
    parts = _header(session)
    runs = session.runs
    online_results = {}
    for run in runs:
        if run.run_type == "online" and run.status in _runs.USABLE:
            try:
                online_results[run.index] = online_run_metrics(run)
            except Exception as exc:
                logger.warning("report: run %d: %s", run.index, exc)
                online_results[run.index] = {"error": str(exc)}
    table, summary = _runs_table(runs, online_results)
    parts += table + _training_section(session.meta)
    r2_file = session.derivatives / "r2_map.npz"
    if r2_file.is_file():
        r2 = np.load(r2_file)
        parts.append("<h2>Where the classes differ (r² map)</h2>" + _img(
            r2_png(r2["values"], r2["freqs"], list(r2["ch_names"]), list(r2["classes"])),
            "r2 map"))
    parts += _online_sections(online_results)
    parts.append(f"<p class='note'>Recordings (BIDS): {html.escape(str(session.folder))}; "
                 f"raw recordings (XDF) and the session log: "
                 f"{html.escape(str(session.source_dir))}; models, online logs and this "
                 f"report: {html.escape(str(session.derivatives))}</p></body></html>")
    path = Path(path) if path else session.report_path
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, "\n".join(parts))
    atomic_write(path.parent / "report_summary.json",
                 json.dumps({str(k): v for k, v in summary.items()}, indent=2) + "\n")
    return path, summary
