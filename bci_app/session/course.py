"""A patient's course: one summary per session, and the table and plot of them over sessions.

Rehabilitation runs 10 to 25 sessions per patient; what matters is how the scores move
from one session to the next, each beside its chance level. When a session's report is
made (:func:`bci_app.session.report.build_report`), :func:`write_summary` stores the
session's ``summary.json`` beside it (``derivatives/bci-app/sub-<s>/ses-<e>/``):

- ``date`` (when the session's first run started, local time with its UTC offset),
  ``duration_s``, ``operator``, ``protocols``, ``n_runs`` and ``n_trials`` (calibration and
  online), the calibration runs and classes trained on;
- ``scores``: the session's online runs pooled (:func:`bci_app.evaluation.scoring.run_metrics`:
  each run's decisions shuffled within itself for the chance level): window accuracy,
  nMCC, information-based ITR, trial success, cues detected and detection latency, each
  with its chance levels (the keys of :data:`COURSE_SCORES`; trial success also with the
  binomial level, the success that many trials must reach for p < 0.05);
- ``erd``: the signed r² of the mu/beta power at C3 and C4 on the calibration runs trained
  on, with its chance level (:func:`bci_app.evaluation.erd.motor_r2`);
- ``paths``: the report (HTML, PDF).

:func:`course_table` reads every summary of a subject (one row per session, in date order);
:func:`course_png` plots it with its chance levels. The GUI's course view and the report
show both; nothing here imports Qt.
"""

import datetime as _dt
import json
from pathlib import Path

import numpy as np

from .._logging import logger
from .._utils import atomic_write, now_iso
from ..errors import DataError
from .layout import derivatives_dir

#: Name of a session's summary, beside its report.
SUMMARY_NAME = "summary.json"
#: Version of the summary's content (read back by :func:`course_table`).
SUMMARY_VERSION = 1
#: The scores of a session kept in its summary and shown over sessions: (key, label,
#: decimals, chance keys).
COURSE_SCORES = (
    ("trial_accuracy", "trial success", 2, ("majority_trial_accuracy",
                                            "shuffled_trial_accuracy",
                                            "binomial_trial_accuracy")),
    ("accuracy", "window accuracy", 2, ("majority_accuracy", "shuffled_accuracy")),
    ("nmcc", "nMCC", 2, ("shuffled_nmcc",)),
    ("itr_bits_per_min", "ITR (bits/min)", 2, ("shuffled_itr_bits_per_min",)),
    ("detected_fraction", "cues detected", 2, ("shuffled_detected_fraction",)),
    ("latency_median_s", "detection latency (s)", 2, ("shuffled_latency_median_s",)),
)
#: The best possible value of the scores that have one: a chance level that reaches it is
#: not informative (:func:`bci_app.evaluation.scoring.informative_chance`).
BEST_SCORES = {"trial_accuracy": 1.0, "accuracy": 1.0, "nmcc": 1.0, "detected_fraction": 1.0}
#: The motor channels whose ERD r² a summary holds (:mod:`bci_app.evaluation.erd`).
ERD_CHANNELS = ("C3", "C4")
#: Log entries that mark the start and the end of a run (for the session's duration).
_RUN_START = ("run_started",)
_RUN_END = ("run_stopped", "run_saved", "run_aborted", "run_converted")


# -- time ----------------------------------------------------------------------------------
def parse_time(text):
    """A timestamp of the application's files (:func:`bci_app._utils.now_iso`) as an aware
    datetime (a naive one is taken as local time), or None if empty or unreadable."""
    if not text:
        return None
    try:
        value = _dt.datetime.fromisoformat(str(text))
    except ValueError:
        return None
    return value if value.tzinfo is not None else value.astimezone()


def local_time(text, seconds=True):
    """A timestamp as a clinical record writes it: local time with its time zone, no
    fraction of a second (``"2026-03-02 14:03:07 CET (UTC+01:00)"``).

    The time zone is the one the timestamp was written in (its UTC offset); it is named
    when this computer's zone has the same offset at that date. ``"n/a"`` if ``text`` is
    empty or unreadable.
    """
    value = parse_time(text)
    if value is None:
        return "n/a"
    here = value.astimezone()
    if here.utcoffset() == value.utcoffset():
        value = here
    offset = value.strftime("%z")
    offset = f"UTC{offset[:3]}:{offset[3:]}" if offset else "UTC"
    name = value.tzname() or ""
    zone = offset if not name or name.startswith(("UTC", "+", "-")) else f"{name} ({offset})"
    return f"{value:%Y-%m-%d %H:%M{':%S' if seconds else ''}} {zone}"


