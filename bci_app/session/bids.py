"""Conversion of recorded runs (XDF) into BIDS-EEG with mne-bids.

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

Events: every marker of the protocol becomes an annotation through
:func:`bci_app.protocol.marker_annotations` (onset = marker time, duration = until the next
marker), class markers renamed to their class (``left_hand``...), so the imagery periods
carry the class name and last ``imagery_s``. They are written to ``events.tsv`` with the
fixed codes of :data:`EVENT_CODES` (other markers get codes from 100 on), and read back as
annotations by ``mne_bids.read_raw_bids`` (hence by MOABB and the pseudo-online
evaluation). Onsets are placed on the sample grid by interpolating the EEG timestamps, so
they stay exact even with an amplifier whose real rate differs slightly from its nominal
rate; a break in the EEG timestamps (samples lost on the way) is annotated ``BAD_gap``.
"""

import datetime as _dt
import hashlib
import json
import os
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._logging import logger
from .._utils import atomic_write, now_iso
from ..errors import ConfigError, DataError
from . import recorder as _rec

#: Event codes written to events.tsv ("value" column) for the protocol's classes and markers.
EVENT_CODES = {
    "left_hand": 1, "right_hand": 2, "feet": 3, "rest": 4, "both_hands": 5, "tongue": 6,
    "baseline": 10, "fixation": 11, "idle": 12, "pause": 13, "resume": 14,
    "run_start": 20, "run_end": 21, "run_aborted": 22, "BAD_gap": 30,
    "cue_left_hand": 41, "cue_right_hand": 42, "cue_feet": 43, "cue_rest": 44,
    "cue_both_hands": 45, "cue_tongue": 46,
}
#: Folder (under the root) of the app's derived files (predictions, models, online logs).
DERIVATIVES = Path("derivatives") / "bci-app"
#: Name of the pipeline in derivatives/bci-app/dataset_description.json.
PIPELINE_NAME = "bci-app"

_LABEL = re.compile(r"^[A-Za-z0-9]+$")
_UNIT_SCALE = {"v": 1.0, "volt": 1.0, "volts": 1.0, "mv": 1e-3, "millivolt": 1e-3,
               "millivolts": 1e-3, "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microvolt": 1e-6,
               "microvolts": 1e-6, "nv": 1e-9, "nanovolts": 1e-9}
_MNE_TYPES = {"eeg", "eog", "emg", "ecg", "misc", "stim", "resp", "bio", "gsr", "temperature"}


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


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def protocol_record(protocol):
    """What the sidecar says about a protocol: file, fields, and the file's text.

    Returns
    -------
    record : dict
        JSON types only.
    """
    from dataclasses import asdict

    source = str(protocol.source)
    record = {
        "file": source, "name": protocol.name, "run_type": protocol.run_type,
        "feedback": bool(protocol.feedback), "classes": list(protocol.classes),
        "trials_per_class": int(protocol.trials_per_class),
        "randomisation": protocol.randomisation, "markers": dict(protocol.markers),
        "affected_hand": protocol.affected_hand, "timing": asdict(protocol.timing),
        "description": protocol.description,
    }
    path = Path(source)
    if path.is_file():
        record["text"] = path.read_text(encoding="utf-8")
        record["sha256"] = _sha256(path)
    return record


def model_record(path, root=None):
    """What the sidecar says about a trained model: file, checksum and metadata."""
    from ..decoding.persistence import read_model_info

    path = Path(path).resolve()
    meta = read_model_info(path)
    shown = str(path)
    if root is not None:
        try:
            shown = str(path.relative_to(Path(root).resolve()))
        except ValueError:
            pass
    return {"file": shown, "sha256": _sha256(path), "name": meta["name"],
            "classes": meta["classes"], "sfreq": meta["sfreq"],
            "n_channels": len(meta["ch_names"]),
            "window_s": meta["window_s"], "step_s": meta["step_s"], "l_freq": meta["l_freq"],
            "h_freq": meta["h_freq"], "created": meta["created"],
            "trained_on": {k: v for k, v in meta.get("trained_on", {}).items()
                           if k in ("subject", "session", "runs", "windows_per_class",
                                    "training_accuracy")}}


