"""Live input from LSL: an EEG stream (through ``mne_lsl.stream.StreamLSL``) and a marker stream.

:class:`EEGInput` connects to an EEG stream found by name and/or type (and source id, among
streams of the same name), checks it against what the decoder needs (channel names, sampling
rate), converts the samples to volts from the units the stream declares, and hands every new
chunk, in order and exactly once, to its reader. Its timestamps (on this machine's LSL clock
through liblsl's ``clocksync``) go through a :class:`~bci_app.acquisition.clock.StreamClock`:
regularised (``dejitter``, on by default), duplicates dropped, out-of-order timestamps
repaired, effective rate measured; each fault is reported once as a ``"warning"`` event.
:meth:`EEGInput.latency_of` gives latencies only where the timestamps are on this machine's
clock (NaN for a replay or after a clock jump). It watches the stream's health:

* **loss**: no sample for ``loss_timeout`` seconds (0.5 s by default, so a loss is reported
  well within 1 s) turns the status to ``"lost"``; the gap starts at the timestamp of the last
  sample received. Our own lateness is not a loss: when this process was not running (reads
  came late) the next read decides, samples waiting in the inlet (the acquisition thread held
  up) mean the stream flows, and a loss is confirmed by a second look.
* **reconnection**: liblsl's inlet recovers by itself when a source with the same
  ``source_id`` comes back; if it has not after ``reconnect_after`` seconds (or the source
  returns under another id), the stream is looked up again by name and type (and source id if
  given) and reopened. The first sample after the loss ends the gap; the status returns to
  ``"connected"``.
* **discontinuities** without a reported loss (samples missing, a clock jump), found on the
  regularised clock with a tolerance, are marked as gaps: no window is built across them.

:class:`MarkerInput` (:mod:`bci_app.acquisition.marker_input`, importable from here too)
reads string (or numeric) markers through ``mne_lsl.lsl.StreamInlet`` (``StreamLSL`` refuses
string streams), with clock synchronisation. Both are read from one consumer thread (the online
engine's worker); callbacks passed as ``on_status`` run in that thread too.
"""

import queue
import socket

import numpy as np

from .._logging import logger
from .._utils import Subscribers
from ..errors import StreamError
from .clock import StreamClock
from .lsl import find_stream, find_streams
from .marker_input import MarkerInput
from .stream_format import (
    CLOSED,
    CONNECTED,
    CONNECTING,
    LOST,
    WARNING,
    Chunk,
    Gap,
    StreamEvent,
    is_replay,
    select_channels,
)

__all__ = ["CLOSED", "CONNECTED", "CONNECTING", "LOST", "WARNING", "Chunk", "EEGInput", "Gap",
           "MarkerInput", "StreamEvent"]

#: Amplitude (V) above which a stream declared in volts most likely carries microvolts.
_IMPLAUSIBLE_VOLTS = 0.05

#: Longest time (s) samples may wait in the inlet, unpulled, before the stream is declared
#: lost all the same (and reopened): an acquisition thread held up longer is stuck.
_MAX_HELD_UP = 5.0

#: Seconds between the two looks (nothing queued, nothing in the inlet) that confirm a loss.
_CONFIRM = 0.1

