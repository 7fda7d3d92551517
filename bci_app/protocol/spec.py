"""Protocol files: what a run shows, in which order, for how long, and which markers it sends.

A protocol is a TOML file (read with the standard library's :mod:`tomllib`), validated
against a pydantic schema. The errors found on loading raise one
:class:`~bci_app.errors.ConfigError` with the file and, for each, the dotted field (e.g.
``timing.imagery_s``), the allowed values and what to do. The allowed values (classes, run
types, reserved markers, duration limits) and the schema are in
:mod:`bci_app.protocol._rules`; its public constants are importable from here.

File format
-----------
.. code-block:: toml

    name = "Left vs right hand"          # required
    description = "Graz-style calibration" # optional
    run_type = "calibration"              # required: "calibration" | "online"
    feedback = false                      # optional; default: true for online runs, false
                                          # for calibration runs (which cannot have feedback)
    classes = ["left_hand", "right_hand"] # required, >= 2 of ALLOWED_CLASSES, or the alias
                                          # "affected_hand" (see affected_hand)
    trials_per_class = 20                 # required, 1..1000
    randomisation = "block"               # optional: "block" (default) | "full" | "none"
    seed = 42                             # optional: fixed trial order and jitter
    affected_hand = "left"                # optional: "left" | "right"; the class
                                          # "affected_hand" becomes "left_hand"/"right_hand"

    [timing]                              # required, all in seconds
    baseline_s = 20.0   # rest once, at the start of the run (>= 0)
    fixation_s = 2.0    # fixation cross before each trial (>= 0; 0: none)
    cue_s = 1.0         # class cue shown before imagery starts (>= 0; 0: the cue appears
                        # at imagery onset and stays on during imagery)
    imagery_s = 4.0     # the task period itself (> 0); it FOLLOWS the cue period
    iti_min_s = 1.5     # rest after each trial, drawn uniformly in [iti_min_s, iti_max_s]
    iti_max_s = 3.0

    [markers]                             # optional: class -> marker string sent at
    left_hand = "left_hand"               # imagery onset (default: the class name)

A trial is ``fixation -> cue -> imagery -> inter-trial rest``; on an online run the feedback
is shown during the imagery period. Randomisation: ``"block"`` repeats blocks that contain
every class once, each block shuffled; ``"full"`` shuffles all trials together; ``"none"``
alternates the classes in the listed order.
"""

import tomllib
from dataclasses import asdict, dataclass, field, fields, replace
from pathlib import Path

from .._logging import logger
from ..errors import ConfigError
from ..resources import find_file, list_files
from ._rules import (
    AFFECTED_HAND,
    AFFECTED_SIDES,
    ALLOWED_CLASSES,
    CUE_PREFIX,
    MARKER_BASELINE,
    MARKER_FIXATION,
    MARKER_IDLE,
    MARKER_PAUSE,
    MARKER_RESUME,
    MARKER_RUN_ABORTED,
    MARKER_RUN_END,
    MARKER_RUN_START,
    RANDOMISATIONS,
    RESERVED_MARKERS,
    RUN_TYPES,
    check,
    message,
)

__all__ = [
    "AFFECTED_HAND", "AFFECTED_SIDES", "ALLOWED_CLASSES", "CUE_PREFIX", "DEMO_MAX_BASELINE_S",
    "MARKER_BASELINE", "MARKER_FIXATION", "MARKER_IDLE", "MARKER_PAUSE", "MARKER_RESUME",
    "MARKER_RUN_ABORTED", "MARKER_RUN_END", "MARKER_RUN_START", "RANDOMISATIONS",
    "RESERVED_MARKERS", "RUN_TYPES",
    "Protocol", "Timing", "list_protocols", "load_protocol", "protocol_from_dict",
    "protocol_path",
]


#: Longest baseline of a protocol shortened for a quick demo (:meth:`Protocol.shortened`), s.
DEMO_MAX_BASELINE_S = 3.0


@dataclass(frozen=True)
class Timing:
    """Durations of the phases of a run, in seconds (see the module docstring).

    Attributes
    ----------
    baseline_s : float
        Rest once at the start of the run (>= 0).
    fixation_s : float
        Fixation cross at the start of each trial (>= 0; 0: no fixation phase).
    cue_s : float
        Class cue shown before imagery starts (>= 0; 0: the cue appears at imagery onset).
    imagery_s : float
        Imagery (task) period, after the cue period (> 0). Online feedback is shown during
        this period.
    iti_min_s, iti_max_s : float
        Range of the rest after each trial (> 0), drawn uniformly.
    """

    baseline_s: float
    fixation_s: float
    cue_s: float
    imagery_s: float
    iti_min_s: float
    iti_max_s: float

    @property
    def iti_mean_s(self):
        """Mean inter-trial rest, in seconds."""
        return (self.iti_min_s + self.iti_max_s) / 2

    @property
    def trial_s(self):
        """Mean duration of one trial (fixation, cue, imagery and rest), in seconds."""
        return self.fixation_s + self.cue_s + self.imagery_s + self.iti_mean_s

    def scaled(self, factor):
        """A copy with every duration multiplied by ``factor`` (quick demos and tests)."""
        return Timing(**{f.name: getattr(self, f.name) * factor for f in fields(self)})


