"""The windowed decoding engine: samples -> causal filter -> windows -> decoder -> decision.

One engine serves every source. :meth:`WindowedDecoder.push` takes chunks as they arrive
(live LSL, real-time replay); :meth:`WindowedDecoder.sweep` takes a whole recording and
decodes all its windows in batches, as fast as the CPU allows. Both give the same windows,
the same probabilities and the same decisions for the same samples.
"""

import time
from collections import deque
from dataclasses import dataclass

import numpy as np

from ..decoding.channels import SelectChannels, bind_recording_info
from ..errors import ConfigError, DataError
from ..processing.filters import CausalFilter
from ..processing.labels import IDLE, task_classes
from ..processing.windows import StreamWindower, sliding_windows, window_samples

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


def _lsl_clock():
    """LSL's clock (``mne_lsl.lsl.local_clock``), the one sample timestamps use."""
    from mne_lsl.lsl import local_clock

    return local_clock()


def class_probabilities(model, windows):
    """Class probabilities of a fitted classifier, shape (n_windows, n_classes).

    Uses ``predict_proba`` when the model has it; otherwise turns ``decision_function``
    scores into probabilities (logistic for two classes, softmax otherwise). Those are
    monotonic scores, not calibrated probabilities.
    """
    if hasattr(model, "predict_proba"):
        try:
            return np.asarray(model.predict_proba(windows))
        except AttributeError:  # e.g. SVC(probability=False) exposes it but refuses
            pass
    if not hasattr(model, "decision_function"):
        raise ConfigError(f"{type(model).__name__} has neither predict_proba nor "
                          "decision_function; it cannot drive a decision stage.")
    scores = np.asarray(model.decision_function(windows))
    if scores.ndim == 1:
        p1 = 1.0 / (1.0 + np.exp(-scores))
        return np.column_stack([1.0 - p1, p1])
    scores = scores - scores.max(axis=1, keepdims=True)
    e = np.exp(scores)
    return e / e.sum(axis=1, keepdims=True)


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


@dataclass
class Predictions:
    """Decoded windows, in time order.

    Attributes
    ----------
    times : ndarray, shape (n,)
        Timestamp of each window's last sample (s, clock of the source).
    last : ndarray of int, shape (n,)
        Index of each window's last sample since the start of the stream.
    proba : ndarray, shape (n, n_classes)
        Raw class probabilities.
    smoothed : ndarray, shape (n, n_classes)
        After smoothing.
    labels : ndarray of str, shape (n,)
        Most probable class of each window (raw probabilities).
    decisions : ndarray of str, shape (n,)
        Output of the decision rule (a class or ``idle``).
    classes : ndarray of str
        Class of each probability column.
    emitted : ndarray, shape (n,)
        Local time (``time.time()``) each prediction was produced.
    emitted_lsl : ndarray, shape (n,)
        The same instant on the LSL clock (``mne_lsl.lsl.local_clock``), comparable with
        ``times`` on this machine: ``emitted_lsl - times`` is the latency from the window's
        last sample to its prediction.
    """

    times: np.ndarray
    last: np.ndarray
    proba: np.ndarray
    smoothed: np.ndarray
    labels: np.ndarray
    decisions: np.ndarray
    classes: np.ndarray
    emitted: np.ndarray
    emitted_lsl: np.ndarray = None

    def __post_init__(self):
        if self.emitted_lsl is None:
            self.emitted_lsl = np.full(len(self.times), np.nan)

    def __len__(self):
        return len(self.times)

    @classmethod
    def concatenate(cls, parts, classes):
        """Join consecutive batches."""
        n_classes = len(classes)
        if not parts:
            return cls(np.empty(0), np.empty(0, dtype=int), np.empty((0, n_classes)),
                       np.empty((0, n_classes)), np.empty(0, dtype=str),
                       np.empty(0, dtype=str), np.asarray(classes), np.empty(0), np.empty(0))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("times", "last", "proba", "smoothed", "labels", "decisions")),
                   np.asarray(classes), np.concatenate([p.emitted for p in parts]),
                   np.concatenate([p.emitted_lsl for p in parts]))


