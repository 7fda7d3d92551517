"""What a protocol may hold: the allowed values, the reserved markers, the duration limits,
and the checks of the fields of :class:`~bci_app.protocol.spec.Protocol` against them.

Every check raises :class:`~bci_app.errors.ConfigError` with the protocol's source (its
file), the dotted field, the allowed values and what to do; the public names are
re-exported by :mod:`bci_app.protocol.spec`.
"""

import difflib
import math

from ..errors import ConfigError

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

MAX_TRIALS = 1000
MAX_MARKER_LEN = 64
#: Upper bounds of the durations, in seconds (catch values typed in milliseconds).
TIMING_LIMITS = {
    "baseline_s": (0.0, 600.0, "the rest before the first trial"),
    "fixation_s": (0.0, 60.0, "the fixation cross before each cue"),
    "cue_s": (0.0, 60.0, "the cue shown before imagery starts"),
    "imagery_s": (0.0, 60.0, "the imagery (task) period"),
    "iti_min_s": (0.0, 60.0, "the shortest rest after a trial"),
    "iti_max_s": (0.0, 60.0, "the longest rest after a trial"),
}
#: Durations that must be > 0 (the others may be 0).
POSITIVE = ("imagery_s", "iti_min_s", "iti_max_s")

TOP_REQUIRED = ("name", "run_type", "classes", "trials_per_class", "timing")
TOP_OPTIONAL = ("description", "feedback", "randomisation", "seed", "affected_hand",
                "markers")


def message(source, problem, allowed, todo):
    return f"protocol {source}: {problem}; allowed: {allowed}. {todo}"


def invalid(source, dotted, value, allowed, todo="Edit this value in the file."):
    """The error of a field with a bad value."""
    return ConfigError(message(source, f"'{dotted}' = {value!r} is invalid", allowed, todo))


def unknown_field(source, dotted, candidates, section):
    name = dotted.rsplit(".", 1)[-1]
    close = difflib.get_close_matches(name, candidates, n=1, cutoff=0.6)
    hint = f" (did you mean '{close[0]}'?)" if close else ""
    prefix = dotted.rsplit(".", 1)[0] + "." if "." in dotted else ""
    return ConfigError(message(
        source, f"unknown field '{dotted}'{hint}",
        f"the fields of {section}: " + ", ".join(prefix + c for c in candidates),
        "Rename or remove it."))


def describe(value):
    return f"{type(value).__name__} {value!r}"



def check_classes(classes, source):
    """The classes of a protocol as a tuple, checked: two or more, distinct, allowed."""
    if isinstance(classes, str) or not isinstance(classes, (list, tuple)):
        raise invalid(source, "classes", classes,
                      f"a list of class names among {list(ALLOWED_CLASSES)}")
    for i, name in enumerate(classes):
        if name == AFFECTED_HAND:
            raise ConfigError(message(
                source, f"'classes[{i}]' = \"{AFFECTED_HAND}\" but no affected_hand is set",
                f"affected_hand = {' | '.join(repr(s) for s in AFFECTED_SIDES)}",
                "Add e.g. affected_hand = \"left\" to the file (or pass affected_hand "
                "to load_protocol)."))
        if name not in ALLOWED_CLASSES:
            close = difflib.get_close_matches(str(name), ALLOWED_CLASSES, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(message(
                source, f"unknown class 'classes[{i}]' = {name!r}{hint}",
                ", ".join(ALLOWED_CLASSES) + f" (or \"{AFFECTED_HAND}\" with "
                "affected_hand set)", "Use one of these class names."))
    seen = set()
    for i, name in enumerate(classes):
        if name in seen:
            raise ConfigError(message(
                source, f"duplicate class 'classes[{i}]' = {name!r} (classes: "
                f"{list(classes)})", "each class once",
                "Remove the duplicate (trials_per_class sets the repetitions)."))
        seen.add(name)
    if len(classes) < 2:
        raise ConfigError(message(
            source, f"'classes' = {list(classes)} has fewer than 2 classes",
            f"2 or more distinct classes among {list(ALLOWED_CLASSES)}",
            "Add a class (e.g. \"rest\" for imagery-vs-rest)."))
    return tuple(classes)


def check_durations(timing, source):
    """The durations of a ``Timing`` as a dict of floats, checked against their limits."""
    for name, (low, high, what) in TIMING_LIMITS.items():
        value = getattr(timing, name)
        positive = name in POSITIVE
        rule = (f"a number of seconds {'>' if positive else '>='} {low:g} and <= "
                f"{high:g} ({what})")
        if isinstance(value, bool) or not isinstance(value, (int, float)) \
                or not math.isfinite(value):
            raise invalid(source, f"timing.{name}", value, rule)
        if value < low or (positive and value <= low) or value > high:
            raise invalid(source, f"timing.{name}", value, rule)
    if timing.iti_min_s > timing.iti_max_s:
        raise ConfigError(message(
            source, f"'timing.iti_min_s' = {timing.iti_min_s!r} is greater than "
            f"'timing.iti_max_s' = {timing.iti_max_s!r}",
            "iti_min_s <= iti_max_s (equal: no jitter)",
            "Swap or correct the two values."))
    return {name: float(getattr(timing, name)) for name in TIMING_LIMITS}


def check_markers(given, classes, source):
    """The marker of every class (its name by default), checked: distinct, not reserved."""
    if not isinstance(given, dict):
        raise invalid(source, "markers", given, "a [markers] table of class = \"marker\"")
    for key in given:
        if key not in classes:
            close = difflib.get_close_matches(str(key), classes, n=1)
            hint = f" (did you mean '{close[0]}'?)" if close else ""
            raise ConfigError(message(
                source, f"'markers.{key}' is not a class of this protocol{hint}",
                "the classes of 'classes': " + ", ".join(classes),
                "Rename or remove this marker entry."))
    markers = {c: given.get(c, c) for c in classes}
    owner = {}
    for cls, code in markers.items():
        dotted = f"markers.{cls}"
        rule = (f"a non-empty string of at most {MAX_MARKER_LEN} characters without "
                "leading/trailing spaces")
        if not isinstance(code, str) or not code or code != code.strip() \
                or len(code) > MAX_MARKER_LEN or not code.isprintable():
            raise invalid(source, dotted, code, rule)
        key = code.lower()
        if key in RESERVED_MARKERS or key.startswith(CUE_PREFIX):
            raise ConfigError(message(
                source, f"'{dotted}' = {code!r} collides with a reserved control marker",
                "any marker except " + ", ".join(RESERVED_MARKERS)
                + f" and markers starting with '{CUE_PREFIX}' (case-insensitive)",
                "Choose another marker string for this class."))
        if key in ALLOWED_CLASSES and key != cls:
            raise ConfigError(message(
                source, f"'{dotted}' = {code!r} is the name of another class",
                f"{cls!r} (the default) or a string that is not a class name "
                f"({', '.join(ALLOWED_CLASSES)})",
                "A marker named after another class would be read as that class."))
        if key in owner:
            raise ConfigError(message(
                source, f"duplicate marker: '{dotted}' = {code!r} is also the marker of "
                f"'{owner[key]}'", "one distinct marker per class (case-insensitive)",
                "Give each class its own marker."))
        owner[key] = cls
    return markers
