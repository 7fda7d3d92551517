"""What a protocol run consists of: its states, its schedule, the state changes it makes.

:func:`build_schedule` turns a :class:`~bci_app.protocol.spec.Protocol` and a seed into the
list of :class:`Step` of one run (the same seed always gives the same run);
:func:`trial_order` draws the classes of its trials and :func:`restart_index` says where a
paused run goes on. A :class:`Transition` is a state change that happened;
:func:`marker_annotations` turns the markers of a run back into annotations.

All of it is plain data and functions, without clock, thread or LSL: playing a schedule
(:class:`~bci_app.protocol.runner.ProtocolRunner`) and the marker scheme are in
:mod:`bci_app.protocol.runner`.
"""

import random
from dataclasses import dataclass

from ..errors import ConfigError
from .spec import (
    CUE_PREFIX,
    MARKER_BASELINE,
    MARKER_FIXATION,
    MARKER_IDLE,
    MARKER_RUN_END,
    MARKER_RUN_START,
    Protocol,
)

#: States of a run, in the order a trial goes through them.
START, BASELINE, FIXATION, CUE, IMAGERY, ITI, END = (
    "start", "baseline", "fixation", "cue", "imagery", "iti", "end")
#: States a run enters on :meth:`~bci_app.protocol.runner.ProtocolRunner.pause`, ``resume``
#: and ``abort`` (not scheduled).
PAUSED, RESUMED, ABORTED = "paused", "resumed", "aborted"
#: States during which a trial is in progress (a pause there repeats the trial).
TRIAL_STATES = (FIXATION, CUE, IMAGERY)


@dataclass(frozen=True)
class Step:
    """One state of a scheduled run.

    Attributes
    ----------
    onset_s : float
        Start, in seconds from the run start.
    duration_s : float
        Until the next step (0 for ``start`` and ``end``).
    state : str
        One of ``start, baseline, fixation, cue, imagery, iti, end``.
    marker : str
        Marker string sent at the onset.
    trial : int | None
        Trial index (0-based) for the trial's steps, None otherwise.
    label : str | None
        The trial's class on ``cue`` and ``imagery`` steps (None on the others, so nothing
        reveals the class before its cue).
    feedback : bool
        Feedback is shown during this step (imagery of online runs with feedback).
    """

    onset_s: float
    duration_s: float
    state: str
    marker: str
    trial: int = None
    label: str = None
    feedback: bool = False


@dataclass(frozen=True)
class Transition:
    """A state change that happened, as :meth:`.ProtocolRunner.poll` returns it.

    Attributes
    ----------
    timestamp : float
        Clock time the marker is stamped with: the scheduled time of the step (for pause,
        resume and abort: the time of the call).
    state, marker : str
    trial : int | None
    label : str | None
    feedback : bool
    emitted_at : float
        Clock time at which the runner noticed it and sent the marker.
    """

    timestamp: float
    state: str
    marker: str
    trial: int = None
    label: str = None
    feedback: bool = False
    emitted_at: float = None

    @property
    def lateness(self):
        """Seconds between the scheduled time and the sending of the marker."""
        return self.emitted_at - self.timestamp


def trial_order(protocol, rng):
    """The class of each trial.

    Parameters
    ----------
    protocol : Protocol
    rng : random.Random

    Returns
    -------
    order : list of str
        ``"block"``: ``trials_per_class`` blocks, each holding every class once, shuffled;
        ``"full"``: all trials shuffled; ``"none"``: the classes in turn, in listed order.
    """
    classes = list(protocol.classes)
    n = protocol.trials_per_class
    if protocol.randomisation == "none":
        return classes * n
    if protocol.randomisation == "full":
        order = classes * n
        rng.shuffle(order)
        return order
    order = []
    for _ in range(n):
        block = classes[:]
        rng.shuffle(block)
        order.extend(block)
    return order


def new_seed():
    """A fresh random seed (recorded by the runner so that a run can be replayed)."""
    return random.SystemRandom().randrange(2**32)