class WindowedDecoder:
    """Decode a stream of EEG samples window by window with a fitted pipeline.

    Parameters
    ----------
    model : sklearn classifier
        A fitted pipeline (e.g. from ``models/``) taking windows
        ``(n_windows, n_channels, n_times)``.
    sfreq : float
        Sampling rate of the stream, Hz.
    ch_names : sequence of str | None
        Channel names of the stream, in order (checked against what the model was bound to).
    window_s, step_s : float
        Window length and step, s.
    l_freq, h_freq, notch : float | None
        Causal band-pass (and notch) applied before windowing, Hz.
    smoothing : int
        Windows averaged by the decision rule.
    threshold : float
        Confidence below which the decision is ``idle``.
    batch_size : int
        Windows decoded per call in :meth:`sweep`.
    idle_by_threshold : bool
        Idle is decided by the threshold only (see :class:`DecisionRule`).
    """

    def __init__(self, model, sfreq, ch_names=None, window_s=2.0, step_s=0.25, l_freq=8.0,
                 h_freq=35.0, notch=None, smoothing=DEFAULT_SMOOTHING,
                 threshold=DEFAULT_THRESHOLD, batch_size=256, idle_by_threshold=False):
        if not hasattr(model, "classes_"):
            raise ConfigError("the decoder needs a fitted classifier (it has no classes_).")
        self.model = model
        self.sfreq = float(sfreq)
        self.ch_names = list(ch_names) if ch_names is not None else None
        self.window, self.step = window_samples(self.sfreq, window_s, step_s)
        self.window_s, self.step_s = window_s, step_s
        self.classes = np.asarray([str(c) for c in model.classes_])
        self.filter = CausalFilter(self.sfreq, l_freq, h_freq, notch=notch)
        self.rule = DecisionRule(self.classes, smoothing, threshold,
                                 idle_by_threshold=idle_by_threshold)
        self.batch_size = int(batch_size)
        self._check_model_info()
        self._windower = None
        _lsl_clock()  # load the clock now, not on the first decoded window

    @classmethod
    def from_model(cls, trained, **overrides):
        """A windowed decoder using a trained model with its training settings.

        Parameters
        ----------
        trained : bci_app.decoding.persistence.TrainedModel
            The model: its fitted pipeline, sampling rate, channels, window, step and
            filters.
        **overrides
            Any argument of :class:`WindowedDecoder` to change (``smoothing``,
            ``threshold``, ``step_s``, ``batch_size``...).

        Returns
        -------
        decoder : WindowedDecoder
        """
        kwargs = dict(sfreq=trained.sfreq, ch_names=trained.ch_names, window_s=trained.window_s,
                      step_s=trained.step_s, l_freq=trained.l_freq, h_freq=trained.h_freq,
                      notch=trained.notch)
        kwargs.update(overrides)
        return cls(trained.pipeline, **kwargs)

    def _check_model_info(self):
        params = self.model.get_params(deep=True) if hasattr(self.model, "get_params") else {}
        for key, value in params.items():
            leaf = key.rsplit("__", 1)[-1]
            if leaf == "sfreq" and value is not None and abs(float(value) - self.sfreq) > 1e-6:
                raise DataError(f"the model was fitted at {value} Hz but the stream runs at "
                                f"{self.sfreq} Hz; resample or retrain the model.")
            if (leaf == "ch_names" and value is not None and self.ch_names is not None
                    and [c.lower() for c in value] != [c.lower() for c in self.ch_names]):
                extra = sorted(set(value) - set(self.ch_names))
                raise DataError(f"the model was fitted on channels {list(value)} but the "
                                f"stream has {self.ch_names}"
                                + (f" (missing {extra})" if extra else "")
                                + "; use the same montage or retrain the model.")

    def reset(self):
        """Start a new stream (filter state, windows and smoothing history)."""
        self.filter.reset()
        self.rule.reset()
        self._windower = None

    def _decode(self, windows, times, last):
        proba = class_probabilities(self.model, windows)
        smoothed, decisions = self.rule.update(proba)
        labels = self.classes[proba.argmax(axis=1)] if len(proba) else np.empty(0, str)
        emitted = np.full(len(times), time.time())
        emitted_lsl = np.full(len(times), _lsl_clock())
        return Predictions(np.asarray(times, float), np.asarray(last, int), proba, smoothed,
                           labels, decisions, self.classes, emitted, emitted_lsl)

    def push(self, chunk, timestamps):
        """Feed the next chunk; decode the windows it completes.

        Parameters
        ----------
        chunk : ndarray, shape (n_channels, n_samples)
            EEG in volts.
        timestamps : ndarray, shape (n_samples,)
            Time of each sample, s.

        Returns
        -------
        predictions : Predictions
            Possibly empty.
        """
        chunk = np.asarray(chunk, dtype=float)
        if self.ch_names is not None and chunk.shape[0] != len(self.ch_names):
            raise DataError(f"chunk has {chunk.shape[0]} channels, the stream was declared "
                            f"with {len(self.ch_names)}.")
        if self._windower is None:
            self._windower = StreamWindower(chunk.shape[0], self.window, self.step)
        filtered = self.filter.process(chunk)
        windows, times, last = self._windower.push(filtered, timestamps)
        if len(times) == 0:
            return Predictions.concatenate([], self.classes)
        return self._decode(windows, times, last)

    def sweep(self, data, timestamps=None, start_sample=0):
        """Decode a whole recording as fast as possible (same result as pushing it).

        Parameters
        ----------
        data : ndarray, shape (n_channels, n_samples)
            The whole run, in volts, from its first sample (the filter starts there).
        timestamps : ndarray, shape (n_samples,) | None
            Sample times (default: ``arange(n_samples) / sfreq``).
        start_sample : int
            Keep only windows that start at or after this sample (the filter still runs
            from sample 0). Used to skip calibration data in pseudo-online evaluation.

        Returns
        -------
        predictions : Predictions
        """
        data = np.asarray(data, dtype=float)
        if timestamps is None:
            timestamps = np.arange(data.shape[1]) / self.sfreq
        self.reset()
        filtered = self.filter.process(data)
        windows, last = sliding_windows(filtered, self.window, self.step)
        # Window starts increase: keep a suffix, as a slice (a boolean mask would copy every
        # window of the recording).
        first = int(np.searchsorted(last - self.window + 1, start_sample, side="left"))
        windows, last = windows[first:], last[first:]
        # A pipeline that starts by picking channels copies only those: hand it the strided
        # view (same values and layout after its fancy indexing as from a copy). Otherwise
        # copy each batch into one reused buffer rather than paging in a fresh one per batch.
        steps = getattr(self.model, "steps", None)
        picks_first = (isinstance(steps, list) and len(steps) > 0
                       and isinstance(steps[0][1], SelectChannels)
                       and hasattr(steps[0][1], "picks_"))
        buffer = None
        parts = []
        for i in range(0, len(last), self.batch_size):
            sl = slice(i, i + self.batch_size)
            batch = windows[sl]
            if not picks_first:
                if buffer is None:
                    buffer = np.empty((min(self.batch_size, len(last)),) + windows.shape[1:])
                np.copyto(buffer[:len(batch)], batch)
                batch = buffer[:len(batch)]
            parts.append(self._decode(batch, timestamps[last[sl]], last[sl]))
        return Predictions.concatenate(parts, self.classes)


def fit_decoder_model(pipeline, X, y, sfreq, ch_names):
    """Bind the recording's facts to a pipeline and fit it on calibration windows."""
    if len(np.unique(y)) < 2:
        raise DataError(f"calibration data hold {len(np.unique(y))} class(es); at least 2 "
                        "are needed to train a decoder.")
    bind_recording_info(pipeline, sfreq=sfreq, ch_names=ch_names)
    return pipeline.fit(X, y)
