"""What a protocol may hold: the allowed values, the reserved markers, and the schema of a
protocol file (pydantic models), with the wording of its errors.

:func:`check` validates a file's fields (or a :class:`~bci_app.protocol.spec.Protocol`'s)
against :class:`ProtocolFields` and turns every error pydantic finds into one
:class:`~bci_app.errors.ConfigError` naming the file, each dotted field (``timing.cue_s``,
``classes[1]``), the allowed values and what to do. The public names are re-exported by
:mod:`bci_app.protocol.spec`.
"""

import difflib
from typing import Annotated, Literal

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    model_validator,
)
from pydantic_core import PydanticCustomError

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
MARKER_RULE = (f"a non-empty string of at most {MAX_MARKER_LEN} characters without "
               "leading/trailing spaces")
EDIT = "Edit this value in the file."


def message(source, problem, allowed, todo):
    return f"protocol {source}: {problem}; allowed: {allowed}. {todo}"


def _problem(text, allowed, todo=EDIT):
    """A validation error worded by the protocol's rules; ``{field}`` in ``text`` becomes
    the dotted field the error is at."""
    return PydanticCustomError("protocol", text, {"allowed": allowed, "todo": todo})


def _options(values):
    return " | ".join(f'"{v}"' for v in values)


def _did_you_mean(name, candidates):
    close = difflib.get_close_matches(str(name), candidates, n=1, cutoff=0.6)
    return f" (did you mean '{close[0]}'?)" if close else ""


# -- the checks pydantic's types do not express ---------------------------------------------
def _class_name(name):
    if name == AFFECTED_HAND:
        raise _problem(f"'{{field}}' = \"{AFFECTED_HAND}\" but no affected_hand is set",
                       f"affected_hand = {' | '.join(repr(s) for s in AFFECTED_SIDES)}",
                       "Add e.g. affected_hand = \"left\" to the file (or pass affected_hand "
                       "to load_protocol).")
    if name not in ALLOWED_CLASSES:
        raise _problem(f"unknown class '{{field}}' = {name!r}"
                       f"{_did_you_mean(name, ALLOWED_CLASSES)}",
                       f"{', '.join(ALLOWED_CLASSES)} (or \"{AFFECTED_HAND}\" with "
                       "affected_hand set)", "Use one of these class names.")
    return name


def _distinct_classes(classes):
    for i, name in enumerate(classes):
        if name in classes[:i]:
            raise _problem(f"duplicate class 'classes[{i}]' = {name!r} (classes: "
                           f"{list(classes)})", "each class once", "Remove the duplicate "
                           "(trials_per_class sets the repetitions).")
    if len(classes) < 2:
        raise _problem(f"'classes' = {list(classes)} has fewer than 2 classes",
                       f"2 or more distinct classes among {list(ALLOWED_CLASSES)}",
                       "Add a class (e.g. \"rest\" for imagery-vs-rest).")
    return classes


def _marker(code):
    if code != code.strip() or not code.isprintable():
        raise ValueError("not a plain string")
    if code.lower() in RESERVED_MARKERS or code.lower().startswith(CUE_PREFIX):
        raise _problem(f"'{{field}}' = {code!r} collides with a reserved control marker",
                       f"any marker except {', '.join(RESERVED_MARKERS)} and markers "
                       f"starting with '{CUE_PREFIX}' (case-insensitive)",
                       "Choose another marker string for this class.")
    return code


