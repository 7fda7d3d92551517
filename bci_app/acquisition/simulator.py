"""A simulated amplifier: synthetic motor-imagery EEG published as a real LSL stream.

:class:`SimulatedAmplifier` runs :class:`~bci_app.acquisition.simulation.MIEEGGenerator` in
real time and pushes its output to an LSL outlet, so every consumer (viewer, recorder, online
engine) sees it exactly as a real amplifier. The imagined class follows markers: either from
an LSL marker stream (e.g. the protocol's) or from :meth:`SimulatedAmplifier.set_label`, and
the class's event-related desynchronisation appears in the signal.

Stream format
-------------
- type ``"EEG"``, ``float32``, nominal rate ``sfreq``, one channel per electrode, samples in
  **microvolts**;
- the description follows the XDF meta-data conventions for EEG
  (:mod:`bci_app.protocol.lsl_meta`): ``channels/channel/{label,type,unit}`` (10-05 name,
  ``EEG``, ``microvolts``), ``acquisition`` (manufacturer ``bci-app``, model ``simulated
  amplifier``, 32 bits), ``reference`` (none: the simulated potentials have no reference
  electrode) and ``cap`` (10-05 labels). Consumers scale by the declared unit
  (:class:`~bci_app.acquisition.stream.EEGInput` hands out volts);
- ``source_id`` is derived from the name, channels and rate: stable across restarts, so
  inlets recover after the simulator restarts;
- timestamps are :func:`mne_lsl.lsl.local_clock` times, one per sample, spaced exactly
  ``1 / sfreq`` from the start (no drift).
"""

import bisect
import threading
import zlib

import numpy as np

from .._logging import logger
from ..errors import ConfigError, StreamError
from ..protocol.lsl_meta import (
    EEG_TYPE,
    EEG_UNIT,
    MANUFACTURER,
    describe_stream,
    volts_per_unit,
)
from .simulation import CLASS_AREAS, DEFAULT_CHANNELS, MIEEGGenerator

#: ``desc/acquisition/model`` of the simulated amplifier's stream.
MODEL = "simulated amplifier"

#: Markers that end imagery (the generator goes back to rest), matched case-insensitively.
REST_MARKERS = ("rest", "idle", "end", "stop", "baseline", "fixation")


def default_marker_map():
    """The default marker -> class mapping.

    Returns
    -------
    mapping : dict of str to (str | None)
        Each class of :data:`~bci_app.acquisition.simulation.CLASS_AREAS` to itself, and
        each of :data:`REST_MARKERS` to None (rest).
    """
    mapping = {name: name for name in CLASS_AREAS}
    mapping.update({marker: None for marker in REST_MARKERS})
    return mapping


def _marker_text(value):
    """A marker sample value as text (numeric markers: ``1.0`` -> ``"1"``)."""
    if isinstance(value, (bytes, bytearray)):
        value = value.decode(errors="replace")
    if isinstance(value, str):
        return value.strip()
    value = float(value)
    return str(int(value)) if value.is_integer() else str(value)


