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

Window scores: accuracy, nMCC, ITR and confusion matrix over the scored windows, classes
``idle`` + the task classes (:func:`bci_app.evaluation.metrics.decision_metrics`: bits per
decision are the mutual information of the confusion matrix, counted at one decision per
window length; ``itr_bits_per_min_overlapping`` counts one per step).

Detection latency: for each task trial (a cue), the time from its onset to the decision that
confirms its detection, the last of :data:`MIN_CONSECUTIVE` decisions in a row equal to the
cued class, searched within the cue's event only (its imagery period);
``detected_fraction`` is over all task trials, ``latency_median_s`` over the detected ones.

What the decoder can decide: a window whose truth is a decision the decoder cannot make
(idle for a decoder of task classes only, with no confidence threshold that can decide idle:
:func:`decidable_labels`) could never be right. When the caller says what the decoder can
decide (``decidable``), such windows are left out of every score, as windows not scored are,
and counted beside them (``n_undecidable``); so are the trials that expect such a decision.
A decoder with an idle class (every decoder the application trains) can decide every truth:
its scores are unchanged. Without ``decidable``, every truth counts (as before).

No decision: a window the decoder did not classify (decision ``artifact``: its signal was
not EEG, or the model failed on it, :mod:`bci_app.online.engine`) is neither right nor wrong.
It is left out of the window scores (accuracy, nMCC, bits per decision, confusion), which
are over the decided windows, and counted beside them: ``n_artifact`` and
``artifact_fraction`` (of the scored windows). The rates per minute (``*_per_min``) count
the time of those windows, in which nothing was decided: they are scaled by the decided
fraction. Trials: artifact windows do not vote; a trial with no decided window has no
decision (a miss). Detection: an artifact breaks a run of decisions equal to the cue.

Chance, next to every score: ``majority_*`` (always deciding the most frequent truth) and
``shuffled_*`` (the run's decisions permuted, :func:`bci_app.evaluation.metrics.shuffle_indices`,
then scored by the same rules: windows, trials and latency; the mean over the
permutations; pooled runs are each permuted within themselves; windows without decision
keep their place, the decisions are permuted among the decided windows). Trial accuracy
(independent trials, not overlapping windows) also has its ``binomial_*`` level
(:func:`bci_app.evaluation.metrics.binomial_chance_level`): the accuracy that many trials
must reach to beat guessing among the cued classes at p < 0.05.

A chance level that reaches the best possible score (e.g. cues detected by shuffled
decisions: with long imagery periods and a decision every 0.1 s, two decisions in a row
naming the cue happen by chance in nearly every cue) tells nothing about the decoder:
:func:`informative_chance` says so, and the reports show it as not informative, with
the reason (:data:`NOT_INFORMATIVE`), instead of a number that looks like a bar to clear.

Offline scores (one cue-locked epoch per trial, :func:`offline_trials`,
:func:`offline_scores`): the trials of the task classes and, when the protocol cues an
idle class (affected hand vs rest), the cued rest trials too, expecting idle: the
decoder is trained on both (the idle crops of :mod:`bci_app.processing.calibration`), so
it is scored on both, each with the chance levels of that same set of trials.
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
from ..processing.quality import ARTIFACT
from ..protocol.runner import marker_annotations
from .metrics import (
    binomial_chance_level,
    confusion_stack,
    decision_metrics,
    detection_latencies,
    label_codes,
    latency_summary,
    mcc_of_confusion,
    mutual_information_bits,
    per_minute,
    shuffle_indices,
)

#: Decisions in a row equal to the cued class that confirm its detection.
MIN_CONSECUTIVE = 2
#: Seconds of decisions between two shuffled chance levels of a run in progress.
CHANCE_EVERY_S = 2.0


def decidable_labels(classes, threshold=0.0):
    """The decisions a decoder can make.

    Parameters
    ----------
    classes : sequence of str
        The decoder's classes (a model's ``classes``: ``idle`` among them when idle is a
        class of the model).
    threshold : float
        Its confidence threshold: below it the decision is ``idle``
        (:class:`~bci_app.online.decision.DecisionRule`). The largest of ``n`` probabilities
        is never below ``1/n``: only a threshold above that can decide idle.

    Returns
    -------
    labels : frozenset of str
        Its classes, idle names as ``idle``; ``idle`` too when the threshold can decide it.
    """
    labels = {IDLE if is_idle_name(c) else str(c) for c in classes}
    n_tasks = len(task_classes(classes))
    if n_tasks and float(threshold) > 1.0 / n_tasks:
        labels.add(IDLE)
    return frozenset(labels)


