"""Continuing a patient's course: today's decoder from the earlier sessions and a short
calibration.

A rehabilitation course runs 10 to 25 sessions per patient. Recalibrating every session
from scratch costs the patient several minutes of cue-based imagery before any feedback.
The earlier sessions already hold calibration recordings of the same patient, with the
same task classes and (mostly) the same electrodes; what changes from one session to the
next (cap placement, electrode contact, arousal, the patient's progress) moves the
covariance matrices of the whole session, which Riemannian re-centring undoes
(:class:`~bci_app.decoding.transfer.Recenter`). So today's decoder is trained on the
earlier sessions' calibration runs (each a domain of its own, re-centred on its own mean)
plus a short calibration block of today (the target, re-centred on its own calibration
mean and, online, on a reference that follows the signal: ``adapt``, :data:`ADAPT_S`).

What this module does, with no Qt (the GUI and ``bci-app session --from-previous`` call
it):

* :func:`earlier_sessions` finds the patient's earlier sessions: their usable calibration
  runs (complete or interrupted, as training takes them by default), task classes,
  channels (from each run's BIDS ``channels.tsv``, without the session's bad channels),
  the decoder chosen for their online runs (``session.json``'s ``model``), every decoder
  saved with them, and their trial success (``summary.json``, with its chance level).
* :func:`plan_continuation` tells which of them can be sources for today (the same task
  classes, every channel of today), and **proposes a calibration length** for today with
  its reason (:func:`propose_calibration`, the rule below).
* :func:`transfer_spec` is a model file's pipeline with a ``Recenter`` step
  (:func:`~bci_app.decoding.transfer.with_recentering`, adapting online), and
  :func:`earlier_sources` the earlier sessions' calibration windows
  (:func:`~bci_app.processing.calibration.source_windows`, read back from BIDS by
  :func:`~bci_app.session.training.calibration_runs`), matched to today's channels and rate.
* :func:`train_with_earlier_sessions` trains through the one training path of a session
  (:class:`~bci_app.session.training.TrainingJob`: cross-validation on today's runs with the
  sources in every fold, the r² map, the final models by
  :func:`~bci_app.online.train_model.train_model` with the sources, saved with the
  session); the training record names the source sessions and runs.

The calibration-length rule
---------------------------
One line (:data:`PROPOSAL_RULE`): at least one earlier session with today's classes and
channels -> **5 trials per class** today; none (a first session, or other classes or
channels) -> the protocol's full calibration. The operator can always record more, or
train on today's runs only.

Measured by ``benchmarks/calibration_saved.py`` on simulated courses recorded as the app
records them (8 patients x 4 sessions; each later session a target, 24 in all; the
default model; offline accuracy on 40 test trials of the session, chance 0.50):
within-session training with :data:`REFERENCE_TRIALS` trials per class reaches 0.821 (5.0
min of calibration); training with the earlier sessions reaches 0.822 with 3 trials per
class and 0.829 with 5 (1.3 and 1.9 min), and trial success and pseudo-online nMCC
reach theirs at 3 too. Split by the number of earlier sessions (8 targets each), 3 trials
per class stayed 0.01 below with 3 earlier sessions (0.81 against 0.82, paired Wilcoxon
p = 0.80), 5 was within 0.004 or above in every group: the rule proposes 5, the smallest
size that reached the reference in the pooled targets and stayed with it in every group. More earlier sessions did not lower it further in these data, so the rule does not
depend on their number. The simulation's session-to-session changes (cap shift, electrode
gains and noise, the patient's day) are those of the benchmark; real courses may differ.
"""

import csv
from dataclasses import dataclass, field, replace
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import ConfigError, DataError

#: Time constant, in seconds, of the online adaptation of today's re-centring reference
#: (``Recenter(adapt=round(ADAPT_S / step))``): the same 15 s the transfer benchmarks
#: fixed a priori (60 windows at a 0.25 s step), never tuned on scores.
ADAPT_S = 15.0
#: Within-session training with this many calibration trials per class is the reference
#: accuracy the rule keeps.
REFERENCE_TRIALS = 15
#: The calibration-length rule: (at least this many compatible earlier sessions, trials per
#: class proposed for today), first match wins; no match: the protocol's full calibration.
#: Measured by ``benchmarks/calibration_saved.py`` (the figures: this module's docstring).
PROPOSAL_RULE = ((1, 5),)
#: What the measurement behind :data:`PROPOSAL_RULE` was, said with every proposal.
MEASURED_ON = "simulated courses of 8 patients (benchmarks/calibration_saved.py)"
#: The calibration protocol whose timing estimates a calibration's duration when neither
#: the caller nor an earlier recording says it.
DEFAULT_PROTOCOL = "left_right_hand"
#: Added to a model's name when it is trained with earlier sessions.
TRANSFER_SUFFIX = "+earlier"


