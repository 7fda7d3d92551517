"""The protocol runner: a clock-driven state machine that sends string markers over LSL.

The schedule of a run (:func:`~bci_app.protocol.schedule.build_schedule`: the same seed
always gives the same run) is built in :mod:`bci_app.protocol.schedule`.
:class:`ProtocolRunner` walks it against a clock (the LSL clock by default): at each state
change it pushes the step's marker on an LSL ``Markers`` outlet, stamped with the
*scheduled* time (not the time it was noticed), logs it in :attr:`ProtocolRunner.events`
and calls the subscribers (e.g. a patient view showing the cues). It does not depend on Qt:
run it in its own thread (:meth:`~ProtocolRunner.start`, :meth:`~ProtocolRunner.wait`,
:meth:`~ProtocolRunner.stop`) or call :meth:`~ProtocolRunner.poll` from a timer.

Marker scheme
-------------
One string marker per state change; a marker's period lasts until the next marker.

=================  ==============  =================  =====================  ===============
marker             state           when               simulated amplifier    recording
=================  ==============  =================  =====================  ===============
``run_start``      ``start``       run start (0 s)    ignored                zero length
``baseline``       ``baseline``    run start          rest                   idle
``fixation``       ``fixation``    trial start        rest                   not task
``cue_<class>``    ``cue``         cue onset          ignored (stays rest)   not task
``<class code>``   ``imagery``     imagery onset      that class             task: the class
``idle``           ``iti``         imagery end        rest                   idle
``pause``          ``paused``      pause()            ignored                not task
``resume``         ``resumed``     resume()           ignored                not task
``run_end``        ``end``         last rest's end    ignored                zero length
``run_aborted``    ``aborted``     abort()/stop()     ignored                zero length
=================  ==============  =================  =====================  ===============

- ``<class code>`` is the protocol's marker of the class (by default the class name, e.g.
  ``"left_hand"``, which the simulated amplifier's :func:`default_marker_map` maps to that
  class; with other codes give the simulator ``marker_map=protocol.class_of_marker``). The
  class ``"rest"`` (imagery-vs-rest protocols) sends ``"rest"``: the simulator rests, and the
  pseudo-online evaluation reads it as idle. ``cue_<class>`` always uses the class name.
- ``baseline``, ``fixation`` and ``idle`` are rest markers of the simulated amplifier, so the
  simulated imagery is on exactly from the class marker to the next ``idle`` marker.
- Built into annotations (onset = marker time, duration = until the next marker, see
  :func:`~bci_app.protocol.schedule.marker_annotations`), task periods carry the class name
  and last ``imagery_s``; ``baseline``, ``idle`` and ``rest`` are idle names of the
  pseudo-online evaluation. ``fixation``, ``cue_*``, ``pause`` and ``resume`` are neither task
  nor idle there (windows excluded from scoring) unless renamed, e.g.
  ``marker_annotations(..., idle="idle")``.
- Feedback (online runs) is given during the imagery period and sends no marker of its own,
  so task periods keep their full length.
- On :meth:`~ProtocolRunner.pause` or :meth:`~ProtocolRunner.abort` during imagery, an
  ``idle`` marker is sent first (same timestamp) so the class period ends there. A trial
  interrupted by a pause is run again, from its fixation, ``iti_min_s`` after the resume.
"""

import threading

from .._logging import logger
from .._utils import Subscribers
from ..errors import ConfigError
from ._outlet import CLOSE_LINGER_S, MarkerOutlet, default_source_id
from .schedule import (
    ABORTED,
    BASELINE,
    CUE,
    END,
    FIXATION,
    IMAGERY,
    ITI,
    PAUSED,
    RESUMED,
    START,
    TRIAL_STATES,
    Step,
    Transition,
    build_schedule,
    marker_annotations,
    new_seed,
    restart_index,
    trial_order,
)
from .spec import MARKER_IDLE, MARKER_PAUSE, MARKER_RESUME, MARKER_RUN_ABORTED, Protocol

__all__ = [
    "ABORTED", "BASELINE", "CLOSE_LINGER_S", "CUE", "END", "FIXATION", "IMAGERY", "ITI",
    "PAUSED", "RESUMED", "START", "TRIAL_STATES", "ProtocolRunner", "Step", "Transition",
    "build_schedule", "marker_annotations", "new_seed", "trial_order",
]


