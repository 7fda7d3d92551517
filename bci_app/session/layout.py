"""Where things are in a recordings folder (a BIDS dataset): labels, file names, folders.

Layout of a recordings folder (a BIDS dataset; ``<base>`` is
``sub-<s>_ses-<e>_task-<task>_run-<nn>``)::

    recordings/
      dataset_description.json  participants.tsv  participants.json  README
      sub-<s>/ses-<e>/sub-<s>_ses-<e>_scans.tsv
      sub-<s>/ses-<e>/eeg/<base>_eeg.vhdr|.eeg|.vmrk   BrainVision, float32, volts -> uV
                         <base>_eeg.json               sidecar (amplifier, montage, protocol,
                                                        model, recording status)
                         <base>_events.tsv             the protocol's markers
                         <base>_channels.tsv  sub-<s>_ses-<e>_electrodes.tsv  _coordsystem.json
      sourcedata/sub-<s>/ses-<e>/eeg/<base>_eeg.xdf    the raw recording (LabRecorder)
                                    <base>_recording.json   its state file
                                    <base>_labrecorder.log  LabRecorder's output
      sourcedata/sub-<s>/ses-<e>/sub-<s>_ses-<e>_log.jsonl  the session log
      derivatives/bci-app/sub-<s>/ses-<e>/eeg/<base>_predictions.tsv|.json  online decoding
      derivatives/bci-app/sub-<s>/ses-<e>/models/*.bcimodel  models trained in the session
      derivatives/bci-app/sub-<s>/ses-<e>/online/run-<nn>/   the online decoder's CSV logs

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
#: Name of the log of a session, in ``sourcedata/sub-<s>/ses-<e>/``.
LOG_NAME = "sub-{subject}_ses-{session}_log.jsonl"

_LABEL = re.compile(r"^[A-Za-z0-9]+$")


def ensure_dataset(root):
    """The recordings folder, created with its ``dataset_description.json`` if missing.

    Parameters
    ----------
    root : str | Path

    Returns
    -------
    root : Path

    Raises
    ------
    ConfigError
        If ``root`` exists and is not a folder.
    """
    root = Path(root)
    if root.exists() and not root.is_dir():
        raise ConfigError(f"{root}: not a folder; give the recordings folder.")
    root.mkdir(parents=True, exist_ok=True)
    description = root / "dataset_description.json"
    if not description.exists():
        from .. import __version__

        atomic_write(description, json.dumps({
            "Name": "bci-app recordings", "BIDSVersion": "1.9.0", "DatasetType": "raw",
            "GeneratedBy": [{"Name": "bci-app", "Version": str(__version__),
                             "Description": "motor-imagery sessions recorded with "
                                            "LabRecorder and converted by mne-bids"}],
        }, indent=2) + "\n")
    return root


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
    """``derivatives/bci-app/sub-<s>/ses-<e>`` (created with the pipeline's description)."""
    root = Path(root)
    base = root / DERIVATIVES
    base.mkdir(parents=True, exist_ok=True)
    desc = base / "dataset_description.json"
    if not desc.exists():
        from .. import __version__

        atomic_write(desc, json.dumps({
            "Name": "bci-app online decoding and trained models", "BIDSVersion": "1.9.0",
            "DatasetType": "derivative",
            "GeneratedBy": [{"Name": PIPELINE_NAME, "Version": str(__version__)}],
        }, indent=2) + "\n")
    subject, session = check_label(subject, "subject"), check_label(session, "session")
    return base / f"sub-{subject}" / f"ses-{session}"