class NoEarlierSession(DataError):
    """No earlier session of the patient can be a source for today (the message says why:
    a first session, other classes or channels)."""


@dataclass
class EarlierSession:
    """One earlier session of the patient, as a source for today.

    Attributes
    ----------
    subject, label : str
        BIDS labels.
    date : str | None
        When its first run started (ISO 8601), else when it was created.
    runs : list of RunInfo
        Its usable calibration runs trained on by default (complete or interrupted).
    classes : tuple of str
        The task classes of those runs.
    trials : int
        Task trials recorded in those runs.
    ch_names : list of str | None
        The channels of its calibration recordings, without the session's bad channels
        (None: not known from the files).
    bad_channels : list of str
    model : Path | None
        The decoder chosen for its online runs (``session.json``'s ``model``), if the file
        is there.
    model_name : str | None
        Its name; with none chosen, that of the last decoder saved in the session.
    models : list of Path
        Every decoder saved with the session, oldest first.
    trial_accuracy, trial_accuracy_chance : float | None
        Trial success of its online runs and its chance level (the higher of majority and
        shuffled), from its ``summary.json`` (None: no report made).
    problem : str | None
        Why it cannot be a source for today (None: it can).
    """

    subject: str
    label: str
    date: str | None = None
    runs: list = field(default_factory=list)
    classes: tuple = ()
    trials: int = 0
    ch_names: list | None = None
    bad_channels: list = field(default_factory=list)
    model: Path | None = None
    model_name: str | None = None
    models: list = field(default_factory=list)
    trial_accuracy: float | None = None
    trial_accuracy_chance: float | None = None
    problem: str | None = None

    @property
    def name(self):
        """The session as a transfer domain (``sub-<s>/ses-<e>``)."""
        return f"sub-{self.subject}/ses-{self.label}"

    @property
    def usable(self):
        return self.problem is None

    def describe(self):
        """``"ses-03, model FgMDM, trial accuracy 0.78 (chance 0.55)"``."""
        parts = [f"ses-{self.label}"]
        if self.model_name:
            parts.append(f"model {self.model_name}"
                         + ("" if self.model is not None else " (none chosen for online)"))
        if self.trial_accuracy is not None:
            chance = (f" (chance {self.trial_accuracy_chance:.2f})"
                      if self.trial_accuracy_chance is not None else "")
            parts.append(f"trial accuracy {self.trial_accuracy:.2f}{chance}")
        else:
            parts.append("no online score yet")
        return ", ".join(parts)


@dataclass
class ContinuationPlan:
    """Today's session seen from the earlier ones: sources and the proposed calibration.

    Attributes
    ----------
    subject, session : str
    earlier : list of EarlierSession
        Every earlier session, oldest first.
    classes : tuple of str
        Today's task classes (as compared).
    ch_names : list of str | None
        Today's channels (None: not known yet; checked when training).
    trials_per_class : int
        Proposed calibration length for today.
    transfer : bool
        True when the proposal counts on the earlier sessions.
    minutes : float
        Expected duration of a calibration run of that length.
    full_trials_per_class : int
        The protocol's full calibration.
    reason : str
        Why this length.
    root : Path | None
        The recordings folder.
    """

    subject: str
    session: str
    earlier: list
    classes: tuple
    ch_names: list | None
    trials_per_class: int
    transfer: bool
    minutes: float
    full_trials_per_class: int
    reason: str
    root: Path | None = None

    @property
    def sources(self):
        """The earlier sessions that can be sources for today."""
        return [e for e in self.earlier if e.usable]

    def earlier_text(self):
        """``"Earlier sessions: 3 (last: ses-03, model FgMDM, trial accuracy 0.78 (chance
        0.55))"``, or ``"Earlier sessions: none (first session)"``."""
        if not self.earlier:
            return "Earlier sessions: none (first session)"
        text = f"Earlier sessions: {len(self.earlier)} (last: {self.earlier[-1].describe()})"
        usable = self.sources
        if len(usable) != len(self.earlier):
            text += f"; {len(usable)} usable for training with transfer"
        return text

    def problems_text(self):
        """Why each earlier session that cannot be a source cannot (one per line; "")."""
        return "\n".join(e.problem for e in self.earlier if e.problem)

    def proposal_text(self):
        """``"Proposed calibration: 5 trials per class (about 2 min): <reason>"``."""
        return (f"Proposed calibration: {self.trials_per_class} trials per class (about "
                f"{max(1, round(self.minutes))} min): {self.reason}")

    def record(self):
        """What a training with these sources records of them (JSON types)."""
        return {"earlier_sessions": [
            {"subject": e.subject, "session": e.label, "domain": e.name, "date": e.date,
             "runs": [Path(r.bids_path).name for r in e.runs],
             "run_numbers": [int(r.index) for r in e.runs], "trials": e.trials,
             "model": str(e.model) if e.model else None}
            for e in self.sources]}