def _lsl_clock():
    from mne_lsl.lsl import local_clock

    return local_clock()


class ProtocolRunner:
    """Run a protocol: walk its schedule against a clock and send its markers over LSL.

    Parameters
    ----------
    protocol : Protocol
    outlet_name : str | None
        Name of the LSL marker stream (type ``"Markers"``, one string channel, irregular
        rate). None: no outlet (the state machine alone, e.g. with a simulated clock).
    clock : callable | None
        Returns the current time in seconds; default :func:`mne_lsl.lsl.local_clock` (the
        clock of LSL timestamps: marker timestamps are times of this clock).
    seed : int | None
        Seed of the schedule; None: ``protocol.seed``, or a fresh one. The seed used is kept
        in :attr:`seed` (and in the stream's description) so a run can be replayed.
    source_id : str | None
        LSL source id; default derived from ``outlet_name`` (stable across runs, so
        consumers reconnect to the next run's outlet).

    Attributes
    ----------
    protocol : Protocol
    seed : int
    schedule : list of Step
    error : Exception | None
        The error that stopped the thread, if any.

    Notes
    -----
    Open the outlet (:meth:`open_outlet`) and let consumers (recorder, simulator) connect
    (:meth:`wait_for_consumers`) *before* starting: LSL does not replay markers sent before
    an inlet connected. Subscribers are called from the thread that polls (the runner's own
    thread in :meth:`start` mode): a GUI should forward them to its own thread (e.g. a Qt
    signal). Use either :meth:`start` or :meth:`begin` + :meth:`poll`, not both.
    """

    def __init__(self, protocol, outlet_name="bci-app-markers", clock=None, seed=None,
                 source_id=None):
        if not isinstance(protocol, Protocol):
            raise ConfigError(f"ProtocolRunner: expected a Protocol, got "
                              f"{type(protocol).__name__}; load one with load_protocol().")
        if outlet_name is not None and (not isinstance(outlet_name, str) or not outlet_name):
            raise ConfigError(f"ProtocolRunner: outlet_name must be a non-empty string or "
                              f"None, got {outlet_name!r}.")
        self.protocol = protocol
        if seed is None:
            seed = protocol.seed if protocol.seed is not None else new_seed()
        self.seed = int(seed)
        self.schedule = build_schedule(protocol, self.seed)
        self.outlet_name = outlet_name
        self.source_id = source_id or default_source_id(outlet_name)
        self._clock = clock or _lsl_clock
        self._lock = threading.RLock()
        self._subscribers = Subscribers("protocol runner")
        self._events = []
        self._transitions = []
        self._outlet = None if outlet_name is None else MarkerOutlet.for_run(
            outlet_name, self.source_id, protocol, self.seed)
        self._due = None
        self._next = 0
        self._t0 = None
        self._paused_at = None
        self._restart = None
        self._state = None
        self._step = None
        self._done = threading.Event()
        self._stop_event = threading.Event()
        self._wake = threading.Event()
        self._thread = None
        self.aborted = False
        self.repeated_trials = []
        self.error = None

    # -- state ----------------------------------------------------------------------------
    @property
    def state(self):
        """Current state (None before the run starts)."""
        return self._state

    @property
    def trial(self):
        """Index of the current trial (None outside trials)."""
        step = self._step
        return None if step is None or self._state in (PAUSED, RESUMED) else step.trial

    @property
    def label(self):
        """Class of the current trial once its cue is shown (None otherwise)."""
        step = self._step
        return None if step is None or self._state in (PAUSED, RESUMED) else step.label

    @property
    def t0(self):
        """Clock time of the run start (None before :meth:`begin`/:meth:`start`)."""
        return self._t0

    @property
    def events(self):
        """list of (timestamp, marker): every marker sent, in order."""
        with self._lock:
            return list(self._events)

    @property
    def transitions(self):
        """list of Transition: every state change so far."""
        with self._lock:
            return list(self._transitions)

    @property
    def is_started(self):
        return self._t0 is not None

    @property
    def is_finished(self):
        """True once ``run_end`` or ``run_aborted`` was sent."""
        return self._done.is_set()

    @property
    def is_paused(self):
        return self._paused_at is not None

    @property
    def end_time(self):
        """Clock time at which the run is scheduled to end (None before the start)."""
        with self._lock:
            return None if self._due is None else self._due[-1]

    # -- subscribers ------------------------------------------------------------------------
    def subscribe(self, callback):
        """Call ``callback(state, trial, label, timestamp)`` at every state change.

        Returns the callback (usable as a decorator).
        """
        if not callable(callback):
            raise ConfigError(f"ProtocolRunner.subscribe: {callback!r} is not callable.")
        return self._subscribers.add(callback)

    def unsubscribe(self, callback):
        self._subscribers.remove(callback)

    def _notify(self, transitions):
        for tr in transitions:  # a failing subscriber (a display) must not stop the run
            self._subscribers.notify(tr.state, tr.trial, tr.label, tr.timestamp)

    # -- outlet -----------------------------------------------------------------------------
    def open_outlet(self):
        """Create the LSL marker outlet (once); returns it (None without ``outlet_name``).

        Raises
        ------
        StreamError
            If liblsl cannot create it.
        """
        return None if self._outlet is None else self._outlet.open()

    def wait_for_consumers(self, timeout=10.0):
        """Open the outlet and wait until an inlet is connected; True if one is."""
        return True if self._outlet is None else self._outlet.wait_for_consumers(timeout)

    def close(self, linger_s=CLOSE_LINGER_S):
        """Destroy the outlet (consumers see the stream end). Safe to call twice.

        Parameters
        ----------
        linger_s : float
            If a marker was pushed less than this many seconds ago and a consumer is
            connected, the outlet is kept open until then, so that the marker is sent
            (liblsl drops what is still queued when an outlet is destroyed).
        """
        if self._outlet is not None:
            self._outlet.close(linger_s)

    # -- the state machine ----------------------------------------------------------------
    def _emit(self, timestamp, now, state, marker, trial=None, label=None, feedback=False,
              notify=True):
        """Send one marker and record it (lock held)."""
        if self._outlet is not None:
            self._outlet.push(marker, timestamp)
        self._events.append((timestamp, marker))
        tr = Transition(timestamp, state, marker, trial, label, feedback, now)
        logger.debug("protocol runner: %s -> %r at %.4f (late %.1f ms)", state, marker,
                     timestamp, 1e3 * (now - timestamp))
        if notify:
            self._transitions.append(tr)
            self._state = state
        return tr

    def begin(self, at=None):
        """Start the run's clock without a thread (then call :meth:`poll` regularly).

        Parameters
        ----------
        at : float | None
            Clock time of the run start; None: now.

        Returns
        -------
        t0 : float
        """
        with self._lock:
            if self._t0 is not None:
                raise RuntimeError("protocol runner: this run was already started; create "
                                   "a new ProtocolRunner for another run.")
            self.open_outlet()
            t0 = self._clock() if at is None else float(at)
            self._due = [t0 + step.onset_s for step in self.schedule]
            self._next = 0
            self._t0 = t0
        logger.info("protocol runner: %s started (seed %d, %d trials, ~%.0f s).",
                    self.protocol.name, self.seed, self.protocol.n_trials,
                    self.schedule[-1].onset_s)
        return t0

    def poll(self, now=None):
        """Send every marker that is due.

        Parameters
        ----------
        now : float | None
            Current clock time; None: read the clock.

        Returns
        -------
        transitions : list of Transition
            The state changes sent by this call (several if the call is late; each stamped
            with its scheduled time), after the subscribers were called.
        """
        if self._t0 is None:
            raise RuntimeError("protocol runner: call begin() or start() before poll().")
        now = self._clock() if now is None else float(now)
        out = []
        with self._lock:
            while (not self._done.is_set() and self._paused_at is None
                   and self._next < len(self.schedule) and self._due[self._next] <= now):
                step = self.schedule[self._next]
                out.append(self._emit(self._due[self._next], now, step.state, step.marker,
                                      step.trial, step.label, step.feedback))
                self._step = step
                self._next += 1
                if step.state == END:
                    self._done.set()
                    logger.info("protocol runner: %s finished.", self.protocol.name)
        self._notify(out)
        return out

    def pause(self, now=None):
        """Pause the run now; a trial in progress will be run again after :meth:`resume`.

        Returns
        -------
        transitions : list of Transition
            The ``paused`` transition (empty if not running or already paused).
        """
        out = []
        with self._lock:
            if self._t0 is None or self._done.is_set() or self._paused_at is not None:
                return out
            now = self._clock() if now is None else float(now)
            step = self._step
            restart = restart_index(self.schedule, step, self._next)
            if step is not None and step.state in TRIAL_STATES:
                self.repeated_trials.append(step.trial)
            if self._state == IMAGERY:
                self._emit(now, now, ITI, MARKER_IDLE, notify=False)
            out.append(self._emit(now, now, PAUSED, MARKER_PAUSE))
            self._paused_at, self._restart = now, restart
        self._notify(out)
        return out

    def resume(self, now=None):
        """Resume a paused run: the next step starts ``iti_min_s`` after now.

        Returns
        -------
        transitions : list of Transition
            The ``resumed`` transition (empty if not paused).
        """
        out = []
        with self._lock:
            if self._paused_at is None or self._done.is_set():
                return out
            now = self._clock() if now is None else float(now)
            out.append(self._emit(now, now, RESUMED, MARKER_RESUME))
            r = self._restart
            base = now + self.protocol.timing.iti_min_s - self.schedule[r].onset_s
            for i in range(r, len(self.schedule)):
                self._due[i] = base + self.schedule[i].onset_s
            self._next = r
            self._step = None
            self._paused_at = self._restart = None
        self._wake.set()
        self._notify(out)
        return out

    def abort(self, now=None):
        """End the run now with ``run_aborted`` (after ``idle`` if imagery was on).

        Returns
        -------
        transitions : list of Transition
            The ``aborted`` transition (empty if the run is not running).
        """
        out = []
        with self._lock:
            if self._t0 is None or self._done.is_set():
                return out
            now = self._clock() if now is None else float(now)
            if self._state == IMAGERY:
                self._emit(now, now, ITI, MARKER_IDLE, notify=False)
            out.append(self._emit(now, now, ABORTED, MARKER_RUN_ABORTED))
            self.aborted = True
            self._paused_at = None
            self._done.set()
            logger.info("protocol runner: %s aborted.", self.protocol.name)
        self._wake.set()
        self._notify(out)
        return out

    # -- thread mode ------------------------------------------------------------------------
    def start(self, at=None):
        """Start the run in a thread of its own.

        Parameters
        ----------
        at : float | None
            Clock time of the run start (e.g. ``local_clock() + 1``); None: now.

        Returns
        -------
        self : ProtocolRunner
        """
        self.begin(at)
        self._stop_event.clear()
        self._thread = threading.Thread(target=self._loop, daemon=True,
                                        name=f"protocol-{self.outlet_name}")
        self._thread.start()
        return self

    def _loop(self):
        try:
            while not self._stop_event.is_set() and not self._done.is_set():
                with self._lock:
                    due = None if self._paused_at is not None else self._due[self._next]
                if due is None:
                    self._wake.wait(0.05)
                    self._wake.clear()
                    continue
                wait = due - self._clock()
                if wait > 0:
                    self._wake.wait(min(wait, 0.05))
                    self._wake.clear()
                    continue
                self.poll()
        except Exception as exc:
            self.error = exc
            logger.exception("protocol runner: stopped on an error: %s", exc)
            self._done.set()

    def wait(self, timeout=None):
        """Wait for the end of the run; True if it ended (or was aborted) in time."""
        return self._done.wait(timeout)

    def stop(self, timeout=5.0):
        """Abort the run if it is still going, stop the thread and close the outlet.

        The ``run_aborted`` marker of an abort reaches the connected consumers: the outlet
        is closed :data:`CLOSE_LINGER_S` after it (see :meth:`close`).
        """
        if self._t0 is not None and not self._done.is_set():
            self.abort()
        self._stop_event.set()
        self._wake.set()
        thread, self._thread = self._thread, None
        if thread is not None and thread is not threading.current_thread():
            thread.join(timeout)
            if thread.is_alive():
                logger.warning("protocol runner: thread did not stop within %g s.", timeout)
        self.close()

    def __enter__(self):
        self.open_outlet()
        return self

    def __exit__(self, *exc_info):
        self.stop()

    def __repr__(self):
        state = "finished" if self.is_finished else (self._state or "not started")
        return (f"<ProtocolRunner {self.protocol.name!r} seed={self.seed} "
                f"outlet={self.outlet_name!r} {state}>")
