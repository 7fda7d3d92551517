"""LSL configuration and stream discovery.

liblsl reads its configuration once, on the first operation that needs the network (creating
a stream info, an outlet or an inlet, or resolving streams). :func:`use_loopback` must
therefore run before any of these; afterwards it has no effect on the current process.

On a lab network the user's own LSL configuration always wins: :func:`use_loopback` does
nothing when ``LSLAPICFG`` is set or an ``lsl_api.cfg`` file is found where liblsl looks for
one, unless ``force=True``.
"""

import getpass
import os
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from .._logging import logger
from ..errors import StreamError

#: liblsl configuration that keeps every stream on this machine (tests, demo, simulation);
#: liblsl's own console log is limited to errors (level -2).
LOOPBACK_CONFIG = """\
[ports]
IPv6 = disable
[multicast]
ResolveScope = machine
AddressesOverride = {239.255.172.215}
TTLOverride = 0
Interfaces = {127.0.0.1}
[lab]
KnownPeers = {127.0.0.1}
[log]
level = -2
"""

#: Environment variable liblsl (and child processes such as LabRecorderCLI) read the
#: configuration file name from.
LSLAPICFG = "LSLAPICFG"

#: Duration of one listening round of :func:`find_stream`, in seconds.
_ROUND = 0.5


def _user_config_files():
    """The ``lsl_api.cfg`` files liblsl would load by itself, in its search order."""
    candidates = [
        Path.cwd() / "lsl_api.cfg",
        Path.home() / "lsl_api" / "lsl_api.cfg",
        Path("/etc/lsl_api/lsl_api.cfg"),
    ]
    return [p for p in candidates if p.is_file()]


def _loopback_path():
    """Where the loopback configuration file is written (one folder per user)."""
    try:
        user = getpass.getuser()
    except Exception:  # no user name in the environment (some containers)
        user = "user"
    return Path(tempfile.gettempdir()) / f"bci_app-{user}" / "lsl_api_loopback.cfg"


