"""The subjects of a recordings folder: ``participants.tsv`` and its rows (:class:`Subject`).

``participants.tsv`` is the single source of truth for subjects, with the columns of
:data:`PARTICIPANT_COLUMNS` (columns added by other tools are kept), described in
``participants.json``. Both are written atomically.

:class:`~bci_app.session.store.RecordingStore` creates, changes and lists the subjects
(holding its lock); the conversion (:mod:`.bids`) puts back what mne-bids overwrites
(:func:`restore_participants`).
"""

import csv
import json
from dataclasses import dataclass
from pathlib import Path

from .._utils import atomic_write
from ..errors import ConfigError, DataError
from .layout import check_label

#: Columns of participants.tsv written by the store (in this order, then any other column).
PARTICIPANT_COLUMNS = ("participant_id", "age", "sex", "hand", "affected_side", "notes")
#: Allowed values of ``sex`` (BIDS levels) and what they mean.
SEXES = {"M": "male", "F": "female", "O": "other", "n/a": "not given"}
#: Allowed values of ``hand`` (handedness).
HANDS = {"R": "right", "L": "left", "A": "ambidextrous", "n/a": "not given"}
#: Allowed values of ``affected_side`` (e.g. the hemiparetic side after a stroke).
AFFECTED_SIDES = {"left": "left side affected", "right": "right side affected",
                  "both": "both sides affected", "none": "no affected side (e.g. healthy "
                  "participant)", "n/a": "not given"}
_PARTICIPANTS_JSON = {
    "participant_id": {"Description": "Unique participant identifier"},
    "age": {"Description": "Age of the participant when registered", "Units": "year"},
    "sex": {"Description": "Sex of the participant", "Levels": SEXES},
    "hand": {"Description": "Handedness of the participant", "Levels": HANDS},
    "affected_side": {"Description": "Side of the body affected by the condition (e.g. "
                                     "hemiparesis); the protocols' affected_hand", "Levels":
                      AFFECTED_SIDES},
    "notes": {"Description": "Free notes of the experimenter"},
}


def _choice(value, allowed, field, subject):
    if value is None or value == "":
        return "n/a"
    text = str(value).strip()
    for key, meaning in allowed.items():
        if text.lower() in (key.lower(), meaning.lower()):
            return key
    raise ConfigError(f"subject {subject}: {field} {value!r} is not allowed; use one of "
                      + ", ".join(f"{k!r} ({v})" for k, v in allowed.items()) + ".")


@dataclass
class Subject:
    """A participant.

    Attributes
    ----------
    id : str
        BIDS label (letters and digits only, e.g. ``"01"``, ``"P012"``).
    age : int | None
        Years.
    sex : str
        A key of :data:`SEXES`.
    hand : str
        Handedness, a key of :data:`HANDS`.
    affected_side : str
        A key of :data:`AFFECTED_SIDES` (``"n/a"``: not given).
    notes : str
        Free text (tabs and line breaks become spaces).
    """

    id: str
    age: int | None = None
    sex: str = "n/a"
    hand: str = "n/a"
    affected_side: str = "n/a"
    notes: str = ""

    def __post_init__(self):
        self.id = check_label(self.id, "Subject ID")
        if self.age is not None and self.age != "n/a":
            try:
                age = float(self.age)
            except (TypeError, ValueError):
                age = -1
            if not (0 <= age <= 130) or age != int(age):
                raise ConfigError(f"subject {self.id}: age {self.age!r} must be a whole "
                                  "number of years from 0 to 130 (or empty).")
            self.age = int(age)
        else:
            self.age = None
        self.sex = _choice(self.sex, SEXES, "sex", self.id)
        self.hand = _choice(self.hand, HANDS, "hand", self.id)
        self.affected_side = _choice(self.affected_side, AFFECTED_SIDES, "affected_side",
                                     self.id)
        notes = "" if self.notes in (None, "n/a") else str(self.notes)
        self.notes = " ".join(notes.replace("\t", " ").splitlines()).strip()

    @property
    def participant_id(self):
        return f"sub-{self.id}"

    @property
    def sex_text(self):
        """What :attr:`sex` means (``"female"``...; ``"not given"`` for ``n/a``)."""
        return SEXES.get(self.sex, self.sex)

    @property
    def hand_text(self):
        """What :attr:`hand` means (``"right"``...; ``"not given"`` for ``n/a``)."""
        return HANDS.get(self.hand, self.hand)

    @property
    def affected_hand(self):
        """``"left"``/``"right"`` for protocols with an ``affected_hand`` class, else None."""
        return self.affected_side if self.affected_side in ("left", "right") else None

    def row(self):
        """The participants.tsv row (strings, ``n/a`` for missing values)."""
        return {"participant_id": self.participant_id,
                "age": "n/a" if self.age is None else str(self.age), "sex": self.sex,
                "hand": self.hand, "affected_side": self.affected_side,
                "notes": self.notes or "n/a"}

    @classmethod
    def from_row(cls, row):
        get = lambda key: None if row.get(key) in (None, "", "n/a") else row.get(key)  # noqa
        return cls(id=row["participant_id"], age=get("age"), sex=get("sex"),
                   hand=get("hand"), affected_side=get("affected_side"),
                   notes=get("notes") or "")


