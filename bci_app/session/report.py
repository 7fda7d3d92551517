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
from ..evaluation.metrics import N_SHUFFLES
from ..evaluation.scoring import MIN_CONSECUTIVE
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


#: The scores of an online run in the table of runs: (group header, metrics key, decimals,
#: chance keys). Each score is followed by its chance levels.
_SCORES = (
    ("window accuracy", "accuracy", 2, ("majority_accuracy", "shuffled_accuracy")),
    ("trial accuracy", "trial_accuracy", 2,
     ("majority_trial_accuracy", "shuffled_trial_accuracy")),
    ("nMCC", "nmcc", 2, ("shuffled_nmcc",)),
    ("ITR (bits/min)", "itr_bits_per_min", 2, ("shuffled_itr_bits_per_min",)),
    ("cues detected", "detected_fraction", 2, ("shuffled_detected_fraction",)),
    ("detection latency (s)", "latency_median_s", 2, ("shuffled_latency_median_s",)),
    ("no decision (bad signal)", "artifact_fraction", 2, ()),
)
_CHANCE = {"majority": "chance (majority)", "shuffled": "chance (shuffled)"}
#: Kept in the summary (report_summary.json, the GUI's table) for each scored online run.
SUMMARY_KEYS = tuple(k for _, key, _, chance in _SCORES for k in (key,) + chance) + (
    "itr_bits_per_min_overlapping",)


def _runs_header():
    """Two header rows: the run's columns and the score groups, then value and chances."""
    run_cols = ("run", "type", "protocol", "status", "trials")
    top = "".join(f"<th rowspan='2' class='l'>{c}</th>" for c in run_cols)
    top += "".join(f"<th colspan='{1 + len(chance)}'>{html.escape(head)}</th>"
                   for head, _, _, chance in _SCORES)
    top += ("<th rowspan='2'>ITR, one decision per step (overlapping windows, bits/min)</th>"
            "<th rowspan='2' class='l'>recording (BIDS)</th>")
    sub = "".join("<th>run</th>" + "".join(f"<th>{_CHANCE[c.split('_')[0]]}</th>"
                                           for c in chance)
                  for _, _, _, chance in _SCORES)
    return f"<tr>{top}</tr><tr>{sub}</tr>"


def _runs_table(runs, online_results):
    """The table of runs (HTML parts) and the summary of the scored online runs."""
    parts = ["<h2>Runs</h2><table>" + _runs_header()]
    n_scores = sum(1 + len(chance) for _, _, _, chance in _SCORES) + 1
    summary = {}
    for run in runs:
        res = online_results.get(run.index, {})
        m = res.get("metrics")
        row = [str(run.index), html.escape(run.run_type), html.escape(run.protocol),
               html.escape(run.status), str(run.n_trials)]
        left = {1, 2, 3}
        if m:
            for _, key, digits, chance in _SCORES:
                row += [_fmt(m[k], digits) for k in (key,) + chance]
            row.append(_fmt(m["itr_bits_per_min_overlapping"], 2))
            summary[run.index] = {k: m[k] for k in SUMMARY_KEYS}
            summary[run.index].update(windows=res["score"].windows, n_trials=res["n_trials"])
        else:
            left.add(len(row))
            row += [html.escape(res.get("error", ""))] + [""] * (n_scores - 1)
        left.add(len(row))
        row.append(html.escape(Path(run.bids_path).name if run.bids_path
                               else (run.error or "not converted")))
        parts.append("<tr>" + "".join(
            f"<td class='l'>{c}</td>" if i in left else f"<td>{c}</td>"
            for i, c in enumerate(row)) + "</tr>")
    parts.append(f"</table><p class='note'>"
                 f"{_RUNS_NOTE.format(k=MIN_CONSECUTIVE, n=N_SHUFFLES)}</p>")
    return parts, summary


_RUNS_NOTE = (
    "Online runs are scored as they were live: each decision's window takes the majority "
    "label of its samples (rest and inter-trial periods are idle; fixation, cue and pauses "
    "are not scored); a trial is decided by the majority of its windows (a tie is a miss). "
    "ITR: the mutual information between cue and decision (from the confusion matrix), one "
    "decision per window length; the figure at one decision per step counts overlapping, "
    "not independent, windows. A cue is detected when {k} decisions in a row name it within "
    "its imagery period; the latency runs from the cue to the decision that confirms it "
    "(median over the detected cues). Chance (majority): always deciding the most frequent "
    "label. Chance (shuffled): the run's decisions in a random order, scored the same way "
    "(mean of {n} permutations).")


#: The training scores (mean over the calibration folds): (header, key, decimals).
_TRAINING_COLUMNS = (
    ("offline accuracy", "offline_accuracy", 2),
    ("chance (majority)", "offline_majority_accuracy", 2),
    ("pseudo-online accuracy", "accuracy", 2), ("chance (majority)", "majority_accuracy", 2),
    ("chance (shuffled)", "shuffled_accuracy", 2),
    ("pseudo-online nMCC", "nmcc", 2), ("chance (shuffled)", "shuffled_nmcc", 2),
    ("ITR (bits/min)", "itr_bits_per_min", 2),
    ("chance (shuffled)", "shuffled_itr_bits_per_min", 2),
)


def _training_section(meta):
    training = meta.get("training")
    if not training:
        return []
    parts = ["<h2>Training (cross-validation on the calibration runs)</h2>"
             "<table><tr><th class='l'>pipeline</th>"
             + "".join(f"<th>{h}</th>" for h, _, _ in _TRAINING_COLUMNS) + "</tr>"]
    for s in training.get("scores", []):
        parts.append(f"<tr><td class='l'>{html.escape(s['pipeline'])}</td>" + "".join(
            f"<td>{_fmt(s.get(key, float('nan')), d)}</td>" for _, key, d in _TRAINING_COLUMNS)
            + "</tr>")
    parts.append("</table>")
    if meta.get("model"):
        parts.append(f"<p>Decoder used for online runs: "
                     f"<code>{html.escape(Path(meta['model']).name)}</code></p>")
    parts.append("<p class='note'>Offline: one epoch per trial, task classes only. "
                 "Pseudo-online: sliding windows over the held-out data, rest included; "
                 "nMCC 0.5 is chance; ITR as in the table of runs. n/a: not computed.</p>")
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
        Per online run: the scores of :data:`SUMMARY_KEYS` (each with its chance levels),
        windows and trials scored (for the GUI's table).
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
