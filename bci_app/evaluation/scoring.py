"""One scoring of decoder decisions against a run's events.

Every score the application shows comes from here: the running score of an online run
(:class:`LiveScorer`, fed as decisions arrive), the session report and the sweep of a
recording (:func:`score_decisions` on a whole run) and the pseudo-online evaluation
(:func:`score_decisions` per run, pooled with :func:`window_scores` and
:func:`trial_accuracy`).

Rules
-----
Events are ``(onset_s, duration_s, label)`` on the clock of the decision times (seconds of
the recording, or LSL time live). A decision is stamped with the time of its window's last
sample; its window is the ``window`` samples at ``sfreq`` that end there.

What each moment is:

* a **task** (a cued class): an event whose label is one of the classes, except idle names;
* **idle**: an event named in :data:`IDLE_NAMES` (``baseline``, ``idle``, ``rest``...), and
  any time no event covers (idle is everything that is not task time);
* **not scored**: any other event (``fixation``, ``cue_*``, ``pause``, ``resume``, another
  task, ``BAD_gap``...). Where events overlap, the later one wins.

Window truth (Carrara & Papadopoulo, 2024): the value of the majority of the window's
samples, a tie going to the value that comes later in the window (so a window that ends
before the next event takes the current event's value). Windows whose truth is "not scored"
are left out of every score, and so is every window not entirely within the run when the
events mark it (from the protocol's ``run_start`` marker to its ``run_end`` or
``run_aborted`` marker): the decoder runs before and after, the protocol does not.
Decisions named with an idle name count as idle.

Trials: every event of a cued class (an idle-named class such as ``rest`` is cued too, and
expects idle) that some window is attributed to. A window of truth ``v`` is attributed to
the latest event of value ``v`` it overlaps. The trial's decision is the majority of the
decisions of its windows; a tie is no decision (a miss).

Window scores: accuracy, nMCC, Wolpaw ITR and confusion matrix over the scored windows, classes
``idle`` + the task classes; the Wolpaw rate counts one decision per step
(``itr_bits_per_min``) and, conservatively, one per window length
(``itr_bits_per_min_nonoverlap``); ``chance_accuracy`` is the majority-class rate.
"""

from dataclasses import dataclass, field

import numpy as np

from ..online.engine import IDLE
from ..protocol.runner import marker_annotations
from ..protocol.spec import MARKER_RUN_ABORTED, MARKER_RUN_END, MARKER_RUN_START
from .metrics import decision_metrics

#: Event and class names read as idle (not task time).
IDLE_NAMES = ("rest", "t0", "idle", "baseline")
_END_MARKERS = (MARKER_RUN_END, MARKER_RUN_ABORTED)


def _is_idle_name(label):
    return str(label).lower() in IDLE_NAMES


def task_classes(classes):
    """The classes scored as tasks: ``classes`` without idle names, in order.

    Parameters
    ----------
    classes : sequence of str
        A protocol's, a model's (``idle`` included) or an evaluation's classes.

    Returns
    -------
    tasks : list of str
    """
    return [c for c in dict.fromkeys(str(c) for c in classes) if not _is_idle_name(c)]


def normalise_decisions(decisions):
    """Decisions as an object array of str, every idle name (``rest``...) as ``idle``."""
    values, inverse = np.unique(np.asarray(decisions).astype(str), return_inverse=True)
    values = np.array([IDLE if _is_idle_name(v) else v for v in values], dtype=object)
    return values[inverse.reshape(-1)] if values.size else np.empty(0, dtype=object)