@dataclass(frozen=True)
class Protocol:
    """A validated run description.

    Construct it with :func:`load_protocol` (from a file) or :func:`protocol_from_dict`; a
    direct construction (or :func:`dataclasses.replace`) is validated the same way, by the
    schema of :class:`bci_app.protocol._rules.ProtocolFields`.

    Attributes
    ----------
    name : str
    run_type : {"calibration", "online"}
    classes : tuple of str
        Two or more distinct classes of :data:`ALLOWED_CLASSES` (an ``"affected_hand"``
        alias is already resolved).
    trials_per_class : int
    timing : Timing
    description : str
    feedback : bool | None
        Feedback during imagery; online runs only. None: true for online runs, false for
        calibration runs.
    randomisation : {"block", "full", "none"}
    markers : dict of str to str
        Class -> marker string sent at imagery onset; missing classes default to their name.
    seed : int | None
        Seed of the trial order and jitter; None: a new order at every run.
    affected_hand : {"left", "right"} | None
        The side the ``"affected_hand"`` alias stands for.
    source : str
        Where the protocol comes from (file path), named in error messages.
    """

    name: str
    run_type: str
    classes: tuple
    trials_per_class: int
    timing: Timing
    description: str = ""
    feedback: bool = None
    randomisation: str = "block"
    markers: dict = field(default_factory=dict)
    seed: int = None
    affected_hand: str = None
    source: str = field(default="<protocol>", compare=False)

    def __post_init__(self):
        given = {f.name: getattr(self, f.name) for f in fields(self) if f.name != "source"}
        if isinstance(self.timing, Timing):
            given["timing"] = asdict(self.timing)
        checked = check(given, self.source)
        for name, value in checked:
            object.__setattr__(self, name, value)
        object.__setattr__(self, "timing", Timing(**checked.timing.model_dump()))

    # -- derived values -------------------------------------------------------------------
    @property
    def n_trials(self):
        """Number of trials in the run."""
        return self.trials_per_class * len(self.classes)

    @property
    def class_of_marker(self):
        """dict: marker string sent at imagery onset -> class."""
        return {code: cls for cls, code in self.markers.items()}

    def total_duration(self):
        """Expected duration of the run in seconds (the mean inter-trial rest per trial).

        Returns
        -------
        seconds : float
            ``baseline_s + n_trials * (fixation_s + cue_s + imagery_s + mean ITI)``; a given
            schedule differs by the jitter of the inter-trial rests.
        """
        return self.timing.baseline_s + self.n_trials * self.timing.trial_s

    def with_timing(self, **changes):
        """A copy with some durations changed (validated), e.g. ``with_timing(cue_s=0)``."""
        return replace(self, timing=replace(self.timing, **changes))

    def scaled(self, factor):
        """A copy with every duration multiplied by ``factor`` (quick demos and tests)."""
        return replace(self, timing=self.timing.scaled(factor))

    def shortened(self, time_scale, min_imagery_s=0.0):
        """The protocol of a quick demo: every duration times ``time_scale``, with the
        baseline at most :data:`DEMO_MAX_BASELINE_S` and imagery at least ``min_imagery_s``.

        The one rule by which a demo shortens a run (the GUI's run panel, the autopilot and
        its benchmark): a scaled baseline needs no more than a few seconds of rest, and
        imagery shorter than a decoder's window (plus its step) would give no window inside
        the imagery at all.

        Parameters
        ----------
        time_scale : float
            Factor of every duration, > 0; 1: the protocol as it is (no cap, no floor).
        min_imagery_s : float
            Shortest imagery period of the shortened protocol, s (>= 0).

        Returns
        -------
        protocol : Protocol
            A validated copy (``self`` itself when ``time_scale`` is 1).

        Raises
        ------
        ConfigError
            A time scale that is not > 0, or a negative ``min_imagery_s``.
        """
        time_scale, min_imagery_s = float(time_scale), float(min_imagery_s)
        if not time_scale > 0:
            raise ConfigError(f"protocol {self.name!r}: time scale {time_scale:g}: give a "
                              "factor > 0 (e.g. 0.5 to run every phase twice as fast).")
        if not min_imagery_s >= 0:
            raise ConfigError(f"protocol {self.name!r}: shortest imagery {min_imagery_s:g} "
                              "s: give a duration >= 0 s.")
        if time_scale == 1.0:
            return self
        timing = self.timing.scaled(time_scale)
        return replace(self, timing=replace(
            timing, baseline_s=min(timing.baseline_s, DEMO_MAX_BASELINE_S),
            imagery_s=max(timing.imagery_s, min_imagery_s)))

    def __str__(self):
        return (f"{self.name} ({self.run_type}{', feedback' if self.feedback else ''}): "
                f"{' vs '.join(self.classes)}, {self.trials_per_class} trials per class, "
                f"~{self.total_duration() / 60:.1f} min")