def _write_config(path, text):
    """Write ``text`` to ``path`` atomically (concurrent processes may do the same)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    if path.is_file() and path.read_text() == text:
        return
    tmp = path.with_name(f"{path.name}.{os.getpid()}.tmp")
    tmp.write_text(text)
    os.replace(tmp, path)


def use_loopback(force=False):
    """Keep LSL on this machine: apply :data:`LOOPBACK_CONFIG` to liblsl.

    The configuration is written to a file in the temporary folder, ``LSLAPICFG`` is set to
    it (so child processes honour it too) and the file is passed to liblsl for the current
    process with :func:`mne_lsl.lsl.set_config_filename`. Call it before the first LSL
    operation of the process (stream info, outlet, inlet, resolve): liblsl reads its
    configuration only once.

    Parameters
    ----------
    force : bool
        Apply the loopback configuration even when the user has their own (``LSLAPICFG``
        set, or an ``lsl_api.cfg`` in the working folder, ``~/lsl_api/`` or
        ``/etc/lsl_api/``). By default the user's configuration wins.

    Returns
    -------
    path : pathlib.Path | None
        The configuration file in use, or None when the user's own configuration was left
        in place.
    """
    path = _loopback_path()
    current = os.environ.get(LSLAPICFG)
    if not force:
        if current:
            if Path(current) == path:
                return path  # already applied (here or by a parent process)
            logger.info("LSL: using the configuration in %s=%s (loopback not applied).",
                        LSLAPICFG, current)
            return None
        user_files = _user_config_files()
        if user_files:
            logger.info("LSL: using the configuration file %s (loopback not applied).",
                        user_files[0])
            return None
    _write_config(path, LOOPBACK_CONFIG)
    os.environ[LSLAPICFG] = str(path)
    from mne_lsl.lsl import set_config_filename

    try:
        set_config_filename(path)
    except NotImplementedError:  # liblsl < 1.17.7: it still reads LSLAPICFG
        logger.debug("LSL: set_config_filename unavailable, relying on %s.", LSLAPICFG)
    logger.info("LSL: loopback configuration applied (%s).", path)
    return path


@dataclass(frozen=True)
class StreamDescription:
    """What is known about an LSL stream before connecting to it.

    Attributes
    ----------
    name : str
        Stream name.
    stype : str
        Stream type (e.g. ``"EEG"``, ``"Markers"``).
    source_id : str
        Source identifier (stable across restarts of the same device), may be empty.
    n_channels : int
        Number of channels.
    sfreq : float
        Nominal sampling rate in Hz (0 for irregular streams such as markers).
    hostname : str
        Machine that hosts the stream.
    uid : str
        Unique identifier of this outlet instance.
    dtype : str
        Channel format (``"float32"``, ``"string"``, ...).
    sinfo : mne_lsl.lsl.StreamInfo | None
        The resolved stream info, to open a :class:`mne_lsl.lsl.StreamInlet` on it
        (not compared, not shown).
    """

    name: str
    stype: str
    source_id: str
    n_channels: int
    sfreq: float
    hostname: str
    uid: str
    dtype: str = ""
    sinfo: object = field(default=None, compare=False, repr=False)

    @classmethod
    def from_sinfo(cls, sinfo):
        """Build from a :class:`mne_lsl.lsl.StreamInfo` (resolved or bound to an outlet)."""
        dtype = sinfo.dtype
        dtype = dtype if isinstance(dtype, str) else str(getattr(dtype, "__name__", dtype))
        return cls(name=sinfo.name, stype=sinfo.stype, source_id=sinfo.source_id,
                   n_channels=int(sinfo.n_channels), sfreq=float(sinfo.sfreq),
                   hostname=sinfo.hostname, uid=sinfo.uid, dtype=dtype, sinfo=sinfo)

    def __str__(self):
        rate = f"{self.sfreq:g} Hz" if self.sfreq else "irregular"
        return (f"{self.name!r} (type {self.stype!r}, {self.n_channels} ch, {rate}, "
                f"on {self.hostname})")


def _describe(sinfos):
    unique = {}
    for sinfo in sinfos:
        desc = StreamDescription.from_sinfo(sinfo)
        unique[desc.uid or (desc.name, desc.stype, desc.source_id)] = desc
    return sorted(unique.values(), key=lambda d: (d.name, d.stype, d.uid))


def _matching(found, name, stype, source_id=None):
    return [d for d in found
            if (name is None or d.name == name)
            and (stype is None or d.stype.lower() == stype.lower())
            and (source_id is None or d.source_id == source_id)]


def _check_timeout(timeout):
    if not timeout or timeout <= 0:
        raise StreamError(f"LSL: the resolve timeout must be positive, got {timeout}.")


def list_streams(timeout=1.0, stype=None):
    """The LSL streams visible now.

    Listening lasts the whole ``timeout`` (liblsl collects answers until then).

    Parameters
    ----------
    timeout : float
        How long to listen for streams, in seconds.
    stype : str | None
        Keep only streams of this type (case-insensitive), e.g. ``"EEG"`` or ``"Markers"``.

    Returns
    -------
    streams : list of StreamDescription
        Sorted by name.
    """
    from mne_lsl.lsl import resolve_streams

    _check_timeout(timeout)
    streams = _matching(_describe(resolve_streams(timeout=timeout)), None, stype)
    logger.debug("LSL: %d stream(s) found: %s", len(streams), ", ".join(map(str, streams)))
    return streams


def _resolve(name, stype, timeout, source_id):
    """Listen until a matching stream answers or ``timeout``: (matches, all streams seen)."""
    from mne_lsl.lsl import resolve_streams

    _check_timeout(timeout)
    # Listen in rounds of (at most) 0.5 s until a match answers or the time is up: a found
    # stream returns after one round, which also collects duplicates, types spelt in another
    # case ("EEG" for "eeg") and, on failure, the streams to name in the error message.
    deadline = time.monotonic() + timeout
    seen = {}
    while True:
        remaining = deadline - time.monotonic()
        current = _describe(resolve_streams(timeout=max(min(remaining, _ROUND), 0.2)))
        seen.update((d.uid, d) for d in current)
        matches = _matching(current, name, stype, source_id)
        if matches or deadline - time.monotonic() <= 0:
            break
    return matches, sorted(seen.values(), key=lambda d: (d.name, d.stype, d.uid))


def find_streams(name=None, stype="EEG", timeout=5.0, source_id=None):
    """Every stream with this name, type and source id (waiting up to ``timeout`` for one).

    Parameters are those of :func:`find_stream`.

    Returns
    -------
    streams : list of StreamDescription
        Sorted by name, type and uid; empty when none answered in time.
    """
    return _resolve(name, stype, timeout, source_id)[0]


def find_stream(name=None, stype="EEG", timeout=5.0, source_id=None):
    """The one stream with this name and/or type (and source id).

    Parameters
    ----------
    name : str | None
        Stream name (None: any name).
    stype : str | None
        Stream type, case-insensitive (None: any type): ``"EEG"``, the XDF conventions'
        spelling, also finds legacy ``"eeg"`` streams (LSL itself matches types
        case-sensitively).
    timeout : float
        How long to wait for a matching stream, in seconds. Streams are collected in rounds
        of 0.5 s: a stream that is already there is returned after one round.
    source_id : str | None
        Source id (exact): chooses among streams of the same name and type (None: any).

    Returns
    -------
    stream : StreamDescription
        The only matching stream.

    Raises
    ------
    StreamError
        When no stream matches (the message lists the streams found), or more than one (the
        message lists them with their source ids and hosts, and says how to choose).
    """
    matches, found = _resolve(name, stype, timeout, source_id)
    wanted = " and ".join(
        part for part in (f"name {name!r}" if name is not None else "",
                          f"type {stype!r}" if stype is not None else "",
                          f"source id {source_id!r}" if source_id is not None else "") if part
    ) or "any name and type"
    if len(matches) == 1:
        logger.info("LSL: found %s", matches[0])
        return matches[0]
    if not matches:
        listed = ("; streams found: " + ", ".join(
            f"{d} [source_id {d.source_id!r}]" for d in found)) if found \
            else "; no LSL stream at all was found"
        raise StreamError(
            f"LSL: no stream with {wanted} within {timeout:g} s{listed}. Check that the "
            "amplifier (or `bci-app simulate`) is streaming, that the name and type are "
            "right, and that both ends use the same LSL configuration (LSLAPICFG)."
        )
    ids = [d.source_id for d in matches]
    if all(ids) and len(set(ids)) == len(ids):
        how = ("Choose one by its source id (source_id=...), or stop the stream that should "
               "not be there.")
    else:
        how = ("Their source ids do not tell them apart: stop the duplicate outlet, or give "
               "each amplifier its own source id (or stream name).")
    raise StreamError(
        f"LSL: {len(matches)} streams with {wanted}: "
        + "; ".join(f"{d.name!r} source_id {d.source_id!r} on host {d.hostname!r} "
                    f"({d.n_channels} ch, {d.sfreq:g} Hz, uid {d.uid})" for d in matches)
        + f". {how}"
    )