def _paint(events, tasks, origin, sfreq, lo, hi):
    """The value of time on the sample grid through ``origin``, as constant segments.

    Returns
    -------
    bounds : ndarray of int, shape (n_segments + 1,)
        Segment ``j`` covers the grid samples ``[bounds[j], bounds[j + 1])``.
    value : ndarray of int, shape (n_segments,)
        -1 not scored, 0 idle, ``k`` the task ``tasks[k - 1]``.
    owner : ndarray of int, shape (n_segments,)
        Index in ``events`` of the event that set the value (-1: none).
    span : (int, int)
        The run, from its ``run_start`` marker to its ``run_end``/``run_aborted`` marker
        (``lo``/``hi`` without them).
    """
    lookup = {c: k + 1 for k, c in enumerate(tasks)}
    order = sorted(range(len(events)), key=lambda i: (float(events[i][0]), float(events[i][1]),
                                                      str(events[i][2])))
    onset = np.array([float(events[i][0]) for i in order])
    stop = onset + np.array([float(events[i][1]) for i in order])
    labels = [str(events[i][2]) for i in order]

    def index(t):  # nearest grid samples (ties up), within [lo, hi]
        return np.clip(np.floor((np.asarray(t, dtype=float) - origin) * sfreq + 0.5),
                       lo, hi).astype(np.int64)

    first, after = index(onset), index(stop)
    paints, start, end = [], None, None
    for k, (i, label) in enumerate(zip(order, labels)):
        if label == MARKER_RUN_START:
            start = onset[k] if start is None else start
        elif label in _END_MARKERS:
            end = onset[k] if end is None else end
        elif first[k] < after[k]:
            value = 0 if _is_idle_name(label) else lookup.get(label, -1)
            paints.append((first[k], after[k], value, i))
    bounds = np.unique(np.array([lo, hi] + [p[0] for p in paints] + [p[1] for p in paints],
                                dtype=np.int64))
    value = np.zeros(bounds.size - 1, dtype=int)
    owner = np.full(bounds.size - 1, -1)
    for a, b, v, i in paints:
        sl = slice(np.searchsorted(bounds, a), np.searchsorted(bounds, b))
        value[sl], owner[sl] = v, i
    span = (lo if start is None else int(index(start)), hi if end is None else int(index(end)))
    return bounds, value, owner, span


def label_windows(events, times, window, sfreq, classes):
    """The truth of each decision's window, and the trial it belongs to.

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
        The run's events, on the clock of ``times``.
    times : array-like, shape (n_windows,)
        Time of each window's last sample, s.
    window : int
        Window length, samples.
    sfreq : float
        Sampling rate, Hz.
    classes : sequence of str
        The cued classes (idle names among them are idle; ``idle`` itself is ignored).

    Returns
    -------
    truth : ndarray of object, shape (n_windows,)
        A task class, ``"idle"``, or None (not scored).
    trial : ndarray of int, shape (n_windows,)
        Index in ``events`` of the trial each window belongs to, -1 for none.
    """
    times = np.asarray(times, dtype=float)
    tasks = task_classes(classes)
    if times.size == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=int)
    origin = times[0]
    last = np.floor((times - origin) * sfreq + 0.5).astype(np.int64)
    first = last - int(window) + 1
    bounds, value, owner, span = _paint(events, tasks, origin, sfreq, int(first.min()) - 1,
                                        int(last.max()) + 2)
    n_seg, n_val = value.size, len(tasks) + 2  # column v + 1 holds value v
    onehot = np.zeros((n_seg, n_val), dtype=np.int64)
    onehot[np.arange(n_seg), value + 1] = 1
    prefix = np.vstack([np.zeros((1, n_val), np.int64),
                        np.cumsum(onehot * np.diff(bounds)[:, None], axis=0)])

    def below(x):  # samples of each value at grid indices < x
        j = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, n_seg - 1)
        return prefix[j] + (x - bounds[j])[:, None] * onehot[j]

    counts = below(last + 1) - below(first)
    best = counts.max(axis=1)
    choice = counts.argmax(axis=1)
    seg_last = np.searchsorted(bounds, last, side="right") - 1
    for w in np.flatnonzero((counts == best[:, None]).sum(axis=1) > 1):
        tied, j = counts[w] == best[w], seg_last[w]
        while not tied[value[j] + 1]:  # the tied value that comes later in the window
            j -= 1
        choice[w] = value[j] + 1
    choice[(first < span[0]) | (last >= span[1])] = 0  # not entirely within the run
    names = np.array([None, IDLE] + tasks, dtype=object)
    # The latest segment of the window's value, at or before its last sample: its event.
    latest = np.where(value[None, :] + 1 == np.arange(n_val)[:, None], np.arange(n_seg), -1)
    seg = np.maximum.accumulate(latest, axis=1)[choice, seg_last]
    trial = np.where((seg >= 0) & (choice > 0), owner[np.maximum(seg, 0)], -1)
    cued = {str(c) for c in classes} - {IDLE}
    is_trial = np.array([str(e[2]) in cued for e in events] + [False])  # [-1]: no event
    trial[~is_trial[trial]] = -1
    return names[choice], trial


