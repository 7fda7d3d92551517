"""The windowed decoding engine: samples -> causal filter -> windows -> decoder -> decision.

One engine serves every source. :meth:`WindowedDecoder.push` takes chunks as they arrive
(live LSL, real-time replay); :meth:`WindowedDecoder.sweep` takes a whole recording and
decodes all its windows in batches, as fast as the CPU allows. Both give the same windows,
the same probabilities and the same decisions for the same samples.

Bad signal never becomes a command. Every window is checked before it is classified
(:func:`bci_app.processing.quality.window_faults`: finite, not flat, plausible amplitude, on
the channels the model reads); a window that fails, or that the model fails on (an
exception, non-finite probabilities), gets the decision
:data:`~bci_app.processing.quality.ARTIFACT` ("no decision") with its reason, NaN
probabilities, and is never smoothed into the next windows' decisions (the smoothing starts
again after it). Non-finite samples are held at the channel's last finite value before the
causal filter, so one burst does not poison the filter's state: decoding resumes once the
windows are clear of it.
"""

import time
from dataclasses import dataclass

import numpy as np

from .._logging import logger
from ..decoding.channels import SelectChannels, bind_recording_info
from ..decoding.transfer import TARGET as TARGET_DOMAIN
from ..decoding.transfer import fit_pipeline, reset_adaptation
from ..errors import ConfigError, DataError
from ..processing.filters import CausalFilter
from ..processing.quality import ARTIFACT, window_faults
from ..processing.windows import StreamWindower, sliding_windows, window_samples

# The decision rule and its defaults (bci_app.online.decision), importable from here too.
from .decision import (  # noqa: F401
    DEFAULT_SMOOTHING,
    DEFAULT_THRESHOLD,
    ONLINE_SMOOTHING,
    DecisionRule,
    check_idle_threshold,
)


def _lsl_clock():
    """LSL's clock (``mne_lsl.lsl.local_clock``), the one sample timestamps use."""
    from mne_lsl.lsl import local_clock

    return local_clock()


def model_channels(model):
    """Indices of the stream's channels a fitted pipeline reads: those its first step
    (:class:`~bci_app.decoding.channels.SelectChannels`) picks, in a pipeline or in the best
    estimator of a grid search; None when it reads them all (or cannot tell)."""
    est = getattr(model, "best_estimator_", model)
    steps = getattr(est, "steps", None)
    if (isinstance(steps, list) and steps and isinstance(steps[0][1], SelectChannels)
            and hasattr(steps[0][1], "picks_")):
        return np.asarray(steps[0][1].picks_, dtype=int)
    return None


