"""Live markers from LSL: :class:`MarkerInput`.

A marker stream (string or numeric markers) is read through ``mne_lsl.lsl.StreamInlet``
(``StreamLSL`` refuses string streams), with clock synchronisation. Read it from the thread
that reads the EEG (:class:`~bci_app.acquisition.stream.EEGInput`), e.g. the online engine's
worker.
"""

import threading

import numpy as np

from .._logging import logger
from ..errors import StreamError
from .lsl import find_stream


class MarkerInput:
    """Markers (string or numeric) from an LSL stream, clock-synchronised.

    Parameters
    ----------
    name : str
        Marker stream name.
    timeout : float
        Seconds to wait for the stream when connecting.
    source_id : str | None
        Source id, to choose among marker streams of the same name.
    """

    def __init__(self, name, timeout=5.0, source_id=None):
        self.name = name
        self.source_id = source_id or None
        self.timeout = float(timeout)
        self.description = None
        self._inlet = None
        self.received = []
        self._lock = threading.Lock()

    def connect(self):
        """Find and open the marker stream.

        Raises
        ------
        StreamError
            When it is not found (the message lists the streams found), or several streams
            have its name (the message lists their source ids).
        """
        from mne_lsl.lsl import StreamInlet

        desc = find_stream(self.name, None, self.timeout, source_id=self.source_id)
        inlet = StreamInlet(desc.sinfo, processing_flags=["clocksync"])
        try:
            inlet.open_stream(timeout=self.timeout)
        except Exception as exc:
            raise StreamError(f"LSL marker stream {desc}: cannot open it ({exc}).") from exc
        self._inlet, self.description = inlet, desc
        logger.info("marker input: connected to %s.", desc)
        return self

    def read(self):
        """Markers received since the last call.

        Returns
        -------
        markers : list of (timestamp, str)
        """
        if self._inlet is None:
            return []
        try:
            values, stamps = self._inlet.pull_chunk(timeout=0.0)
        except Exception as exc:  # lost for good: liblsl's recovery gave up
            logger.warning("marker input: %r: %s", self.name, exc)
            return []
        out = []
        for value, stamp in zip(values, stamps):
            first = value[0] if len(np.shape(value)) else value
            if isinstance(first, (float, np.floating)) and float(first).is_integer():
                first = int(first)
            out.append((float(stamp), str(first)))
        with self._lock:
            self.received.extend(out)
        return out

    def close(self):
        """Release the inlet."""
        inlet, self._inlet = self._inlet, None
        if inlet is not None:
            destroy = getattr(inlet, "_del", None)
            if destroy is not None:
                try:
                    destroy()
                except Exception as exc:
                    logger.debug("marker input: close: %s", exc)

    def __enter__(self):
        return self.connect()

    def __exit__(self, *exc_info):
        self.close()
