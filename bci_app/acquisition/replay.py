"""Real-time replay of a recording as LSL streams (``bci-app replay FILE``).

Any file MNE reads (EDF/BDF/GDF/FIF/BrainVision/EEGLAB..., the PhysioNet EDF files, the app's
own recordings) is published through ``mne_lsl.player.PlayerLSL`` at its own sampling rate and
real-time speed:

* ``{name}``: the EEG (float64, volts, channel names and units in the stream description);
* ``{name}-annotations``: the annotations as string markers (their descriptions, after the
  optional event map, e.g. ``T1 -> left_hand``), stamped at their onsets. The string encoding
  carries no duration; the next marker ends a period.

The file is read by :func:`read_recording`, the one reader of a recording file (replay,
training, pseudo-online sweeps, here or on the workers of a cluster, and the GUI): a BIDS run,
the application's own recordings among them, keeps the class names and durations of its
``events.tsv``; channel names are tidied the way MNE's PhysioNet helper does (trailing dots
removed, case of the standard 10-05 names restored: ``Fc5.`` -> ``FC5``), so models bound to
standard names accept the replayed stream, and a replay and a sweep of a file see identical
channels, samples and events.
"""

import time
import warnings
from pathlib import Path

import numpy as np

from .._logging import logger
from ..errors import ConfigError, DataError, StreamError
from .clock import REPLAY_MARK

#: Prefix MNE gives the text of a BrainVision ``Comment`` marker (``Comment/left_hand``).
_COMMENT = "Comment/"


def standard_channel_names(names):
    """Map channel names to the standard 10-05 spelling where they match one.

    Trailing dots and surrounding spaces are removed; a name equal, ignoring case, to a
    standard 10-05 name takes that name's case. Others are kept (stripped).

    Returns
    -------
    mapping : dict
        Old name -> new name, only for names that change.
    """
    from .simulation import standard_montage

    standard = {n.lower(): n for n in standard_montage().ch_names}
    mapping = {}
    for name in names:
        clean = name.strip().rstrip(".").strip()
        new = standard.get(clean.lower(), clean)
        if new != name:
            mapping[name] = new
    if len({mapping.get(n, n) for n in names}) != len(names):
        return {}  # tidying would merge two channels: keep the names as they are
    return mapping


def is_bids_recording(path):
    """True if ``path`` is the EEG file of a BIDS run (``sub-..._eeg.<ext>`` with its
    ``_events.tsv`` beside it)."""
    path = Path(path)
    suffix = f"_eeg{path.suffix}"
    return (path.name.startswith("sub-") and path.name.endswith(suffix)
            and path.with_name(path.name[:-len(suffix)] + "_events.tsv").is_file())


def read_bids_recording(path):
    """A BIDS run's EEG file as an MNE Raw, as recorded: every channel, events from
    ``events.tsv`` (preloaded)."""
    import mne_bids

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such recording (moved or deleted?).")
    try:
        raw = mne_bids.read_raw_bids(mne_bids.get_bids_path_from_fname(path),
                                     verbose="ERROR")
        raw.load_data(verbose="ERROR")
    except Exception as exc:
        raise DataError(f"{path}: cannot be read as a BIDS recording ({exc}).") from exc
    return raw


def read_recording(path, event_map=None):
    """Read a recording file as every command and view reads it (replay, training, sweeps).

    A BIDS run (:func:`is_bids_recording`: the application's own recordings among them) is
    read through mne-bids, so its events keep their names (``left_hand``, ``idle``...) and
    durations as ``events.tsv`` gives them; any other file as ``mne.io.read_raw`` reads it,
    BrainVision ``Comment`` markers as their text (``Comment/left_hand`` -> ``left_hand``:
    how the application, and MNE, write named events to BrainVision, so a copy of the
    application's BrainVision files alone keeps its class names). Either way: EEG channels
    only, channel names in the standard 10-05 spelling (:func:`standard_channel_names`),
    annotations renamed by ``event_map``.

    Parameters
    ----------
    path : str | Path
        A BIDS run's EEG file, or any format ``mne.io.read_raw`` reads.
    event_map : dict | None
        Annotation description -> new description (e.g. ``{"T1": "left_hand"}``). Every key
        must exist in the file.

    Returns
    -------
    raw : mne.io.Raw
        Preloaded, EEG channels only, channel names standardised, annotations renamed.

    Raises
    ------
    DataError
        Missing or unreadable file, unknown annotation in ``event_map``, no EEG channel.
    """
    import mne

    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: no such recording file.")
    if is_bids_recording(path):
        raw = read_bids_recording(path)
    else:
        try:
            raw = mne.io.read_raw(path, preload=True, verbose="error")
        except Exception as err:
            raise DataError(f"{path}: MNE cannot read this file ({err}). Give an EDF, BDF, "
                            "GDF, FIF, BrainVision or EEGLAB recording.") from err
        if path.suffix.lower() == ".vhdr" and len(raw.annotations):
            raw.annotations.description = np.array(
                [d.removeprefix(_COMMENT) for d in raw.annotations.description])
    if "eeg" not in raw.get_channel_types(unique=True):
        raise DataError(f"{path}: no EEG channel (types: "
                        f"{sorted(set(raw.get_channel_types()))}).")
    raw.pick("eeg")
    mapping = standard_channel_names(raw.ch_names)
    if mapping:
        raw.rename_channels(mapping, verbose="error")
    return apply_event_map(raw, event_map, path)


