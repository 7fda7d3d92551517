"""The decision rule: class probabilities of consecutive windows -> decisions.

Causal smoothing of the probabilities and a confidence threshold below which the decision is
idle, with the defaults every caller uses (command line, sessions, GUI, evaluations). A window
whose probabilities are not all finite is decided :data:`~bci_app.processing.quality.ARTIFACT`
(no decision), never a class, and the smoothing starts again after it.
"""

from collections import deque

import numpy as np

from ..errors import ConfigError
from ..processing.labels import IDLE, task_classes
from ..processing.quality import ARTIFACT

# Decision defaults, defined once for every caller (command line, sessions, GUI,
# evaluations). A live run smooths: a steadier command for the user, at the cost of
# (ONLINE_SMOOTHING - 1) window steps of delay; an evaluation scores each window as it is.
#: Windows averaged by the decision rule when nothing else is asked (1: no smoothing).
DEFAULT_SMOOTHING = 1
#: Windows averaged by the decision rule of a live (closed-loop) run.
ONLINE_SMOOTHING = 4
#: Largest smoothed probability below which the decision is idle (0: never idle by it).
DEFAULT_THRESHOLD = 0.0


def check_idle_threshold(threshold, n_task_classes):
    """Check that a confidence threshold can decide idle for a model of task classes only.

    The largest of ``n`` class probabilities is never below ``1/n``: a threshold at or
    below it never decides idle, and every idle moment would be decided as a task.

    Parameters
    ----------
    threshold : float
    n_task_classes : int
        Classes of the model (no idle class among them).

    Raises
    ------
    ConfigError
        If ``threshold <= 1 / n_task_classes``.
    """
    bound = 1.0 / max(int(n_task_classes), 1)
    if not threshold > bound:
        raise ConfigError(
            f"decision: threshold (--threshold) {threshold:g} can never decide idle with "
            f"{n_task_classes} task classes and idle decided by the threshold (--idle "
            f"threshold): the largest of {n_task_classes} probabilities is at least "
            f"1/{n_task_classes} = {bound:.4g}. Give a threshold above {bound:.4g}, or make "
            "idle a class of the model (--idle class).")


class DecisionRule:
    """Causal probability smoothing and a confidence threshold.

    Parameters
    ----------
    classes : sequence of str
        Class of each probability column.
    smoothing : int
        Average the probabilities of the last ``smoothing`` windows (1: no smoothing).
    threshold : float
        If the largest smoothed probability is below it, the decision is ``idle``.
        A window whose probabilities are not all finite is decided
        :data:`~bci_app.processing.quality.ARTIFACT` (NaN smoothed probabilities) and the
        smoothing starts again after it.
    idle_label : str
        Label of "no command".
    idle_by_threshold : bool
        Idle is decided by the threshold only (the classes are tasks): the threshold must
        be able to decide it (:func:`check_idle_threshold`).
    """

    def __init__(self, classes, smoothing=DEFAULT_SMOOTHING, threshold=DEFAULT_THRESHOLD,
                 idle_label=IDLE, idle_by_threshold=False):
        if int(smoothing) < 1:
            raise ConfigError(f"decision: smoothing must be >= 1 window, got {smoothing}.")
        if not 0.0 <= threshold <= 1.0:
            raise ConfigError(f"decision: threshold must be in [0, 1], got {threshold}.")
        if idle_by_threshold:
            check_idle_threshold(threshold, len(task_classes(classes)))
        self.classes = np.asarray([str(c) for c in classes])
        self.smoothing = int(smoothing)
        self.threshold = float(threshold)
        self.idle_label = idle_label
        self.reset()

    def reset(self):
        """Forget the past windows."""
        self._history = deque(maxlen=self.smoothing - 1)

    def update(self, proba):
        """Smooth a batch of consecutive windows' probabilities and decide.

        Parameters
        ----------
        proba : ndarray, shape (n_windows, n_classes)

        Returns
        -------
        smoothed : ndarray, shape (n_windows, n_classes)
        decisions : ndarray of str, shape (n_windows,)
        """
        proba = np.atleast_2d(np.asarray(proba, dtype=float))
        if proba.shape[0] == 0:
            return proba, np.empty(0, dtype=self.classes.dtype)
        valid = np.isfinite(proba).all(axis=1)
        if valid.all():
            return self._decide(proba)
        smoothed = np.full(proba.shape, np.nan)
        decisions = np.full(proba.shape[0], ARTIFACT, dtype=object)
        edges = np.flatnonzero(np.diff(np.concatenate([[0], valid.astype(np.int8), [0]])))
        for a, b in zip(edges[::2], edges[1::2]):
            if a > 0:  # after an artifact: nothing before it is smoothed in
                self.reset()
            smoothed[a:b], decisions[a:b] = self._decide(proba[a:b])
        if not valid[-1]:
            self.reset()
        return smoothed, decisions.astype(str)

    def _decide(self, proba):
        """Smooth and decide windows with finite probabilities."""
        past = np.array(self._history).reshape(-1, proba.shape[1])
        seq = np.concatenate([past, proba])
        csum = np.concatenate([np.zeros((1, seq.shape[1])), np.cumsum(seq, axis=0)])
        end = np.arange(past.shape[0] + 1, seq.shape[0] + 1)
        start = np.maximum(end - self.smoothing, 0)
        smoothed = (csum[end] - csum[start]) / (end - start)[:, None]
        self._history.extend(proba)
        best = smoothed.argmax(axis=1)
        decisions = self.classes[best].astype(object)
        decisions[smoothed[np.arange(len(best)), best] < self.threshold] = self.idle_label
        return smoothed, decisions.astype(str)
