"""Conversion of a recorded run (its XDF and state files) into BIDS-EEG with mne-bids.

:func:`convert_recording` reads everything from the recording itself: the EEG, markers
and predictions from the XDF file (:func:`bci_app.session.xdf.load_xdf_run`), the subject,
session, protocol and model from its state file (:mod:`bci_app.session.state`). It works
the same at the end of a run and on the recovery of a run cut by a crash
(:mod:`bci_app.session.recovery`); it updates the state file and the session log. See
:mod:`bci_app.session.layout` for where the files go.

Events: the annotations of the run (its markers, class markers renamed to their class, and
``BAD_gap``) are written to ``events.tsv`` with the fixed codes of :data:`EVENT_CODES`
(other markers get codes from 100 on), and read back as annotations by
``mne_bids.read_raw_bids`` (hence by MOABB and the pseudo-online evaluation). The BrainVision
marker file names them too (:func:`write_named_markers`), so the class names survive a copy
of the BrainVision files alone, read by any BrainVision reader.
"""

import datetime as _dt
import hashlib
import json
import os
import re
from contextlib import contextmanager
from pathlib import Path

from .._logging import logger
from .._utils import atomic_write, now_iso
from ..errors import ConfigError, DataError
from .layout import (
    bids_path_for,
    check_label,
    derivatives_dir,
    ensure_dataset,
    run_basename,
    write_dataset_files,
)
from .participants import read_participants, restore_participants
from .session_log import SessionLog
from .site import UNKNOWN, resolve_eeg
from .state import (
    CONVERTED,
    FAILED,
    RECORDING,
    owner_alive,
    read_state,
    state_path_for,
    update_state,
)
from .supervision import check_free_space
from .xdf import XdfRun, load_xdf_run  # noqa: F401 - XdfRun: what write_run writes

#: Event codes written to events.tsv ("value" column) for the protocol's classes and markers.
EVENT_CODES = {
    "left_hand": 1, "right_hand": 2, "feet": 3, "rest": 4, "both_hands": 5, "tongue": 6,
    "baseline": 10, "fixation": 11, "idle": 12, "pause": 13, "resume": 14,
    "run_start": 20, "run_end": 21, "run_aborted": 22, "BAD_gap": 30,
    "cue_left_hand": 41, "cue_right_hand": 42, "cue_feet": 43, "cue_rest": 44,
    "cue_both_hands": 45, "cue_tongue": 46,
}


def _sha256(path):
    digest = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def shown_path(path, root=None):
    """A file as a recording's sidecar names it, never by a local absolute path.

    Relative to the recordings folder ``root`` when inside it; else relative to the
    protocols or models folder it comes from (the shipped ones, or the user data folder's),
    as ``"protocols/<name>.toml"``; else its file name alone (the sidecar holds its text
    or checksum).

    Parameters
    ----------
    path : str | Path
    root : str | Path | None

    Returns
    -------
    shown : str
        POSIX separators.
    """
    from ..resources import KINDS, search_path

    path = Path(path).resolve()
    bases = [Path(root).resolve()] if root is not None else []
    for kind in KINDS:
        try:
            bases += [folder.resolve().parent for folder in search_path(kind)
                      if path.is_relative_to(folder.resolve())]
        except ConfigError:  # no shipped folder (a broken install): by name
            continue
    for base in bases:
        if path.is_relative_to(base):
            return path.relative_to(base).as_posix()
    return path.name


def protocol_record(protocol, root=None):
    """What the sidecar says about a protocol: file, fields, and the file's text.

    Parameters
    ----------
    protocol : Protocol
    root : str | Path | None
        The recordings folder: the file is named relative to it, or to the protocols
        folder it comes from (:func:`shown_path`).

    Returns
    -------
    record : dict
        JSON types only.
    """
    from dataclasses import asdict

    source = str(protocol.source)
    path = Path(source)
    record = {
        "file": shown_path(path, root) if path.is_file() else source,
        "name": protocol.name, "run_type": protocol.run_type,
        "feedback": bool(protocol.feedback), "classes": list(protocol.classes),
        "trials_per_class": int(protocol.trials_per_class),
        "randomisation": protocol.randomisation, "markers": dict(protocol.markers),
        "affected_hand": protocol.affected_hand, "timing": asdict(protocol.timing),
        "description": protocol.description,
    }
    if path.is_file():
        record["text"] = path.read_text(encoding="utf-8")
        record["sha256"] = _sha256(path)
    return record


