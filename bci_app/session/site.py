"""The site settings, and the EEG settings of a session: what the recordings say about
themselves in BIDS.

The **site settings** describe the lab: who is responsible for the recordings (the
dataset's ``Authors``), its name, licence and README text, the institution, and the
defaults of every session recorded there (the mains frequency, the EEG reference, the
amplifier). They are a TOML file, ``site.toml`` in the user data folder
(:func:`bci_app.resources.user_dir`: ``$BCI_APP_HOME/site.toml`` when set)::

    [dataset]
    name = "Motor-imagery BCI sessions, stroke unit"
    authors = ["A. Author", "B. Author"]
    license = "CC-BY-4.0"
    institution = "University Hospital"
    institution_address = "1 Main Street, Town"
    department = "Neurology"
    description = "Free text placed at the top of the recordings folder's README."

    [eeg]
    line_freq = 50              # Hz: the mains frequency of the site (50 or 60)
    reference = "FCz"           # the EEG reference of the site's caps
    manufacturer = "Brain Products"
    model = "BrainAmp DC"

Every key is optional; without the file the recordings name no author and say the power
line frequency is unknown (``n/a``).

The **EEG settings of a session** (``line_freq``, ``eeg_reference``,
``amplifier_manufacturer``, ``amplifier_model`` in the session's settings, set by
``bci-app session --line-freq/--reference/--manufacturer/--amplifier`` or in the GUI's
*Patient & session* step) win over the amplifier's own stream description
(``desc/acquisition``, ``desc/reference``), which wins over the site's defaults:
:func:`resolve_eeg`.
"""

import tomllib
from dataclasses import dataclass, field
from pathlib import Path

from ..errors import ConfigError

#: File name of the site settings, in the user data folder.
SITE_FILE = "site.toml"
#: The power-line (mains) frequencies there are, Hz.
LINE_FREQUENCIES = (50.0, 60.0)
#: The EEG settings a session stores (keys of its settings), in the order shown.
EEG_SETTINGS = ("line_freq", "eeg_reference", "amplifier_manufacturer", "amplifier_model")
#: What a value that is not known is written as (BIDS).
UNKNOWN = "n/a"

_DATASET_KEYS = {"name", "authors", "license", "institution", "institution_address",
                 "department", "description"}
_EEG_KEYS = {"line_freq", "reference", "manufacturer", "model"}


@dataclass(frozen=True)
class SiteSettings:
    """The site settings (see the module's docstring); None or empty: not given.

    Attributes
    ----------
    source : Path | None
        The file they were read from (None: no file, the defaults).
    """

    name: str = "bci-app recordings"
    authors: tuple = ()
    license: str | None = None
    institution: str | None = None
    institution_address: str | None = None
    department: str | None = None
    description: str = ""
    line_freq: float | None = None
    reference: str | None = None
    manufacturer: str | None = None
    model: str | None = None
    source: Path | None = field(default=None, compare=False)

    def eeg_defaults(self):
        """The site's EEG defaults, as the session settings name them (JSON types)."""
        return {"line_freq": self.line_freq, "eeg_reference": self.reference,
                "amplifier_manufacturer": self.manufacturer,
                "amplifier_model": self.model}

    def institution_fields(self):
        """The BIDS sidecar fields naming the institution (only those given)."""
        fields = {"InstitutionName": self.institution,
                  "InstitutionAddress": self.institution_address,
                  "InstitutionalDepartmentName": self.department}
        return {k: v for k, v in fields.items() if v}


def site_file():
    """Where the site settings are read from (``<user data folder>/site.toml``)."""
    from ..resources import user_dir

    return user_dir() / SITE_FILE


def read_site_settings(path=None):
    """The site settings.

    Parameters
    ----------
    path : str | Path | None
        A ``site.toml`` file; None: :func:`site_file` (the defaults when it does not
        exist).

    Returns
    -------
    settings : SiteSettings

    Raises
    ------
    ConfigError
        The file cannot be read, is not TOML, or holds an unknown key or a bad value (the
        file and the key are named).
    """
    path = Path(path) if path is not None else site_file()
    if not path.is_file():
        return SiteSettings()
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError, tomllib.TOMLDecodeError) as exc:
        raise ConfigError(f"{path}: cannot read the site settings ({exc}). Correct the file "
                          "(TOML: sections [dataset] and [eeg]) or move it away.") from exc
    unknown = sorted(set(data) - {"dataset", "eeg"})
    if unknown:
        raise ConfigError(f"{path}: unknown section(s) {unknown}; the site settings have "
                          "[dataset] and [eeg].")
    dataset, eeg = data.get("dataset", {}), data.get("eeg", {})
    for section, keys, values in (("dataset", _DATASET_KEYS, dataset),
                                  ("eeg", _EEG_KEYS, eeg)):
        if not isinstance(values, dict):
            raise ConfigError(f"{path}: [{section}] must be a table of keys.")
        unknown = sorted(set(values) - keys)
        if unknown:
            raise ConfigError(f"{path}: unknown key(s) {unknown} in [{section}]; known keys: "
                              f"{', '.join(sorted(keys))}.")
    authors = dataset.get("authors", [])
    if isinstance(authors, str):
        authors = [authors]
    if not isinstance(authors, list) or not all(isinstance(a, str) for a in authors):
        raise ConfigError(f"{path}: [dataset] authors must be a list of names, e.g. "
                          '["A. Author", "B. Author"].')
    texts = {}
    for section, values, keys in (("dataset", dataset, _DATASET_KEYS - {"authors"}),
                                  ("eeg", eeg, _EEG_KEYS - {"line_freq"})):
        for key in keys:
            texts[key] = _text(values.get(key), f"{path}: [{section}] {key}")
    return SiteSettings(
        name=texts["name"] or SiteSettings.name,
        authors=tuple(a.strip() for a in authors if a.strip()),
        license=texts["license"], institution=texts["institution"],
        institution_address=texts["institution_address"], department=texts["department"],
        description=texts["description"] or "",
        line_freq=check_line_freq(eeg.get("line_freq"), f"{path}: [eeg] line_freq"),
        reference=texts["reference"], manufacturer=texts["manufacturer"],
        model=texts["model"], source=path)


