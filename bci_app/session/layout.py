"""Where things are in a recordings folder (a BIDS dataset): labels, file names, folders.

Layout of a recordings folder (a BIDS dataset; ``<base>`` is
``sub-<s>_ses-<e>_task-<task>_run-<nn>``)::

    recordings/
      dataset_description.json  participants.tsv  participants.json  README
      sub-<s>/ses-<e>/sub-<s>_ses-<e>_scans.tsv
      sub-<s>/ses-<e>/eeg/<base>_eeg.vhdr|.eeg|.vmrk   BrainVision, float32, volts -> uV
                         <base>_eeg.json               sidecar (amplifier, reference, line
                                                        frequency, protocol, model, status)
                         <base>_events.tsv             the protocol's markers
                         <base>_channels.tsv           (no electrodes.tsv: positions are
                                                        not measured, see bids.write_run)
      sourcedata/sub-<s>/ses-<e>/eeg/<base>_eeg.xdf    the raw recording (LabRecorder)
                                    <base>_recording.json   its state file
                                    <base>_labrecorder.log  LabRecorder's output
      sourcedata/sub-<s>/ses-<e>/sub-<s>_ses-<e>_log.jsonl  the session log
      derivatives/bci-app/sub-<s>/ses-<e>/eeg/<base>_predictions.tsv|.json  online decoding
      derivatives/bci-app/sub-<s>/ses-<e>/models/*.bcimodel  models trained in the session
      derivatives/bci-app/sub-<s>/ses-<e>/online/run-<nn>/   the online decoder's CSV logs
      derivatives/bci-app/dataset_description.json  README  .bidsignore  (a derivative
                                                    dataset; .bidsignore: the files above)

The dataset's name, authors, licence and README text come from the site settings
(:mod:`bci_app.session.site`).

The store and its sessions (:mod:`.store`), the session log (:mod:`.session_log`), the
conversion (:mod:`.bids`) and the recovery of interrupted runs (:mod:`.recovery`) find their
files through these functions.
"""

import json
import re
from pathlib import Path

from .._utils import atomic_write
from ..errors import ConfigError

#: Folder (under the root) of the app's derived files (predictions, models, online logs).
DERIVATIVES = Path("derivatives") / "bci-app"
#: Name of the pipeline in derivatives/bci-app/dataset_description.json.
PIPELINE_NAME = "bci-app"
#: The BIDS version the folder is written in (that of mne-bids, which writes the runs).
BIDS_VERSION = "1.9.0"
#: Name of the log of a session, in ``sourcedata/sub-<s>/ses-<e>/``.
LOG_NAME = "sub-{subject}_ses-{session}_log.jsonl"

_LABEL = re.compile(r"^[A-Za-z0-9]+$")