def model_record(path, root=None):
    """What the sidecar says about a trained model: file, checksum and metadata."""
    from ..decoding.persistence import read_model_info

    path = Path(path).resolve()
    meta = read_model_info(path)
    return {"file": shown_path(path, root), "sha256": _sha256(path), "name": meta["name"],
            "classes": meta["classes"], "sfreq": meta["sfreq"],
            "n_channels": len(meta["ch_names"]),
            "window_s": meta["window_s"], "step_s": meta["step_s"], "l_freq": meta["l_freq"],
            "h_freq": meta["h_freq"], "created": meta["created"],
            "trained_on": {k: v for k, v in meta.get("trained_on", {}).items()
                           if k in ("subject", "session", "runs", "windows_per_class",
                                    "training_accuracy")}}


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


#: A marker line of a BrainVision marker file (``Mk<n>=<type>,<description>,...``).
_MARKER_LINE = re.compile(r"^Mk\d+=(?P<type>[^,]*),")


def write_named_markers(vhdr_path, raw):
    """Name every event in a BrainVision marker file by its annotation's description.

    mne-bids writes each event as a ``Stimulus`` marker holding its code (``S  1``): the
    BrainVision files alone, read without ``events.tsv``, lose the class names
    (``mne.io.read_raw_brainvision`` gives ``Stimulus/S  1``). BrainVision markers of type
    ``Stimulus`` may only hold numbers; free text goes in ``Comment`` markers, which is also
    how MNE exports text annotations to BrainVision. So each annotation of ``raw`` becomes a
    ``Comment`` marker holding its description and its duration: MNE reads them back as
    ``Comment/left_hand`` (``ignore_marker_types=True``, or
    :func:`bci_app.acquisition.replay.read_recording`: ``left_hand``), other BrainVision
    readers as a comment marker with that text. The codes stay in ``events.tsv``
    (``value``), the reference for BIDS readers. A ``New Segment`` marker is kept.

    Parameters
    ----------
    vhdr_path : str | Path
        The BrainVision header file (its ``.vmrk`` beside it is rewritten).
    raw : mne.io.Raw
        The recording written there (its annotations and sampling rate).
    """
    vmrk = Path(vhdr_path).with_suffix(".vmrk")
    lines = vmrk.read_text(encoding="utf-8").splitlines()
    header = [line for line in lines if not _MARKER_LINE.match(line)]
    segments = [line.split("=", 1)[1] for line in lines
                if (m := _MARKER_LINE.match(line)) and m["type"] == "New Segment"]
    ann = raw.annotations
    sfreq = raw.info["sfreq"]
    starts = raw.time_as_index(ann.onset, use_rounding=True, origin=ann.orig_time) \
        if len(ann) else []
    entries = list(segments)
    for start, duration, description in zip(starts, ann.duration, ann.description,
                                            strict=True):
        start = int(min(max(start, 0), raw.n_times - 1))
        size = int(min(max(round(duration * sfreq), 0), raw.n_times - start))
        text = " ".join(str(description).split()).replace(",", r"\1")
        entries.append(f"Comment,{text},{start + 1},{size},0")  # positions count from 1
    atomic_write(vmrk, "\n".join(header + [f"Mk{k}={entry}" for k, entry
                                           in enumerate(entries, start=1)]) + "\n")


