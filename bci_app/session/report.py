"""The session report: a clinical record of one session, as HTML (and PDF), with its summary.

The content comes from the evaluation layer: each online run is scored from its BIDS
recording and the decisions recorded with it by
:func:`bci_app.evaluation.online_runs.score_recorded_run` (the one scoring of
:mod:`bci_app.evaluation.scoring`, which the running score of the run used too), and the
figures are :mod:`bci_app.evaluation.figures`. This module reads the session
(:class:`bci_app.session.Session`: subject, settings, runs, log), stores its summary
(:mod:`bci_app.session.course`: ``summary.json``, read back for the patient's course) and
fills the report's template.

The record holds: when it was made and when the session ran (local time with its time
zone, to the second), its duration, the operator, the patient (sex and handedness as
given), the protocols, the runs the decoder was trained on, the session's scores each beside
its chance levels, the ERD at C3/C4, the table of runs, one table of trials per online run
(cued class, decision or none, correct, detection latency, windows without decision), and
the patient's course over sessions (table and plot).

Templating: the page is ``templates/report.html.j2`` (pieces in ``_macros.html.j2``), filled
by Jinja2 with autoescaping. A template keeps the page's structure readable in one file, and
every value (subject notes, operator, protocol names typed by users) is escaped by default
instead of by hand at each of dozens of string concatenations, where one forgotten
``html.escape`` would break the page. This module only computes the values.

PDF: Qt's PDF writer draws the same HTML. Qt stays out of this layer (the command line and
Dask workers import it without Qt): :func:`build_report` takes a ``pdf_writer``; the GUI
passes :func:`bci_app.gui.pdf.write_pdf`.
"""

import json
from pathlib import Path

import numpy as np

from .._logging import logger
from .._utils import atomic_write, now_iso
from ..errors import DataError
from ..evaluation.figures import confusion_png, r2_png, timeline_png
from ..evaluation.metrics import N_SHUFFLES
from ..evaluation.scoring import MIN_CONSECUTIVE, NOT_INFORMATIVE, informative_chance
from . import runs as _runs
from .course import (
    BEST_SCORES,
    COURSE_SCORES,
    course_display,
    course_png,
    course_table,
    duration_text,
    local_time,
    session_erd,
    session_span,
    session_summary,
    trained_on,
    write_summary,
)
from .participants import AFFECTED_SIDES

#: The report's template, in ``bci_app/session/templates`` (shipped with the package).
TEMPLATE = "report.html.j2"
#: Its pieces (macros), rendered alone by :func:`render_runs_table`.
MACROS = "_macros.html.j2"
_ENV = None


