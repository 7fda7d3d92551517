"""What an EEG stream carries and what an :class:`~bci_app.acquisition.stream.EEGInput` hands
out: the channels it reads and their scale to volts, its chunks of samples, the gaps between
them and the events of its status (importable from :mod:`.stream` too)."""

import time
from dataclasses import dataclass, field

import numpy as np

from .._logging import logger
from ..errors import StreamError
from ..protocol.lsl_meta import volts_per_unit
from .clock import REPLAY_MARK

__all__ = ["CLOSED", "CONNECTED", "CONNECTING", "LOST", "WARNING", "Chunk", "Gap",
           "StreamEvent", "is_replay", "select_channels"]

CONNECTING, CONNECTED, LOST, CLOSED = "connecting", "connected", "lost", "closed"
#: Status of an event reporting a fault of the stream's timing (rate, duplicates, timestamps
#: out of order); the stream's own status (:attr:`EEGInput.status`) does not change.
WARNING = "warning"


@dataclass
class Gap:
    """A stretch of time without samples.

    Attributes
    ----------
    start : float
        LSL timestamp of the last sample before the gap.
    end : float | None
        LSL timestamp of the first sample after it (None while it lasts).
    detected : float
        LSL time (``local_clock``) at which the gap was noticed.
    reason : str
        ``"stream lost"``, ``"discontinuity"`` (samples missing) or ``"clock jump"`` (the
        timestamps jumped while the samples went on).
    """

    start: float
    end: float | None
    detected: float
    reason: str = "stream lost"

    @property
    def duration(self):
        """Length of the gap in seconds (None while it lasts)."""
        return None if self.end is None else self.end - self.start


@dataclass
class StreamEvent:
    """A change of a stream's status, or a warning about it, as passed to ``on_status``.

    Attributes
    ----------
    status : str
        ``"connecting"``, ``"connected"``, ``"lost"``, ``"closed"``, or ``"warning"`` (a fault
        of the stream's timing, reported once: effective rate off the declared one, duplicated
        samples, timestamps out of order; the stream stays connected).
    stream : str
        Stream name.
    time : float
        LSL time of the event.
    message : str
        Human-readable description (also logged).
    gap : Gap | None
        The gap that started (``"lost"``) or ended (``"connected"`` after a loss).
    """

    status: str
    stream: str
    time: float
    message: str
    gap: Gap | None = None
    wall_time: float = field(default_factory=time.time)


@dataclass
class Chunk:
    """New samples from an :class:`EEGInput`.

    Attributes
    ----------
    data : ndarray, shape (n_channels, n_samples)
        EEG in volts, channels in the order of :attr:`EEGInput.ch_names`.
    timestamps : ndarray, shape (n_samples,)
        LSL time of each sample (clock-synchronised to this machine, regularised unless
        ``dejitter=False``).
    gap : Gap | None
        When set, these samples follow a gap: state built on earlier samples (filters,
        windows) must be reset before using them.
    received : float
        LSL time at which the first of these samples reached this process.
    local_clock : bool
        The timestamps are on this machine's LSL clock: ``local_clock() - timestamps`` is a
        latency (False for a replay's timestamps, after a clock jump, or without clock
        synchronisation to another machine). See :meth:`EEGInput.latency_of`.
    """

    data: np.ndarray
    timestamps: np.ndarray
    gap: Gap | None = None
    received: float = 0.0
    local_clock: bool = False


def select_channels(stream, desc, channels=None, unit_scale=None):
    """The channels of a connected stream to read, and the factor of each to volts.

    Parameters
    ----------
    stream : mne_lsl.stream.StreamLSL
        Connected.
    desc : StreamDescription
        Its description (named in errors).
    channels : sequence of str | None
        Channels to read, in this order (case-insensitive); None: every channel of type EEG
        (every channel when the stream declares no types).
    unit_scale : float | None
        Factor to volts of every channel, overriding the units the stream declares.

    Returns
    -------
    picks : ndarray of int
        Indices of the channels read, in the stream.
    scale : ndarray of float
        Factor to volts of each, from the unit its ``desc/channels/channel/unit`` declares
        (:func:`~bci_app.protocol.lsl_meta.volts_per_unit`: volts, millivolts, microvolts,
        nanovolts in any usual spelling, or mne-lsl's powers of ten). A channel without a
        unit is taken as volts; one with another unit is used as it is, with a warning.

    Raises
    ------
    StreamError
        A channel of ``channels`` is missing (the message names it and lists the stream's).
    """
    names = list(stream.ch_names)
    if channels is not None:
        lower = [str(n).lower() for n in names]
        missing = [c for c in channels if c.lower() not in lower]
        if missing:
            raise StreamError(
                f"LSL stream {desc.name!r} lacks channel(s) {missing} that the model "
                f"needs; it has {names}. Use the montage the model was trained on, or "
                "train a model on this one.")
        picks = np.array([lower.index(c.lower()) for c in channels])
    else:
        types = stream.get_channel_types()
        eeg = [i for i, t in enumerate(types) if t == "eeg"]
        picks = np.array(eeg if eeg else range(len(names)))
    if unit_scale is not None:
        return picks, np.full(len(picks), float(unit_scale))
    return picks, _unit_scales(stream, desc, picks)


def _unit_scales(stream, desc, picks):
    """Factor to volts of the channels ``picks`` from the units the stream declares."""
    sinfo = getattr(stream, "sinfo", None)
    declared = (sinfo.get_channel_units() if sinfo is not None else None) or []
    names = list(stream.ch_names)
    scale = np.ones(len(picks))
    unknown = []
    for k, pick in enumerate(picks):
        unit = declared[pick] if pick < len(declared) else None
        factor = volts_per_unit(unit)
        if factor is not None:
            scale[k] = factor
        elif unit is not None and str(unit).strip().lower() not in ("", "none"):
            unknown.append(f"{names[pick]} ({unit!r})")
    if unknown:
        logger.warning("EEG input: %r declares channel unit(s) that are not volts, "
                       "millivolts, microvolts or nanovolts: %s; their samples are used as "
                       "they are (set unit_scale / --unit-scale if they are not volts).",
                       desc.name, ", ".join(unknown))
    return scale


def is_replay(stream):
    """True when a connected stream's description says its timestamps are made by a replay
    (:data:`~bci_app.acquisition.clock.REPLAY_MARK`)."""
    try:
        return stream.sinfo.desc.child_value(REPLAY_MARK[0]) == REPLAY_MARK[1]
    except Exception:  # no description
        return False
