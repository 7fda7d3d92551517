"""Live input from LSL: an EEG stream (through ``mne_lsl.stream.StreamLSL``) and a marker stream.

:class:`EEGInput` connects to an EEG stream found by name and/or type, checks it against what
the decoder needs (channel names, sampling rate), converts the samples to volts from the units
the stream declares, and hands every new chunk, in order and exactly once, to its reader.
It watches the stream's health:

* **loss**: no sample for ``loss_timeout`` seconds (0.5 s by default, so a loss is reported
  well within 1 s) turns the status to ``"lost"``; the gap starts at the timestamp of the last
  sample received.
* **reconnection**: liblsl's inlet recovers by itself when a source with the same
  ``source_id`` comes back; if it has not after ``reconnect_after`` seconds (or the source
  returns under another id), the stream is looked up again by name and type and reopened.
  The first sample after the loss ends the gap; the status returns to ``"connected"``.
* **discontinuities** without a reported loss (dropped samples, a clock jump) are also
  marked as gaps, so the engine never builds a window across them.

:class:`MarkerInput` (:mod:`bci_app.acquisition.marker_input`, importable from here too)
reads string (or numeric) markers through ``mne_lsl.lsl.StreamInlet`` (``StreamLSL`` refuses
string streams), with clock synchronisation.

Both are read from one consumer thread (the online engine's worker); callbacks passed as
``on_status`` run in that thread too.
"""

import queue
import time
from dataclasses import dataclass, field

import numpy as np

from .._logging import logger
from .._utils import Subscribers
from ..errors import StreamError
from .lsl import find_stream
from .marker_input import MarkerInput

__all__ = ["CLOSED", "CONNECTED", "CONNECTING", "LOST", "Chunk", "EEGInput", "Gap",
           "MarkerInput", "StreamEvent"]

#: FIFF code of the volt (mne.io.constants.FIFF.FIFF_UNIT_V).
_FIFF_UNIT_V = 107

#: Amplitude (V) above which a stream declared in volts most likely carries microvolts.
_IMPLAUSIBLE_VOLTS = 0.05

CONNECTING, CONNECTED, LOST, CLOSED = "connecting", "connected", "lost", "closed"


@dataclass
class Gap:
    """A stretch of time without samples.

    Attributes
    ----------
    start : float
        LSL timestamp of the last sample before the gap.
    end : float | None
        LSL timestamp of the first sample after it (None while it lasts).
    detected : float
        LSL time (``local_clock``) at which the gap was noticed.
    reason : str
        ``"stream lost"`` or ``"discontinuity"``.
    """

    start: float
    end: float | None
    detected: float
    reason: str = "stream lost"

    @property
    def duration(self):
        """Length of the gap in seconds (None while it lasts)."""
        return None if self.end is None else self.end - self.start


@dataclass
class StreamEvent:
    """A change of a stream's status, as passed to ``on_status`` callbacks.

    Attributes
    ----------
    status : str
        ``"connecting"``, ``"connected"``, ``"lost"`` or ``"closed"``.
    stream : str
        Stream name.
    time : float
        LSL time of the event.
    message : str
        Human-readable description (also logged).
    gap : Gap | None
        The gap that started (``"lost"``) or ended (``"connected"`` after a loss).
    """

    status: str
    stream: str
    time: float
    message: str
    gap: Gap | None = None
    wall_time: float = field(default_factory=time.time)


@dataclass
class Chunk:
    """New samples from an :class:`EEGInput`.

    Attributes
    ----------
    data : ndarray, shape (n_channels, n_samples)
        EEG in volts, channels in the order of :attr:`EEGInput.ch_names`.
    timestamps : ndarray, shape (n_samples,)
        LSL time of each sample (clock-synchronised to this machine).
    gap : Gap | None
        When set, these samples follow a gap: state built on earlier samples (filters,
        windows) must be reset before using them.
    received : float
        LSL time at which the first of these samples reached this process.
    """

    data: np.ndarray
    timestamps: np.ndarray
    gap: Gap | None = None
    received: float = 0.0


def _lower(names):
    return [str(n).lower() for n in names]