def _class_markers(given, classes):
    """The marker of every class (its name by default): distinct, none another class's."""
    for key in given:
        if key not in classes:
            raise _problem(f"'markers.{key}' is not a class of this protocol"
                           f"{_did_you_mean(key, classes)}",
                           f"the classes of 'classes': {', '.join(classes)}",
                           "Rename or remove this marker entry.")
    markers, owner = {c: given.get(c, c) for c in classes}, {}
    for cls, code in markers.items():
        key = code.lower()
        if key in ALLOWED_CLASSES and key != cls:
            raise _problem(f"'markers.{cls}' = {code!r} is the name of another class",
                           f"{cls!r} (the default) or a string that is not a class name "
                           f"({', '.join(ALLOWED_CLASSES)})",
                           "A marker named after another class would be read as that class.")
        if key in owner:
            raise _problem(f"duplicate marker: 'markers.{cls}' = {code!r} is also the marker "
                           f"of '{owner[key]}'", "one distinct marker per class "
                           "(case-insensitive)", "Give each class its own marker.")
        owner[key] = cls
    return markers


# -- the schema -----------------------------------------------------------------------------
def _seconds(high, what, positive=False):
    """A duration field: a finite number of seconds (not a boolean), up to ``high`` (catches
    values typed in milliseconds)."""
    return Field(strict=True, allow_inf_nan=False, le=high, gt=0 if positive else None,
                 ge=None if positive else 0,
                 description=f"a number of seconds {'>' if positive else '>='} 0 and <= "
                             f"{high:g} ({what})")


class TimingFields(BaseModel):
    """The ``[timing]`` table."""

    model_config = ConfigDict(extra="forbid")

    baseline_s: float = _seconds(600, "the rest before the first trial")
    fixation_s: float = _seconds(60, "the fixation cross before each cue")
    cue_s: float = _seconds(60, "the cue shown before imagery starts")
    imagery_s: float = _seconds(60, "the imagery (task) period", positive=True)
    iti_min_s: float = _seconds(60, "the shortest rest after a trial", positive=True)
    iti_max_s: float = _seconds(60, "the longest rest after a trial", positive=True)

    @model_validator(mode="after")
    def _iti_range(self):
        if self.iti_min_s > self.iti_max_s:
            raise _problem(f"'timing.iti_min_s' = {self.iti_min_s!r} is greater than "
                           f"'timing.iti_max_s' = {self.iti_max_s!r}",
                           "iti_min_s <= iti_max_s (equal: no jitter)",
                           "Swap or correct the two values.")
        return self


ClassName = Annotated[str, Field(strict=True), AfterValidator(_class_name)]
Marker = Annotated[str, Field(strict=True, min_length=1, max_length=MAX_MARKER_LEN),
                   AfterValidator(_marker)]