# ----------------------------------------------------------------------------------------
# Reading XDF
# ----------------------------------------------------------------------------------------


def _first(info, key, default=""):
    value = info.get(key)
    if isinstance(value, list):
        value = value[0] if value else default
    return default if value is None else value


def _desc(info):
    desc = info.get("desc")
    if isinstance(desc, list):
        desc = desc[0] if desc else None
    return desc if isinstance(desc, dict) else {}


def _channels(info, n):
    """(names, types, units) from an XDF stream header; defaults when missing."""
    chans = _desc(info).get("channels")
    chans = chans[0] if isinstance(chans, list) and chans else chans
    entries = (chans or {}).get("channel", []) if isinstance(chans, dict) else []
    names, types, units = [], [], []
    for k in range(n):
        entry = entries[k] if k < len(entries) and isinstance(entries[k], dict) else {}
        names.append(str(_first(entry, "label", "") or f"ch{k + 1}"))
        types.append(str(_first(entry, "type", "eeg") or "eeg").lower())
        units.append(str(_first(entry, "unit", "") or "").strip().lower())
    return names, types, units


@dataclass
class XdfRun:
    """A recorded run read from its XDF file.

    Attributes
    ----------
    raw : mne.io.RawArray
        EEG in volts, montage set, annotations from the markers.
    markers : list of (float, str)
        Every marker (LSL time, text).
    predictions : pandas.DataFrame | None
        The decoder's predictions (LSL time, onset in the recording, ``p_<class>``,
        ``decision``), None if the run had no predictions stream.
    eeg : dict
        About the EEG stream: name, source_id, hostname, manufacturer, sfreq,
        effective_sfreq, n_samples, first/last LSL timestamps, gaps.
    """

    raw: object
    markers: list
    predictions: object = None
    eeg: dict = field(default_factory=dict)


def _pick_stream(streams, role, wanted, path):
    """The XDF stream playing ``role``: by name (and source id) if known, else by type."""
    def info(s, key):
        return str(_first(s["info"], key, ""))

    if wanted is not None:
        found = [s for s in streams if info(s, "name") == wanted.get("name")
                 and (not wanted.get("source_id")
                      or info(s, "source_id") == wanted.get("source_id"))]
        if found:
            if len(found) > 1:  # the same stream recorded twice (an inlet re-opened)
                found.sort(key=lambda s: -len(s["time_stamps"]))
            return found[0]
        if role == "eeg":
            raise DataError(f"{path}: no EEG stream named {wanted.get('name')!r} in the file "
                            f"(streams: {[info(s, 'name') for s in streams]}).")
        return None
    stype = {"eeg": "eeg", "markers": "markers", "predictions": "predictions"}.get(role)
    found = [s for s in streams if info(s, "type").lower() == stype]
    if role == "eeg":
        if len(found) != 1:
            raise DataError(f"{path}: expected one stream of type EEG, found {len(found)} "
                            f"(streams: {[(info(s, 'name'), info(s, 'type')) for s in streams]}).")
    return found[0] if found else None