def duration_text(seconds):
    """``"1 h 05 min"``, ``"12 min 30 s"``; ``"n/a"`` if unknown."""
    if seconds is None or not np.isfinite(seconds):
        return "n/a"
    seconds = round(float(seconds))
    h, rest = divmod(seconds, 3600)
    m, s = divmod(rest, 60)
    return f"{h} h {m:02d} min" if h else f"{m} min {s:02d} s"


def session_span(session):
    """When the session's runs started and ended.

    From the session log (``run_started`` to the last ``run_stopped``/``run_saved``...)
    and the runs' recordings (start and ``RecordingDuration`` of their BIDS sidecars: runs
    recorded elsewhere or recovered), whichever reaches further.

    Returns
    -------
    start, end : datetime | None
        Aware datetimes (None when no run says when it ran).
    """
    starts, ends = [], []
    for entry in session.entries():
        when = parse_time(entry.get("time"))
        if when is None:
            continue
        if entry.get("event") in _RUN_START:
            starts.append(when)
        elif entry.get("event") in _RUN_END:
            ends.append(when)
    for run in session.runs:
        begun = parse_time(run.started or (run.sidecar.get("BciAppRecording") or {})
                           .get("started"))
        length = run.sidecar.get("RecordingDuration")
        if begun is not None and run.bids_path:
            starts.append(begun)
            if isinstance(length, (int, float)) and np.isfinite(length):
                ends.append(begun + _dt.timedelta(seconds=float(length)))
    if not starts:
        return None, None
    start = min(starts)
    end = max([e for e in ends if e >= start], default=None)
    return start, end


# -- the summary of a session -----------------------------------------------------------------
def pooled_scores(online_results):
    """The scores of a session's online runs pooled, each with its chance levels.

    Parameters
    ----------
    online_results : dict
        Run number -> :func:`bci_app.session.report.online_run_metrics` (runs that could
        not be scored hold ``error`` and are left out).

    Returns
    -------
    metrics : dict | None
        :func:`bci_app.evaluation.scoring.run_metrics` of the scored runs that share the
        latest run's classes, window and step (a session's online runs normally all do).
    runs : list of int
        The runs pooled.
    """
    from ..evaluation.scoring import run_metrics

    scored = {k: r for k, r in sorted(online_results.items()) if r.get("metrics")}
    if not scored:
        return None, []
    last = scored[max(scored)]
    key = (tuple(last["classes"]), last["window_s"], last["step_s"])
    runs = [k for k, r in scored.items()
            if (tuple(r["classes"]), r["window_s"], r["step_s"]) == key]
    if len(runs) == 1:
        return dict(last["metrics"]), runs
    metrics = run_metrics([scored[k]["score"] for k in runs], list(key[0]), key[2], key[1])
    return metrics, runs


def trained_on(session):
    """The calibration runs and classes the session's decoder was trained on.

    From ``session.json``'s ``training`` (a training of this session), else the session
    log's last ``training_saved``, else the chosen model's own record (a model from an
    earlier session).

    Returns
    -------
    runs : list
        Run numbers (of this session), or the recordings' file names (another session's
        model); empty if unknown.
    classes : list of str
    where : str
        Where it was read (``"training"``, ``"session log"``, ``"model"`` or ``""``).
    """
    training = session.meta.get("training") or {}
    if training.get("runs"):
        return list(training["runs"]), list(training.get("classes") or []), "training"
    for entry in reversed(session.entries()):
        if entry.get("event") == "training_saved" and entry.get("runs"):
            return list(entry["runs"]), list(entry.get("classes") or []), "session log"
    model = session.meta.get("model")
    if model and Path(model).is_file():
        from ..decoding.persistence import read_model_info

        try:
            info = read_model_info(model).get("trained_on") or {}
        except DataError as exc:  # an unreadable model says nothing about its runs
            logger.warning("course: %s", exc)
            info = {}
        # its recordings' names: they say the session, which may be an earlier one
        runs = info.get("runs") or info.get("run_numbers") or []
        return list(runs), list(info.get("task_classes") or []), "model" if runs else ""
    return [], [], ""