class ProtocolFields(BaseModel):
    """The fields of a protocol file (the module docstring of :mod:`~bci_app.protocol.spec`
    shows one). A field's ``description`` is what it may hold, ``json_schema_extra["todo"]``
    the advice when it does not (default: edit the value)."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(strict=True, pattern=r"\S", description="a non-empty string")
    run_type: Literal[RUN_TYPES] = Field(
        description=_options(RUN_TYPES), json_schema_extra={
            "todo": "Use 'calibration' (no feedback, to train a model) or 'online' (decoder "
                    "running, feedback shown)."})
    classes: Annotated[tuple[ClassName, ...], AfterValidator(_distinct_classes)] = Field(
        description=f"a list of class names, 2 or more distinct classes among "
                    f"{', '.join(ALLOWED_CLASSES)}")
    trials_per_class: int = Field(strict=True, ge=1, le=MAX_TRIALS,
                                  description=f"an integer from 1 to {MAX_TRIALS}")
    timing: TimingFields = Field(
        description=f"a [timing] table with {', '.join(TimingFields.model_fields)}",
        json_schema_extra={"todo": "Write the durations under a [timing] header."})
    description: str = Field("", strict=True, description="a string")
    feedback: bool | None = Field(None, strict=True, description="true | false")
    randomisation: Literal[RANDOMISATIONS] = Field("block", description=_options(RANDOMISATIONS))
    markers: dict[str, Marker] = Field(
        {}, description=f"a [markers] table of class = \"marker\", each marker {MARKER_RULE}",
        json_schema_extra={"todo": "Write the markers under a [markers] header, one "
                                   "class = \"marker\" per line."})
    seed: Annotated[int, Field(strict=True, ge=0)] | None = Field(
        None, description="an integer >= 0, or no seed field (a new order at every run)")
    affected_hand: Literal[AFFECTED_SIDES] | None = Field(
        None, description=_options(AFFECTED_SIDES))

    @model_validator(mode="after")
    def _consistent(self):
        if self.feedback is None:
            self.feedback = self.run_type == "online"
        elif self.feedback and self.run_type == "calibration":
            raise _problem(
                "'feedback' = true on a calibration run (run_type = \"calibration\")",
                "feedback = false with run_type = \"calibration\", feedback = true or false "
                "with run_type = \"online\"", "A calibration run has no trained model to "
                "give feedback from: set feedback = false, or run_type = \"online\".")
        self.markers = _class_markers(self.markers, self.classes)
        return self


# -- errors -----------------------------------------------------------------------------------
def _field(loc):
    """``(info, model, whole)``: the field ``loc`` points into (its ``FieldInfo`` or None),
    the model that holds or would hold it, and whether ``loc`` is that field itself."""
    model, info, holder = ProtocolFields, None, ProtocolFields
    for depth, part in enumerate(loc):
        if not (isinstance(model, type) and issubclass(model, BaseModel)):
            return info, holder, False
        holder, info = model, model.model_fields.get(part)
        if info is None:
            return None, holder, depth == len(loc) - 1
        model = info.annotation
    return info, holder, True


def _explain(error):
    """``(problem, allowed, todo)`` of one error pydantic found."""
    loc, kind, value = error["loc"], error["type"], error["input"]
    dotted = "".join(f"[{p}]" if isinstance(p, int) else f".{p}" for p in loc).lstrip(".")
    if kind == "protocol":
        return (error["msg"].replace("{field}", dotted), error["ctx"]["allowed"],
                error["ctx"]["todo"])
    if not loc:
        return (f"expected a table of fields, got {type(value).__name__} {value!r}",
                "a TOML document", "Check the file's content.")
    info, model, whole = _field(loc)
    prefix, name = dotted.rpartition(".")[0], loc[-1]
    section = f"[{prefix}]" if prefix else "the top level"
    if kind == "extra_forbidden":
        names = list(model.model_fields)
        return (f"unknown field '{dotted}'{_did_you_mean(name, names)}",
                f"the fields of {section}: " + ", ".join(
                    f"{prefix}.{n}" if prefix else n for n in names), "Rename or remove it.")
    if kind == "missing" and prefix:
        return (f"missing required field '{dotted}'", info.description,
                f"Add '{name} = ...' under {section}.")
    if kind == "missing":
        required = [n for n, f in model.model_fields.items() if f.is_required()]
        return (f"missing required field '{dotted}'",
                f"the required fields are {', '.join(required)}",
                f"Add '{name}' to the file (see protocols/left_right_hand.toml).")
    if info is None:  # not a field of the schema (no such error is known)
        return f"'{dotted}' = {value!r}: {error['msg']}", "see protocols/*.toml", EDIT
    todo = (info.json_schema_extra or {}).get("todo", EDIT) if whole else EDIT
    return f"'{dotted}' = {value!r} is invalid", info.description, todo


def check(data, source):
    """``data`` (a protocol file's table) validated: a :class:`ProtocolFields`.

    Raises
    ------
    ConfigError
        Naming ``source``, and every field in error with its allowed values and what to do.
    """
    try:
        return ProtocolFields.model_validate(data)
    except ValidationError as exc:
        found = [_explain(e) for e in exc.errors()]
    if len(found) == 1:
        raise ConfigError(message(source, *found[0])) from None
    raise ConfigError(f"protocol {source}: {len(found)} problems:\n" + "\n".join(
        f"- {problem}; allowed: {allowed}. {todo}" for problem, allowed, todo in found)) \
        from None