# -- the earlier sessions ---------------------------------------------------------------------
def _session_date(session):
    from .course import session_span

    start, _ = session_span(session)
    return start.isoformat(timespec="seconds") if start else session.meta.get("created")


def _sort_key(date, label):
    from .course import parse_time

    when = parse_time(date)
    return (when.timestamp() if when else float("inf"), label)


def run_channels(info):
    """The channels of a run's BIDS recording, from its ``channels.tsv`` (None if absent or
    unreadable)."""
    if not info.bids_path:
        return None
    path = Path(info.bids_path)
    tsv = path.with_name(path.name[:-len("_eeg" + path.suffix)] + "_channels.tsv")
    try:
        with tsv.open(newline="", encoding="utf-8") as fh:
            names = [row["name"] for row in csv.DictReader(fh, delimiter="\t")
                     if row.get("name") and row.get("type", "EEG").upper() == "EEG"]
    except (OSError, KeyError, csv.Error):
        return None
    return names or None


def _describe_session(session, every):
    """An :class:`EarlierSession` of ``session`` (``every``: its runs; problem left None)."""
    from .course import course_row, read_summary, summary_path
    from .training import task_classes

    bad = list(session.meta.get("bad_channels") or [])
    runs = [r for r in every if r.run_type == "calibration" and r.trained_by_default]
    out = EarlierSession(session.subject, session.label, _session_date(session), runs,
                         bad_channels=bad, models=session.models())
    if runs:
        try:
            out.classes = task_classes(runs)
        except DataError:
            out.classes = ()
        out.trials = sum(int(r.recorded_trials or 0) for r in runs)
        channels = [run_channels(r) for r in runs]
        if all(channels):
            common = [c for c in channels[0] if all(c in other for other in channels[1:])]
            out.ch_names = [c for c in common if c not in bad]
    model = session.meta.get("model")
    if model and Path(model).is_file():
        out.model = Path(model)
    shown = out.model or (out.models[-1] if out.models else None)
    if shown is not None:
        from ..decoding.persistence import read_model_info

        try:
            out.model_name = read_model_info(shown).get("name")
        except DataError as exc:
            logger.warning("continuation: %s", exc)
    path = summary_path(session)
    if path.is_file():
        try:
            row = course_row(read_summary(path))
        except DataError as exc:
            logger.warning("continuation: %s", exc)
        else:
            value, chance = row["trial_accuracy"], row["trial_accuracy_chance"]
            out.trial_accuracy = float(value) if np.isfinite(value) else None  # no score
            out.trial_accuracy_chance = float(chance) if np.isfinite(chance) else None
    return out


def earlier_sessions(session):
    """The sessions of ``session``'s subject held before it, oldest first.

    Sessions are ordered by when their first run started (else when they were created),
    then by label; those before ``session`` with at least one run (of any kind, any status)
    are earlier: a session opened but never recorded in is not part of the course.

    Parameters
    ----------
    session : Session

    Returns
    -------
    earlier : list of EarlierSession
        Their ``problem`` is not judged here (see :func:`plan_continuation`).
    """
    store = session.store
    today = _sort_key(_session_date(session), session.label)
    found = []
    for label in store.sessions(session.subject):
        if label == session.label:
            continue
        other = store.open_session(session.subject, label, create=False)
        every = other.runs
        if not every:
            continue
        described = _describe_session(other, every)
        if _sort_key(described.date, label) < today:
            found.append(described)
    return sorted(found, key=lambda e: _sort_key(e.date, e.label))