def session_erd(session):
    """ERD r² at C3/C4 on the session's calibration runs trained on (or those trained on by
    default), with its chance level: :func:`bci_app.evaluation.erd.motor_r2`.

    Returns
    -------
    erd : dict | None
        ``classes``, ``n_trials``, ``runs`` and, per motor channel found, ``r2``, ``freq``,
        ``chance``. None when there is no calibration run to measure it on (the reason is
        logged).
    """
    from ..evaluation.erd import motor_r2
    from .training import calibration_runs, cued_classes, training_runs

    numbers, _, where = trained_on(session)
    try:
        chosen = [n for n in numbers if isinstance(n, int)] if where != "model" else []
        infos = training_runs(session, chosen or None)
        runs = calibration_runs(session, infos, session.meta.get("bad_channels") or ())
        erd = motor_r2(runs, cued_classes(infos), ERD_CHANNELS)
    except DataError as exc:
        logger.info("course: sub-%s ses-%s: no ERD r²: %s", session.subject, session.label,
                    exc)
        return None
    erd["runs"] = [int(i.index) for i in infos]
    erd["classes"] = list(erd["classes"])
    return erd


def session_summary(session, online_results, paths=None, erd=None):
    """The summary of a session (the content of its ``summary.json``).

    Parameters
    ----------
    session : Session
    online_results : dict
        Run number -> :func:`bci_app.session.report.online_run_metrics`.
    paths : dict | None
        Files to list (``{"report": ..., "pdf": ...}``).
    erd : dict | None
        :func:`session_erd` (computed here when None).

    Returns
    -------
    summary : dict
    """
    runs = session.runs
    start, end = session_span(session)
    metrics, pooled = pooled_scores(online_results)
    keys = [k for key, _, _, chance in COURSE_SCORES for k in (key,) + chance]
    scores = {k: _number(metrics.get(k)) for k in keys} if metrics else {}
    trained_runs, trained_classes, _ = trained_on(session)
    n_runs, n_trials = {}, {}
    for run in runs:
        if not run.usable:
            continue
        n_runs[run.run_type] = n_runs.get(run.run_type, 0) + 1
        res = online_results.get(run.index) or {}
        count = res.get("n_trials") if res.get("metrics") else run.recorded_trials
        n_trials[run.run_type] = n_trials.get(run.run_type, 0) + int(count or 0)
    protocols, online_protocols = [], []
    for run in runs:
        if run.usable and run.protocol and run.protocol not in protocols:
            protocols.append(run.protocol)
        if (run.index in pooled and run.protocol
                and run.protocol not in online_protocols):
            online_protocols.append(run.protocol)
    created = parse_time(session.meta.get("created"))
    date = start or created
    return {
        "version": SUMMARY_VERSION,
        "subject": session.subject, "session": session.label,
        "date": date.isoformat(timespec="seconds") if date else None,
        "duration_s": (end - start).total_seconds() if start and end else None,
        "operator": session.operator,
        "protocols": protocols, "online_protocols": online_protocols,
        "n_runs": n_runs, "n_trials": n_trials,
        "online_runs": pooled,
        "trained_on": {"runs": trained_runs, "classes": trained_classes},
        "scores": scores,
        "erd": session_erd(session) if erd is None else erd,
        "runs": {str(k): {"protocol": next((r.protocol for r in runs if r.index == k), ""),
                          **{key: _number(r["metrics"].get(key)) for key in keys}}
                 for k, r in online_results.items() if r.get("metrics")},
        "paths": {k: str(v) for k, v in (paths or {}).items() if v},
        "written": now_iso(),
    }


def _number(value):
    """A JSON number, None for NaN/inf/missing."""
    try:
        value = float(value)
    except (TypeError, ValueError):
        return None
    return value if np.isfinite(value) else None


def summary_path(session):
    """The session's ``summary.json``."""
    return session.derivatives / SUMMARY_NAME


