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

What each moment is and the truth of each window are :mod:`bci_app.processing.labels`
(task, idle, not scored; the majority of the window's samples, a tie going to the value that
comes later in the window; windows not entirely within the run are not scored). Windows
whose truth is "not scored" are left out of every score. Decisions named with an idle name
count as idle.

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

from ..processing.labels import (
    IDLE,
    is_idle_name,
    label_windows,
    normalise_decisions,
    task_classes,
)
from ..protocol.runner import marker_annotations
from .metrics import decision_metrics


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
        out.append(Trial(float(onset), str(label), IDLE if is_idle_name(label) else str(label),
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