def write_run(run, root, subject, session, task, run_number, sidecar=None, replace=False,
              eeg=None, presentation=None):
    """Write one run to BIDS (BrainVision, events, sidecars) and its predictions.

    The electrode positions are not written (no ``electrodes.tsv``/``coordsystem.json``):
    the app places the channels at template 10-05 positions by their names, nothing is
    measured on the subject. BIDS-EEG makes ``electrodes.tsv`` OPTIONAL and defines it as
    the location of the electrodes in a coordinate system anchored on the subject's
    landmarks (``CapTrak``: the subject's nasion and preauricular points): template
    positions written there read as this subject's digitisation (mne-bids, EEGLAB and
    FieldTrip apply them as such), and the schema has no field saying "template". The
    channel names and ``EEGPlacementScheme`` say where the electrodes are; a reader that
    needs positions applies the template itself.

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
    eeg : dict | None
        The power line frequency, reference and amplifier
        (:func:`bci_app.session.site.resolve_eeg`); None: the run's stream description
        and ``raw.info["line_freq"]``.
    presentation : dict | None
        ``StimulusPresentation`` of ``_events.json`` (the software that ran the protocol).

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
    ensure_dataset(root)
    raw = run.raw
    if eeg is None:
        eeg = resolve_eeg(stream={**run.eeg, "line_freq": raw.info["line_freq"]})
    raw.info["line_freq"] = eeg["line_freq"]  # None: unknown, written "n/a"
    event_id = _event_id(raw.annotations.description) if len(raw.annotations) else None
    # overwrite=True only lets mne-bids update participants.tsv (rewritten right after from
    # the subjects it held) and the session's shared files; the run itself was checked above.
    before = read_participants(root)
    montage = raw.get_montage()  # template positions: not written (see above)
    if montage is not None:
        raw.set_montage(None)
    try:
        mne_bids.write_raw_bids(raw, bids_path, event_id=event_id, format="BrainVision",
                                allow_preload=True, overwrite=True, readme=False,
                                verbose="ERROR")
    finally:
        if montage is not None:
            raw.set_montage(montage)
    restore_participants(root, before)
    write_dataset_files(root)  # mne-bids' placeholder authors out, the site's in
    write_named_markers(bids_path.fpath, raw)
    sidecar_path = bids_path.copy().update(suffix="eeg", extension=".json")
    entries = {"Manufacturer": eeg["amplifier_manufacturer"],
               "ManufacturersModelName": eeg["amplifier_model"],
               "RecordingType": "continuous", "EEGReference": eeg["eeg_reference"],
               "PowerLineFrequency": UNKNOWN if eeg["line_freq"] is None
               else eeg["line_freq"],
               # the schema's spelling (mne-bids writes "MiscChannelCount")
               "MISCChannelCount": raw.get_channel_types().count("misc")}
    entries.update(sidecar or {})
    mne_bids.update_sidecar_json(sidecar_path, entries, verbose="ERROR")
    events_json = bids_path.copy().update(suffix="events", extension=".json")
    if presentation and events_json.fpath.is_file():
        mne_bids.update_sidecar_json(events_json, {"StimulusPresentation": presentation},
                                     verbose="ERROR")
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
            # "raw": the recordings folder (DatasetLinks of derivatives/bci-app).
            "Sources": [f"bids:raw:{bids_path.fpath.relative_to(root).as_posix()}"],
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
        state_path = state_path_for(state_path)
    state = read_state(state_path)
    if state.get("status") == RECORDING and owner_alive(state) \
            and state.get("owner_pid") != os.getpid():
        raise DataError(f"{state_path}: the run is still being recorded by process "
                        f"{state.get('owner_pid')}; stop it first.")
    root = ensure_dataset(state_path.parents[4])
    xdf_path = state_path.with_name(state["xdf"])
    info = state.get("run", {})
    log = SessionLog(root, check_label(info["subject"], "subject"),
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
                           class_of_marker=info.get("class_of_marker"), meas_date=started)
        status = _run_status(run, interrupted)
        eeg = recording_eeg(info, run.eeg)
        # Room for the BIDS copy first: a write cut by a full disk would leave the folder's
        # shared files (README, dataset_description.json...) truncated.
        check_free_space(root, run.raw.n_times * len(run.raw.ch_names) * 4,
                         min_free=CONVERSION_RESERVE_BYTES, purpose="its BIDS copy",
                         error=DataError, keep="the XDF recording is kept: convert it "
                         "later with `bci-app session --recover`")
        with _shared_files_kept(root):
            bids_path = write_run(run, root, info["subject"], info["session"], info["task"],
                                  info["run"], replace=replace, eeg=eeg,
                                  sidecar=_sidecar(state, run, status, xdf_path, root),
                                  presentation=_presentation(info))
    except Exception as exc:
        update_state(state_path, status=FAILED,
                     error=f"conversion failed: {type(exc).__name__}: {exc}")
        log.log("run_conversion_failed", run=info.get("run"), task=info.get("task"),
                xdf=xdf_path.name, error=f"{type(exc).__name__}: {exc}")
        if isinstance(exc, (DataError, ConfigError)):
            raise
        raise DataError(f"{xdf_path}: conversion to BIDS failed ({type(exc).__name__}: "
                        f"{exc}); the XDF file is kept.") from exc
    rel = bids_path.fpath.relative_to(root).as_posix()
    update_state(state_path, status=CONVERTED, bids=rel, converted=now_iso(),
                 run_status=status)
    log.log("run_converted", run=info.get("run"), task=info.get("task"), bids=rel,
            status=status, markers=len(run.markers),
            duration_s=round(run.raw.n_times / run.raw.info["sfreq"], 3))
    return bids_path


#: Bytes kept free beyond a run's BIDS copy when converting (sidecars, logs, state files).
CONVERSION_RESERVE_BYTES = 2**20
#: Files of the recordings folder that every conversion may rewrite in place.
_SHARED_FILES = ("dataset_description.json", "README", "README.md", "participants.tsv",
                 "participants.json")


@contextmanager
def _shared_files_kept(root):
    """Put the folder's shared files back as they were if the conversion fails midway."""
    before = {}
    for name in _SHARED_FILES:
        path = Path(root) / name
        if path.is_file():
            before[path] = path.read_bytes()
    try:
        yield
    except BaseException:
        for path, data in before.items():
            try:
                if not path.is_file() or path.read_bytes() != data:
                    atomic_write(path, data)
            except OSError as exc:
                logger.error("%s could not be restored after a failed conversion (%s); "
                             "its previous content was %d bytes.", path, exc, len(data))
        raise


