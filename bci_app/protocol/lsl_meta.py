"""Metadata of the application's LSL streams, by the XDF meta-data conventions.

Every stream the application publishes (the EEG of the simulated amplifier, the protocol's
markers, the online decoder's predictions) describes itself the way the XDF meta-data
conventions ask (https://github.com/sccn/xdf/wiki/EEG-Meta-Data), so that any LSL tool
(LabRecorder, an XDF reader, a viewer) understands it without the application:

- a content type spelt as the conventions spell it: ``EEG``, ``Markers`` (LSL compares types
  case-sensitively: a tool looking for type ``EEG`` does not find ``eeg``);
- ``desc/channels/channel/{label,type,unit}`` for every channel, EEG in ``microvolts`` (the
  conventions' preferred unit);
- ``desc/acquisition/{manufacturer,model,...}`` and, for EEG, ``desc/reference`` and
  ``desc/cap``.

Reading goes the other way: :func:`volts_per_unit` is the one table of the voltage units an
EEG stream (live or in an XDF file) may declare, and their factor to volts.

This is the lowest layer that publishes LSL streams (the protocol's markers), hence its home;
the acquisition, online and session layers use it.
"""

from decimal import Decimal, InvalidOperation

__all__ = ["EEG_TYPE", "EEG_UNIT", "MANUFACTURER", "MARKERS_TYPE", "PREDICTIONS_TYPE",
           "describe_stream", "volts_per_unit"]

#: Content type of an EEG stream (the conventions' spelling; legacy ``eeg`` is still read).
EEG_TYPE = "EEG"
#: Content type of a marker stream.
MARKERS_TYPE = "Markers"
#: Content type of the online decoder's output (no convention exists for it).
PREDICTIONS_TYPE = "Predictions"
#: Unit of the EEG the application publishes (the conventions' preferred unit).
EEG_UNIT = "microvolts"
#: ``desc/acquisition/manufacturer`` of the streams the application itself makes.
MANUFACTURER = "bci-app"

#: Voltage units (lower case, as streams spell them) and their factor to volts.
_VOLTS = {
    "v": 1.0, "volt": 1.0, "volts": 1.0,
    "mv": 1e-3, "millivolt": 1e-3, "millivolts": 1e-3,
    "uv": 1e-6, "µv": 1e-6, "μv": 1e-6, "microvolt": 1e-6, "microvolts": 1e-6,
    "nv": 1e-9, "nanovolt": 1e-9, "nanovolts": 1e-9,
}
#: Powers of ten mne-lsl writes as units (the FIFF unit multipliers, e.g. ``"-6"``: uV).
_FIFF_MULTIPLIERS = {0, -3, -6, -9, -12}


def volts_per_unit(unit):
    """The factor that turns samples in ``unit`` into volts.

    Parameters
    ----------
    unit : str | None
        A voltage unit as a stream declares it, case-insensitive: ``V``/``volts``,
        ``mV``/``millivolts``, ``uV``/``µV``/``microvolts``, ``nV``/``nanovolts``
        (singular or plural), or a power of ten as mne-lsl writes it (``"0"``, ``"-6"``).

    Returns
    -------
    factor : float | None
        None when ``unit`` is empty or not a voltage unit known here (the caller decides:
        assume volts, guess from the amplitude, or warn).
    """
    text = str(unit or "").strip().lower()
    if not text:
        return None
    if text in _VOLTS:
        return _VOLTS[text]
    try:
        power = Decimal(text)
    except InvalidOperation:
        return None
    if power == int(power) and int(power) in _FIFF_MULTIPLIERS:
        return 10.0 ** int(power)
    return None


def _append(node, name, value):
    """Append ``<name>`` to ``node``: a text value, or a dict of children (nested)."""
    if isinstance(value, dict):
        child = node.append_child(name)
        for key, item in value.items():
            if item is not None:
                _append(child, key, item)
    else:
        node.append_child_value(name, str(value))


def describe_stream(sinfo, labels=None, types=None, units=None, **nodes):
    """Describe an LSL stream (before its outlet is made) by the XDF conventions.

    Parameters
    ----------
    sinfo : mne_lsl.lsl.StreamInfo
        The stream's info (its description is filled in place).
    labels, types, units : sequence of str | str | None
        ``desc/channels/channel/{label,type,unit}`` of every channel, in order (a str: the
        same for every channel; None: not written).
    **nodes
        Other children of ``desc``: a str is written as a text child (``protocol="..."``),
        a dict as a node with children (``acquisition={"manufacturer": ..., "model": ...}``,
        ``reference={"label": ..., "subtracted": ..., "common_average": ...}``); None values
        are skipped.

    Returns
    -------
    sinfo : mne_lsl.lsl.StreamInfo
    """
    if labels is not None:
        sinfo.set_channel_names(list(labels))
    if types is not None:
        sinfo.set_channel_types(types if isinstance(types, str) else list(types))
    if units is not None:
        sinfo.set_channel_units(units if isinstance(units, str) else list(units))
    for name, value in nodes.items():
        if value is not None:
            _append(sinfo.desc, name, value)
    return sinfo
