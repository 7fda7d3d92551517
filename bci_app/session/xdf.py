"""Reading a recorded run back from its XDF file (complete, or cut by a crash).

:func:`load_xdf_run` picks the run's streams (EEG, the protocol's markers, the decoder's
predictions) by the roles the recording's state file gives them, or by type, and returns
the EEG as an :class:`mne.io.RawArray` in volts with the montage set.

Events: every marker of the protocol becomes an annotation through
:func:`bci_app.protocol.marker_annotations` (onset = marker time, duration = until the next
marker), class markers renamed to their class (``left_hand``...), so the imagery periods
carry the class name and last ``imagery_s``. Onsets are placed on the sample grid by
interpolating the EEG timestamps, so they stay exact even with an amplifier whose real rate
differs slightly from its nominal rate; a break in the EEG timestamps (samples lost on the
way) is annotated ``BAD_gap``. :mod:`bci_app.session.bids` writes them to ``events.tsv``.
"""

import datetime as _dt
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import DataError
from ..protocol.lsl_meta import volts_per_unit

_MNE_TYPES = {"eeg", "eog", "emg", "ecg", "misc", "stim", "resp", "bio", "gsr", "temperature"}


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
        About the EEG stream: name, type, source_id, hostname, manufacturer, model and
        reference (from its ``desc/acquisition`` and ``desc/reference``, XDF meta-data
        conventions; ``"n/a"`` when not declared), sfreq, effective_sfreq, n_samples,
        first/last LSL timestamps, gaps.
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
    xdf_path = Path(xdf_path)
    data, header = _read_xdf(xdf_path)
    eeg, markers_stream, pred_stream = _pick_streams(data, streams, xdf_path)
    ts = np.asarray(eeg["time_stamps"], dtype=float)
    if ts.size == 0:
        raise DataError(f"{xdf_path}: the EEG stream {_first(eeg['info'], 'name')!r} has no "
                        "sample (the run stopped before any data arrived).")
    raw = _eeg_raw(eeg["info"], eeg["time_series"], xdf_path, line_freq)
    meas_date = _header_date(header) if meas_date is None else meas_date
    if meas_date is not None:
        raw.set_meas_date(meas_date.astimezone(_dt.timezone.utc))
    sfreq = float(_first(eeg["info"], "nominal_srate", 0))  # checked by _eeg_raw
    # Sample grid: marker times -> sample positions by interpolating the EEG timestamps.
    index = np.arange(ts.size, dtype=float)
    n_times = raw.n_times

    def to_seconds(t):
        return float(np.interp(t, ts, index, left=0.0, right=n_times - 1.0)) / sfreq

    markers = []
    if markers_stream is not None:
        for stamp, sample in zip(markers_stream["time_stamps"], markers_stream["time_series"],
                                 strict=True):
            text = sample[0] if len(sample) else ""
            markers.append((float(stamp), str(text)))
    gaps = _annotate(raw, ts, sfreq, markers, class_of_marker, to_seconds)
    predictions = None
    if pred_stream is not None:
        predictions = _predictions_frame(pred_stream, to_seconds)
    info = eeg["info"]
    about = {
        "name": str(_first(info, "name")), "type": str(_first(info, "type")),
        "source_id": str(_first(info, "source_id")), "hostname": str(_first(info, "hostname")),
        **_amplifier(_desc(info)),
        "sfreq": sfreq, "effective_sfreq": float(info.get("effective_srate") or 0.0),
        "n_samples": int(ts.size), "first_timestamp": float(ts[0]),
        "last_timestamp": float(ts[-1]), "gaps": int(gaps.size),
    }
    return XdfRun(raw=raw, markers=markers, predictions=predictions, eeg=about)


def _amplifier(desc):
    """Manufacturer, model and reference of an EEG stream's description (XDF conventions:
    ``acquisition/{manufacturer,model}``, ``reference/label``; a bare ``manufacturer``, as
    older streams wrote it, is read too)."""
    def node(name):
        value = _first(desc, name, None)
        return value if isinstance(value, dict) else {}

    acquisition = node("acquisition")
    labels = node("reference").get("label") or []
    labels = [str(x).strip() for x in (labels if isinstance(labels, list) else [labels])]
    manufacturer = _first(acquisition, "manufacturer", "") or _first(desc, "manufacturer", "")
    return {"manufacturer": str(manufacturer or "n/a").strip() or "n/a",
            "model": str(_first(acquisition, "model", "") or "n/a").strip() or "n/a",
            "reference": ", ".join(x for x in labels if x) or "n/a"}


def _read_xdf(xdf_path):
    """(streams, header) of an XDF file, read by pyxdf."""
    import pyxdf

    if not xdf_path.is_file():
        raise DataError(f"{xdf_path}: no such XDF file.")
    try:
        return pyxdf.load_xdf(str(xdf_path), verbose=False)
    except Exception as exc:
        raise DataError(f"{xdf_path}: cannot read the XDF file ({type(exc).__name__}: "
                        f"{exc}); it is kept as it is.") from exc


def _pick_streams(data, streams, xdf_path):
    """The (EEG, markers, predictions) streams of a file; the last two may be None."""
    roles = {s["role"]: s for s in (streams or [])}
    eeg = _pick_stream(data, "eeg", roles.get("eeg") if streams else None, xdf_path)
    markers = _pick_stream(data, "markers", roles.get("markers") if streams else None,
                           xdf_path) if (not streams or "markers" in roles) else None
    predictions = _pick_stream(data, "predictions",
                               roles.get("predictions") if streams else None, xdf_path) \
        if (not streams or "predictions" in roles) else None
    return eeg, markers, predictions


def _eeg_raw(info, time_series, xdf_path, line_freq):
    """The EEG stream as a RawArray in volts, standard montage set, no annotations."""
    import mne

    sfreq = float(_first(info, "nominal_srate", 0) or 0)
    if sfreq <= 0:
        raise DataError(f"{xdf_path}: the EEG stream has no nominal sampling rate (irregular "
                        "stream); it cannot be written as continuous EEG.")
    values = np.asarray(time_series, dtype=float)
    names, types, units = _channels(info, values.shape[1])
    scales = []
    for unit in units:
        if volts_per_unit(unit) is not None:
            scales.append(volts_per_unit(unit))
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
    return raw


def _header_date(header):
    """The recording date of an XDF file's header, or None."""
    stamp = _first(header.get("info", {}), "datetime", "")
    try:
        return _dt.datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%S%z")
    except (TypeError, ValueError):
        return None


def _annotate(raw, ts, sfreq, markers, class_of_marker, to_seconds):
    """Annotate the gaps in the EEG timestamps and the markers; returns the gaps' indices."""
    import mne

    gaps = np.flatnonzero(np.diff(ts) > 2.5 / sfreq)
    onsets, durations, descriptions = [], [], []
    for k in gaps:
        onsets.append((k + 1) / sfreq)
        durations.append(0.0)
        descriptions.append("BAD_gap")
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
    return gaps


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
            frame["decision"] = [_decision_name(c, classes) for c in codes]
        else:
            frame[name] = values[:, k] if values.size else np.empty(0)
    return frame


# ----------------------------------------------------------------------------------------


def _decision_name(code, classes):
    """A decision code of the predictions stream (:class:`bci_app.online.live.OnlineDecoder`)
    as its name: a class index, -1 for a threshold "idle", the artifact code for "no
    decision (artifact)"."""
    from ..online.live import ARTIFACT_CODE
    from ..processing.quality import ARTIFACT

    if 0 <= code < len(classes):
        return classes[code]
    return ARTIFACT if code == ARTIFACT_CODE else "idle"