@dataclass(frozen=True)
class Trial:
    """One cued trial and the decoder's decision on it.

    Attributes
    ----------
    onset : float
        Event onset, s.
    label : str
        The cued class.
    truth : str
        The decision expected (``idle`` for an idle-named class such as ``rest``).
    decision : str | None
        Majority of the decisions of the trial's windows; None on a tie.
    windows : int
        Windows attributed to the trial.
    """

    onset: float
    label: str
    truth: str
    decision: str | None
    windows: int

    @property
    def correct(self):
        return self.decision == self.truth


def trial_decisions(events, trial, decisions, complete_before=None):
    """The decision on each trial: the majority of its windows' decisions, a tie none.

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
    trial : ndarray of int, shape (n_windows,)
        From :func:`label_windows`.
    decisions : array-like of str, shape (n_windows,)
        Normalised (:func:`normalise_decisions`).
    complete_before : float | None
        Count only trials whose event ends at or before this time (live: the first sample
        of the latest window, so no later window can still vote); None: every trial.

    Returns
    -------
    trials : list of Trial
        In time order.
    """
    decisions = np.asarray(decisions).astype(str)
    voted = trial >= 0
    ids, t_idx = np.unique(trial[voted], return_inverse=True)
    values, d_idx = np.unique(decisions[voted], return_inverse=True)
    votes = np.zeros((ids.size, values.size), dtype=int)
    np.add.at(votes, (t_idx, d_idx), 1)
    out = []
    for i, counts in zip(ids, votes):
        onset, duration, label = events[i]
        if complete_before is not None and float(onset) + float(duration) > complete_before:
            continue
        top = np.flatnonzero(counts == counts.max())
        out.append(Trial(float(onset), str(label), IDLE if _is_idle_name(label) else str(label),
                         str(values[top[0]]) if top.size == 1 else None, int(counts.sum())))
    return sorted(out, key=lambda t: t.onset)


def trial_accuracy(trials):
    """Fraction of trials decided right (NaN without trials)."""
    return float(np.mean([t.correct for t in trials])) if trials else float("nan")


def window_scores(truth, decisions, classes, step_s, window_s):
    """Scores of the scored windows.

    Parameters
    ----------
    truth, decisions : array-like of str, shape (n_windows,)
        Scored windows only (truth not None), decisions normalised.
    classes : sequence of str
        Cued classes (the confusion matrix has ``idle`` then the task classes).
    step_s, window_s : float
        Decision step and window length, s.

    Returns
    -------
    metrics : dict
        :func:`~bci_app.evaluation.metrics.decision_metrics` (``accuracy``, ``nmcc``,
        ``itr_bits``, ``itr_bits_per_min`` at one decision per step, ``confusion``,
        ``classes``...), plus ``itr_bits_per_min_nonoverlap`` (one decision per window
        length) and ``chance_accuracy`` (majority-class rate).
    """
    truth = np.asarray(truth).astype(str)
    m = decision_metrics(truth, np.asarray(decisions).astype(str),
                         classes=[IDLE] + task_classes(classes),
                         decisions_per_min=60.0 / float(step_s))
    m["itr_bits_per_min_nonoverlap"] = m["itr_bits"] * 60.0 / float(window_s)
    m["chance_accuracy"] = float(np.unique(truth, return_counts=True)[1].max() / truth.size)
    return m