def load_xdf_run(xdf_path, streams=None, class_of_marker=None, line_freq=50.0,
                 meas_date=None):
    """Read a recorded run from an XDF file (complete, or cut by a crash).

    Parameters
    ----------
    xdf_path : str | Path
    streams : list of dict | None
        The state file's ``streams`` (role, name, source_id); None: find the EEG, marker
        and prediction streams by type.
    class_of_marker : dict | None
        Marker -> class (the protocol's ``class_of_marker``).
    line_freq : float
        Power-line frequency written to the recording's info, Hz.
    meas_date : datetime | None
        Recording start (UTC); None: the file header's date.

    Returns
    -------
    run : XdfRun

    Raises
    ------
    DataError
        If the file cannot be read, has no EEG stream, or the EEG stream has no sample.
    """
    import mne
    import pyxdf

    xdf_path = Path(xdf_path)
    if not xdf_path.is_file():
        raise DataError(f"{xdf_path}: no such XDF file.")
    try:
        data, header = pyxdf.load_xdf(str(xdf_path), verbose=False)
    except Exception as exc:
        raise DataError(f"{xdf_path}: cannot read the XDF file ({type(exc).__name__}: "
                        f"{exc}); it is kept as it is.") from exc
    roles = {s["role"]: s for s in (streams or [])}
    eeg = _pick_stream(data, "eeg", roles.get("eeg") if streams else None, xdf_path)
    markers_stream = _pick_stream(data, "markers", roles.get("markers") if streams else None,
                                  xdf_path) if (not streams or "markers" in roles) else None
    pred_stream = _pick_stream(data, "predictions",
                               roles.get("predictions") if streams else None, xdf_path) \
        if (not streams or "predictions" in roles) else None
    ts = np.asarray(eeg["time_stamps"], dtype=float)
    if ts.size == 0:
        raise DataError(f"{xdf_path}: the EEG stream {_first(eeg['info'], 'name')!r} has no "
                        "sample (the run stopped before any data arrived).")
    info = eeg["info"]
    sfreq = float(_first(info, "nominal_srate", 0) or 0)
    if sfreq <= 0:
        raise DataError(f"{xdf_path}: the EEG stream has no nominal sampling rate (irregular "
                        "stream); it cannot be written as continuous EEG.")
    values = np.asarray(eeg["time_series"], dtype=float)
    names, types, units = _channels(info, values.shape[1])
    scales = []
    for unit in units:
        if unit in _UNIT_SCALE:
            scales.append(_UNIT_SCALE[unit])
        elif unit:
            scales.append(1.0)
            logger.warning("%s: unknown unit %r, data kept as they are.", xdf_path, unit)
        else:
            scales.append(None)
    if any(s is None for s in scales):
        guess = 1e-6 if np.nanmax(np.abs(values)) > 0.05 else 1.0
        logger.warning("%s: channels without units; assuming %s.", xdf_path,
                       "microvolts" if guess == 1e-6 else "volts")
        scales = [guess if s is None else s for s in scales]
    values = values * np.asarray(scales)[None, :]
    ch_types = [t if t in _MNE_TYPES else "misc" for t in types]
    mne_info = mne.create_info(names, sfreq, ch_types)
    raw = mne.io.RawArray(values.T, mne_info, verbose="ERROR")
    from ..acquisition.simulation import standard_montage

    raw.set_montage(standard_montage(), match_case=False, on_missing="ignore")
    raw.info["line_freq"] = float(line_freq)
    if meas_date is None:
        stamp = _first(header.get("info", {}), "datetime", "")
        try:
            meas_date = _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
        except (TypeError, ValueError):
            meas_date = None
    if meas_date is not None:
        raw.set_meas_date(meas_date.astimezone(_dt.timezone.utc))
    # Sample grid: marker times -> sample positions by interpolating the EEG timestamps.
    index = np.arange(ts.size, dtype=float)
    n_times = raw.n_times

    def to_seconds(t):
        return float(np.interp(t, ts, index, left=0.0, right=n_times - 1.0)) / sfreq

    gaps = np.flatnonzero(np.diff(ts) > 2.5 / sfreq)
    onsets, durations, descriptions = [], [], []
    for k in gaps:
        onsets.append((k + 1) / sfreq)
        durations.append(0.0)
        descriptions.append("BAD_gap")
    markers = []
    if markers_stream is not None:
        for stamp, sample in zip(markers_stream["time_stamps"], markers_stream["time_series"],
                                 strict=True):
            text = sample[0] if len(sample) else ""
            markers.append((float(stamp), str(text)))
    if markers:
        from ..protocol import marker_annotations

        t0, t_end = ts[0], ts[-1] + 1.0 / sfreq
        for onset, duration, description in marker_annotations(
                markers, origin=t0, end=t_end, class_of_marker=class_of_marker):
            start = to_seconds(t0 + onset)
            stop = to_seconds(t0 + onset + duration) if duration > 0 else start
            onsets.append(start)
            durations.append(max(0.0, stop - start))
            descriptions.append(description)
    if onsets:
        order = np.argsort(onsets, kind="stable")
        raw.set_annotations(mne.Annotations(np.asarray(onsets)[order],
                                            np.asarray(durations)[order],
                                            np.asarray(descriptions, dtype=object)[order]))
    predictions = None
    if pred_stream is not None:
        predictions = _predictions_frame(pred_stream, to_seconds)
    desc = _desc(info)
    about = {
        "name": str(_first(info, "name")), "type": str(_first(info, "type")),
        "source_id": str(_first(info, "source_id")), "hostname": str(_first(info, "hostname")),
        "manufacturer": str(_first(desc, "manufacturer", "") or "n/a"),
        "sfreq": sfreq, "effective_sfreq": float(info.get("effective_srate") or 0.0),
        "n_samples": int(ts.size), "first_timestamp": float(ts[0]),
        "last_timestamp": float(ts[-1]), "gaps": int(gaps.size),
    }
    return XdfRun(raw=raw, markers=markers, predictions=predictions, eeg=about)


