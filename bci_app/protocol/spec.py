"""Protocol files: what a run shows, in which order, for how long, and which markers it sends.

A protocol is a TOML file (read with the standard library's :mod:`tomllib`). Every error found
on loading raises :class:`~bci_app.errors.ConfigError` with the file, the dotted field (e.g.
``timing.imagery_s``), the allowed values and what to do.

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

import difflib
import math
import tomllib
from dataclasses import dataclass, field, fields
from pathlib import Path

from .._logging import logger
from ..errors import ConfigError
from ..resources import find_file, list_files

#: Classes a protocol may ask for.
ALLOWED_CLASSES = ("left_hand", "right_hand", "feet", "both_hands", "tongue", "rest")
#: Alias, in ``classes`` and ``[markers]``, for the hand named by ``affected_hand``.
AFFECTED_HAND = "affected_hand"
AFFECTED_SIDES = ("left", "right")
RUN_TYPES = ("calibration", "online")
RANDOMISATIONS = ("block", "full", "none")

#: Control markers the runner sends (see :mod:`bci_app.protocol.runner`).
MARKER_RUN_START = "run_start"
MARKER_BASELINE = "baseline"
MARKER_FIXATION = "fixation"
MARKER_IDLE = "idle"
MARKER_PAUSE = "pause"
MARKER_RESUME = "resume"
MARKER_RUN_END = "run_end"
MARKER_RUN_ABORTED = "run_aborted"
#: Prefix of the cue markers (``"cue_left_hand"``).
CUE_PREFIX = "cue_"
#: Markers no class may use (matched case-insensitively): the control markers above, and
#: the other markers the simulated amplifier reads as "rest" ("end", "stop").
RESERVED_MARKERS = (MARKER_RUN_START, MARKER_BASELINE, MARKER_FIXATION, MARKER_IDLE,
                    MARKER_PAUSE, MARKER_RESUME, MARKER_RUN_END, MARKER_RUN_ABORTED,
                    "end", "stop")

_MAX_TRIALS = 1000
_MAX_MARKER_LEN = 64
#: Upper bounds of the durations, in seconds (catch values typed in milliseconds).
_TIMING_LIMITS = {
    "baseline_s": (0.0, 600.0, "the rest before the first trial"),
    "fixation_s": (0.0, 60.0, "the fixation cross before each cue"),
    "cue_s": (0.0, 60.0, "the cue shown before imagery starts"),
    "imagery_s": (0.0, 60.0, "the imagery (task) period"),
    "iti_min_s": (0.0, 60.0, "the shortest rest after a trial"),
    "iti_max_s": (0.0, 60.0, "the longest rest after a trial"),
}
#: Durations that must be > 0 (the others may be 0).
_POSITIVE = ("imagery_s", "iti_min_s", "iti_max_s")

_TOP_REQUIRED = ("name", "run_type", "classes", "trials_per_class", "timing")
_TOP_OPTIONAL = ("description", "feedback", "randomisation", "seed", "affected_hand",
                 "markers")


def _message(source, problem, allowed, todo):
    return f"protocol {source}: {problem}; allowed: {allowed}. {todo}"


def _unknown_field(source, dotted, candidates, section):
    name = dotted.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    prefix = dotted.rsplit(".", 1)[0] + "." if "." in dotted else ""
    return ConfigError(_message(
        source, f"unknown field '{dotted}'{hint}",
        f"the fields of {section}: " + ", ".join(prefix + c for c in candidates),
        "Rename or remove it."))


def _describe(value):
    return f"{type(value).__name__} {value!r}"


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
    direct construction (or :func:`dataclasses.replace`) is validated the same way.

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
        src = self.source
        set_ = object.__setattr__

        def fail(dotted, value, allowed, todo="Edit this value in the file."):
            return ConfigError(_message(src, f"'{dotted}' = {value!r} is invalid", allowed,
                                        todo))

        if not isinstance(self.name, str) or not self.name.strip():
            raise fail("name", self.name, "a non-empty string")
        if not isinstance(self.description, str):
            raise fail("description", self.description, "a string")
        if self.run_type not in RUN_TYPES:
            raise fail("run_type", self.run_type, " | ".join(f'"{t}"' for t in RUN_TYPES),
                       "Use 'calibration' (no feedback, to train a model) or 'online' "
                       "(decoder running, feedback shown).")
        if self.affected_hand is not None and self.affected_hand not in AFFECTED_SIDES:
            raise fail("affected_hand", self.affected_hand,
                       " | ".join(f'"{s}"' for s in AFFECTED_SIDES))
        self._check_classes(fail)
        if isinstance(self.trials_per_class, bool) or not isinstance(self.trials_per_class,
                                                                     int) \
                or not 1 <= self.trials_per_class <= _MAX_TRIALS:
            raise fail("trials_per_class", self.trials_per_class,
                       f"an integer from 1 to {_MAX_TRIALS}")
        self._check_timing(fail)
        if self.feedback is None:
            set_(self, "feedback", self.run_type == "online")
        if not isinstance(self.feedback, bool):
            raise fail("feedback", self.feedback, "true | false")
        if self.feedback and self.run_type == "calibration":
            raise ConfigError(_message(
                src, "'feedback' = true on a calibration run (run_type = \"calibration\")",
                "feedback = false with run_type = \"calibration\", feedback = true or false "
                "with run_type = \"online\"",
                "A calibration run has no trained model to give feedback from: set "
                "feedback = false, or run_type = \"online\"."))
        if self.randomisation not in RANDOMISATIONS:
            raise fail("randomisation", self.randomisation,
                       " | ".join(f'"{r}"' for r in RANDOMISATIONS))
        if self.seed is not None and (isinstance(self.seed, bool)
                                      or not isinstance(self.seed, int) or self.seed < 0):
            raise fail("seed", self.seed, "an integer >= 0, or no seed field (a new order "
                                          "at every run)")
        self._check_markers(fail)

    # -- validation helpers ---------------------------------------------------------------
    def _check_classes(self, fail):
        classes = self.classes
        if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
            raise fail("classes", classes, f"a list of class names among {list(ALLOWED_CLASSES)}")
        for i, name in enumerate(classes):
            if name == AFFECTED_HAND:
                raise ConfigError(_message(
                    self.source, f"'classes[{i}]' = \"{AFFECTED_HAND}\" but no affected_hand "
                    "is set", f"affected_hand = {' | '.join(repr(s) for s in AFFECTED_SIDES)}",
                    "Add e.g. affected_hand = \"left\" to the file (or pass affected_hand "
                    "to load_protocol)."))
            if name not in ALLOWED_CLASSES:
                close = difflib.get_close_matches(str(name), ALLOWED_CLASSES, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(_message(
                    self.source, f"unknown class 'classes[{i}]' = {name!r}{hint}",
                    ", ".join(ALLOWED_CLASSES) + f" (or \"{AFFECTED_HAND}\" with "
                    "affected_hand set)", "Use one of these class names."))
        seen = set()
        for i, name in enumerate(classes):
            if name in seen:
                raise ConfigError(_message(
                    self.source, f"duplicate class 'classes[{i}]' = {name!r} (classes: "
                    f"{list(classes)})", "each class once",
                    "Remove the duplicate (trials_per_class sets the repetitions)."))
            seen.add(name)
        if len(classes) < 2:
            raise ConfigError(_message(
                self.source, f"'classes' = {list(classes)} has fewer than 2 classes",
                f"2 or more distinct classes among {list(ALLOWED_CLASSES)}",
                "Add a class (e.g. \"rest\" for imagery-vs-rest)."))
        object.__setattr__(self, "classes", tuple(classes))

    def _check_timing(self, fail):
        timing = self.timing
        if not isinstance(timing, Timing):
            raise fail("timing", timing, "a [timing] table")
        for name, (low, high, what) in _TIMING_LIMITS.items():
            value = getattr(timing, name)
            positive = name in _POSITIVE
            rule = (f"a number of seconds {'>' if positive else '>='} {low:g} and <= "
                    f"{high:g} ({what})")
            if isinstance(value, bool) or not isinstance(value, (int, float)) \
                    or not math.isfinite(value):
                raise fail(f"timing.{name}", value, rule)
            if value < low or (positive and value <= low) or value > high:
                raise fail(f"timing.{name}", value, rule)
        if timing.iti_min_s > timing.iti_max_s:
            raise ConfigError(_message(
                self.source, f"'timing.iti_min_s' = {timing.iti_min_s!r} is greater than "
                f"'timing.iti_max_s' = {timing.iti_max_s!r}",
                "iti_min_s <= iti_max_s (equal: no jitter)",
                "Swap or correct the two values."))
        object.__setattr__(self, "timing", Timing(*(float(getattr(timing, f.name))
                                                    for f in fields(Timing))))

    def _check_markers(self, fail):
        given = self.markers
        if not isinstance(given, dict):
            raise fail("markers", given, "a [markers] table of class = \"marker\"")
        for key in given:
            if key not in self.classes:
                close = difflib.get_close_matches(str(key), self.classes, n=1)
                hint = f" (did you mean '{close[0]}'?)" if close else ""
                raise ConfigError(_message(
                    self.source, f"'markers.{key}' is not a class of this protocol{hint}",
                    "the classes of 'classes': " + ", ".join(self.classes),
                    "Rename or remove this marker entry."))
        markers = {c: given.get(c, c) for c in self.classes}
        owner = {}
        for cls, code in markers.items():
            dotted = f"markers.{cls}"
            rule = (f"a non-empty string of at most {_MAX_MARKER_LEN} characters without "
                    "leading/trailing spaces")
            if not isinstance(code, str) or not code or code != code.strip() \
                    or len(code) > _MAX_MARKER_LEN or not code.isprintable():
                raise fail(dotted, code, rule)
            key = code.lower()
            if key in RESERVED_MARKERS or key.startswith(CUE_PREFIX):
                raise ConfigError(_message(
                    self.source, f"'{dotted}' = {code!r} collides with a reserved control "
                    "marker", "any marker except " + ", ".join(RESERVED_MARKERS)
                    + f" and markers starting with '{CUE_PREFIX}' (case-insensitive)",
                    "Choose another marker string for this class."))
            if key in ALLOWED_CLASSES and key != cls:
                raise ConfigError(_message(
                    self.source, f"'{dotted}' = {code!r} is the name of another class",
                    f"{cls!r} (the default) or a string that is not a class name "
                    f"({', '.join(ALLOWED_CLASSES)})",
                    "A marker named after another class would be read as that class."))
            if key in owner:
                raise ConfigError(_message(
                    self.source, f"duplicate marker: '{dotted}' = {code!r} is also the marker "
                    f"of '{owner[key]}'", "one distinct marker per class (case-insensitive)",
                    "Give each class its own marker."))
            owner[key] = cls
        object.__setattr__(self, "markers", markers)

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
        from dataclasses import replace

        return replace(self, timing=replace(self.timing, **changes))

    def scaled(self, factor):
        """A copy with every duration multiplied by ``factor`` (quick demos and tests)."""
        from dataclasses import replace

        return replace(self, timing=self.timing.scaled(factor))

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
        On any missing, unknown or invalid field.
    """
    if not isinstance(data, dict):
        raise ConfigError(_message(source, f"expected a table of fields, got {_describe(data)}",
                                   "a TOML document", "Check the file's content."))
    allowed = _TOP_REQUIRED + _TOP_OPTIONAL
    for key in data:
        if key not in allowed:
            raise _unknown_field(source, key, allowed, "the top level")
    for key in _TOP_REQUIRED:
        if key not in data:
            raise ConfigError(_message(
                source, f"missing required field '{key}'",
                f"the required fields are {', '.join(_TOP_REQUIRED)}",
                f"Add '{key}' to the file (see protocols/left_right_hand.toml)."))
    timing = data["timing"]
    if not isinstance(timing, dict):
        raise ConfigError(_message(source, f"'timing' = {timing!r} is not a table",
                                   "a [timing] table with " + ", ".join(_TIMING_LIMITS),
                                   "Write the durations under a [timing] header."))
    names = tuple(_TIMING_LIMITS)
    for key in timing:
        if key not in names:
            raise _unknown_field(source, f"timing.{key}", names, "[timing]")
    for key in names:
        if key not in timing:
            low, high, what = _TIMING_LIMITS[key]
            raise ConfigError(_message(
                source, f"missing required field 'timing.{key}' ({what})",
                f"a number of seconds {'>' if key in _POSITIVE else '>='} {low:g} and <= "
                f"{high:g}", f"Add '{key} = ...' under [timing]."))
    markers = data.get("markers", {})
    if not isinstance(markers, dict):
        raise ConfigError(_message(source, f"'markers' = {markers!r} is not a table",
                                   "a [markers] table of class = \"marker\"",
                                   "Write the markers under a [markers] header."))
    side = affected_hand if affected_hand is not None else data.get("affected_hand")
    classes = data["classes"]
    if side in AFFECTED_SIDES:
        hand = f"{side}_hand"
        if isinstance(classes, list):
            if AFFECTED_HAND not in classes:
                logger.info("protocol %s: affected_hand=%r unused (no '%s' class).", source,
                            side, AFFECTED_HAND)
            classes = [hand if c == AFFECTED_HAND else c for c in classes]
        if AFFECTED_HAND in markers:
            markers = {(hand if k == AFFECTED_HAND else k): v for k, v in markers.items()}
    return Protocol(
        name=data["name"], run_type=data["run_type"], classes=classes,
        trials_per_class=data["trials_per_class"], timing=Timing(**timing),
        description=data.get("description", ""), feedback=data.get("feedback"),
        randomisation=data.get("randomisation", "block"), markers=dict(markers),
        seed=data.get("seed"), affected_hand=side, source=source)