def _environment():
    """The Jinja2 environment of the report's templates (autoescaped, strict)."""
    global _ENV
    if _ENV is None:
        import jinja2

        _ENV = jinja2.Environment(loader=jinja2.PackageLoader("bci_app.session", "templates"),
                                  autoescape=True, undefined=jinja2.StrictUndefined,
                                  trim_blocks=True, lstrip_blocks=True)
    return _ENV


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
        See :func:`bci_app.evaluation.online_runs.score_recorded_run`; with ``classes``,
        ``window_s`` and ``step_s`` (the decoder's, what the run was scored with).
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
    window_s, step_s = float(meta.get("window_s", 2.0)), float(meta.get("step_s", 0.1))
    out = score_recorded_run(rec.events, rec.sfreq, onsets, decisions, proba, proba_classes,
                             run.classes, window_s, step_s,
                             name=meta.get("name", "decoder"), run_name=rec.name)
    out.update(classes=list(run.classes), window_s=window_s, step_s=step_s)
    return out


def _fmt(value, digits=2):
    try:
        value = float(value)
    except (TypeError, ValueError):
        return str(value)
    return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"


#: The scores of an online run in the table of runs: (group header, metrics key, decimals,
#: chance keys). Each score is followed by its chance levels.
_SCORES = (
    ("window accuracy", "accuracy", 2, ("majority_accuracy", "shuffled_accuracy")),
    ("trial accuracy", "trial_accuracy", 2,
     ("majority_trial_accuracy", "shuffled_trial_accuracy", "binomial_trial_accuracy")),
    ("nMCC", "nmcc", 2, ("shuffled_nmcc",)),
    ("ITR (bits/min)", "itr_bits_per_min", 2, ("shuffled_itr_bits_per_min",)),
    ("cues detected", "detected_fraction", 2, ("shuffled_detected_fraction",)),
    ("detection latency (s)", "latency_median_s", 2, ("shuffled_latency_median_s",)),
    ("no decision (bad signal)", "artifact_fraction", 2, ()),
)
_CHANCE = {"majority": "chance (majority)", "shuffled": "chance (shuffled)",
           "binomial": "chance (binomial p<0.05)"}
#: Kept in the summary (report_summary.json, the GUI's table) for each scored online run.
SUMMARY_KEYS = tuple(k for _, key, _, chance in _SCORES for k in (key,) + chance) + (
    "itr_bits_per_min_overlapping",)
_RUN_COLUMNS = ("run", "type", "protocol", "status", "trials")


def runs_table(runs, online_results):
    """The table of runs (for :data:`MACROS`' ``runs_table``) and the summary of the scored
    online runs.

    Returns
    -------
    table : dict
        ``run_columns``, ``groups`` (score header, columns), ``sub_columns``, ``rows``
        (cells as (text, left-aligned)).
    summary : dict
        Run number -> the scores of :data:`SUMMARY_KEYS`, ``windows`` and ``n_trials``.
    """
    n_scores = sum(1 + len(chance) for _, _, _, chance in _SCORES) + 1
    summary, rows = {}, []
    for run in runs:
        res = online_results.get(run.index, {})
        m = res.get("metrics")
        row = [(str(run.index), False), (run.run_type, True), (run.protocol, True),
               (run.status, True), (str(run.n_trials), False)]
        if m:
            for _, key, digits, chance in _SCORES:
                row.append((_fmt(m[key], digits), False))
                row += [(_chance_cell(m[k], key, digits, k), False) for k in chance]
            row.append((_fmt(m["itr_bits_per_min_overlapping"], 2), False))
            summary[run.index] = {k: m[k] for k in SUMMARY_KEYS}
            summary[run.index].update(windows=res["score"].windows, n_trials=res["n_trials"])
        else:
            row += [(res.get("error", ""), True)] + [("", False)] * (n_scores - 1)
        row.append((Path(run.bids_path).name if run.bids_path
                    else (run.error or "not converted"), True))
        rows.append(row)
    table = {"run_columns": _RUN_COLUMNS,
             "groups": [(head, 1 + len(chance)) for head, _, _, chance in _SCORES],
             "sub_columns": [c for _, _, _, chance in _SCORES
                             for c in ["run"] + [_CHANCE[k.split("_")[0]] for k in chance]],
             "overlapping": "ITR, one decision per step (overlapping windows, bits/min)",
             "rows": rows}
    return table, summary


def _is_binomial(level_key):
    """A binomial level is the accuracy needed for p < 0.05, not a score chance gets: one
    that only a perfect score reaches still says something (that score is significant)."""
    return "binomial" in str(level_key)


def _chance_cell(value, key, digits=2, level_key=None):
    """A chance level as a table shows it: the number; ``too few trials`` for a binomial
    level no accuracy reaches (``inf``); :data:`NOT_INFORMATIVE` when a chance score (not a
    binomial level, ``level_key``) reaches the best possible value of the score ``key``
    (:data:`~bci_app.session.course.BEST_SCORES`)."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return _fmt(value, digits)
    if value == np.inf:
        return "too few trials"
    if not _is_binomial(level_key or key) and not informative_chance(
            value, BEST_SCORES.get(key, np.inf)):
        return NOT_INFORMATIVE
    return _fmt(value, digits)


def render_runs_table(runs, online_results):
    """The table of runs as HTML, and the summary of :func:`runs_table`."""
    table, summary = runs_table(runs, online_results)
    return str(_environment().get_template(MACROS).module.runs_table(table)), summary


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
    "(mean of {n} permutations). Chance (binomial p<0.05): the trial accuracy that many "
    "trials must reach to beat guessing among the cued classes (exact binomial test; too "
    "few trials: none can). Not informative: the chance level reaches the best possible "
    "score (e.g. with long imagery periods, shuffled decisions detect every cue), so that "
    "score cannot show that the decoder works; trial accuracy beside its binomial level and "
    "the detection latency beside its shuffled latency can.")


#: The training scores (mean over the calibration folds): (header, key, decimals).
_TRAINING_COLUMNS = (
    ("offline accuracy", "offline_accuracy", 2),
    ("chance (majority)", "offline_majority_accuracy", 2),
    ("chance (shuffled)", "offline_shuffled_accuracy", 2),
    ("chance (binomial p<0.05)", "offline_binomial_accuracy", 2),
    ("pseudo-online accuracy", "accuracy", 2), ("chance (majority)", "majority_accuracy", 2),
    ("chance (shuffled)", "shuffled_accuracy", 2),
    ("pseudo-online nMCC", "nmcc", 2), ("chance (shuffled)", "shuffled_nmcc", 2),
    ("ITR (bits/min)", "itr_bits_per_min", 2),
    ("chance (shuffled)", "shuffled_itr_bits_per_min", 2),
)


def trial_rows(score):
    """One row per cued trial of a scored run (the per-trial table of the report).

    Parameters
    ----------
    score : bci_app.evaluation.scoring.RunScore

    Returns
    -------
    rows : list of dict
        ``number`` (from 1, in time order), ``onset`` (s, text), ``cued``, ``decided``
        (``"no decision"`` on a tie or without any decided window), ``correct``
        (``"yes"``/``"no"``), ``latency`` (s; ``"not detected"``; ``"-"`` for a cued rest,
        on which no detection is measured), ``windows`` and ``artifact_windows`` (the
        trial's windows, and those without decision).
    """
    from ..evaluation.metrics import detection_latencies
    from ..processing.quality import ARTIFACT

    cues = score.cues
    latencies = detection_latencies(
        score.times, None, score.decisions, [t.onset for t in cues], [t.truth for t in cues],
        MIN_CONSECUTIVE, [t.duration for t in cues]).reshape(-1) if cues else []
    latency = {t.event: float(v) for t, v in zip(cues, latencies)}
    artifact = np.asarray(score.decisions).astype(str) == ARTIFACT
    index = np.asarray(score.trial_index)
    rows = []
    for number, trial in enumerate(score.trials, start=1):
        if trial.event in latency:
            value = latency[trial.event]
            lat = f"{value:.2f}" if np.isfinite(value) else "not detected"
        else:
            lat = "-"
        rows.append({"number": number, "onset": f"{trial.onset:.1f}", "cued": trial.label,
                     "decided": trial.decision if trial.decision is not None
                     else "no decision", "correct": "yes" if trial.correct else "no",
                     "latency": lat, "windows": trial.windows,
                     "artifact_windows": int(np.sum((index == trial.event) & artifact))})
    return rows


def _chance_text(metrics, keys, digits, key=None):
    """Chance levels as text, e.g. ``"0.50 (majority), 0.65 (binomial p<0.05)"``; a level
    that reaches the best possible value of the score ``key`` is said to be not informative,
    with why."""
    parts = []
    for k in keys:
        kind = k.split("_")[0]
        value = metrics.get(k)
        label = "binomial p<0.05" if kind == "binomial" else kind
        if value is not None and value == np.inf:
            parts.append(f"too few trials ({label}: no accuracy is significant)")
        elif kind == "binomial" and value is not None and np.isfinite(value):
            parts.append(f"{_fmt(value, digits)} needed for p<0.05 (binomial)")
        elif value is not None and not informative_chance(value, BEST_SCORES.get(key, np.inf)):
            parts.append(f"{NOT_INFORMATIVE} ({kind} {_fmt(value, digits)}: chance reaches "
                         "the best possible score)")
        else:
            parts.append(f"{_fmt(value, digits)} ({label})")
    return ", ".join(parts) or "-"


def _score_rows(scores):
    """The session's scores beside their chance levels (summary ``scores``)."""
    rows = []
    for key, label, digits, chance in COURSE_SCORES:
        value = scores.get(key)
        rows.append((label, _fmt(value if value is not None else float("nan"), digits),
                     _chance_text({k: (float("nan") if scores.get(k) is None else scores[k])
                                   for k in chance}, chance, digits, key)))
    return rows


def _erd_rows(erd):
    if not erd or not erd.get("channels"):
        return []
    a, b = erd["classes"]
    return [(f"r² at {ch} ({a} vs {b})", f"{v['r2']:+.2f} at {v['freq']:.0f} Hz",
             f"{v['chance']:.2f} (shuffled, |r²|)") for ch, v in erd["channels"].items()]


def _identity(session, summary, created):
    """(label, text) rows of the record's header."""
    subject, meta = session.participant, session.meta
    runs_used, classes, where = trained_on(session)
    if runs_used:
        source = {"training": "this session's training", "session log": "the session log",
                  "model": "the decoder's training record"}.get(where, where)
        used = (f"runs {', '.join(str(r) for r in runs_used)}; classes "
                f"{', '.join(classes) or 'n/a'} (from {source})")
    else:
        used = "no training recorded in this session"
    n_runs, n_trials = summary["n_runs"], summary["n_trials"]
    runs_text = "; ".join(f"{n} {kind} run(s), {n_trials.get(kind, 0)} trials"
                          for kind, n in sorted(n_runs.items())) or "none"
    start, end = session_span(session)
    span = (f"{local_time(start.isoformat())} to {local_time(end.isoformat())}"
            if start and end else "n/a")
    return [
        ("Patient", f"sub-{subject.id}"),
        ("Age", "not given" if subject.age is None else f"{subject.age} years"),
        ("Sex", subject.sex_text), ("Handedness", subject.hand_text),
        ("Affected side", AFFECTED_SIDES.get(subject.affected_side, subject.affected_side)),
        ("Notes", subject.notes or "-"),
        ("Session", f"ses-{session.label}"),
        ("Date", local_time(summary["date"])),
        ("Duration", (f"{duration_text(summary['duration_s'])} (first run start to last "
                      f"run end: {span})")),
        ("Operator", session.operator or "not given"),
        ("Protocol(s)", ", ".join(summary["protocols"]) or "none"),
        ("Runs", runs_text),
        ("Decoder trained on", used),
        ("Decoder used online", Path(meta["model"]).name if meta.get("model") else "none"),
        ("Amplifier stream", (f"{meta.get('stream') or 'n/a'}, montage "
                              f"{meta.get('montage') or 'n/a'}")),
        ("Bad channels", ", ".join(meta.get("bad_channels") or []) or "none"),
        ("Report created", created),
    ]


def _training(session):
    meta = session.meta
    training = meta.get("training") or {}
    runs_used, classes, _ = trained_on(session)
    about = [("Runs trained on", ", ".join(str(r) for r in runs_used) or "n/a"),
             ("Classes", ", ".join(classes) or "n/a"),
             ("Models", ", ".join(sorted(training.get("models") or {})) or "none")]
    scores = [(s["pipeline"], [_chance_cell(s.get(key, float("nan")), key, d)
                               for _, key, d in _TRAINING_COLUMNS])
              for s in training.get("scores", [])]
    return {"about": about, "scores": scores, "header": [h for h, _, _ in _TRAINING_COLUMNS]}


def _online_runs(runs, online_results):
    out = []
    for run in runs:
        res = online_results.get(run.index) or {}
        if "metrics" not in res:
            continue
        out.append({"index": run.index, "protocol": run.protocol, "model": res["model"],
                    "n_decisions": len(res["frame"]), "n_trials": res["n_trials"],
                    "trials": trial_rows(res["score"]),
                    "confusion_png": confusion_png(res["metrics"],
                                                   f"run {run.index}: confusion (windows)"),
                    "timeline_png": timeline_png(res["frame"],
                                                 f"run {run.index}: decoder output")})
    return out


def _course(session):
    """The course section: table rows, plot, sessions without a report."""
    table = course_table(session.store, session.subject)
    if not len(table):
        return None
    header, rows = course_display(table, current=session.label)
    return {"header": header, "rows": rows, "png": course_png(table),
            "missing": ", ".join(table.attrs.get("without_summary") or [])}


def build_report(session, path=None, pdf_writer=None):
    """Write the session report (HTML with embedded plots; PDF too with ``pdf_writer``) and
    the session's summary (``summary.json``, :mod:`bci_app.session.course`).

    Parameters
    ----------
    session : bci_app.session.Session
    path : Path | None
        Default: ``session.report_path``.
    pdf_writer : callable | None
        ``pdf_writer(html, pdf_path, title)`` writes the PDF of the HTML (e.g.
        :func:`bci_app.gui.pdf.write_pdf`, Qt's PDF writer); it goes beside the HTML,
        ``report.pdf``. None: HTML only.

    Returns
    -------
    path : Path
    summary : dict
        Per online run: the scores of :data:`SUMMARY_KEYS` (each with its chance levels),
        windows and trials scored (for the GUI's table).
    """
    created = local_time(now_iso())
    runs = session.runs
    online_results = {}
    for run in runs:
        if run.run_type == "online" and run.status in _runs.USABLE:
            try:
                online_results[run.index] = online_run_metrics(run)
            except Exception as exc:
                logger.warning("report: run %d: %s", run.index, exc)
                online_results[run.index] = {"error": str(exc)}
    table, summary = runs_table(runs, online_results)
    path = Path(path) if path else session.report_path
    path.parent.mkdir(parents=True, exist_ok=True)
    pdf_path = path.with_suffix(".pdf")
    erd = session_erd(session)
    record = session_summary(session, online_results, {"report": path}, erd)
    write_summary(session, record)
    r2_png_b64 = None
    r2_file = session.derivatives / "r2_map.npz"
    if r2_file.is_file():
        r2 = np.load(r2_file)
        r2_png_b64 = r2_png(r2["values"], r2["freqs"], list(r2["ch_names"]),
                            list(r2["classes"]))
    course = _course(session)
    title = f"BCI session report sub-{session.subject} ses-{session.label}"
    erd_note = ""
    if erd:
        a, b = erd["classes"]
        erd_note = (f"Calibration run(s) {', '.join(str(r) for r in erd['runs'])}, "
                    f"{erd['n_trials'].get(a, 0)} {a} and {erd['n_trials'].get(b, 0)} {b} "
                    f"trials. Signed r² of the log mu/beta power (8-30 Hz, strongest 2 Hz "
                    f"bin) with the class: negative is less power in {b} (ERD when {a} is "
                    f"rest). Chance: the same peak |r²| with the trial labels shuffled.")
    html_text = _environment().get_template(TEMPLATE).render(
        title=title, created=created, identity=_identity(session, record, created),
        scores=_score_rows(record["scores"]) if record["scores"] else [],
        pooled_runs=", ".join(str(r) for r in record["online_runs"]),
        erd=_erd_rows(erd), erd_note=erd_note,
        erd_missing="Not measured: no complete calibration run of two compared classes "
                    "(a hand and rest, or two hands) with C3/C4 in this session.",
        runs_table=table, runs_note=_RUNS_NOTE.format(k=MIN_CONSECUTIVE, n=N_SHUFFLES),
        training=_training(session), r2_png=r2_png_b64,
        online=_online_runs(runs, online_results), min_consecutive=MIN_CONSECUTIVE,
        course=course, course_missing="No session summary yet.",
        folders={"bids": str(session.folder), "source": str(session.source_dir),
                 "derivatives": str(session.derivatives)})
    atomic_write(path, html_text)
    atomic_write(path.parent / "report_summary.json",
                 json.dumps({str(k): v for k, v in summary.items()}, indent=2) + "\n")
    if pdf_writer is not None:
        pdf_writer(html_text, pdf_path, title)
        record["paths"]["pdf"] = str(pdf_path)
        write_summary(session, record)
    return path, summary