def source_problem(earlier, classes, ch_names=None):
    """Why an earlier session cannot be a source for today's classes and channels.

    Parameters
    ----------
    earlier : EarlierSession
    classes : sequence of str
        Today's task classes.
    ch_names : sequence of str | None
        Today's channels (None: not known yet, not compared).

    Returns
    -------
    problem : str | None
        None when it can be a source.
    """
    where = f"ses-{earlier.label}"
    if not earlier.runs:
        return f"{where} has no complete calibration run"
    missing = [c for c in classes if c not in earlier.classes]
    if missing:
        return (f"{where} was calibrated on {', '.join(earlier.classes) or 'no task class'}, "
                f"not {', '.join(missing)}")
    if ch_names is not None and earlier.ch_names is not None:
        have = {c.lower() for c in earlier.ch_names}
        lacking = [c for c in ch_names if c.lower() not in have]
        if lacking:
            bad = [c for c in lacking if c in earlier.bad_channels]
            return (f"{where} lacks channel(s) {', '.join(lacking)}"
                    + (f" ({', '.join(bad)} marked bad there)" if bad else ""))
    return None


# -- the proposal -----------------------------------------------------------------------------
def calibration_minutes(timing, n_classes, trials_per_class):
    """Expected duration of a calibration run, min: the baseline and the trials at their
    mean length (:attr:`bci_app.protocol.spec.Timing.trial_s`)."""
    return (timing.baseline_s + n_classes * trials_per_class * timing.trial_s) / 60.0


def propose_calibration(n_sources, source_trials, full_trials_per_class, first=False):
    """The calibration length for today by the rule of :data:`PROPOSAL_RULE`.

    Parameters
    ----------
    n_sources : int
        Compatible earlier sessions.
    source_trials : int
        Their calibration trials (all classes).
    full_trials_per_class : int
        The protocol's full calibration.
    first : bool
        Today is the patient's first session.

    Returns
    -------
    trials_per_class : int
    transfer : bool
    reason : str
    """
    for at_least, trials in PROPOSAL_RULE:
        if n_sources >= at_least and trials < full_trials_per_class:
            return trials, True, (
                f"{n_sources} earlier session(s) of this patient with {source_trials} "
                f"calibration trials; trained with earlier sessions, {trials} trials per "
                f"class reached the accuracy of {REFERENCE_TRIALS} per class trained "
                f"within-session on {MEASURED_ON}")
    if first:
        return full_trials_per_class, False, "full calibration: first session"
    if n_sources:
        return full_trials_per_class, False, (
            "full calibration: the protocol asks no more than the shortened calibration")
    return full_trials_per_class, False, (
        "full calibration: no earlier session with the same classes and channels")


def _calibration_protocol(earlier, protocol):
    """(timing, full trials per class, classes, rest included) of today's calibration:
    ``protocol``, else the last earlier calibration run's protocol as its sidecar holds it,
    else :data:`DEFAULT_PROTOCOL`."""
    from ..protocol.spec import Timing, load_protocol

    if protocol is not None:
        return protocol.timing, int(protocol.trials_per_class), tuple(protocol.classes)
    for e in reversed(earlier):
        for run in reversed(e.runs):
            record = run.sidecar.get("BciAppProtocol") or {}
            try:
                timing = Timing(**record["timing"])
                return timing, int(record["trials_per_class"]), tuple(record["classes"])
            except (KeyError, TypeError, ValueError):
                continue
    shipped = load_protocol(DEFAULT_PROTOCOL)
    return shipped.timing, int(shipped.trials_per_class), tuple(shipped.classes)


def todays_classes_and_channels(session, bad_channels=None):
    """Today's task classes and channels as its calibration runs recorded so far say them
    (((), None) before the first one)."""
    from .training import task_classes

    runs = [r for r in session.runs if r.run_type == "calibration" and r.trained_by_default]
    if not runs:
        return (), None
    try:
        classes = task_classes(runs)
    except DataError:
        classes = ()
    channels = run_channels(runs[0])
    bad = (session.meta.get("bad_channels") or []) if bad_channels is None else bad_channels
    return classes, None if channels is None else [c for c in channels if c not in bad]