def write_summary(session, summary):
    """Store a session's summary with it (atomically). Returns the file."""
    path = summary_path(session)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, json.dumps(summary, indent=2, ensure_ascii=False) + "\n")
    return path


def read_summary(path):
    """A session summary file (dict).

    Raises
    ------
    DataError
        If it cannot be read (the file named, and what to do).
    """
    path = Path(path)
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        raise DataError(f"{path}: cannot read this session summary ({exc}); create the "
                        "session's report again to rewrite it.") from exc
    if not isinstance(data, dict) or "session" not in data:
        raise DataError(f"{path}: not a session summary; create the session's report again "
                        "to rewrite it.")
    return data


# -- the course over sessions -------------------------------------------------------------
def course_row(summary):
    """One row of the course table from a session summary (flat: the scores and their
    chance levels; ``<score>_chance``, the highest of them, the bar a score must clear, and
    ``<score>_chance_informative``; and ``r2_<ch>``, ``r2_<ch>_chance`` for the ERD
    channels).

    A chance level that reaches the score's best possible value (:data:`BEST_SCORES`; e.g.
    shuffled decisions detecting every cue) is no bar: it is left out of
    ``<score>_chance``, and when no other level remains ``<score>_chance`` is NaN and
    ``<score>_chance_informative`` False (shown as not informative)."""
    from ..evaluation.scoring import informative_chance

    scores = summary.get("scores") or {}
    erd = (summary.get("erd") or {}).get("channels") or {}
    row = {"session": summary.get("session"), "date": summary.get("date"),
           "operator": summary.get("operator") or "",
           "protocol": ", ".join(summary.get("online_protocols")
                                 or summary.get("protocols") or []),
           "calibration_runs": (summary.get("n_runs") or {}).get("calibration", 0),
           "online_runs": (summary.get("n_runs") or {}).get("online", 0),
           "online_trials": (summary.get("n_trials") or {}).get("online", 0),
           "duration_s": summary.get("duration_s")}
    for key, _, _, chance in COURSE_SCORES:
        for k in (key,) + chance:
            row[k] = _float(scores.get(k))
        best = BEST_SCORES.get(key, np.inf)
        finite = [row[k] for k in chance if np.isfinite(row[k])]
        levels = [v for v in finite if informative_chance(v, best)]
        row[f"{key}_chance"] = max(levels) if levels else float("nan")
        row[f"{key}_chance_informative"] = bool(levels) or not finite
    for ch in ERD_CHANNELS:
        row[f"r2_{ch}"] = _float((erd.get(ch) or {}).get("r2"))
        row[f"r2_{ch}_chance"] = _float((erd.get(ch) or {}).get("chance"))
    return row


def _float(value):
    return float("nan") if value is None else float(value)


def course_table(store, subject_id):
    """The course of a subject: one row per session with a summary, in date order.

    Parameters
    ----------
    store : RecordingStore
    subject_id : str

    Returns
    -------
    table : pandas.DataFrame
        The columns of :func:`course_row`. ``table.attrs["without_summary"]``: the
        sessions with no summary yet (no report made); ``table.attrs["unreadable"]``:
        the summaries that could not be read, with why.
    """
    import pandas as pd

    subject = store.subject(subject_id)
    rows, missing, unreadable = [], [], {}
    for label in store.sessions(subject.id):
        path = derivatives_dir(store.root, subject.id, label) / SUMMARY_NAME
        if not path.is_file():
            missing.append(label)
            continue
        try:
            rows.append(course_row(read_summary(path)))
        except DataError as exc:
            logger.warning("course: %s", exc)
            unreadable[label] = str(exc)
    columns = list(course_row({}).keys())
    table = pd.DataFrame(rows, columns=columns)
    if len(table):
        order = [(parse_time(d) or _dt.datetime.max.replace(tzinfo=_dt.UTC), s)
                 for d, s in zip(table["date"], table["session"])]
        table = table.iloc[sorted(range(len(order)), key=order.__getitem__)]
        table = table.reset_index(drop=True)
    table.attrs["without_summary"] = missing
    table.attrs["unreadable"] = unreadable
    table.attrs["subject"] = subject.id
    return table


