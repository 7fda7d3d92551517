"""The LSL ``Markers`` outlet of a protocol run (used by :class:`~.runner.ProtocolRunner`).

One string channel at an irregular rate, type ``Markers``, described by the XDF conventions
(:mod:`.lsl_meta`: ``channels/channel/{label,type,unit}``, ``acquisition``) and naming the
protocol, the run type, the classes, their markers and the seed of the run. Markers are pushed with the timestamp
given (the scheduled time of the state change), and the outlet lingers a little before it is
destroyed so that the last marker reaches the connected consumers.
"""

import time
import zlib

from .._logging import logger
from ..errors import StreamError
from .lsl_meta import MANUFACTURER, MARKERS_TYPE, describe_stream

#: ``desc/acquisition/model`` of the protocol's marker stream.
MODEL = "protocol runner"

#: Seconds the marker outlet stays open after its last marker before
#: :meth:`MarkerOutlet.close` destroys it (only while consumers are connected). liblsl drops
#: the samples still queued for sending when an outlet is destroyed: without this,
#: ``run_aborted`` pushed by :meth:`ProtocolRunner.stop` just before the outlet is closed may
#: never reach the recorder or the simulator (seen on a loaded machine: 4 of 60 aborts lost
#: beside two busy processes on 2 cores). Sending takes well under 10 ms on loopback.
CLOSE_LINGER_S = 0.5


def default_source_id(name):
    """The LSL source id of the marker stream ``name``: stable across runs, so consumers
    reconnect to the next run's outlet."""
    return f"bci-app-markers-{zlib.crc32(str(name).encode()):08x}"


class MarkerOutlet:
    """A string marker outlet, created on :meth:`open`, destroyed on :meth:`close`.

    Parameters
    ----------
    name : str
        Name of the LSL stream (type ``"Markers"``).
    source_id : str
        LSL source id.
    description : dict of str to str
        Written in the stream's description (``<desc>``), one child per item.
    """

    def __init__(self, name, source_id, description):
        self.name = name
        self.source_id = source_id
        self.description = dict(description)
        self.outlet = None
        self._last_push = None

    @classmethod
    def for_run(cls, name, source_id, protocol, seed):
        """The outlet of a run of ``protocol`` with ``seed``, described by both."""
        return cls(name, source_id, {
            "protocol": protocol.name, "run_type": protocol.run_type,
            "classes": ",".join(protocol.classes),
            "markers": ",".join(f"{c}={m}" for c, m in protocol.markers.items()),
            "seed": str(seed)})

    def open(self):
        """Create the outlet (once); returns the ``mne_lsl`` outlet.

        Raises
        ------
        StreamError
            If liblsl cannot create it.
        """
        if self.outlet is not None:
            return self.outlet
        from mne_lsl.lsl import StreamInfo, StreamOutlet

        try:
            sinfo = StreamInfo(self.name, MARKERS_TYPE, 1, 0.0, "string", self.source_id)
            describe_stream(sinfo, labels=["marker"], types=MARKERS_TYPE, units="none",
                            acquisition={"manufacturer": MANUFACTURER, "model": MODEL})
            for key, value in self.description.items():
                sinfo.desc.append_child_value(key, value)
            self.outlet = StreamOutlet(sinfo)
        except Exception as exc:
            raise StreamError(f"protocol runner: cannot create the LSL marker outlet "
                              f"{self.name!r} ({exc}).") from exc
        logger.info("protocol runner: marker stream %r open (source_id %s).",
                    self.name, self.source_id)
        return self.outlet

    def push(self, marker, timestamp):
        """Send ``marker`` stamped ``timestamp`` (a no-op once closed)."""
        if self.outlet is None:
            return
        try:
            self.outlet.push_sample([marker], timestamp=timestamp)
            self._last_push = time.monotonic()
        except Exception as exc:
            raise StreamError(f"protocol runner: cannot push marker {marker!r} on "
                              f"{self.name!r} ({exc}).") from exc

    def wait_for_consumers(self, timeout):
        """Open the outlet and wait until an inlet is connected; True if one is."""
        return bool(self.open().wait_for_consumers(timeout))

    def close(self, linger_s=CLOSE_LINGER_S):
        """Destroy the outlet (consumers see the stream end). Safe to call twice.

        Parameters
        ----------
        linger_s : float
            If a marker was pushed less than this many seconds ago and a consumer is
            connected, the outlet is kept open until then, so that the marker is sent
            (liblsl drops what is still queued when an outlet is destroyed).
        """
        outlet, self.outlet = self.outlet, None
        if outlet is None:
            return
        if self._last_push is not None:
            wait = self._last_push + linger_s - time.monotonic()
            if wait > 0:
                try:
                    connected = outlet.has_consumers
                except Exception:  # noqa: BLE001 - an outlet in a bad state: close it
                    connected = False
                if connected:
                    time.sleep(wait)
        outlet._del()  # explicit destruction, as mne-lsl's own player does