def protocol_from_dict(data, source="<dict>", affected_hand=None):
    """Build and validate a :class:`Protocol` from parsed TOML.

    Parameters
    ----------
    data : dict
        The file's content (see the module docstring).
    source : str
        Named in error messages (the file path).
    affected_hand : {"left", "right"} | None
        Overrides the file's ``affected_hand``.

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ConfigError
        On any missing, unknown or invalid field (all of them in one message).
    """
    table = isinstance(data, dict)
    side = affected_hand if affected_hand is not None else \
        data.get("affected_hand") if table else None
    if table and side in AFFECTED_SIDES:  # the alias becomes the hand: classes, [markers]
        data, hand = {**data, "affected_hand": side}, f"{side}_hand"
        if isinstance(data.get("classes"), list):
            if AFFECTED_HAND not in data["classes"]:
                logger.info("protocol %s: affected_hand=%r unused (no '%s' class).", source,
                            side, AFFECTED_HAND)
            data["classes"] = [hand if c == AFFECTED_HAND else c for c in data["classes"]]
        if isinstance(data.get("markers"), dict):
            data["markers"] = {(hand if k == AFFECTED_HAND else k): v
                               for k, v in data["markers"].items()}
    checked = check(data, source)
    return Protocol(**{**dict(checked), "timing": Timing(**checked.timing.model_dump())},
                    source=source)


def _resolve_path(path):
    path = Path(path)
    if path.is_file():
        return path
    if path.suffix == "" and len(path.parts) == 1:  # a protocol's name
        found = find_file("protocols", path.name)
        if found is not None:
            return found
    available = ", ".join(list_protocols()) or "none"
    raise ConfigError(message(
        path, "protocol file not found", f"an existing .toml file, or the name of a shipped "
        f"or user protocol ({available})", "Check the path."))


def list_protocols():
    """Names of the available protocols: the shipped ones and the user's own.

    See :mod:`bci_app.resources` (a user protocol with a shipped one's name replaces it).
    """
    return list(list_files("protocols"))


def protocol_path(name):
    """The file of the protocol called ``name`` (see :func:`list_protocols`)."""
    return _resolve_path(name)


def load_protocol(path, affected_hand=None):
    """Read and validate a protocol file.

    Parameters
    ----------
    path : str | pathlib.Path
        A TOML file, or the name of a shipped protocol (e.g. ``"left_right_hand"``).
    affected_hand : {"left", "right"} | None
        Side of the patient's affected hand; overrides the file's ``affected_hand`` (only
        used by protocols whose classes contain ``"affected_hand"``).

    Returns
    -------
    protocol : Protocol

    Raises
    ------
    ConfigError
        When the file is missing, is not valid TOML, or any field is missing, unknown or
        invalid. The message names the file, the field and the allowed values.
    """
    path = _resolve_path(path)
    try:
        text = path.read_bytes().decode("utf-8")
    except UnicodeDecodeError as exc:
        raise ConfigError(message(path, f"not UTF-8 text ({exc})", "a UTF-8 TOML file",
                                   "Save the file as UTF-8.")) from exc
    except OSError as exc:
        raise ConfigError(message(path, f"cannot be read ({exc})", "a readable file",
                                   "Check the path and permissions.")) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(message(
            path, f"not valid TOML: {exc}", "TOML syntax (key = value, strings in quotes, "
            "tables as [name])", "Fix the syntax at that line.")) from exc
    if affected_hand is not None and affected_hand not in AFFECTED_SIDES:
        raise ConfigError(message(path, f"affected_hand={affected_hand!r} is invalid",
                                   " | ".join(f'"{s}"' for s in AFFECTED_SIDES),
                                   "Pass the side of the affected hand."))
    protocol = protocol_from_dict(data, source=str(path), affected_hand=affected_hand)
    logger.debug("protocol %s loaded: %s", path, protocol)
    return protocol