def course_display(table, current=None):
    """The course table as text, as the report and the GUI show it.

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`course_table`.
    current : str | None
        The session being reported (its row is marked).

    Returns
    -------
    header : list of str
    rows : list of dict
        ``cells`` (list of str: each score with its chance level in brackets, the
        highest of majority, shuffled and binomial; ``not informative`` when it reaches
        the best possible score) and ``current`` (bool).
    """
    from ..evaluation.scoring import NOT_INFORMATIVE

    def fmt(value, digits=2):
        value = float(value)
        return "n/a" if not np.isfinite(value) else f"{value:.{digits}f}"

    header = ["session", "date", "protocol"]
    header += [f"{label} (chance)" for _, label, _, _ in COURSE_SCORES]
    header += [f"r² {ch} (chance)" for ch in ERD_CHANNELS] + ["online trials", "operator"]
    rows = []
    for _, row in table.iterrows():
        cells = [f"ses-{row['session']}", local_time(row["date"], seconds=False),
                 row["protocol"] or "-"]
        cells += [f"{fmt(row[key], digits)} ("
                  + (fmt(row[f"{key}_chance"], digits)
                     if row.get(f"{key}_chance_informative", True) else NOT_INFORMATIVE)
                  + ")" for key, _, digits, _ in COURSE_SCORES]
        cells += [f"{fmt(row[f'r2_{ch}'])} ({fmt(row[f'r2_{ch}_chance'])})"
                  for ch in ERD_CHANNELS]
        cells += [str(row["online_trials"]), row["operator"] or "-"]
        rows.append({"cells": cells, "current": row["session"] == current})
    return header, rows


#: Colours of the course plot (distinguishable without red/green vision): score, second
#: score, chance.
_COLOURS = ("#0072B2", "#E69F00", "#777777")


def course_png(table, title=None):
    """The course over sessions as a base64 PNG: trial success and window accuracy, nMCC,
    ITR and ERD |r²| at C3/C4, each with its chance level (dashed: ``<score>_chance``).

    Parameters
    ----------
    table : pandas.DataFrame
        From :func:`course_table` (at least one row).
    title : str | None

    Returns
    -------
    png : str
        Base64.
    """
    from ..evaluation.figures import _pyplot, png_base64

    if not len(table):
        raise DataError("course: no session summary yet; create a session's report first.")
    plt = _pyplot()
    x = np.arange(len(table))
    ticks = [f"ses-{s}\n{(parse_time(d) or _dt.datetime.min):%Y-%m-%d}"
             if parse_time(d) else f"ses-{s}" for s, d in zip(table["session"],
                                                             table["date"])]
    fig, axes = plt.subplots(2, 2, figsize=(9, 5.6), sharex=True, layout="constrained")
    panels = (
        (axes[0, 0], "accuracy", [("trial_accuracy", "trial success",
                                   "trial_accuracy_chance"),
                                  ("accuracy", "window accuracy", "accuracy_chance")],
         (0, 1)),
        (axes[0, 1], "nMCC", [("nmcc", "nMCC", "nmcc_chance")], (0, 1)),
        (axes[1, 0], "ITR (bits/min)", [("itr_bits_per_min", "ITR",
                                          "itr_bits_per_min_chance")], None),
        (axes[1, 1], "ERD |r²| (mu/beta)", [(f"r2_{c}", c, f"r2_{c}_chance")
                                             for c in ERD_CHANNELS], None),
    )
    for ax, name, series, ylim in panels:
        for k, (key, label, chance) in enumerate(series):
            values = table[key].to_numpy(dtype=float)
            if key.startswith("r2_"):
                values = np.abs(values)
            colour = _COLOURS[k]
            ax.plot(x, values, "o-", color=colour, label=label)
            ax.plot(x, table[chance].to_numpy(dtype=float), "--", color=colour, alpha=0.6,
                    label=f"{label}: chance")
        ax.set_title(name, fontsize=9)
        if ylim:
            ax.set_ylim(*ylim)
        ax.grid(alpha=0.3)
        ax.legend(fontsize=7, loc="best")
    for ax in axes[1]:
        ax.set_xticks(x, ticks, fontsize=7)
    fig.suptitle(title or f"Course of sub-{table.attrs.get('subject', '')} (dashed: chance "
                 "level, the highest of majority, shuffled and binomial)", fontsize=10)
    return png_base64(fig)
