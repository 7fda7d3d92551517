"""Feedback out: the decoder's output as one simple LSL stream a device can follow.

An FES stimulator, an orthosis, a robot or a game needs one number to act on, not the
decoder's probabilities. While an online decoder publishes its predictions
(:class:`~bci_app.online.live.OnlineDecoder` with ``publish``), it also publishes this
stream. The contract (README, "Feedback out"):

Stream
    name :data:`FEEDBACK_NAME` (``bci-app-feedback``), type :data:`FEEDBACK_TYPE`
    (``Feedback``), 3 float32 channels, irregular rate. Its source id is
    ``bci-app-feedback-<EEG source id>``, the same for every run on one amplifier, so an
    inlet opened during one run follows the next run's stream by itself (LSL recovery).
    ``desc`` holds ``classes`` (the decoder's classes, comma-separated), ``negative`` and
    ``positive`` (the classes ``value`` moves toward), the codes below and ``eeg_stream``.
Channels
    ``value``: signed, in [-1, 1], toward a class (:func:`feedback_values`): with two or
    more task classes ``p(second) - p(first)`` (-1: all for the first, e.g. ``left_hand``;
    +1: the second, e.g. ``right_hand``; rest/idle keeps it near 0); with one task class
    (affected hand vs rest) ``p(task) - p(rest)`` (+1: the hand, -1: rest).
    ``class``: the decision, as the predictions stream codes it: the index of the decided
    class in ``classes`` (0 and up), :data:`IDLE_CODE` (-1) for idle decided by the
    confidence threshold, :data:`ARTIFACT_CODE` (-2) for no decision, :data:`END_CODE` (-3)
    at the end of the run.
    ``confidence``: the smoothed probability of the decided class (for idle by the
    threshold, the largest one), in [0, 1].
Timing
    One sample per decision (one per decoder step), stamped with the LSL time of the last
    EEG sample of its window (the stream's own clock: ``timestamp + time_correction()`` is
    the receiver's). A device sees the decision ``now - timestamp`` after the EEG it comes
    from (the decoding latency).
No decision (bad signal, a window the model failed on)
    ``value`` 0, ``class`` -2, ``confidence`` 0: neutral; a device should stop acting.
End of run
    One last sample ``value`` 0, ``class`` -3, ``confidence`` 0, stamped with the time the
    decoder stopped; then the stream closes.
"""

import time

import numpy as np

from ..processing.labels import is_idle_name
from ..processing.quality import ARTIFACT

#: Name of the feedback stream (a device looks for it by this name or its type).
FEEDBACK_NAME = "bci-app-feedback"
#: LSL content type of the feedback stream.
FEEDBACK_TYPE = "Feedback"
#: Channels of the feedback stream, in order.
FEEDBACK_CHANNELS = ("value", "class", "confidence")
#: Decision code of idle decided by the confidence threshold (no class of the model).
IDLE_CODE = -1
#: Decision code of a window without decision (bad signal): its probabilities are NaN.
ARTIFACT_CODE = -2
#: Decision code of the feedback stream's last sample, at the end of a run.
END_CODE = -3
#: Seconds the outlet is kept after the end sample, for connected inlets to receive it.
END_LINGER_S = 0.2


def decision_codes(decisions, classes):
    """The decisions as the LSL outputs code them.

    Parameters
    ----------
    decisions : array-like of str, shape (n,)
    classes : sequence of str
        The decoder's classes (the probability columns).

    Returns
    -------
    codes : ndarray of float32, shape (n,)
        Index of the decided class in ``classes``, :data:`IDLE_CODE` for a decision that is
        no class (idle by the threshold), :data:`ARTIFACT_CODE` for no decision.
    """
    index = {str(c): k for k, c in enumerate(classes)}
    index[ARTIFACT] = ARTIFACT_CODE
    return np.array([index.get(str(d), IDLE_CODE) for d in decisions], dtype=np.float32)