def apply_event_map(raw, event_map, where):
    """Rename annotations in place (``{"T1": "left_hand"}``); every key must be present.

    Parameters
    ----------
    raw : mne.io.Raw
    event_map : dict | None
    where : str | Path
        Named in the error (the recording's file).

    Returns
    -------
    raw : mne.io.Raw
    """
    if event_map:
        present = set(raw.annotations.description)
        unknown = sorted(set(event_map) - present)
        if unknown:
            raise DataError(f"{where}: the event map names annotations {unknown} that the "
                            f"recording does not have; it has {sorted(present)}.")
        raw.annotations.description = np.array(
            [event_map.get(d, d) for d in raw.annotations.description])
    return raw


class Replay:
    """Publish a recording as LSL EEG + marker streams in real time.

    The recording's own times are not published: the player stamps each chunk on this
    machine's LSL clock as it sends it, the last sample one chunk ahead of that moment. The
    stream's description says so (``desc/timestamps`` = ``replayed``), and an
    :class:`~bci_app.acquisition.stream.EEGInput` reports no latency on it (NaN).

    Parameters
    ----------
    path : str | Path | mne.io.Raw
        The recording (read with :func:`read_recording` when a path).
    name : str | None
        EEG stream name (default: ``bci-app-replay``); markers go to ``{name}-annotations``.
    chunk_size : int
        Samples per pushed chunk.
    repeat : int | float
        Times the file is played (``numpy.inf``: loop until stopped).
    event_map : dict | None
        Annotation renaming, see :func:`read_recording`.
    source_id : str | None
        LSL source id (default: derived from the name).
    """

    def __init__(self, path, name=None, chunk_size=10, repeat=1, event_map=None,
                 source_id=None):
        import mne

        if int(chunk_size) < 1:
            raise ConfigError(f"replay: chunk size must be >= 1 sample, got {chunk_size}.")
        if repeat != np.inf and int(repeat) < 1:
            raise ConfigError(f"replay: repeat must be >= 1 (or infinite), got {repeat}.")
        if isinstance(path, mne.io.BaseRaw):
            self.raw, self.path = path, None
        else:
            self.raw, self.path = read_recording(path, event_map), Path(path)
        self.name = name or "bci-app-replay"
        self.chunk_size = int(chunk_size)
        self.repeat = repeat if repeat == np.inf else int(repeat)
        self.source_id = source_id or f"bci-app-replay-{self.name}"
        self._player = None
        self._started = None

    @property
    def marker_stream(self):
        """Name of the marker stream (None when the recording has no annotations)."""
        return f"{self.name}-annotations" if len(self.raw.annotations) else None

    @property
    def duration(self):
        """Length of one pass through the recording, s."""
        return self.raw.n_times / self.raw.info["sfreq"]

    @property
    def is_running(self):
        return self._player is not None and self._player.running

    def start(self):
        """Create the outlets and start pushing samples.

        Returns
        -------
        self : Replay
        """
        from mne_lsl.player import PlayerLSL

        # The player thread warns about a short or empty last chunk of the file, which is
        # expected when the file's length is not a multiple of the chunk size.
        warnings.filterwarnings("ignore", message=".*End of file reached with an empty chunk")
        warnings.filterwarnings("ignore", message=".*A single sample is pushed")

        if self.is_running:
            raise StreamError(f"replay {self.name!r} is already running.")
        try:
            self._player = PlayerLSL(
                self.raw, chunk_size=self.chunk_size, n_repeat=self.repeat, name=self.name,
                source_id=self.source_id, annotations=bool(len(self.raw.annotations)),
                annotations_encoding="string")
            # Timestamps made at replay time: say so in the stream's description (the
            # player's stream info is private to mne-lsl; without it, consumers still see the
            # samples arriving before their timestamps).
            sinfo = getattr(self._player, "_sinfo", None)
            if sinfo is not None:
                sinfo.desc.append_child_value(*REPLAY_MARK)
            self._player.start()
        except Exception as exc:
            self._player = None
            raise StreamError(f"replay {self.name!r}: cannot start the LSL player ({exc}).") \
                from exc
        self._started = time.monotonic()
        logger.info("replay: %s -> LSL %r (%d ch, %g Hz, %.1f s)%s.", self.path or "raw",
                    self.name, len(self.raw.ch_names), self.raw.info["sfreq"], self.duration,
                    f" + markers {self.marker_stream!r}" if self.marker_stream else "")
        return self

    def stop(self):
        """Stop the player and destroy its outlets. Safe to call twice."""
        player, self._player = self._player, None
        if player is not None and player.running:
            player.stop()

    def wait(self, timeout=None):
        """Block until the replay ends (or ``timeout`` s); True when it ended."""
        deadline = None if timeout is None else time.monotonic() + timeout
        while self.is_running:
            if deadline is not None and time.monotonic() >= deadline:
                return False
            time.sleep(0.05)
        return True

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc_info):
        self.stop()