def _text(value, what):
    """A free-text setting, stripped (None when empty)."""
    if value is None:
        return None
    if not isinstance(value, str):
        raise ConfigError(f"{what} = {value!r}: give a text in quotes.")
    return value.strip() or None


def check_line_freq(value, what="line frequency"):
    """The power-line frequency as a float (50.0 or 60.0), or None when not given.

    Parameters
    ----------
    value : float | int | str | None
        ``50``, ``"60"``, ``"50 Hz"``; None, ``""`` or ``"n/a"``: not given.
    what : str
        The setting's name, for the message.

    Raises
    ------
    ConfigError
        Naming ``what`` and the value.
    """
    if value is None or (isinstance(value, str) and value.strip().lower() in ("", UNKNOWN)):
        return None
    text = str(value).strip().lower().removesuffix("hz").strip()
    try:
        freq = float(text)
    except ValueError:
        freq = None
    if isinstance(value, bool) or freq not in LINE_FREQUENCIES:
        raise ConfigError(f"{what} {value!r}: the power-line (mains) frequency is 50 or 60 "
                          "Hz (50 in most of Europe, Africa, Asia and Oceania, 60 in most "
                          "of the Americas).")
    return freq


def check_eeg_settings(**values):
    """The EEG settings of a session, checked (see :data:`EEG_SETTINGS`).

    Parameters
    ----------
    **values
        ``line_freq`` (50 or 60), ``eeg_reference``, ``amplifier_manufacturer``,
        ``amplifier_model`` (texts); None or empty: not set (the amplifier's stream, then
        the site settings, say it).

    Returns
    -------
    settings : dict
        The given keys only, normalised (None when empty).

    Raises
    ------
    ConfigError
        On an unknown setting or a bad line frequency.
    """
    unknown = sorted(set(values) - set(EEG_SETTINGS))
    if unknown:
        raise ConfigError(f"unknown EEG setting(s) {unknown}; the settings are "
                          f"{', '.join(EEG_SETTINGS)}.")
    out = {}
    for key, value in values.items():
        if key == "line_freq":
            out[key] = check_line_freq(value, "line frequency (Hz)")
        else:
            out[key] = _text(None if value is None else str(value),
                             key.replace("_", " "))
    return out


def resolve_eeg(session=None, stream=None, site=None):
    """The EEG description of a recording: the session's settings, else the amplifier's
    stream, else the site's defaults.

    Parameters
    ----------
    session : dict | None
        The session's EEG settings (:data:`EEG_SETTINGS`; None values: not set).
    stream : dict | None
        What the amplifier's stream says (``manufacturer``, ``model``, ``reference``, as
        :func:`bci_app.session.xdf.load_xdf_run` reads them; ``"n/a"``: not said), and
        ``line_freq`` when the source knows it (the simulated amplifier's mains noise).
    site : dict | None
        The site's defaults (:meth:`SiteSettings.eeg_defaults`).

    Returns
    -------
    eeg : dict
        ``line_freq`` (float or None: unknown), ``eeg_reference``,
        ``amplifier_manufacturer``, ``amplifier_model`` (texts, ``"n/a"`` when unknown).
    """
    session, site = session or {}, site or {}
    stream = {k: v for k, v in (stream or {}).items() if v not in (None, "", UNKNOWN)}
    from_stream = {"line_freq": stream.get("line_freq"),
                   "eeg_reference": stream.get("reference"),
                   "amplifier_manufacturer": stream.get("manufacturer"),
                   "amplifier_model": stream.get("model")}
    out = {}
    for key in EEG_SETTINGS:
        value = next((v for v in (session.get(key), from_stream[key], site.get(key))
                      if v not in (None, "")), None)
        if key == "line_freq":
            out[key] = None if value is None else float(value)
        else:
            out[key] = UNKNOWN if value is None else str(value)
    return out