def _predictions_frame(stream, to_seconds):
    import pandas as pd

    info = stream["info"]
    values = np.asarray(stream["time_series"], dtype=float)
    names, _, _ = _channels(info, values.shape[1] if values.ndim == 2 else 0)
    classes = str(_first(_desc(info), "classes", "") or "").split(",")
    classes = [c for c in classes if c]
    stamps = np.asarray(stream["time_stamps"], dtype=float)
    frame = pd.DataFrame({"onset": [round(to_seconds(t), 6) for t in stamps],
                          "lsl_time": stamps})
    for k, name in enumerate(names):
        if name == "decision":
            codes = values[:, k].astype(int) if values.size else np.empty(0, int)
            frame["decision"] = [classes[c] if 0 <= c < len(classes) else "idle"
                                 for c in codes]
        else:
            frame[name] = values[:, k] if values.size else np.empty(0)
    return frame


# ----------------------------------------------------------------------------------------
# Writing BIDS
# ----------------------------------------------------------------------------------------


def _event_id(descriptions):
    mapping = {}
    extra = 100
    for desc in sorted(set(descriptions)):
        if desc in EVENT_CODES:
            mapping[desc] = EVENT_CODES[desc]
        else:
            mapping[desc] = extra
            extra += 1
    return mapping


def write_run(run, root, subject, session, task, run_number, sidecar=None, replace=False):
    """Write one run to BIDS (BrainVision, events, sidecars) and its predictions.

    Parameters
    ----------
    run : XdfRun
        From :func:`load_xdf_run`.
    root : str | Path
        The recordings folder (BIDS root).
    subject, session, task : str
        BIDS labels.
    run_number : int
    sidecar : dict | None
        Extra fields for ``_eeg.json`` (JSON types).
    replace : bool
        Replace the run's BIDS files if they exist (only for a conversion of the same
        XDF file that was cut short).

    Returns
    -------
    bids_path : mne_bids.BIDSPath

    Raises
    ------
    DataError
        If the run's EEG file already exists (a recording is never overwritten).
    """
    import mne_bids

    root = Path(root)
    bids_path = bids_path_for(root, subject, session, task, run_number)
    if bids_path.fpath.exists() and not replace:
        raise DataError(f"{bids_path.fpath} already exists: a recording is never "
                        "overwritten. Move it away first to convert this run again.")
    from .store import RecordingStore

    store = RecordingStore(root)
    raw = run.raw
    event_id = _event_id(raw.annotations.description) if len(raw.annotations) else None
    # overwrite=True only lets mne-bids update participants.tsv (rewritten right after from
    # the subjects store) and the session's shared files; the run itself was checked above.
    before = store.read_participants()
    mne_bids.write_raw_bids(raw, bids_path, event_id=event_id, format="BrainVision",
                            allow_preload=True, overwrite=True, verbose="ERROR")
    store.restore_participants(before)
    sidecar_path = bids_path.copy().update(suffix="eeg", extension=".json")
    entries = {"Manufacturer": run.eeg.get("manufacturer", "n/a"),
               "ManufacturersModelName": run.eeg.get("name", "n/a"),
               "RecordingType": "continuous", "EEGReference": "n/a",
               "PowerLineFrequency": raw.info["line_freq"]}
    entries.update(sidecar or {})
    mne_bids.update_sidecar_json(sidecar_path, entries, verbose="ERROR")
    if run.predictions is not None:
        out = derivatives_dir(root, subject, session) / "eeg"
        out.mkdir(parents=True, exist_ok=True)
        base = run_basename(subject, session, task, run_number)
        tsv = out / f"{base}_predictions.tsv"
        run.predictions.to_csv(tsv, sep="\t", index=False, na_rep="n/a", float_format="%.6f")
        columns = {"onset": {"Description": "Time of the window's last sample from the "
                                            "start of the EEG recording", "Units": "s"},
                   "lsl_time": {"Description": "LSL timestamp of the window's last sample",
                                "Units": "s"},
                   "decision": {"Description": "Decided class ('idle' below the decoder's "
                                               "threshold)"}}
        for col in run.predictions.columns:
            if col.startswith("p_"):
                columns[col] = {"Description": f"Smoothed probability of class {col[2:]}"}
        atomic_write(out / f"{base}_predictions.json", json.dumps({
            "Description": "Online decoder output recorded during the run (LSL stream of "
                           "type Predictions).",
            "Sources": [f"bids::{bids_path.fpath.relative_to(root).as_posix()}"],
            **columns}, indent=2) + "\n")
    logger.info("BIDS: wrote %s", bids_path.fpath)
    return bids_path