class EEGInput:
    """An EEG stream from LSL, checked, converted to volts and watched for losses.

    Parameters
    ----------
    name : str | None
        Stream name (None: any name, the type must then be unique).
    stype : str | None
        Stream type, case-insensitive: ``"EEG"`` (the XDF conventions' spelling) by default
        also finds streams typed ``"eeg"``.
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
        Smallest deviation of the timestamps from the regularised clock that can be a gap,
        s. Default: the larger of 0.1 s and 10 sampling periods; raised to 5 times the
        measured jitter.
    unit_scale : float | None
        Multiply the samples by this to get volts, overriding the stream's declared units
        (e.g. ``1e-6`` for an amplifier that sends microvolts but declares no unit).
    processing_flags : sequence of str
        liblsl post-processing: ``"clocksync"`` (default) maps the source's timestamps to
        this machine's clock, which latencies need. liblsl's ``"dejitter"`` is not needed:
        see ``dejitter``.
    on_status : callable | None
        Called with a :class:`StreamEvent` at each status change and warning.
    source_id : str | None
        Source id of the stream, to choose among streams of the same name (None: the name
        and type must be enough).
    dejitter : bool
        Deliver regularised timestamps (a least-squares line over the last 10 s of samples,
        restarted at each gap; :mod:`bci_app.acquisition.clock`). Off: the timestamps as
        received (gaps are still found on the regularised clock).
    rate_tolerance : float
        Relative difference between the measured and the declared rate beyond which a
        warning is emitted (once), 5 % by default.
    """

    def __init__(self, name=None, stype="EEG", channels=None, sfreq=None, bufsize=10.0,
                 timeout=5.0, loss_timeout=0.5, reconnect_after=2.0, gap_tolerance=None,
                 unit_scale=None, processing_flags=("clocksync",), on_status=None,
                 source_id=None, dejitter=True, rate_tolerance=0.05):
        if name is None and stype is None:
            raise StreamError("EEG input: give a stream name, a type, or both.")
        if loss_timeout <= 0 or reconnect_after <= 0:
            raise StreamError("EEG input: loss_timeout and reconnect_after must be positive.")
        if not rate_tolerance > 0:
            raise StreamError(f"EEG input: rate_tolerance must be positive, got "
                              f"{rate_tolerance}.")
        self.name, self.stype, self.source_id = name, stype, source_id or None
        self.channels = list(channels) if channels is not None else None
        self.expected_sfreq = None if sfreq is None else float(sfreq)
        self.bufsize = float(bufsize)
        self.timeout = float(timeout)
        self.loss_timeout = float(loss_timeout)
        self.reconnect_after = float(reconnect_after)
        self._gap_tolerance = gap_tolerance
        self.unit_scale = unit_scale
        self.processing_flags = (processing_flags if isinstance(processing_flags, str)
                                 else list(processing_flags or []))
        self.dejitter = bool(dejitter)
        self.rate_tolerance = float(rate_tolerance)
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
        self._clock = None
        self._latency_possible = False
        self._pending = None  # samples taken from the queue, to deliver after a break
        self._last_ts = None
        self._last_arrival = None
        self._last_poll = None
        self._loss_deferred = False
        self._quiet_since = None
        self._lost_at = None
        self._next_lookup = None
        self._open_gap = None
        self._checked_amplitude = False
        self._reported = set()
        self._generation = 0

    # -- subscribers --------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(StreamEvent)`` at each status change and warning."""
        self._subscribers.add(callback)

    def _emit(self, status, message, gap=None, level="info"):
        from mne_lsl.lsl import local_clock

        if status != WARNING:
            self.status = status
        event = StreamEvent(status, self.description.name if self.description else
                            str(self.name), local_clock(), message, gap)
        getattr(logger, level)("%s", message)
        self._subscribers.notify(event)  # a faulty subscriber must not stop acquisition

    def _warn_once(self, kind, message):
        if kind not in self._reported:
            self._reported.add(kind)
            self._emit(WARNING, message, level="warning")

    # -- timing -------------------------------------------------------------------------------
    @property
    def gap_tolerance(self):
        """Smallest deviation from the regularised clock that can be a gap, s (before the
        jitter is measured)."""
        if self._clock is not None:
            return self._clock.tolerance
        if self._gap_tolerance is not None:
            return float(self._gap_tolerance)
        return max(0.1, 10.0 / self.sfreq) if self.sfreq else 0.1

    n_duplicates = property(lambda self: self._clock.n_duplicates if self._clock else 0,
                            doc="Duplicated samples dropped so far.")
    n_out_of_order = property(lambda self: self._clock.n_out_of_order if self._clock else 0,
                              doc="Timestamps that did not step forward (repaired when "
                                  "``dejitter``).")
    measured_rate = property(lambda self: self._clock.measured_rate if self._clock else None,
                             doc="Effective rate measured on the timestamps, Hz (None until "
                                 "5 s of continuous samples).")
    jitter = property(lambda self: self._clock.jitter if self._clock else 0.0,
                      doc="Robust standard deviation of the timestamps around the "
                          "regularised clock, s.")

    @property
    def on_local_clock(self):
        """True when the latest timestamps are on this machine's LSL clock
        (:meth:`latency_of`)."""
        return bool(self._latency_possible and self._clock is not None
                    and self._clock.on_local_clock)

    def latency_of(self, timestamps, at=None):
        """Seconds from samples (their timestamps) to ``at``, where the clocks allow it.

        A latency needs timestamps on this machine's LSL clock: clock synchronisation
        (``"clocksync"``, or a source on this machine), and the recent samples arriving after
        their timestamps and within a second of them. A replay's timestamps (marked as such
        by :class:`~bci_app.acquisition.replay.Replay`, or made ahead of their arrival), a
        recording's own timestamps, or timestamps after a clock jump give NaN.

        Parameters
        ----------
        timestamps : array-like
            Timestamps of the latest samples (e.g. of the windows just decoded).
        at : float | array-like | None
            LSL time of the decision (default: now, ``mne_lsl.lsl.local_clock()``).

        Returns
        -------
        latency : ndarray
            ``at - timestamps``, or NaN where unavailable.
        """
        ts = np.asarray(timestamps, dtype=float)
        if not self.on_local_clock:
            return np.full(ts.shape, np.nan)
        if at is None:
            from mne_lsl.lsl import local_clock

            at = local_clock()
        return np.asarray(at, dtype=float) - ts

    def _check_timing(self):
        name = self.description.name
        for kind, message in self._clock.faults(name, self.rate_tolerance):
            self._warn_once(kind, message)
        rate = self._clock.measured_rate
        if ("rate" in self._reported and rate is not None
                and abs(rate / self.sfreq - 1.0) <= self.rate_tolerance / 2):
            self._reported.discard("rate")  # reported again if it drifts off again
            logger.info("EEG input: %r delivers %.1f Hz again, as declared.", name, rate)

    def _check_amplitude(self, data):
        if self._checked_amplitude or self.n_samples < self.sfreq:
            return
        self._checked_amplitude = True
        level = float(np.median(np.abs(data)))
        if self.unit_scale is None and level > _IMPLAUSIBLE_VOLTS:
            logger.warning("EEG input: %r: median amplitude %.3g V is implausible for EEG "
                           "in volts; the amplifier probably sends microvolts without "
                           "declaring it (set unit_scale=1e-6 / --unit-scale 1e-6).",
                           self.description.name, level)

    # -- connection ---------------------------------------------------------------------------
    def connect(self):
        """Find the stream, open it, check it and start receiving samples.

        Returns
        -------
        self : EEGInput

        Raises
        ------
        StreamError
            No such stream (the message lists the streams found), several candidates (the
            message lists them with their source ids), a string or irregular stream, missing
            channels or a different sampling rate.
        """
        self.status = CONNECTING
        desc = find_stream(self.name, self.stype, self.timeout, source_id=self.source_id)
        self._open(desc)
        self._emit(CONNECTED, f"EEG input: connected to {desc} "
                              f"({len(self.ch_names)} channels read).")
        return self

    def _open(self, desc):
        from mne_lsl.lsl import local_clock
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
            picks, scale = select_channels(stream, desc, self.channels, self.unit_scale)
        except Exception:
            stream.disconnect()
            raise
        self._generation += 1
        generation = self._generation
        # The callback runs in StreamLSL's acquisition thread: copy (the arrays are views on
        # buffers reused by the next pull) and queue; the reader does the rest.
        def on_chunk(data, timestamps, info, _picks=picks, _scale=scale, _gen=generation):
            if timestamps.size:
                block = np.array(data[:, _picks].T, dtype=np.float64)
                block *= _scale[:, None]
                self._queue.put((_gen, block, np.array(timestamps, dtype=np.float64),
                                 local_clock()))
            return data, timestamps

        stream.add_callback(on_chunk)
        self.stream, self.description = stream, desc
        self.ch_names = [stream.ch_names[i] for i in picks]
        self.sfreq = float(stream.info["sfreq"])
        self._picks, self._scale = picks, scale
        if self._clock is None or self._clock.sfreq != self.sfreq:
            self._clock = StreamClock(self.sfreq, self._gap_tolerance, self.dejitter)
        self._clock.reset()
        flags = self.processing_flags
        synced = flags == "all" or "clocksync" in flags or desc.hostname == socket.gethostname()
        self._latency_possible = synced and not is_replay(stream)
        self._pending = None
        self._last_arrival = self._last_poll = local_clock()
        self._loss_deferred, self._quiet_since = False, None

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
            name = self.description.name if self.description else self.name
            self._emit(CLOSED, f"EEG input: closed {name!r} after {self.n_samples} samples, "
                               f"{len(self.gaps)} gap(s), {self.n_duplicates} duplicated "
                               f"sample(s) dropped, {self.n_out_of_order} timestamp(s) out "
                               "of order.")

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc_info):
        self.close()

    # -- reading ------------------------------------------------------------------------------
    def read(self, timeout=0.05):
        """The samples received since the last call, waiting up to ``timeout`` for some.

        Also watches the stream: reports a loss, tries to reconnect, marks gaps, drops
        duplicates, regularises the timestamps, checks the rate. A chunk never spans a gap:
        samples after one come with the next call.

        Returns
        -------
        chunk : Chunk | None
            None when nothing arrived.
        """
        from mne_lsl.lsl import local_clock

        items = []
        try:
            if timeout and self._pending is None:
                items.append(self._queue.get(timeout=timeout))
            while True:
                items.append(self._queue.get_nowait())
        except queue.Empty:
            pass
        items = [it for it in items if it[0] == self._generation]
        now = local_clock()
        # Our own reads came late (this process was not running): not the stream's fault.
        late = (self._last_poll is not None
                and now - self._last_poll > (timeout or 0.0) + self.loss_timeout / 2)
        self._last_poll = now
        if items:
            self._last_arrival = items[-1][3]
            self._loss_deferred, self._quiet_since = False, None
        block = self._take(items)
        if block is None:
            self._watch(now, late)
            return None
        return self._deliver(*block, now)

    def _take(self, items):
        """Samples to deliver: those left over from the last call, then the new ones
        without duplicates, as (data, timestamps, arrivals), or None."""
        parts = [self._pending] if self._pending is not None else []
        self._pending = None
        if items:
            data = np.concatenate([it[1] for it in items], axis=1)
            stamps = np.concatenate([it[2] for it in items])
            arrivals = np.concatenate([np.full(it[2].size, it[3]) for it in items])
            keep = self._clock.drop_duplicates(stamps, data)
            if not keep.all():
                data, stamps, arrivals = data[:, keep], stamps[keep], arrivals[keep]
            parts.append((data, stamps, arrivals))
        parts = [part for part in parts if part[1].size]
        if not parts:
            return None
        return tuple(np.concatenate([part[k] for part in parts], axis=-1) for k in range(3))

    def _deliver(self, data, stamps, arrivals, now):
        """Regularise, mark a gap, and make the chunk."""
        n, times, jump = self._clock.push(stamps, arrivals)
        if n < stamps.size:  # a possible break: the rest comes with the next call
            self._pending = (data[:, n:], stamps[n:], arrivals[n:])
            data = data[:, :n]
        name = self.description.name
        gap = None
        if self._open_gap is not None:  # first samples after a loss
            gap, self._open_gap = self._open_gap, None
            gap.end = float(times[0])
            self._lost_at = None
            self._emit(CONNECTED, f"EEG input: {name!r} is back; gap of "
                                  f"{gap.duration:.3f} s ({gap.start:.3f} -> {gap.end:.3f}).",
                       gap=gap)
        elif jump is not None:
            gap = Gap(jump.start, jump.end, now, jump.reason)
            self.gaps.append(gap)
            logger.warning("EEG input: %r: %s of %+.3f s in the timestamps (%.3f -> %.3f); "
                           "marked as a gap.", name, jump.reason, gap.duration, gap.start,
                           gap.end)
        self._last_ts = float(times[-1])
        self.n_samples += n
        self._check_amplitude(data)
        self._check_timing()
        return Chunk(data, times, gap, float(arrivals[0]), self.on_local_clock)

    def _samples_waiting(self):
        """True when liblsl holds samples not yet pulled by the acquisition thread.
        (StreamLSL keeps its inlet private; without it, only the timing of our own reads
        guards against a held-up process.)"""
        inlet = getattr(self.stream, "_inlet", None)
        try:
            return inlet is not None and inlet.samples_available > 0
        except Exception:  # the inlet is being closed
            return False

    def _watch(self, now, late):
        silent = now - self._last_arrival
        if self.status == CONNECTED and silent > self.loss_timeout:
            if late and not self._loss_deferred:
                # This process was not running: the acquisition thread (and maybe the
                # source) may not have run either. The next reads decide.
                self._loss_deferred, self._quiet_since = True, None
                logger.debug("EEG input: reads came late; %.2f s without samples is not "
                             "taken as a loss yet.", silent)
                return
            if silent < _MAX_HELD_UP and self._samples_waiting():
                self._quiet_since = None
                logger.debug("EEG input: %.2f s without a chunk but samples are waiting in "
                             "the inlet: acquisition held up, not a loss.", silent)
                return
            # Nothing queued, nothing in the inlet: confirmed by a second look a little
            # later (the acquisition thread may be between its pull and its hand-over).
            if self._quiet_since is None:
                self._quiet_since = now
            if now - self._quiet_since < _CONFIRM:
                return
            start = self._last_ts if self._last_ts is not None else self._last_arrival
            self._open_gap = Gap(float(start), None, now, "stream lost")
            self.gaps.append(self._open_gap)
            self._lost_at = now
            self._next_lookup = now + self.reconnect_after
            self._clock.reset()
            self._emit(LOST, f"EEG input: {self.description.name!r} lost: no sample for "
                             f"{silent:.2f} s (last at {start:.3f}); waiting for it to come "
                             "back.", gap=self._open_gap, level="warning")
        elif self.status == LOST and now >= self._next_lookup:
            self._next_lookup = now + self.reconnect_after
            self._reconnect()

    def _reconnect(self):
        """Look the stream up again and reopen it (its source may have a new identity)."""
        previous = self.description
        try:
            matches = find_streams(previous.name, previous.stype, timeout=0.5,
                                   source_id=self.source_id)
        except StreamError as exc:
            logger.debug("EEG input: still lost: %s", exc)
            return
        if len(matches) > 1:  # same name: the one we had, if it is among them
            matches = [d for d in matches if d.source_id == previous.source_id]
        if len(matches) != 1:
            logger.debug("EEG input: still lost: %d candidate stream(s) named %r.",
                         len(matches), previous.name)
            return
        desc = matches[0]
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