def participants_tsv(root):
    """``participants.tsv`` of a recordings folder."""
    return Path(root) / "participants.tsv"


def read_participants(root):
    """(columns, rows) of a folder's participants.tsv (rows are dicts of strings).

    Raises
    ------
    DataError
        If the file cannot be read, or has no ``participant_id`` column.
    """
    path = participants_tsv(root)
    if not path.exists():
        return list(PARTICIPANT_COLUMNS), []
    try:
        with open(path, encoding="utf-8", newline="") as f:
            reader = csv.DictReader(f, delimiter="\t")
            rows = [dict(r) for r in reader]
            columns = list(reader.fieldnames or PARTICIPANT_COLUMNS)
    except (OSError, csv.Error, UnicodeDecodeError) as exc:
        raise DataError(f"{path}: cannot be read as a TSV file ({exc}); fix or move it "
                        "(it lists the subjects).") from exc
    if "participant_id" not in columns:
        raise DataError(f"{path}: no participant_id column; fix the file header.")
    return columns, rows


def write_participants(root, rows=None, columns=None):
    """Write a folder's participants.tsv and participants.json (atomically).

    Parameters
    ----------
    root : str | Path
    rows, columns : list | None
        The table; None: the current file (re-sorted, store columns first).
    """
    if rows is None:
        columns, rows = read_participants(root)
    columns = list(PARTICIPANT_COLUMNS) + [c for c in (columns or [])
                                           if c not in PARTICIPANT_COLUMNS]
    rows = sorted(rows, key=lambda r: r["participant_id"])
    lines = ["\t".join(columns)]
    for row in rows:
        lines.append("\t".join(str(row.get(c) or "n/a") for c in columns))
    atomic_write(participants_tsv(root), "\n".join(lines) + "\n")
    described = dict(_PARTICIPANTS_JSON)
    path = Path(root) / "participants.json"
    if path.exists():
        try:
            for key, value in json.loads(path.read_text(encoding="utf-8")).items():
                described.setdefault(key, value)
        except (OSError, json.JSONDecodeError):
            pass
    atomic_write(path, json.dumps({c: described[c] for c in columns if c in described},
                                   indent=2, ensure_ascii=False) + "\n")


def restore_participants(root, before):
    """Put back the store's columns of ``before`` (from :func:`read_participants`).

    mne-bids rewrites participants.tsv from the recording's own (empty) subject
    information; this restores what the store knows, keeping rows and columns added.
    """
    old_columns, old_rows = before
    columns, rows = read_participants(root)
    known = {r["participant_id"]: r for r in old_rows}
    merged = []
    for row in rows:
        previous = known.pop(row["participant_id"], None)
        if previous is not None:
            row = {**row, **{k: v for k, v in previous.items() if v not in (None, "")}}
        merged.append(row)
    merged += list(known.values())
    write_participants(root, merged, old_columns + [c for c in columns
                                                    if c not in old_columns])