def convert_recording(state_path, interrupted=None):
    """Convert a recorded run (its XDF and state file) to BIDS, and log it.

    The conversion reads everything from the recording itself (EEG, markers, predictions
    in the XDF; subject, session, protocol and model in the state file), so it works the
    same at the end of a run and on recovery after a crash.

    Parameters
    ----------
    state_path : str | Path
        The ``*_recording.json`` state file (or the XDF file beside it).
    interrupted : bool | None
        Mark the run as interrupted in its sidecar; None: interrupted if the recording has
        neither ``run_end`` nor ``run_aborted`` (the sidecar also says when a run was
        recovered after a crash).

    Returns
    -------
    bids_path : mne_bids.BIDSPath

    Raises
    ------
    DataError
        If the recording cannot be read (the state file then says ``"failed"`` and why;
        the XDF file is never removed).
    """
    state_path = Path(state_path)
    if state_path.suffix == ".xdf":
        state_path = _rec.state_path_for(state_path)
    state = _rec.read_state(state_path)
    if state.get("status") == _rec.RECORDING and _rec.owner_alive(state) \
            and state.get("owner_pid") != os.getpid():
        raise DataError(f"{state_path}: the run is still being recorded by process "
                        f"{state.get('owner_pid')}; stop it first.")
    root = state_path.parents[4]
    xdf_path = state_path.with_name(state["xdf"])
    info = state.get("run", {})
    from .store import RecordingStore, Session

    session = Session(RecordingStore(root), check_label(info["subject"], "subject"),
                      check_label(info["session"], "session"))
    target = bids_path_for(root, info["subject"], info["session"], info["task"], info["run"])
    replace = _partial_conversion(root, state, info)
    if target.fpath.exists() and not replace:
        raise DataError(f"{target.fpath} already exists: a recording is never overwritten "
                        f"(its state file {state_path.name} says {state.get('status')!r}). "
                        "Move the BIDS files away first to convert this run again.")
    try:
        started = _dt.datetime.fromisoformat(state["started"]) if state.get("started") \
            else None
        run = load_xdf_run(xdf_path, state.get("streams"),
                           class_of_marker=info.get("class_of_marker"),
                           line_freq=info.get("line_freq", 50.0), meas_date=started)
        texts = [m for _, m in run.markers]
        ended = "run_end" in texts
        aborted = "run_aborted" in texts
        if interrupted is None:
            interrupted = not (ended or aborted)  # a crash after run_end lost nothing
        status = "interrupted" if interrupted else ("aborted" if aborted else "complete")
        recording = {
            "status": status, "xdf": xdf_path.relative_to(root).as_posix(),
            "recorder": "LabRecorderCLI", "started": state.get("started"),
            "stopped": state.get("stopped"), "recovered": state.get("recovered"),
            "first_lsl_timestamp": run.eeg["first_timestamp"],
            "last_lsl_timestamp": run.eeg["last_timestamp"],
            "effective_sfreq": run.eeg["effective_sfreq"], "gaps": run.eeg["gaps"],
            "markers": len(run.markers),
            "predictions": None if run.predictions is None else int(len(run.predictions)),
            "eeg_stream": {k: run.eeg[k] for k in ("name", "source_id", "hostname")},
        }
        protocol = info.get("protocol") or {}
        sidecar = {
            "TaskDescription": protocol.get("description") or protocol.get("name", "n/a"),
            "Instructions": protocol.get("description", "n/a"),
            "SoftwareVersions": f"bci-app {info.get('bci_app_version', 'n/a')}",
            "BciAppProtocol": protocol or None,
            "BciAppModel": info.get("model"),
            "BciAppAmplifier": info.get("amplifier"),
            "BciAppMontage": "standard 10-05 positions (MNE colin27_1005/standard_1005)",
            "BciAppRecording": recording,
        }
        bids_path = write_run(run, root, info["subject"], info["session"], info["task"],
                              info["run"], sidecar=sidecar, replace=replace)
    except Exception as exc:
        _rec.update_state(state_path, status=_rec.FAILED,
                          error=f"conversion failed: {type(exc).__name__}: {exc}")
        session.log("run_conversion_failed", run=info.get("run"), task=info.get("task"),
                    xdf=xdf_path.name, error=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (DataError, ConfigError)):
            raise
        raise DataError(f"{xdf_path}: conversion to BIDS failed ({type(exc).__name__}: "
                        f"{exc}); the XDF file is kept.") from exc
    rel = bids_path.fpath.relative_to(root).as_posix()
    _rec.update_state(state_path, status=_rec.CONVERTED, bids=rel, converted=now_iso(),
                      run_status=status)
    session.log("run_converted", run=info.get("run"), task=info.get("task"), bids=rel,
                status=status, markers=len(run.markers),
                duration_s=round(run.raw.n_times / run.raw.info["sfreq"], 3))
    return bids_path




def _partial_conversion(root, state, info):
    """True if the run's BIDS files come from an interrupted conversion of this XDF.

    The sidecar's ``BciAppRecording`` is written last: a run without it (or naming the
    same XDF file, while the state file does not say ``"converted"``) was cut short and
    may be written again.
    """
    path = bids_path_for(root, info["subject"], info["session"], info["task"], info["run"])
    if not path.fpath.exists() or state.get("status") == _rec.CONVERTED:
        return False
    sidecar = path.copy().update(extension=".json").fpath
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))["BciAppRecording"]["xdf"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return True
    xdf = (Path(state.get("xdf", ""))).name
    return Path(recorded).name == xdf