@dataclass
class RunScore:
    """Scores of a run's decisions (so far, for a run in progress).

    Attributes
    ----------
    windows, correct : int
        Scored windows, and those decided right.
    trials_done, trials_correct : int
        Trials counted, and those decided right.
    metrics : dict | None
        :func:`window_scores` (None before any scored window).
    truth : ndarray of object
        Per decision: its window's truth (None: not scored).
    decisions : ndarray of object
        The decisions, normalised.
    trials : list of Trial
    """

    windows: int = 0
    correct: int = 0
    trials_done: int = 0
    trials_correct: int = 0
    metrics: dict | None = None
    truth: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object), repr=False)
    decisions: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=object),
                                  repr=False)
    trials: list = field(default_factory=list, repr=False)

    @property
    def window_accuracy(self):
        return self.correct / self.windows if self.windows else float("nan")

    @property
    def trial_accuracy(self):
        return self.trials_correct / self.trials_done if self.trials_done else float("nan")

    @property
    def scored(self):
        """Boolean mask of the scored decisions."""
        return np.not_equal(self.truth, None).astype(bool)


def score_decisions(events, times, decisions, window, sfreq, classes, step_s,
                    complete_before=None):
    """Score a run's decisions against its events (the rules of this module).

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
        On the clock of ``times``.
    times : array-like, shape (n_decisions,)
        Time of each decision's window's last sample, s.
    decisions : array-like of str, shape (n_decisions,)
    window : int
        Window length, samples.
    sfreq : float
        Hz.
    classes : sequence of str
        Cued classes (a protocol's, a model's or an evaluation's).
    step_s : float
        Decision step, s.
    complete_before : float | None
        See :func:`trial_decisions`.

    Returns
    -------
    score : RunScore
    """
    decisions = normalise_decisions(decisions)
    truth, trial = label_windows(events, times, window, sfreq, classes)
    scored = np.not_equal(truth, None)
    trials = trial_decisions(events, trial, decisions, complete_before)
    metrics = None
    if scored.any():
        metrics = window_scores(truth[scored], decisions[scored], classes, step_s,
                                window / float(sfreq))
    return RunScore(int(scored.sum()), int(np.sum(truth[scored] == decisions[scored])),
                    len(trials), sum(t.correct for t in trials), metrics, truth, decisions,
                    trials)


def protocol_events(markers, class_of_marker=None):
    """A run's events from the protocol markers received so far.

    The same events as the run's BIDS recording
    (:func:`bci_app.protocol.marker_annotations`: onset = marker time, duration = until the
    next marker, class markers renamed to their class), the last one still going on.

    Parameters
    ----------
    markers : list of (timestamp, marker)
    class_of_marker : dict | None

    Returns
    -------
    events : list of (onset_s, duration_s, label)
    """
    return marker_annotations(markers, end=np.inf, class_of_marker=class_of_marker)


class LiveScorer:
    """The running score of an online run: its decisions so far against its markers so far.

    Each :meth:`score` applies :func:`score_decisions` to everything received, so the score
    at the end of a run is the one its recording gets (:mod:`bci_app.evaluation.online_runs`).
    While the run goes on, a trial counts once no later window can vote on it.

    Parameters
    ----------
    classes : sequence of str
        The protocol's classes.
    sfreq : float
        The decoder's sampling rate, Hz.
    window : int
        The decoder's window, samples.
    step_s : float
        The decoder's step, s.
    class_of_marker : dict | None
        The protocol's marker -> class.
    """

    def __init__(self, classes, sfreq, window, step_s, class_of_marker=None):
        self.classes = list(classes)
        self.sfreq, self.window, self.step_s = float(sfreq), int(window), float(step_s)
        self.class_of_marker = dict(class_of_marker or {})
        self._times, self._decisions = [], []

    def add(self, times, decisions):
        """Decisions received (a batch), with the times of their windows' last samples."""
        self._times.append(np.asarray(times, dtype=float))
        self._decisions.append(np.asarray(decisions).astype(str))

    def score(self, markers, final=False):
        """The score now.

        Parameters
        ----------
        markers : list of (timestamp, marker)
            The protocol's markers sent so far.
        final : bool
            The run is over: count every trial.

        Returns
        -------
        score : RunScore
        """
        if not self._times:
            return RunScore()
        times = np.concatenate(self._times)
        if times.size == 0:
            return RunScore()
        complete = None if final else times[-1] - (self.window - 1) / self.sfreq
        return score_decisions(protocol_events(markers, self.class_of_marker), times,
                               np.concatenate(self._decisions), self.window, self.sfreq,
                               self.classes, self.step_s, complete_before=complete)