def _model_error(exc):
    """The reason of a window the model failed on."""
    return f"model error: {type(exc).__name__}: {exc}"


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
        Output of the decision rule (a class, ``idle``, or
        :data:`~bci_app.processing.quality.ARTIFACT`: no decision, see ``reasons``).
    classes : ndarray of str
        Class of each probability column.
    emitted : ndarray, shape (n,)
        Local time (``time.time()``) each prediction was produced.
    emitted_lsl : ndarray, shape (n,)
        The same instant on the LSL clock (``mne_lsl.lsl.local_clock``), comparable with
        ``times`` on this machine: ``emitted_lsl - times`` is the latency from the window's
        last sample to its prediction.
    reasons : ndarray of str, shape (n,)
        Why a window was not classified (its decision and label are
        :data:`~bci_app.processing.quality.ARTIFACT`, its probabilities NaN); empty for
        the others.
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
    reasons: np.ndarray = None

    def __post_init__(self):
        if self.emitted_lsl is None:
            self.emitted_lsl = np.full(len(self.times), np.nan)
        if self.reasons is None:
            self.reasons = np.full(len(self.times), "", dtype=object)

    @property
    def artifacts(self):
        """Boolean mask of the windows not classified (decision ``artifact``)."""
        return np.asarray(self.decisions).astype(str) == ARTIFACT

    def __len__(self):
        return len(self.times)

    @classmethod
    def concatenate(cls, parts, classes):
        """Join consecutive batches."""
        n_classes = len(classes)
        if not parts:
            return cls(np.empty(0), np.empty(0, dtype=int), np.empty((0, n_classes)),
                       np.empty((0, n_classes)), np.empty(0, dtype=str),
                       np.empty(0, dtype=str), np.asarray(classes), np.empty(0), np.empty(0),
                       np.empty(0, dtype=object))
        return cls(*(np.concatenate([getattr(p, f) for p in parts]) for f in
                     ("times", "last", "proba", "smoothed", "labels", "decisions")),
                   np.asarray(classes), np.concatenate([p.emitted for p in parts]),
                   np.concatenate([p.emitted_lsl for p in parts]),
                   np.concatenate([p.reasons for p in parts]))


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

    Every window is checked first (see the module's doc): one that is not EEG, or that the
    model fails on, is decided :data:`~bci_app.processing.quality.ARTIFACT` with its
    reason (:attr:`Predictions.reasons`).
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
        if ARTIFACT in self.classes:
            raise ConfigError(f"the model has a class named {ARTIFACT!r}, the decision "
                              "reserved for windows that are not classified; rename it.")
        self.filter = CausalFilter(self.sfreq, l_freq, h_freq, notch=notch)
        self.rule = DecisionRule(self.classes, smoothing, threshold,
                                 idle_by_threshold=idle_by_threshold)
        self.batch_size = int(batch_size)
        self._check_model_info()
        self._picks = model_channels(model)
        # A step that adapts over a time (Recenter's adapt_s) follows this decoder's step.
        for est in (model, getattr(model, "best_estimator_", None)):
            if est is not None:
                bind_recording_info(est, step_s=step_s, overwrite=True)
        reset_adaptation(model)  # start from the calibration reference
        self._windower = None
        self._last_finite = None
        self._errors_logged = set()
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
        reset_adaptation(self.model)
        self._windower = None
        self._last_finite = None

    def _hold_non_finite(self, chunk):
        """``chunk`` with each non-finite sample replaced by its channel's last finite one
        (0 before any): the filter's state stays finite; the windows holding them are
        refused by their raw samples anyway."""
        if self._last_finite is None or self._last_finite.size != chunk.shape[0]:
            self._last_finite = np.zeros(chunk.shape[0])
        if chunk.shape[1] == 0:
            return chunk
        bad = ~np.isfinite(chunk)
        if bad.any():
            idx = np.maximum.accumulate(np.where(bad, -1, np.arange(chunk.shape[1])), axis=1)
            chunk = np.where(idx >= 0, np.take_along_axis(chunk, np.maximum(idx, 0), axis=1),
                             self._last_finite[:, None])
        self._last_finite = chunk[:, -1].copy()
        return chunk

    def _filter(self, chunk):
        """Causal filtering of raw samples (non-finite ones held); a state driven out of
        the numbers (an absurd sample) is dropped: the filter starts again."""
        filtered = self.filter.process(self._hold_non_finite(chunk))
        if filtered.size and not np.isfinite(filtered[:, -1]).all():
            self.filter.reset()
        return filtered

    def _classify(self, windows):
        """Probabilities of windows; a window the model fails on gets NaN and its error.

        Returns
        -------
        proba : ndarray, shape (n_windows, n_classes)
        errors : ndarray of str (object), shape (n_windows,)
        """
        errors = np.full(len(windows), "", dtype=object)
        try:
            proba = np.asarray(class_probabilities(self.model, windows), dtype=float)
            if proba.shape != (len(windows), len(self.classes)):
                raise DataError(f"the model gave probabilities of shape {proba.shape} for "
                                f"{len(windows)} windows of {len(self.classes)} classes.")
            return proba, errors
        except Exception as exc:  # any failure of the model is that window's artifact
            if len(windows) == 1:
                errors[0] = _model_error(exc)
                if errors[0] not in self._errors_logged and len(self._errors_logged) < 20:
                    self._errors_logged.add(errors[0])
                    logger.warning("decoder: no decision on a window: %s", errors[0],
                                   exc_info=True)
                return np.full((1, len(self.classes)), np.nan), errors
        proba = np.full((len(windows), len(self.classes)), np.nan)
        for i in range(len(windows)):  # one failing window must not take its batch along
            proba[i:i + 1], errors[i:i + 1] = self._classify(windows[i:i + 1])
        return proba, errors

    def _decode(self, windows, raw, times, last):
        ok, reasons = window_faults(raw, windows, self.sfreq, self.ch_names, self._picks)
        proba = np.full((len(times), len(self.classes)), np.nan)
        if ok.all():
            proba, reasons = self._classify(windows)
        elif ok.any():
            proba[ok], reasons[ok] = self._classify(windows[ok])
        failed = ~np.isfinite(proba).all(axis=1)
        reasons[failed & (reasons == "")] = "non-finite probabilities from the model"
        smoothed, decisions = self.rule.update(proba)
        labels = self.classes[np.nan_to_num(proba, nan=-1.0).argmax(axis=1)].astype(object)
        labels[failed] = ARTIFACT
        emitted = np.full(len(times), time.time())
        emitted_lsl = np.full(len(times), _lsl_clock())
        return Predictions(np.asarray(times, float), np.asarray(last, int), proba, smoothed,
                           labels.astype(str), decisions, self.classes, emitted, emitted_lsl,
                           reasons)

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
        n_ch = chunk.shape[0]
        if self._windower is None:  # raw and filtered samples, windowed together
            self._windower = StreamWindower(2 * n_ch, self.window, self.step)
        filtered = self._filter(chunk)
        windows, times, last = self._windower.push(np.concatenate([chunk, filtered]),
                                                   timestamps)
        if len(times) == 0:
            return Predictions.concatenate([], self.classes)
        return self._decode(windows[:, n_ch:], windows[:, :n_ch], times, last)

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
        filtered = self._filter(data)
        windows, last = sliding_windows(filtered, self.window, self.step)
        raw, _ = sliding_windows(data, self.window, self.step)
        # Window starts increase: keep a suffix, as a slice (a boolean mask would copy every
        # window of the recording).
        first = int(np.searchsorted(last - self.window + 1, start_sample, side="left"))
        windows, raw, last = windows[first:], raw[first:], last[first:]
        # A pipeline that starts by picking channels copies only those: hand it the strided
        # view (same values and layout after its fancy indexing as from a copy). Otherwise
        # copy each batch into one reused buffer rather than paging in a fresh one per batch.
        picks_first = self._picks is not None
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
            parts.append(self._decode(batch, raw[sl], timestamps[last[sl]], last[sl]))
        return Predictions.concatenate(parts, self.classes)


def fit_decoder_model(pipeline, X, y, sfreq, ch_names, sources=None):
    """Bind the recording's facts to a pipeline and fit it on calibration windows.

    ``sources`` (list of :class:`~bci_app.processing.calibration.TransferSource`, windows
    already matched to ``ch_names`` and ``sfreq``) are pooled before the target's windows,
    each its own domain, the target last (:func:`bci_app.decoding.transfer.fit_pipeline`:
    a re-centring step fits a reference per domain and re-centres online on the target's).
    """
    if len(np.unique(y)) < 2:
        raise DataError(f"calibration data hold {len(np.unique(y))} class(es); at least 2 "
                        "are needed to train a decoder.")
    bad = ~np.isfinite(X).all(axis=(0, 2))
    if bad.any():
        names = np.asarray(ch_names, dtype=object)[bad] if ch_names is not None else \
            np.flatnonzero(bad)
        raise DataError(f"the calibration windows hold non-finite values (NaN/inf) on "
                        f"channel(s) {list(names)}: the recording has NaN/inf samples (the "
                        "warning given when it was read says where); repair the recording or "
                        "leave those stretches out, and train again.")
    bind_recording_info(pipeline, sfreq=sfreq, ch_names=ch_names)
    if not sources:
        return pipeline.fit(X, y)
    for src in sources:
        if src.X.shape[1:] != X.shape[1:]:
            raise DataError(f"transfer source {src.name!r}: windows of shape "
                            f"{src.X.shape[1:]}, the target's are {X.shape[1:]} (channels, "
                            "samples); build sources with the target's channels, rate and "
                            "window.")
    domains = np.concatenate([np.full(len(s.y), s.name, dtype=object) for s in sources]
                             + [np.full(len(y), TARGET_DOMAIN, dtype=object)])
    return fit_pipeline(pipeline, np.concatenate([s.X for s in sources] + [X]),
                        np.concatenate([np.asarray(s.y, dtype=str) for s in sources]
                                       + [np.asarray(y, dtype=str)]),
                        domains=domains, target=TARGET_DOMAIN)