def build_schedule(protocol, seed=None):
    """The steps of one run.

    Parameters
    ----------
    protocol : Protocol
    seed : int | None
        Seed of the trial order and the inter-trial jitter; None: ``protocol.seed``, and if
        that is None too, a fresh random order.

    Returns
    -------
    steps : list of Step
        ``start, baseline`` (if ``baseline_s`` > 0), then per trial ``fixation`` (if
        ``fixation_s`` > 0), ``cue`` (if ``cue_s`` > 0), ``imagery``, ``iti``, and ``end``.
        Onsets are rounded to the microsecond, inter-trial rests to the millisecond.
    """
    if not isinstance(protocol, Protocol):
        raise ConfigError(f"build_schedule: expected a Protocol, got "
                          f"{type(protocol).__name__}; load one with load_protocol().")
    seed = protocol.seed if seed is None else seed
    rng = random.Random(seed if seed is not None else new_seed())
    timing = protocol.timing
    steps = [Step(0.0, 0.0, START, MARKER_RUN_START)]
    t = 0.0

    def add(duration, state, marker, trial=None, label=None, feedback=False):
        nonlocal t
        steps.append(Step(round(t, 6), duration, state, marker, trial, label, feedback))
        t += duration

    if timing.baseline_s > 0:
        add(timing.baseline_s, BASELINE, MARKER_BASELINE)
    for trial, cls in enumerate(trial_order(protocol, rng)):
        if timing.fixation_s > 0:
            add(timing.fixation_s, FIXATION, MARKER_FIXATION, trial)
        if timing.cue_s > 0:
            add(timing.cue_s, CUE, f"{CUE_PREFIX}{cls}", trial, cls)
        add(timing.imagery_s, IMAGERY, protocol.markers[cls], trial, cls, protocol.feedback)
        iti = round(rng.uniform(timing.iti_min_s, timing.iti_max_s), 3)
        add(iti, ITI, MARKER_IDLE, trial)
    add(0.0, END, MARKER_RUN_END)
    return steps


def restart_index(schedule, step, next_index):
    """Index of the step from which a run paused during ``step`` goes on after the pause.

    Parameters
    ----------
    schedule : list of Step
    step : Step | None
        The step in progress when the run was paused (None: none yet, or just resumed).
    next_index : int
        Index of the next step due.

    Returns
    -------
    index : int
        A trial in progress is run again from its first step, a baseline in progress from
        its start; otherwise the run goes on with the next step.
    """
    if step is not None and step.state in TRIAL_STATES:
        return next(i for i, s in enumerate(schedule) if s.trial == step.trial)
    if step is not None and step.state == BASELINE:
        return next_index - 1
    return next_index


def marker_annotations(events, origin=0.0, end=None, class_of_marker=None, idle=None):
    """Annotations built from markers: onset = marker time, duration = until the next one.

    Parameters
    ----------
    events : list of (timestamp, marker)
        E.g. :attr:`~bci_app.protocol.runner.ProtocolRunner.events`, in any order (sorted
        here, stable).
    origin : float
        Time subtracted from the onsets (e.g. the recording's first sample time).
    end : float | None
        End time of the last marker's period; None: the last annotation has length 0.
    class_of_marker : dict | None
        Marker -> class name (``protocol.class_of_marker``): class markers are renamed.
    idle : str | None
        If given, every marker that is not a class marker (nor ``"rest"``) is renamed to
        this (e.g. ``"idle"``, an idle name of the pseudo-online evaluation).

    Returns
    -------
    annotations : list of (onset_s, duration_s, description)
    """
    events = sorted(events, key=lambda e: e[0])
    mapping = dict(class_of_marker or {})
    out = []
    for i, (ts, marker) in enumerate(events):
        stop = events[i + 1][0] if i + 1 < len(events) else (end if end is not None else ts)
        description = mapping.get(marker, marker)
        if idle is not None and marker not in mapping and marker != "rest":
            description = idle
        out.append((ts - origin, max(0.0, stop - ts), description))
    return out