def _scored_classes(classes, decidable):
    """The labels of the confusion matrix: ``idle`` then the task classes, those the decoder
    cannot decide left out (``decidable`` None: all)."""
    cls = [IDLE] + task_classes(classes)
    return cls if decidable is None else [c for c in cls if c in decidable]


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
        Majority of the decisions of the trial's windows (artifact windows do not vote);
        None on a tie or without any decided window.
    windows : int
        Windows attributed to the trial (artifact windows included).
    duration : float
        Event duration (the imagery period of a task trial), s.
    event : int
        Index of the trial's event in the run's events.
    """

    onset: float
    label: str
    truth: str
    decision: str | None
    windows: int
    duration: float = float("nan")
    event: int = -1

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
    ids, n_windows = np.unique(trial[trial >= 0], return_counts=True)
    voted = (trial >= 0) & (decisions != ARTIFACT)
    values, d_idx = np.unique(decisions[voted], return_inverse=True)
    votes = np.zeros((ids.size, values.size), dtype=int)
    np.add.at(votes, (np.searchsorted(ids, trial[voted]), d_idx), 1)
    out = []
    for i, counts, n in zip(ids, votes, n_windows):
        onset, duration, label = events[i]
        if complete_before is not None and float(onset) + float(duration) > complete_before:
            continue
        top = np.flatnonzero(counts == counts.max()) if counts.sum() else ()
        out.append(Trial(float(onset), str(label), IDLE if is_idle_name(label) else str(label),
                         str(values[top[0]]) if len(top) == 1 else None, int(n),
                         float(duration), int(i)))
    return sorted(out, key=lambda t: t.onset)


def trial_accuracy(trials):
    """Fraction of trials decided right (NaN without trials)."""
    return float(np.mean([t.correct for t in trials])) if trials else float("nan")


def majority_share(values):
    """Share of the most frequent value (NaN without values): the accuracy of always
    deciding it."""
    values = np.asarray(values).astype(str)
    if values.size == 0:
        return float("nan")
    return float(np.unique(values, return_counts=True)[1].max() / values.size)


def trial_classes(classes):
    """The decisions a trial of ``classes`` can expect: each cued task class, and ``idle``
    when an idle-named class (``rest``) is cued; the model's own ``idle`` class is not a
    cue."""
    return list(dict.fromkeys(IDLE if is_idle_name(c) else str(c) for c in classes
                              if str(c) != IDLE))


def binomial_trial_level(n_trials, classes):
    """:func:`~bci_app.evaluation.metrics.binomial_chance_level` of ``n_trials`` trials of
    ``classes``: guessing among the decisions they can expect (:func:`trial_classes`, at
    least 2)."""
    return binomial_chance_level(n_trials, max(2, len(trial_classes(classes))))


#: What a report shows in place of a chance level that reaches the best possible score.
NOT_INFORMATIVE = "not informative"


def informative_chance(chance, best=1.0):
    """Whether a chance level can tell a decoder from chance: False when it reaches the best
    possible score ``best`` (any decoder, even a random one, gets it).

    E.g. the fraction of cues detected by shuffled decisions is 1.00 with 6 s imagery
    periods: a random sequence of two classes at 10 decisions a second holds two
    decisions in a row naming the cue in nearly every cue. Then "cues detected" cannot show
    that the decoder works, whatever its value; trial accuracy beside its binomial level
    and the detection latency beside its shuffled latency can. NaN (not computed) is
    informative: it is shown as n/a.
    """
    chance = float(chance)
    return not (np.isfinite(chance) and chance >= float(best) - 1e-9)


def offline_trials(events, classes, cued=()):
    """The trials scored offline, one cue-locked epoch each, and the decision each expects.

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
    classes : sequence of str
        The task classes (a :class:`~bci_app.processing.calibration.PseudoOnlineConfig`'s).
    cued : sequence of str
        The classes the protocol cues, rest included (e.g. ``("right_hand", "rest")``); an
        idle-named class among them makes its events trials that expect ``idle``. Idle
        periods that are not cued (baseline, inter-trial rest) are never trials.

    Returns
    -------
    trials : list of (onset_s, duration_s, truth)
        In time order; ``truth`` a task class or ``idle``.
    """
    tasks = set(task_classes(classes))
    rest = {str(c) for c in cued if is_idle_name(c) and str(c) != IDLE}
    return [(o, d, IDLE if str(lab) in rest else str(lab)) for o, d, lab in sorted(events)
            if str(lab) in tasks or str(lab) in rest]


def offline_columns(model_classes, classes, cued=()):
    """The model's classes an offline decision is taken among: the task classes, and its
    idle class when a rest class is cued (:func:`offline_trials`).

    Returns
    -------
    columns : list of int
        Indices into ``model_classes``.
    labels : list of str
        Their decisions (``idle`` for the idle class).
    """
    wanted = set(task_classes(classes))
    if any(is_idle_name(c) and str(c) != IDLE for c in cued):
        wanted.add(IDLE)
    columns, labels = [], []
    for k, c in enumerate(model_classes):
        label = IDLE if is_idle_name(c) else str(c)
        if label in wanted:
            columns.append(k)
            labels.append(label)
    return columns, labels


def offline_scores(y_true, y_pred, n_classes):
    """The offline score (one epoch per trial) with its chance levels, on the same trials.

    Parameters
    ----------
    y_true, y_pred : array-like of str, shape (n_trials,)
    n_classes : int
        Classes a decision is taken among (:func:`offline_columns`).

    Returns
    -------
    scores : dict
        ``offline_accuracy``, ``offline_nmcc``; ``offline_majority_accuracy`` (always
        deciding the most frequent truth), ``offline_shuffled_accuracy`` (the decisions
        permuted among the trials, mean of
        :data:`~bci_app.evaluation.metrics.N_SHUFFLES`), ``offline_binomial_accuracy``
        (the accuracy this many trials must reach for p < 0.05); ``offline_n_trials``,
        ``offline_n_classes``. NaN scores without trials.
    """
    y_true, y_pred = np.asarray(y_true).astype(str), np.asarray(y_pred).astype(str)
    n, k = int(y_true.size), max(2, int(n_classes))
    out = {"offline_n_trials": n, "offline_n_classes": k,
           "offline_binomial_accuracy": binomial_chance_level(n, k)}
    if not n:
        out.update(dict.fromkeys(("offline_accuracy", "offline_nmcc",
                                  "offline_majority_accuracy", "offline_shuffled_accuracy"),
                                 float("nan")))
        return out
    labels = sorted(set(y_true) | set(y_pred))
    cm = confusion_stack(label_codes(y_true, labels), label_codes(y_pred, labels), len(labels))
    shuffled = y_pred[shuffle_indices(n)] == y_true[None, :]
    out.update({"offline_accuracy": float(np.mean(y_true == y_pred)),
                "offline_nmcc": (mcc_of_confusion(cm) + 1.0) / 2.0,
                "offline_majority_accuracy": majority_share(y_true),
                "offline_shuffled_accuracy": float(shuffled.mean())})
    return out


def window_scores(truth, decisions, classes, step_s, window_s, decidable=None):
    """Scores of the scored windows, with the majority-class baseline.

    Parameters
    ----------
    truth, decisions : array-like of str, shape (n_windows,)
        Scored windows only (truth not None), decisions normalised.
    classes : sequence of str
        Cued classes (the confusion matrix has ``idle`` then the task classes).
    step_s, window_s : float
        Decision step and window length, s.
    decidable : collection of str | None
        The decisions the decoder can make (:func:`decidable_labels`): the confusion matrix
        leaves the others out. None: ``idle`` and every task class.

    Returns
    -------
    metrics : dict
        :func:`~bci_app.evaluation.metrics.decision_metrics` (``accuracy``, ``nmcc``,
        ``itr_bits``, ``itr_bits_per_min`` at one decision per window length,
        ``confusion``, ``classes``...), and the same scores of the decoder that always
        decides the most frequent truth: ``majority_accuracy``, ``majority_nmcc`` (0.5),
        ``majority_itr_bits_per_min`` (0).
    """
    truth = np.asarray(truth).astype(str)
    cls = _scored_classes(classes, decidable)
    m = decision_metrics(truth, np.asarray(decisions).astype(str), classes=cls,
                         window_s=window_s, step_s=step_s)
    values, counts = np.unique(truth, return_counts=True)
    constant = decision_metrics(truth, np.full(truth.shape, values[counts.argmax()]),
                                classes=cls, window_s=window_s, step_s=step_s)
    m.update({f"majority_{k}": constant[k]
              for k in ("accuracy", "nmcc", "itr_bits_per_min")})
    return m


@dataclass
class RunScore:
    """Scores of a run's decisions (so far, for a run in progress).

    Attributes
    ----------
    windows, correct : int
        Scored windows with a decision, and those decided right.
    trials_done, trials_correct : int
        Trials counted, and those decided right.
    metrics : dict | None
        :func:`run_metrics` of this run (None before any scored window).
    truth : ndarray of object
        Per decision: its window's truth (None: not scored).
    decisions : ndarray of object
        The decisions, normalised.
    trials : list of Trial
    times : ndarray of float
        Per decision: the time of its window's last sample, s.
    trial_index : ndarray of int
        Per decision: the event index of the trial its window belongs to (-1: none).
    artifacts : int
        Scored windows without decision (``artifact``), left out of ``windows``.
    decidable : frozenset of str | None
        The decisions the decoder can make (:func:`decidable_labels`); windows whose truth
        is another are not scored. None: every truth is.
    undecidable : int
        Windows with a truth the decoder cannot decide, left out of every score.
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
    times: np.ndarray = field(default_factory=lambda: np.empty(0), repr=False)
    trial_index: np.ndarray = field(default_factory=lambda: np.empty(0, dtype=int),
                                    repr=False)
    artifacts: int = 0
    decidable: frozenset | None = None
    undecidable: int = 0

    @property
    def window_accuracy(self):
        return self.correct / self.windows if self.windows else float("nan")

    @property
    def trial_accuracy(self):
        return self.trials_correct / self.trials_done if self.trials_done else float("nan")

    @property
    def scored(self):
        """Boolean mask of the scored decisions: a truth, one the decoder can decide."""
        scored = np.not_equal(self.truth, None).astype(bool)
        if self.decidable is not None:
            scored &= np.isin(self.truth.astype(str), list(self.decidable))
        return scored

    @property
    def decided(self):
        """Boolean mask of the scored decisions that are decisions (not ``artifact``)."""
        return self.scored & (np.asarray(self.decisions).astype(str) != ARTIFACT)

    @property
    def cues(self):
        """The task trials (not the cued rest): those a detection latency is measured on."""
        return [t for t in self.trials if t.truth != IDLE]


def _latencies(score, decisions, labels=None):
    """:func:`detection_latencies` of a run's cues; ``decisions`` as in the run, or integer
    codes of ``labels`` (one set per row)."""
    cues = score.cues
    targets = [t.truth for t in cues] if labels is None else label_codes(
        [t.truth for t in cues], labels)
    return detection_latencies(score.times, None, decisions, [t.onset for t in cues],
                               targets, MIN_CONSECUTIVE, [t.duration for t in cues])


def _trial_hits(score, codes, labels):
    """Per set of coded decisions (rows of ``codes``), whether each counted trial of the run
    is decided right (the rule of :func:`trial_decisions`). Shape (n_sets, n_trials)."""
    n_sets, n_labels, n_trials = codes.shape[0], len(labels), len(score.trials)
    position = {t.event: k for k, t in enumerate(score.trials)}
    w = np.flatnonzero([i in position for i in score.trial_index])
    if not n_trials or not w.size:
        return np.zeros((n_sets, n_trials), dtype=bool)
    pos = np.array([position[i] for i in score.trial_index[w]])
    flat = (np.arange(n_sets)[:, None] * n_trials + pos[None, :]) * n_labels + codes[:, w]
    votes = np.bincount(flat.ravel(), minlength=n_sets * n_trials * n_labels)
    votes = votes.reshape(n_sets, n_trials, n_labels)
    if ARTIFACT in labels:  # no vote
        votes[..., list(labels).index(ARTIFACT)] = 0
    unique = (votes == votes.max(axis=-1, keepdims=True)).sum(axis=-1) == 1
    truth = label_codes([t.truth for t in score.trials], labels)
    return unique & (votes.argmax(axis=-1) == truth)


def _shuffled(scores, labels, window_s):
    """The shuffled-decision chance level of pooled runs (each permuted within itself)."""
    truth, pooled, hits, latencies = [], [], [], []
    for run, s in enumerate(scores):
        codes = label_codes(s.decisions.astype(str), labels)
        moved = np.flatnonzero(s.decisions.astype(str) != ARTIFACT)
        perm = np.repeat(codes[None, :], len(shuffle_indices(moved.size, run)), axis=0)
        perm[:, moved] = codes[moved][shuffle_indices(moved.size, run)]
        truth.append(label_codes(s.truth[s.decided].astype(str), labels))
        pooled.append(perm[:, s.decided])
        hits.append(_trial_hits(s, perm, labels))
        latencies.append(_latencies(s, perm, labels))
    cms = confusion_stack(np.concatenate(truth), np.concatenate(pooled, axis=1), len(labels))
    accuracy = np.trace(cms, axis1=1, axis2=2) / cms.sum(axis=(1, 2))
    bits = mutual_information_bits(cms)
    hits = np.concatenate(hits, axis=1)
    median, detected = latency_summary(np.concatenate(latencies, axis=1))
    return {
        "shuffled_accuracy": float(accuracy.mean()),
        "shuffled_nmcc": float(np.mean((mcc_of_confusion(cms) + 1.0) / 2.0)),
        "shuffled_itr_bits": float(bits.mean()),
        "shuffled_itr_bits_per_min": float(bits.mean()) * per_minute(window_s),
        "shuffled_trial_accuracy": float(hits.mean()) if hits.size else float("nan"),
        "shuffled_detected_fraction": float(detected.mean()),
        # mean over the permutations that detect some cue
        "shuffled_latency_median_s": float(np.nanmean(median)) if np.isfinite(median).any()
        else float("nan"),
    }


def run_metrics(scores, classes, step_s, window_s, shuffled=True):
    """Scores of one or more runs pooled, each with its chance levels.

    Parameters
    ----------
    scores : list of RunScore
        Their decisions, truth, times and trials (``metrics`` is not read).
    classes : sequence of str
        Cued classes.
    step_s, window_s : float
        Decision step and window length, s.
    shuffled : bool
        Compute the shuffled-decision chance level (False: no ``shuffled_*`` key).

    Returns
    -------
    metrics : dict | None
        None when no window is scored. Else :func:`window_scores` of the pooled scored
        windows; ``trial_accuracy``, ``n_trials``, ``majority_trial_accuracy``,
        ``binomial_trial_accuracy`` (:func:`binomial_trial_level`: the trial accuracy
        ``n_trials`` trials must reach for p < 0.05);
        ``latency_median_s`` (s, over the detected cues), ``detected_fraction`` (over all
        cues), ``n_cues``; and ``shuffled_accuracy``, ``shuffled_nmcc``,
        ``shuffled_itr_bits``, ``shuffled_itr_bits_per_min``, ``shuffled_trial_accuracy``,
        ``shuffled_detected_fraction``, ``shuffled_latency_median_s``. The window scores
        are over the decided windows; ``n_artifact`` and ``artifact_fraction`` count the
        scored windows without decision, and the ``*_per_min`` rates are scaled by the
        decided fraction (see the module's doc). ``n_undecidable``: windows with a truth the
        decoder cannot decide, left out (the runs are of one decoder: the first run's
        ``decidable`` is used for the confusion matrix).
    """
    truth = [s.truth[s.decided].astype(str) for s in scores]
    if not sum(t.size for t in truth):
        return None
    n_scored = sum(int(s.scored.sum()) for s in scores)
    decided = sum(t.size for t in truth) / n_scored
    decisions = np.concatenate([s.decisions[s.decided] for s in scores]).astype(str)
    decidable = scores[0].decidable
    m = window_scores(np.concatenate(truth), decisions, classes, step_s, window_s, decidable)
    trials = [t for s in scores for t in s.trials]
    latency, detected = latency_summary(np.concatenate([_latencies(s, s.decisions)
                                                        for s in scores]))
    m.update({
        "trial_accuracy": trial_accuracy(trials), "n_trials": len(trials),
        "majority_trial_accuracy": majority_share([t.truth for t in trials]),
        "binomial_trial_accuracy": binomial_trial_level(len(trials), classes),
        "latency_median_s": latency, "detected_fraction": detected,
        "n_cues": sum(len(s.cues) for s in scores),
    })
    if shuffled:
        others = {str(d) for s in scores for d in s.decisions} - set(m["classes"])
        m.update(_shuffled(scores, m["classes"] + sorted(others), window_s))
    if decided < 1.0:  # nothing was decided during the artifact windows
        m.update({k: v * decided for k, v in m.items() if k.endswith("_per_min")})
    m.update({"n_artifact": n_scored - int(decisions.size), "artifact_fraction": 1.0 - decided,
              "n_undecidable": sum(s.undecidable for s in scores)})
    return m


def score_decisions(events, times, decisions, window, sfreq, classes, step_s,
                    complete_before=None, shuffled=True, decidable=None):
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
    shuffled : bool
        Compute the shuffled-decision chance level (see :func:`run_metrics`).
    decidable : collection of str | None
        The decisions the decoder can make (:func:`decidable_labels` of its classes and
        threshold): windows and trials expecting another are left out of the scores and
        counted (``RunScore.undecidable``). None: every truth counts.

    Returns
    -------
    score : RunScore
    """
    decisions = normalise_decisions(decisions)
    times = np.asarray(times, dtype=float)
    truth, trial = label_windows(events, times, window, sfreq, classes)
    if decidable is not None:
        decidable = frozenset(normalise_decisions(sorted(decidable)).astype(str))
    score = RunScore(truth=truth, decisions=decisions, times=times, trial_index=trial,
                     decidable=decidable)
    scored = score.scored
    decided = scored & (decisions.astype(str) != ARTIFACT)
    trials = trial_decisions(events, trial, decisions, complete_before)
    if decidable is not None:
        trials = [t for t in trials if t.truth in decidable]
    score.windows, score.correct = int(decided.sum()), int(np.sum(truth[decided]
                                                                   == decisions[decided]))
    score.trials_done, score.trials_correct = len(trials), sum(t.correct for t in trials)
    score.trials, score.artifacts = trials, int(scored.sum() - decided.sum())
    score.undecidable = int(np.not_equal(truth, None).sum() - scored.sum())
    score.metrics = run_metrics([score], classes, step_s, window / float(sfreq), shuffled)
    return score


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
    While the run goes on, a trial counts once no later window can vote on it, and the
    shuffled-decision chance level (the costliest part) is recomputed once per
    :data:`CHANCE_EVERY_S` of decisions, the scores in between carrying the latest one.

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
    decidable : collection of str | None
        The decisions the decoder can make (:func:`decidable_labels`; None: every truth
        counts), as :func:`score_decisions`.
    """

    def __init__(self, classes, sfreq, window, step_s, class_of_marker=None, decidable=None):
        self.classes = list(classes)
        self.decidable = None if decidable is None else frozenset(decidable)
        self.sfreq, self.window, self.step_s = float(sfreq), int(window), float(step_s)
        self.class_of_marker = dict(class_of_marker or {})
        self._times, self._decisions = [], []
        self._chance, self._chance_time = None, -np.inf

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
        due = final or self._chance is None or times[-1] - self._chance_time >= CHANCE_EVERY_S
        score = score_decisions(protocol_events(markers, self.class_of_marker), times,
                                np.concatenate(self._decisions), self.window, self.sfreq,
                                self.classes, self.step_s, complete_before=complete,
                                shuffled=due, decidable=self.decidable)
        if score.metrics is not None:
            if due:
                self._chance = {k: v for k, v in score.metrics.items()
                                if k.startswith("shuffled_")}
                self._chance_time = times[-1]
            else:
                score.metrics.update(self._chance)
        return score