def ensure_dataset(root):
    """The recordings folder, created with its ``dataset_description.json`` and README if
    missing.

    The dataset's name, authors, licence and README text come from the site settings
    (:mod:`bci_app.session.site`); a description or README already there is kept, except
    for what mne-bids writes in place of what it does not know (``[Unspecified]`` names
    and authors, a README of references only), replaced by the site's values (or removed).

    Parameters
    ----------
    root : str | Path

    Returns
    -------
    root : Path

    Raises
    ------
    ConfigError
        If ``root`` exists and is not a folder, or the site settings are bad.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a folder; give the recordings folder.")
    root.mkdir(parents=True, exist_ok=True)
    write_dataset_files(root)
    return root


#: What mne-bids writes for a dataset's name and authors when it is not told them.
_PLACEHOLDERS = ("[Unspecified]", "[Unspecified1]", "[Unspecified2]")
#: The first line of a README mne-bids writes when there is none (references only).
_MNE_BIDS_README = "References\n----------"


def _generated_by(description):
    from .. import __version__

    return [{"Name": PIPELINE_NAME, "Version": str(__version__), "Description": description}]


def write_dataset_files(root, site=None):
    """Write or complete the dataset's ``dataset_description.json`` and README.

    Called when the folder is opened and after each conversion (mne-bids adds placeholder
    authors when the description names none: they are removed again).

    Parameters
    ----------
    root : Path
        The recordings folder (exists).
    site : SiteSettings | None
        None: read them (:func:`bci_app.session.site.read_site_settings`).
    """
    from .site import SiteSettings, read_site_settings

    site = read_site_settings() if site is None else site
    path = Path(root) / "dataset_description.json"
    current = _read_description(path)
    if current is None:
        return
    wanted = {"Name": site.name, "BIDSVersion": BIDS_VERSION, "DatasetType": "raw"}
    if site.license:
        wanted["License"] = site.license
    if site.authors:
        wanted["Authors"] = list(site.authors)
    wanted["GeneratedBy"] = _generated_by("motor-imagery sessions recorded with "
                                          "LabRecorder and converted by mne-bids")
    _complete_description(path, current, wanted, (SiteSettings.name,))
    readme = _readme_path(root)
    if readme is None or _auto_readme(readme):
        atomic_write(readme or Path(root) / "README", dataset_readme(site))


def _read_description(path):
    """A dataset_description.json as a dict ({} if missing; None if unreadable: kept)."""
    from .._logging import logger

    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError) as exc:
        logger.warning("%s cannot be read (%s): left as it is; correct it (JSON).", path, exc)
        return None
    return data if isinstance(data, dict) else None


def _complete_description(path, current, wanted, default_names=()):
    """Fill in the keys of ``wanted`` missing from ``current`` (or holding mne-bids'
    placeholders; a ``Name`` among ``default_names``, the app's own defaults, too), drop
    placeholder authors, and write the file if it changed."""
    data = dict(current)
    for key, value in wanted.items():
        if key not in data or data[key] in _PLACEHOLDERS or (
                key == "Authors" and _placeholder_authors(data[key])) or (
                key == "Name" and data[key] in default_names):
            data[key] = value
    if _placeholder_authors(data.get("Authors")):
        data.pop("Authors")  # no author known: none rather than invented ones
    if data != current or not path.is_file():
        atomic_write(path, json.dumps(data, indent=2, ensure_ascii=False) + "\n")


def _placeholder_authors(authors):
    return isinstance(authors, list) and bool(authors) and all(a in _PLACEHOLDERS
                                                               for a in authors)


def _readme_path(root):
    """The dataset's README (any of the names BIDS allows), or None."""
    for name in ("README", "README.md", "README.rst", "README.txt"):
        if (Path(root) / name).is_file():
            return Path(root) / name
    return None


def _auto_readme(path):
    """True for a README mne-bids wrote by itself (its references only)."""
    try:
        return path.read_text(encoding="utf-8").lstrip().startswith(_MNE_BIDS_README)
    except (OSError, UnicodeDecodeError):
        return False


def dataset_readme(site):
    """The README of a recordings folder, from the site settings (text)."""
    from .. import __version__

    where = f" at {site.institution}" if site.institution else ""
    lines = [site.name, "=" * len(site.name), ""]
    if site.description:
        lines += [site.description.strip(), ""]
    lines += [
        (f"Motor-imagery brain-computer interface sessions recorded{where} with bci-app "
         f"{__version__}: each run's EEG, markers and online decoder output recorded by "
         "LabRecorder (XDF), then converted to BIDS-EEG by mne-bids."),
        "",
        "Contents",
        "--------",
        ("- participants.tsv / participants.json: the subjects (age, sex, handedness, "
         "affected side)."),
        ("- sub-<s>/ses-<e>/eeg/: each run in BrainVision format, its events (_events.tsv: "
         "the protocol's markers; trial_type names the class) and its sidecar (_eeg.json: "
         "amplifier, reference, power line frequency; the protocol, model and recording "
         "status under the BciApp* keys)."),
        "- sourcedata/: the raw XDF recordings and the session logs.",
        ("- derivatives/bci-app/: the online decoder's predictions, the models trained in "
         "each session, the session settings and reports (a BIDS derivative dataset)."),
        "",
        ("Electrode positions were not measured: the channels are named by the 10-05 "
         "system (EEGPlacementScheme); place them with a template montage (e.g. MNE's "
         "standard_1005) if positions are needed."),
        "",
        ("Settings: the dataset's name, authors, licence and this text come from the site "
         "settings of bci-app (site.toml in its user data folder; delete this README to "
         "write it again from them); the power line frequency, reference and amplifier "
         "from each session's settings."),
        "",
        "References",
        "----------",
        ("Pernet, C. R., et al. (2019). EEG-BIDS, an extension to the brain imaging data "
         "structure for electroencephalography. Scientific Data, 6, 103. "
         "https://doi.org/10.1038/s41597-019-0104-8"),
        "",
        ("Appelhoff, S., et al. (2019). MNE-BIDS: Organizing electrophysiological data into "
         "the BIDS format and facilitating their analysis. Journal of Open Source Software, "
         "4(44), 1896. https://doi.org/10.21105/joss.01896"),
    ]
    return "\n".join(lines) + "\n"


#: Longest subject or session label: every file name of a run holds both, with the task
#: and run, and must stay well under the 255 bytes file systems allow.
MAX_LABEL = 32


def check_label(value, what):
    """A BIDS label (letters and digits only) as a string.

    Raises
    ------
    ConfigError
        Naming ``what`` (e.g. ``"subject"``) and the value.
    """
    text = str(value).strip()
    if text.startswith(("sub-", "ses-")):
        text = text[4:]
    if not _LABEL.match(text):
        raise ConfigError(f"{what} {value!r}: a BIDS label holds only letters and digits "
                          "(e.g. 01, P03); no spaces, dashes or underscores.")
    if len(text) > MAX_LABEL:
        raise ConfigError(f"{what} {text[:20]}... ({len(text)} characters): a label has at "
                          f"most {MAX_LABEL} (file names are built from it); use a short "
                          "code such as P03.")
    return text


def task_label(protocol):
    """The BIDS task label of a protocol: its file name in camelCase (``leftRightHand``).

    Parameters
    ----------
    protocol : Protocol | str
        A protocol (its source file's stem is used, else its name), or a name.

    Returns
    -------
    label : str
    """
    source = getattr(protocol, "source", None)
    if source is not None:
        stem = Path(str(source)).stem if str(source) not in ("", "<dict>") else protocol.name
    else:
        stem = str(protocol)
    parts = [p for p in re.split(r"[^A-Za-z0-9]+", stem) if p]
    if not parts:
        raise ConfigError(f"protocol {protocol!r}: no letters or digits to name the task.")
    return parts[0][0].lower() + parts[0][1:] + "".join(p[0].upper() + p[1:]
                                                          for p in parts[1:])


def run_basename(subject, session, task, run):
    """``sub-<s>_ses-<e>_task-<t>_run-<nn>``."""
    return (f"sub-{check_label(subject, 'subject')}_ses-{check_label(session, 'session')}"
            f"_task-{check_label(task, 'task')}_run-{int(run):02d}")


def bids_path_for(root, subject, session, task, run):
    """The :class:`mne_bids.BIDSPath` of a run's EEG file (BrainVision)."""
    from mne_bids import BIDSPath

    return BIDSPath(subject=check_label(subject, "subject"),
                    session=check_label(session, "session"), task=check_label(task, "task"),
                    run=f"{int(run):02d}", datatype="eeg", suffix="eeg", extension=".vhdr",
                    root=Path(root))


def source_xdf_path(root, subject, session, task, run):
    """Where a run's XDF file is recorded: ``sourcedata/sub-/ses-/eeg/<base>_eeg.xdf``."""
    s, e = check_label(subject, "subject"), check_label(session, "session")
    return (Path(root) / "sourcedata" / f"sub-{s}" / f"ses-{e}" / "eeg"
            / f"{run_basename(s, e, task, run)}_eeg.xdf")


def source_dir(root, subject, session):
    """``sourcedata/sub-<s>/ses-<e>`` (the session log; the XDF files under ``eeg/``).

    ``subject`` and ``session`` are BIDS labels (checked by the caller).
    """
    return Path(root) / "sourcedata" / f"sub-{subject}" / f"ses-{session}"


def derivatives_dir(root, subject, session):
    """``derivatives/bci-app/sub-<s>/ses-<e>`` (the derivative dataset created with its
    description, README and ``.bidsignore``: :func:`ensure_derivatives`)."""
    base = ensure_derivatives(root)
    subject, session = check_label(subject, "subject"), check_label(session, "session")
    return base / f"sub-{subject}" / f"ses-{session}"


#: Files of ``derivatives/bci-app`` BIDS has no name for, in its ``.bidsignore`` (the
#: validator skips them): the online decoder's predictions and logs, the trained models,
#: the run records, the session settings and reports. BIDS derivatives name processed
#: data (``desc-``, ``space-``...), not a classifier's output nor the app's own files.
#: Folders without a trailing ``/``: the validator tests a folder's own path without it.
BIDSIGNORE = ("sub-*/ses-*/eeg/*_predictions.tsv", "sub-*/ses-*/eeg/*_predictions.json",
              "sub-*/ses-*/models", "sub-*/ses-*/runs", "sub-*/ses-*/online",
              "sub-*/ses-*/session.json", "sub-*/ses-*/report.html",
              "sub-*/ses-*/r2_map.npz")
#: Roots whose derivative dataset was checked by this process.
_CHECKED = set()


def ensure_derivatives(root, site=None):
    """``derivatives/bci-app``, a BIDS derivative dataset: created (or completed, once per
    process) with its ``dataset_description.json`` (``DatasetType`` derivative,
    ``GeneratedBy``, the raw dataset as its source), README and ``.bidsignore``.

    Parameters
    ----------
    root : str | Path
        The recordings folder.
    site : SiteSettings | None
        None: read them when something is to be written.

    Returns
    -------
    base : Path
    """
    base = Path(root) / DERIVATIVES
    key = str(base.resolve()) if base.exists() else None
    if key is not None and key in _CHECKED and (base / "dataset_description.json").is_file():
        return base
    base.mkdir(parents=True, exist_ok=True)
    from .site import SiteSettings, read_site_settings

    site = read_site_settings() if site is None else site
    path = base / "dataset_description.json"
    current = _read_description(path)
    if current is not None:
        wanted = {"Name": f"{site.name}: bci-app online decoding and trained models",
                  "BIDSVersion": BIDS_VERSION, "DatasetType": "derivative",
                  "GeneratedBy": _generated_by("online decoding (predictions), models "
                                               "trained in each session, session "
                                               "settings and reports"),
                  # The raw recordings, two folders up (a relative link).
                  "DatasetLinks": {"raw": "../../"},
                  "SourceDatasets": [{"URL": "bids:raw:"}]}
        if site.license:
            wanted["License"] = site.license
        if site.authors:
            wanted["Authors"] = list(site.authors)
        _complete_description(path, current, wanted, (
            "bci-app online decoding and trained models",
            f"{SiteSettings.name}: bci-app online decoding and trained models"))
    if _readme_path(base) is None:
        atomic_write(base / "README", derivatives_readme(site))
    ignore = base / ".bidsignore"
    lines = ignore.read_text(encoding="utf-8").splitlines() if ignore.is_file() else []
    missing = [p for p in BIDSIGNORE if p not in lines]
    if missing:
        head = [] if lines else ["# bci-app's files that BIDS has no name for (see README)"]
        atomic_write(ignore, "\n".join(lines + head + missing) + "\n")
    _CHECKED.add(str(base.resolve()))
    return base


def derivatives_readme(site):
    """The README of ``derivatives/bci-app`` (text)."""
    title = "bci-app derivatives"
    return "\n".join([
        title, "=" * len(title), "",
        (f"What bci-app derived from the recordings of {site.name} (the raw BIDS dataset "
         "two folders up), per subject and session (sub-<s>/ses-<e>/):"),
        "",
        ("- eeg/<run>_predictions.tsv / .json: the online decoder's output recorded during "
         "each online run (one row per decision: onset on the run's EEG, LSL time, "
         "probabilities, decided class); the .json describes the columns."),
        ("- models/*.bcimodel: the decoders trained in the session (bci-app's model files, "
         "read with bci_app.decoding.persistence.load_model)."),
        "- online/run-<nn>/: the online decoder's own CSV logs of each online run.",
        "- runs/run-<nn>.json: the record of each run (status, files, summary).",
        "- session.json: the session's settings; report.html, r2_map.npz: its report.",
        "",
        "BIDS has no names for these files: .bidsignore lists them for the BIDS validator.",
    ]) + "\n"