def _run_status(run, interrupted):
    """``"interrupted"``, ``"aborted"`` or ``"complete"``, from the run's markers."""
    texts = [m for _, m in run.markers]
    ended = "run_end" in texts
    aborted = "run_aborted" in texts
    if interrupted is None:
        interrupted = not (ended or aborted)  # a crash after run_end lost nothing
    return "interrupted" if interrupted else ("aborted" if aborted else "complete")


def recording_eeg(info, stream):
    """The power line frequency, reference and amplifier of a recorded run
    (:func:`bci_app.session.site.resolve_eeg`): the session's settings stored with the
    recording, else its EEG stream's description, else the site's defaults.

    Parameters
    ----------
    info : dict
        The ``run`` record of the recording's state file
        (:meth:`bci_app.session.Session.start_recording`): ``eeg_settings``,
        ``site`` and ``amplifier``; a record of an earlier version holds ``line_freq``.
    stream : dict
        The EEG stream's description (``XdfRun.eeg``).
    """
    session = dict(info.get("eeg_settings") or {})
    if "eeg_settings" not in info and info.get("line_freq") is not None:
        session["line_freq"] = info["line_freq"]
    amplifier = info.get("amplifier") or {}
    return resolve_eeg(session, {**stream, "line_freq": amplifier.get("line_freq")},
                       (info.get("site") or {}).get("eeg"))


def _presentation(info):
    """``StimulusPresentation`` of a run's events: bci-app ran the protocol, on the
    recording machine's operating system."""
    return {"OperatingSystem": info.get("os") or UNKNOWN, "SoftwareName": "bci-app",
            "SoftwareVersion": str(info.get("bci_app_version") or UNKNOWN)}


def _sidecar(state, run, status, xdf_path, root):
    """The app's fields of a converted run's ``_eeg.json`` (protocol, model, recording)."""
    info = state.get("run", {})
    recording = {
        "status": status, "xdf": xdf_path.relative_to(root).as_posix(),
        "recorder": "LabRecorderCLI", "started": state.get("started"),
        "stopped": state.get("stopped"), "recovered": state.get("recovered"),
        "first_lsl_timestamp": run.eeg["first_timestamp"],
        "last_lsl_timestamp": run.eeg["last_timestamp"],
        "effective_sfreq": run.eeg["effective_sfreq"], "gaps": run.eeg["gaps"],
        "markers": len(run.markers),
        "predictions": None if run.predictions is None else len(run.predictions),
        "eeg_stream": {k: run.eeg[k] for k in ("name", "source_id", "hostname")},
    }
    protocol = info.get("protocol") or {}
    return {
        "TaskDescription": protocol.get("description") or protocol.get("name", "n/a"),
        "Instructions": protocol.get("description") or "n/a",
        "SoftwareVersions": f"bci-app {info.get('bci_app_version', 'n/a')}",
        **((info.get("site") or {}).get("institution") or {}),
        "BciAppProtocol": protocol or None,
        "BciAppModel": info.get("model"),
        "BciAppAmplifier": info.get("amplifier"),
        "BciAppMontage": "channels named by the 10-05 system; positions not measured (not "
                         "written: use a template such as MNE's standard_1005)",
        "BciAppRecording": recording,
    }


def _partial_conversion(root, state, info):
    """True if the run's BIDS files come from an interrupted conversion of this XDF.

    The sidecar's ``BciAppRecording`` is written last: a run without it (or naming the
    same XDF file, while the state file does not say ``"converted"``) was cut short and
    may be written again.
    """
    path = bids_path_for(root, info["subject"], info["session"], info["task"], info["run"])
    if not path.fpath.exists() or state.get("status") == CONVERTED:
        return False
    sidecar = path.copy().update(extension=".json").fpath
    try:
        recorded = json.loads(sidecar.read_text(encoding="utf-8"))["BciAppRecording"]["xdf"]
    except (OSError, KeyError, TypeError, json.JSONDecodeError):
        return True
    xdf = (Path(state.get("xdf", ""))).name
    return Path(recorded).name == xdf