class EEGInput:
    """An EEG stream from LSL, checked, converted to volts and watched for losses.

    Parameters
    ----------
    name : str | None
        Stream name (None: any name, the type must then be unique).
    stype : str | None
        Stream type (case-insensitive), ``"eeg"`` by default.
    channels : sequence of str | None
        Channels to read, in this order (e.g. those a model was trained on); a missing one
        is an error naming it. None: every channel of type EEG (every channel when the
        stream declares no types).
    sfreq : float | None
        Sampling rate the stream must have (e.g. the model's); None: any regular rate.
    bufsize : float
        Seconds kept in the ``StreamLSL`` ring buffer (for displays: :attr:`stream`).
    timeout : float
        Seconds to wait for the stream when connecting.
    loss_timeout : float
        Seconds without samples after which the stream is declared lost.
    reconnect_after : float
        Seconds after a loss before the stream is looked up again by name/type (liblsl's
        own recovery by ``source_id`` runs before and alongside).
    gap_tolerance : float | None
        Largest jump between consecutive timestamps (beyond the sampling period) that is not
        a gap, s. Default: the larger of 0.1 s and 10 sampling periods.
    unit_scale : float | None
        Multiply the samples by this to get volts, overriding the stream's declared units
        (e.g. ``1e-6`` for an amplifier that sends microvolts but declares no unit).
    processing_flags : sequence of str
        liblsl post-processing: ``"clocksync"`` (default) maps the source's timestamps to
        this machine's clock; add ``"dejitter"`` for amplifiers with jittery timestamps.
    on_status : callable | None
        Called with a :class:`StreamEvent` at each status change.
    """

    def __init__(self, name=None, stype="eeg", channels=None, sfreq=None, bufsize=10.0,
                 timeout=5.0, loss_timeout=0.5, reconnect_after=2.0, gap_tolerance=None,
                 unit_scale=None, processing_flags=("clocksync",), on_status=None):
        if name is None and stype is None:
            raise StreamError("EEG input: give a stream name, a type, or both.")
        if loss_timeout <= 0 or reconnect_after <= 0:
            raise StreamError("EEG input: loss_timeout and reconnect_after must be positive.")
        self.name, self.stype = name, stype
        self.channels = list(channels) if channels is not None else None
        self.expected_sfreq = None if sfreq is None else float(sfreq)
        self.bufsize = float(bufsize)
        self.timeout = float(timeout)
        self.loss_timeout = float(loss_timeout)
        self.reconnect_after = float(reconnect_after)
        self._gap_tolerance = gap_tolerance
        self.unit_scale = unit_scale
        self.processing_flags = list(processing_flags or [])
        self._subscribers = Subscribers("EEG input")
        if on_status is not None:
            self._subscribers.add(on_status)
        self.status = CLOSED
        self.stream = None
        self.description = None
        self.ch_names, self.sfreq = None, None
        self.gaps = []
        self.n_samples = 0
        self._queue = queue.SimpleQueue()
        self._picks, self._scale = None, None
        self._last_ts = None
        self._last_arrival = None
        self._lost_at = None
        self._next_lookup = None
        self._open_gap = None
        self._pending_gap = None
        self._checked_amplitude = False
        self._generation = 0

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(StreamEvent)`` at each status change."""
        self._subscribers.add(callback)

    def _emit(self, status, message, gap=None, level="info"):
        from mne_lsl.lsl import local_clock

        self.status = status
        event = StreamEvent(status, self.description.name if self.description else
                            str(self.name), local_clock(), message, gap)
        getattr(logger, level)("%s", message)
        self._subscribers.notify(event)  # a faulty subscriber must not stop acquisition

    # -- connection ---------------------------------------------------------------------------
    @property
    def gap_tolerance(self):
        if self._gap_tolerance is not None:
            return float(self._gap_tolerance)
        return max(0.1, 10.0 / self.sfreq) if self.sfreq else 0.1

    def connect(self):
        """Find the stream, open it, check it and start receiving samples.

        Returns
        -------
        self : EEGInput

        Raises
        ------
        StreamError
            No such stream (the message lists those found), several candidates, a string
            or irregular stream, missing channels or a different sampling rate.
        """
        self.status = CONNECTING
        desc = find_stream(self.name, self.stype, self.timeout)
        self._open(desc)
        self._emit(CONNECTED, f"EEG input: connected to {desc} "
                              f"({len(self.ch_names)} channels read).")
        return self

    def _open(self, desc):
        from mne_lsl.stream import StreamLSL

        if desc.dtype == "string" or desc.sfreq <= 0:
            raise StreamError(f"LSL stream {desc} is not regularly sampled EEG (format "
                              f"{desc.dtype}, rate {desc.sfreq:g} Hz); choose the "
                              "amplifier's EEG stream (`bci-app online --list`).")
        if self.expected_sfreq is not None and abs(desc.sfreq - self.expected_sfreq) > 1e-3:
            raise StreamError(f"LSL stream {desc.name!r} runs at {desc.sfreq:g} Hz but the "
                              f"model was trained at {self.expected_sfreq:g} Hz; set the "
                              "amplifier to that rate or train a model at this one.")
        stream = StreamLSL(self.bufsize, name=desc.name, stype=desc.stype,
                           source_id=desc.source_id or None)
        try:
            stream.connect(acquisition_delay=0.001, processing_flags=self.processing_flags,
                           timeout=self.timeout)
        except Exception as exc:
            raise StreamError(f"LSL stream {desc}: cannot connect ({exc}).") from exc
        try:
            picks, scale = self._check(stream, desc)
        except Exception:
            stream.disconnect()
            raise
        self._generation += 1
        generation = self._generation
        # The callback runs in StreamLSL's acquisition thread: copy (the arrays are views on
        # buffers reused by the next pull) and queue; the reader does the rest.
        def on_chunk(data, timestamps, info, _picks=picks, _scale=scale, _gen=generation):
            from mne_lsl.lsl import local_clock

            if timestamps.size:
                block = np.array(data[:, _picks].T, dtype=np.float64)
                block *= _scale[:, None]
                self._queue.put((_gen, block, np.array(timestamps, dtype=np.float64),
                                 local_clock()))
            return data, timestamps

        stream.add_callback(on_chunk)
        self.stream, self.description = stream, desc
        self._picks, self._scale = picks, scale
        from mne_lsl.lsl import local_clock

        self._last_arrival = local_clock()

    def _check(self, stream, desc):
        names = list(stream.ch_names)
        if self.channels is not None:
            lower = _lower(names)
            missing = [c for c in self.channels if c.lower() not in lower]
            if missing:
                raise StreamError(
                    f"LSL stream {desc.name!r} lacks channel(s) {missing} that the model "
                    f"needs; it has {names}. Use the montage the model was trained on, or "
                    "train a model on this one.")
            picks = np.array([lower.index(c.lower()) for c in self.channels])
        else:
            types = stream.get_channel_types()
            eeg = [i for i, t in enumerate(types) if t == "eeg"]
            picks = np.array(eeg if eeg else range(len(names)))
        self.ch_names = [names[i] for i in picks]
        self.sfreq = float(stream.info["sfreq"])
        if self.unit_scale is not None:
            scale = np.full(len(picks), float(self.unit_scale))
        else:
            scale = np.ones(len(picks))
            for k, (unit, mul) in enumerate(stream.get_channel_units(picks=list(picks))):
                scale[k] = 10.0 ** int(mul)
                if int(unit) not in (_FIFF_UNIT_V, 0):
                    logger.warning("EEG input: channel %s of %r declares unit code %s, not "
                                   "volts; its samples are used as they are.",
                                   names[picks[k]], desc.name, unit)
        return picks, scale

    def _close_stream(self):
        stream, self.stream = self.stream, None
        if stream is not None:
            try:
                stream.disconnect()
            except Exception as exc:  # the source is already gone
                logger.debug("EEG input: disconnect: %s", exc)

    def close(self):
        """Stop receiving and release the stream."""
        self._close_stream()
        if self.status != CLOSED:
            self._emit(CLOSED, f"EEG input: closed {self.description.name if self.description else self.name!r} "
                               f"after {self.n_samples} samples, {len(self.gaps)} gap(s).")

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc_info):
        self.close()

    # -- reading ------------------------------------------------------------------------------
    def read(self, timeout=0.05):
        """The samples received since the last call, waiting up to ``timeout`` for some.

        Also watches the stream: reports a loss, tries to reconnect, marks gaps.

        Returns
        -------
        chunk : Chunk | None
            None when nothing arrived.
        """
        from mne_lsl.lsl import local_clock

        items = []
        try:
            items.append(self._queue.get(timeout=timeout) if timeout else
                         self._queue.get_nowait())
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        items = [it for it in items if it[0] == self._generation]
        now = local_clock()
        if not items:
            self._watch(now)
            return None
        data = np.concatenate([it[1] for it in items], axis=1)
        stamps = np.concatenate([it[2] for it in items])
        received = items[0][3]
        self._last_arrival = items[-1][3]
        gap = self._pending_gap
        self._pending_gap = None
        if self._open_gap is not None:  # first samples after a loss
            gap, self._open_gap = self._open_gap, None
            gap.end = float(stamps[0])
            self._lost_at = None
            self._emit(CONNECTED, f"EEG input: {self.description.name!r} is back; gap of "
                                  f"{gap.duration:.3f} s ({gap.start:.3f} -> {gap.end:.3f}).",
                       gap=gap)
        elif self._last_ts is not None:
            jump = stamps[0] - self._last_ts
            if jump < 0 or jump > 1.0 / self.sfreq + self.gap_tolerance:
                gap = Gap(float(self._last_ts), float(stamps[0]), now, "discontinuity")
                self.gaps.append(gap)
                logger.warning("EEG input: %r: %.3f s discontinuity in the timestamps "
                               "(%.3f -> %.3f); marked as a gap.", self.description.name,
                               jump, gap.start, gap.end)
        self._last_ts = float(stamps[-1])
        self.n_samples += stamps.size
        if not self._checked_amplitude and self.n_samples >= self.sfreq:
            self._checked_amplitude = True
            level = float(np.median(np.abs(data)))
            if self.unit_scale is None and level > _IMPLAUSIBLE_VOLTS:
                logger.warning("EEG input: %r: median amplitude %.3g V is implausible for EEG "
                               "in volts; the amplifier probably sends microvolts without "
                               "declaring it (set unit_scale=1e-6 / --unit-scale 1e-6).",
                               self.description.name, level)
        return Chunk(data, stamps, gap, received)

    def _watch(self, now):
        if self.status == CONNECTED and now - self._last_arrival > self.loss_timeout:
            start = self._last_ts if self._last_ts is not None else self._last_arrival
            self._open_gap = Gap(float(start), None, now, "stream lost")
            self.gaps.append(self._open_gap)
            self._lost_at = now
            self._next_lookup = now + self.reconnect_after
            self._emit(LOST, f"EEG input: {self.description.name!r} lost: no sample for "
                             f"{now - self._last_arrival:.2f} s (last at {start:.3f}); "
                             "waiting for it to come back.", gap=self._open_gap,
                       level="warning")
        elif self.status == LOST and now >= self._next_lookup:
            self._next_lookup = now + self.reconnect_after
            self._reconnect()

    def _reconnect(self):
        """Look the stream up again and reopen it (its source may have a new identity)."""
        try:
            desc = find_stream(self.description.name, self.description.stype, timeout=0.5)
        except StreamError as exc:
            logger.debug("EEG input: still lost: %s", exc)
            return
        logger.info("EEG input: reopening %s.", desc)
        self._close_stream()
        try:
            self._open(desc)
            # Give the new inlet time to deliver its first samples before looking again.
            from mne_lsl.lsl import local_clock

            self._next_lookup = local_clock() + max(self.reconnect_after,
                                                    2 * self.loss_timeout, 1.0)
        except StreamError as exc:
            # Same name, but no longer usable (other channels or rate): say so and keep
            # trying; data already received are untouched.
            logger.error("EEG input: %s", exc)
            self._close_stream()