def plan_continuation(session, classes=None, ch_names=None, protocol=None,
                      bad_channels=None):
    """The earlier sessions of today's patient, which can be sources, and the proposed
    calibration length for today.

    Parameters
    ----------
    session : Session
        Today's session.
    classes : sequence of str | None
        Today's task classes (rest and other idle names are left out: idle is always a
        class); None: those of today's calibration runs, else of the last earlier session
        with calibration runs, else the protocol's.
    ch_names : sequence of str | None
        Today's channels (e.g. the amplifier's, bad ones removed); None: those of today's
        first calibration run, else unknown (compared when training).
    protocol : Protocol | None
        Today's calibration protocol (its timing and full length); None: the last earlier
        calibration run's, else :data:`DEFAULT_PROTOCOL`.
    bad_channels : sequence of str | None
        Today's bad channels (None: the session's).

    Returns
    -------
    plan : ContinuationPlan
    """
    from ..processing.labels import IDLE_NAMES

    earlier = earlier_sessions(session)
    timing, full, protocol_classes = _calibration_protocol(earlier, protocol)
    today_classes, today_channels = todays_classes_and_channels(session, bad_channels)
    if classes is None:
        classes = today_classes or next((e.classes for e in reversed(earlier) if e.classes),
                                        protocol_classes)
    if ch_names is None:
        ch_names = today_channels
    classes = tuple(c for c in classes if c.lower() not in IDLE_NAMES)
    for e in earlier:
        e.problem = source_problem(e, classes, ch_names)
    usable = [e for e in earlier if e.usable]
    trials, transfer, reason = propose_calibration(
        len(usable), sum(e.trials for e in usable), full, first=not earlier)
    if not transfer and earlier and not usable:
        reason += " (" + "; ".join(e.problem for e in earlier) + ")"
    return ContinuationPlan(session.subject, session.label, earlier, classes,
                            None if ch_names is None else list(ch_names), trials, transfer,
                            calibration_minutes(timing, len(protocol_classes), trials),
                            full, reason, Path(session.root))


# -- training with the earlier sessions --------------------------------------------------------
def adapt_windows(step_s):
    """Windows of :data:`ADAPT_S` seconds at a decoder step of ``step_s``."""
    if step_s <= 0:
        raise ConfigError(f"decoder step {step_s!r} s: give a positive step.")
    return max(1, round(ADAPT_S / float(step_s)))


def transfer_spec(spec, step_s=0.1):
    """A model file's pipeline trained with earlier sessions: a ``Recenter`` step after its
    step making SPD matrices, adapting online over :data:`ADAPT_S` s
    (:func:`~bci_app.decoding.transfer.with_recentering`); named ``<name>+earlier``.

    Parameters
    ----------
    spec : ModelSpec
    step_s : float
        The decoder's online step, s.

    Returns
    -------
    spec : ModelSpec
        A copy (the file's own spec is not changed). A model file that has a ``Recenter``
        step already keeps it as it is.

    Raises
    ------
    ConfigError
        The pipeline has no step making SPD matrices (e.g. a stacking ensemble), naming it.
    """
    from ..decoding.transfer import domain_steps, with_recentering

    if domain_steps(spec.pipeline):
        return replace(spec, name=spec.name + TRANSFER_SUFFIX)
    try:
        pipeline = with_recentering(spec.pipeline, adapt=adapt_windows(step_s))
    except ConfigError as exc:
        raise ConfigError(f"{spec.name} ({spec.path}) cannot be trained with earlier "
                          f"sessions: {exc} Untick it, or train on today's runs "
                          "only.") from None
    return replace(spec, name=spec.name + TRANSFER_SUFFIX, pipeline=pipeline)