def _resolve_path(path):
    path = Path(path)
    if path.is_file():
        return path
    if path.suffix == "" and len(path.parts) == 1:  # a protocol's name
        found = find_file("protocols", path.name)
        if found is not None:
            return found
    available = ", ".join(list_protocols()) or "none"
    raise ConfigError(_message(
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
        raise ConfigError(_message(path, f"not UTF-8 text ({exc})", "a UTF-8 TOML file",
                                   "Save the file as UTF-8.")) from exc
    except OSError as exc:
        raise ConfigError(_message(path, f"cannot be read ({exc})", "a readable file",
                                   "Check the path and permissions.")) from exc
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(_message(
            path, f"not valid TOML: {exc}", "TOML syntax (key = value, strings in quotes, "
            "tables as [name])", "Fix the syntax at that line.")) from exc
    if affected_hand is not None and affected_hand not in AFFECTED_SIDES:
        raise ConfigError(_message(path, f"affected_hand={affected_hand!r} is invalid",
                                   " | ".join(f'"{s}"' for s in AFFECTED_SIDES),
                                   "Pass the side of the affected hand."))
    protocol = protocol_from_dict(data, source=str(path), affected_hand=affected_hand)
    logger.debug("protocol %s loaded: %s", path, protocol)
    return protocol