def value_axis(classes):
    """The classes ``value`` moves toward: (negative, positive) column indices and names.

    Two or more task classes: the first two (-1 toward the first). One task class: the
    idle-named class (``rest``, ``idle``) is negative, the task positive.

    Returns
    -------
    negative, positive : tuple of (list of int, str)
        Columns summed on each side, and the name given in the stream's description.
    """
    classes = [str(c) for c in classes]
    task = [k for k, c in enumerate(classes) if not is_idle_name(c)]
    idle = [k for k, c in enumerate(classes) if is_idle_name(c)]
    if len(task) >= 2:
        return ([task[0]], classes[task[0]]), ([task[1]], classes[task[1]])
    if len(task) == 1:
        return (idle, ",".join(classes[k] for k in idle) or "none"), ([task[0]],
                                                                        classes[task[0]])
    return ([], "none"), ([], "none")


def feedback_values(pred):
    """The feedback samples of a batch of predictions (the contract in the module's doc).

    Parameters
    ----------
    pred : bci_app.online.engine.Predictions

    Returns
    -------
    samples : ndarray of float32, shape (n, 3)
        ``value``, ``class``, ``confidence`` of each decision.
    """
    proba = np.asarray(pred.smoothed, dtype=float).reshape(len(pred), -1)
    (neg, _), (pos, _) = value_axis(pred.classes)
    value = proba[:, pos].sum(axis=1) - proba[:, neg].sum(axis=1)
    codes = decision_codes(pred.decisions, pred.classes)
    decided = codes >= 0
    confidence = np.zeros(len(pred))
    rows = np.flatnonzero(decided)
    confidence[rows] = proba[rows, codes[rows].astype(int)]
    idle = codes == IDLE_CODE
    if idle.any():
        confidence[idle] = np.nanmax(proba[idle], axis=1)
    none = (codes == ARTIFACT_CODE) | ~np.isfinite(value) | ~np.isfinite(confidence)
    value[none], confidence[none] = 0.0, 0.0
    codes[~np.isfinite(proba).all(axis=1)] = ARTIFACT_CODE
    return np.column_stack([np.clip(value, -1.0, 1.0), codes,
                            np.clip(confidence, 0.0, 1.0)]).astype(np.float32)


class FeedbackOutlet:
    """The feedback stream of one run (see the module's doc for the contract).

    Parameters
    ----------
    classes : sequence of str
        The decoder's classes.
    name : str
        Stream name (default :data:`FEEDBACK_NAME`).
    source_id : str
        The EEG stream's source id (or name): the outlet's is ``<name>-<source_id>``.
    eeg_stream : str
        The EEG stream decoded, written in the description.
    """

    def __init__(self, classes, name=FEEDBACK_NAME, source_id="eeg", eeg_stream=""):
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        from ..protocol.lsl_meta import MANUFACTURER, describe_stream

        self.classes = [str(c) for c in classes]
        self.name = str(name)
        (_, negative), (_, positive) = value_axis(self.classes)
        info = StreamInfo(self.name, FEEDBACK_TYPE, len(FEEDBACK_CHANNELS), 0.0, "float32",
                          f"{self.name}-{source_id or 'eeg'}")
        describe_stream(info, labels=list(FEEDBACK_CHANNELS),
                        types=["Control", "Decision", "Probability"],
                        units=["none"] * len(FEEDBACK_CHANNELS),
                        acquisition={"manufacturer": MANUFACTURER, "model": "feedback"},
                        classes=",".join(self.classes), negative=negative, positive=positive,
                        idle_code=str(IDLE_CODE), artifact_code=str(ARTIFACT_CODE),
                        end_code=str(END_CODE), eeg_stream=eeg_stream or None)
        self._outlet = StreamOutlet(info)

    def push(self, pred):
        """Publish one sample per decision of ``pred``, stamped with its window's last
        sample time."""
        if self._outlet is None or not len(pred):
            return
        for row, stamp in zip(feedback_values(pred), pred.times):
            self._outlet.push_sample(row, float(stamp))

    def close(self, timestamp=None):
        """Publish the end sample (code :data:`END_CODE`) and close the stream. Safe to
        call twice.

        Parameters
        ----------
        timestamp : float | None
            Its time (LSL clock); None: now.
        """
        outlet, self._outlet = self._outlet, None
        if outlet is None:
            return
        try:
            if outlet.has_consumers:
                outlet.push_sample(np.array([0.0, END_CODE, 0.0], dtype=np.float32),
                                   0.0 if timestamp is None else float(timestamp))
                time.sleep(END_LINGER_S)  # let the connected inlets receive it
        finally:
            destroy = getattr(outlet, "_del", None)
            if destroy is not None:
                destroy()