def earlier_sources(plan, cfg, sfreq, ch_names, progress=None):
    """The calibration windows of the plan's usable earlier sessions, matched to today's
    channels and rate (each session a domain, named ``sub-<s>/ses-<e>``).

    Each session's calibration runs are read back from BIDS without its bad channels
    (:func:`~bci_app.session.training.calibration_runs`), then cropped like today's
    calibration (:func:`~bci_app.processing.calibration.source_windows`).

    Parameters
    ----------
    plan : ContinuationPlan
    cfg : PseudoOnlineConfig
        Today's classes, window, band and crops.
    sfreq : float
    ch_names : list of str
        Today's rate and channels.
    progress : callable | None
        ``progress(text)`` before each session is read.

    Returns
    -------
    sources : list of TransferSource
    record : dict
        :meth:`ContinuationPlan.record`, each session's windows per class, and the
        re-centring's adaptation.

    Raises
    ------
    NoEarlierSession
        No usable earlier session.
    DataError
        An earlier session that lacks a channel or class of today (the message names the
        session and what differs).
    """
    from ..processing.calibration import source_windows
    from .store import RecordingStore
    from .training import calibration_runs

    usable = plan.sources
    if not usable:
        raise NoEarlierSession(f"sub-{plan.subject} ses-{plan.session}: no earlier session "
                               f"to train with ({plan.reason}). Train on today's runs only.")
    store = RecordingStore(plan.root)
    sources = []
    for e in usable:
        if progress is not None:
            progress(f"reading the calibration runs of ses-{e.label}")
        session = store.open_session(e.subject, e.label, create=False)
        runs = calibration_runs(session, e.runs, e.bad_channels)
        sources.append(source_windows(e.name, runs, cfg, sfreq, ch_names))
    record = plan.record()
    for entry, src in zip(record["earlier_sessions"], sources):
        labels, counts = np.unique(np.asarray(src.y, dtype=str), return_counts=True)
        entry["windows_per_class"] = {str(k): int(v) for k, v in zip(labels, counts)}
    record["recentering"] = {"adapt_s": ADAPT_S, "adapt_windows": adapt_windows(cfg.step_s)}
    return sources, record


def sources_hook(session, bad_channels=None, protocol=None):
    """What :class:`~bci_app.session.training.TrainingJob` calls, on its worker thread, with
    the :class:`~bci_app.session.training.TrainingRequest` it built (today's runs read):
    the plan made again with today's classes and exact channels (bad ones removed), and
    its usable earlier sessions as sources (:func:`earlier_sources`)."""
    def hook(request):
        runs = request.runs
        plan = plan_continuation(session, classes=request.classes,
                                 ch_names=runs[0].ch_names, protocol=protocol,
                                 bad_channels=bad_channels)
        return earlier_sources(plan, request.config(), runs[0].sfreq, runs[0].ch_names)

    return hook


def train_with_earlier_sessions(session, specs, runs=None, bad_channels=None, window_s=2.0,
                                step_s=0.1, on_progress=None, on_finished=None,
                                on_failed=None, start=True):
    """Train today's decoder(s) from the earlier sessions plus today's calibration runs.

    The one training path of a session (:class:`~bci_app.session.training.TrainingJob`:
    today's runs read back from BIDS, cross-validated with the sources in every fold, the
    r² map, final models by :func:`~bci_app.online.train_model.train_model` with the
    sources, saved with the session), each model re-centred per session
    (:func:`transfer_spec`). The earlier sessions used are those of
    :func:`plan_continuation` for today's classes and channels.

    Parameters
    ----------
    session : Session
        Today's.
    specs : list of ModelSpec
        As in the model files (each gets its ``Recenter`` step here).
    runs : sequence of int | None
        Today's calibration runs (None: the complete and interrupted ones).
    bad_channels : sequence of str | None
        Today's bad channels (None: the session's).
    window_s, step_s : float
    on_progress, on_finished, on_failed : callable | None
        As for :class:`~bci_app.session.training.TrainingJob`.
    start : bool
        Start the job's worker thread.

    Returns
    -------
    job : TrainingJob

    Raises
    ------
    ConfigError
        A pipeline that cannot be re-centred (nothing starts).
    NoEarlierSession
        No usable earlier session (nothing starts).
    DataError
        No run of today to train on (nothing starts).
    """
    from .training import TrainingJob, task_classes, training_runs

    bad = list((session.meta.get("bad_channels") or []) if bad_channels is None
               else bad_channels)
    transfer = [transfer_spec(s, step_s) for s in specs]
    infos = training_runs(session, None if runs is None else [int(r) for r in runs])
    channels = run_channels(infos[0])
    plan = plan_continuation(session, classes=task_classes(infos), bad_channels=bad,
                             ch_names=None if channels is None
                             else [c for c in channels if c not in bad])
    if not plan.sources:
        raise NoEarlierSession(f"sub-{session.subject} ses-{session.label}: no earlier "
                               f"session to train with ({plan.reason}). Train on today's "
                               "runs only.")
    job = TrainingJob(session, transfer, infos, bad_channels=bad, window_s=window_s,
                      step_s=step_s, on_progress=on_progress, on_finished=on_finished,
                      on_failed=on_failed, sources=sources_hook(session, bad))
    return job.start() if start else job