class SimulatedAmplifier:
    """Synthetic motor-imagery EEG streamed in real time over LSL.

    Parameters
    ----------
    name : str
        Name of the LSL stream.
    ch_names : sequence of str
        Standard 10-05 channel names.
    sfreq : float
        Sampling rate in Hz.
    chunk_size : int
        Samples per pushed chunk (10 at 250 Hz: one chunk every 40 ms).
    skill : float
        Simulated subject skill in [0, 1]: how deep the imagery ERD is.
    seed : int | None
        Seed of the signal generator.
    marker_stream : str | None
        Name of an LSL marker stream to follow (found by name, waited for if absent, and
        re-found if it goes away). None: the label changes only through :meth:`set_label`.
    marker_map : dict | None
        Extra marker -> class entries (class name, or None for rest), matched
        case-insensitively, on top of :func:`default_marker_map`. Markers that map to
        nothing are ignored (protocols send many other markers).
    **generator_kwargs
        Passed to :class:`~bci_app.acquisition.simulation.MIEEGGenerator` (``erd_depth``,
        ``line_freq``, ``artifacts``).

    Attributes
    ----------
    source_id : str
        The stream's source identifier (stable for a given name, channels and rate).
    stype, unit : str
        The stream's type (``"EEG"``) and the unit of its samples (``"microvolts"``).
    error : Exception | None
        The error that stopped streaming, if any (it is also logged).

    Notes
    -----
    Two threads run while started: one generates and pushes a chunk whenever one is due
    (the number of samples due is computed from the start time on the LSL clock, so the
    rate never drifts and a late thread catches up), one reads the marker stream. A label
    change applies from the first sample whose timestamp is at or after the marker's
    timestamp that has not yet been pushed.
    """

    def __init__(self, name="bci-app-sim", ch_names=DEFAULT_CHANNELS, sfreq=250.0,
                 chunk_size=10, skill=0.8, seed=None, marker_stream=None, marker_map=None,
                 **generator_kwargs):
        if not isinstance(name, str) or not name:
            raise ConfigError(f"simulated amplifier: the stream name must be a non-empty "
                              f"string, got {name!r}.")
        chunk_size = int(chunk_size)
        if chunk_size < 1:
            raise ConfigError(f"simulated amplifier: chunk_size must be >= 1, got "
                              f"{chunk_size}.")
        self.name = name
        self.chunk_size = chunk_size
        self.marker_stream = marker_stream
        self._generator = MIEEGGenerator(ch_names=ch_names, sfreq=sfreq, skill=skill,
                                         seed=seed, **generator_kwargs)
        self.ch_names = list(self._generator.ch_names)
        self.sfreq = self._generator.sfreq
        self.skill = self._generator.skill
        self._marker_map = {k.lower(): v for k, v in default_marker_map().items()}
        for marker, label in (marker_map or {}).items():
            if label is not None and label not in CLASS_AREAS:
                raise ConfigError(
                    f"simulated amplifier: marker_map[{marker!r}] = {label!r} is not a class; "
                    f"use one of {sorted(CLASS_AREAS)} or None for rest."
                )
            self._marker_map[str(marker).strip().lower()] = label
        key = f"{name}|{','.join(self.ch_names)}|{self.sfreq:g}"
        self.source_id = f"bci-app-sim-{zlib.crc32(key.encode()):08x}"
        self.stype, self.unit = EEG_TYPE, EEG_UNIT
        self._per_volt = 1.0 / volts_per_unit(self.unit)
        self._lock = threading.Lock()
        self._label = None
        self._events = []  # sorted (timestamp, arrival order, label)
        self._n_events = 0
        self._samples_pushed = 0
        self._stop_event = threading.Event()
        self._threads = []
        self._outlet = None
        self._t0 = None
        self.error = None

    # -- state ------------------------------------------------------------------------------
    @property
    def is_running(self):
        """True while the stream is being pushed."""
        return bool(self._threads) and self._threads[0].is_alive() \
            and not self._stop_event.is_set()

    @property
    def samples_pushed(self):
        """Number of samples pushed since the last :meth:`start`."""
        return self._samples_pushed

    @property
    def label(self):
        """The class being imagined in the last pushed sample (None: rest)."""
        with self._lock:
            return self._label

    @property
    def start_time(self):
        """LSL timestamp of the first sample of the current run (None before start)."""
        return self._t0

    def set_label(self, label, timestamp=None):
        """Change the imagined class.

        Parameters
        ----------
        label : str | None
            A class of :data:`~bci_app.acquisition.simulation.CLASS_AREAS`, or None for rest.
        timestamp : float | None
            LSL time (:func:`mne_lsl.lsl.local_clock`) from which the class applies; None:
            now. Samples already pushed are never changed.
        """
        if label is not None and label not in CLASS_AREAS:
            raise ConfigError(f"simulated amplifier: unknown class {label!r}; use one of "
                              f"{sorted(CLASS_AREAS)} or None for rest.")
        if timestamp is None:
            from mne_lsl.lsl import local_clock

            timestamp = local_clock()
        with self._lock:
            bisect.insort(self._events, (float(timestamp), self._n_events, label))
            self._n_events += 1

    def handle_marker(self, marker, timestamp=None):
        """Apply a marker: change the class if it maps to one, else ignore it.

        Parameters
        ----------
        marker : str | float
            The marker value (numeric markers are matched as text, e.g. ``"1"``).
        timestamp : float | None
            The marker's LSL timestamp; None: now.

        Returns
        -------
        applied : bool
            True when the marker changed (or confirmed) the imagined class.
        """
        text = _marker_text(marker)
        key = text.lower()
        if key not in self._marker_map:
            logger.debug("%s: marker %r ignored (no class mapped to it).", self.name, text)
            return False
        label = self._marker_map[key]
        logger.debug("%s: marker %r -> %s", self.name, text, label or "rest")
        self.set_label(label, timestamp)
        return True

    def follow_protocol(self, state, trial, label, timestamp):
        """Imagine the cued class during a protocol's imagery, rest otherwise.

        A :class:`~bci_app.protocol.ProtocolRunner` subscriber (``runner.subscribe``): the
        simulated subject follows the runner's transitions directly (no marker stream to
        connect to). During ``imagery`` the class is the trial's label (rest if the
        simulation has no such class); every other state is rest.
        """
        if state == "imagery" and label in CLASS_AREAS:
            self.set_label(label, timestamp)
        else:
            self.set_label(None, timestamp)

    # -- life cycle -------------------------------------------------------------------------
    def _make_outlet(self):
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        sinfo = StreamInfo(self.name, self.stype, len(self.ch_names), self.sfreq, "float32",
                           self.source_id)
        describe_stream(
            sinfo, labels=self.ch_names, types=EEG_TYPE, units=self.unit,
            reference={"label": "none", "subtracted": "No", "common_average": "No"},
            cap={"labelscheme": "10-05"},
            acquisition={"manufacturer": MANUFACTURER, "model": MODEL, "precision": "32",
                         "compensated_lag": "0"})
        return StreamOutlet(sinfo, chunk_size=self.chunk_size)

    def start(self):
        """Create the outlet and start streaming (and following markers).

        Returns
        -------
        self : SimulatedAmplifier

        Raises
        ------
        StreamError
            If it is already running, or the outlet cannot be created.
        """
        if self.is_running:
            raise StreamError(f"simulated amplifier {self.name!r} is already running; "
                              "stop() it first.")
        self.stop()  # clean up after a run that ended on an error
        from mne_lsl.lsl import local_clock

        try:
            self._outlet = self._make_outlet()
        except Exception as exc:
            raise StreamError(f"simulated amplifier {self.name!r}: cannot create the LSL "
                              f"outlet ({exc}).") from exc
        self._stop_event = threading.Event()
        self._samples_pushed = 0
        self.error = None
        self._t0 = local_clock()
        self._threads = [threading.Thread(target=self._push_loop, daemon=True,
                                          name=f"{self.name}-push")]
        if self.marker_stream:
            self._threads.append(threading.Thread(target=self._marker_loop, daemon=True,
                                                  name=f"{self.name}-markers"))
        for thread in self._threads:
            thread.start()
        logger.info("%s: streaming %d channels at %g Hz (source_id %s)%s.", self.name,
                    len(self.ch_names), self.sfreq, self.source_id,
                    f", following markers of {self.marker_stream!r}" if self.marker_stream
                    else "")
        return self

    def stop(self, timeout=5.0):
        """Stop streaming: join the threads and destroy the outlet. Safe to call twice.

        Parameters
        ----------
        timeout : float
            Seconds to wait for each thread.
        """
        self._stop_event.set()
        for thread in self._threads:
            if thread is not threading.current_thread():
                thread.join(timeout)
                if thread.is_alive():
                    logger.warning("%s: thread %s did not stop within %g s.", self.name,
                                   thread.name, timeout)
        self._threads = []
        outlet, self._outlet = self._outlet, None
        if outlet is not None:
            destroy = getattr(outlet, "_del", None)  # what mne-lsl's own player does
            if destroy is not None:
                destroy()
            logger.info("%s: stopped after %d samples.", self.name, self._samples_pushed)

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "running" if self.is_running else "stopped"
        return (f"<SimulatedAmplifier {self.name!r} {len(self.ch_names)} ch {self.sfreq:g} Hz "
                f"skill={self.skill:g} {state}, {self._samples_pushed} samples>")

    # -- threads ----------------------------------------------------------------------------
    def _next_chunk(self, times):
        """Generate the samples at ``times``, switching label at the pending events."""
        pieces = []
        start = 0
        with self._lock:
            label = self._label
            n_due = bisect.bisect_right(self._events, (times[-1], float("inf"), None))
            due, self._events = self._events[:n_due], self._events[n_due:]
        for ts, _, new_label in due:
            k = int(np.searchsorted(times, ts, side="left"))
            if k > start:
                pieces.append(self._generator.generate(k - start, label))
                start = k
            label = new_label
        if start < len(times):
            pieces.append(self._generator.generate(len(times) - start, label))
        with self._lock:
            self._label = label
        return pieces[0] if len(pieces) == 1 else np.concatenate(pieces, axis=1)

    def _push_loop(self):
        from mne_lsl.lsl import local_clock

        period = 1.0 / self.sfreq
        chunk = self.chunk_size
        try:
            while not self._stop_event.is_set():
                due = int((local_clock() - self._t0) * self.sfreq)
                while due - self._samples_pushed >= chunk and not self._stop_event.is_set():
                    n0 = self._samples_pushed
                    times = self._t0 + (n0 + np.arange(chunk)) * period
                    data = self._next_chunk(times) * self._per_volt  # volts -> stream unit
                    self._outlet.push_chunk(np.ascontiguousarray(data.T, dtype=np.float32),
                                            timestamp=times)
                    self._samples_pushed = n0 + chunk
                wait = self._t0 + (self._samples_pushed + chunk) * period - local_clock()
                self._stop_event.wait(min(max(wait, 0.0), 0.1))
        except Exception as exc:
            self.error = exc
            logger.exception("%s: streaming stopped on an error: %s", self.name, exc)
            self._stop_event.set()

    def _open_marker_inlet(self):
        from mne_lsl.lsl import StreamInlet, resolve_streams

        sinfos = resolve_streams(timeout=0.5, name=self.marker_stream)
        if not sinfos:
            return None
        sinfo = sinfos[0]
        if len(sinfos) > 1:
            logger.warning("%s: %d marker streams named %r; following the first (%s).",
                           self.name, len(sinfos), self.marker_stream, sinfo.uid)
        inlet = StreamInlet(sinfo, processing_flags=["clocksync"])
        inlet.open_stream(timeout=5.0)
        logger.info("%s: following markers of %r (%s).", self.name, sinfo.name,
                    sinfo.hostname)
        return inlet

    def _close_inlet(self, inlet):
        destroy = getattr(inlet, "_del", None)  # what mne-lsl's own StreamLSL does
        if destroy is not None:
            try:
                destroy()
            except Exception as exc:  # the stream is already gone
                logger.debug("%s: closing the marker inlet: %s", self.name, exc)

    def _marker_loop(self):
        inlet = None
        waiting_logged = False
        try:
            while not self._stop_event.is_set():
                if inlet is None:
                    try:
                        inlet = self._open_marker_inlet()
                    except Exception as exc:  # the stream vanished while connecting
                        logger.warning("%s: cannot open marker stream %r (%s); retrying.",
                                       self.name, self.marker_stream, exc)
                        inlet = None
                    if inlet is None:
                        if not waiting_logged:
                            logger.info("%s: waiting for marker stream %r.", self.name,
                                        self.marker_stream)
                            waiting_logged = True
                        self._stop_event.wait(0.2)
                    continue
                try:
                    sample, timestamp = inlet.pull_sample(timeout=0.1)
                except Exception as exc:  # lost stream: look for it again
                    logger.warning("%s: marker stream %r lost (%s); looking for it again.",
                                   self.name, self.marker_stream, exc)
                    self._close_inlet(inlet)
                    inlet, waiting_logged = None, False
                    continue
                if timestamp is None or len(sample) == 0:
                    continue
                self.handle_marker(sample[0], timestamp)
        except Exception as exc:
            logger.exception("%s: marker stream %r: %s (markers no longer followed).",
                             self.name, self.marker_stream, exc)
        finally:
            if inlet is not None:
                self._close_inlet(inlet)
