"""Ring buffers: the latest seconds of a multichannel stream, for displays and indicators.

A writer (the acquisition thread) appends chunks as they come; readers (a display's timer,
the channel quality) copy the latest samples whenever they want them, so neither waits for
the other. :meth:`RingBuffer.age` tells a reader how long ago samples last arrived, so that
an indicator can say the stream stopped instead of describing stale data.
"""

import threading
import time

import numpy as np

from ..errors import DataError


class RingBuffer:
    """The last ``capacity`` samples of a multichannel stream, thread-safe.

    Parameters
    ----------
    n_channels : int
    capacity : int
        Samples kept.

    Attributes
    ----------
    last_write : float | None
        :func:`time.monotonic` time of the last write of at least one sample (None before).
    """

    def __init__(self, n_channels, capacity):
        if int(capacity) < 1:
            raise DataError(f"ring buffer: capacity must be at least 1 sample, got {capacity}.")
        self._data = np.zeros((int(n_channels), int(capacity)), dtype=np.float32)
        self._lock = threading.Lock()
        self._count = 0
        self.last_write = None

    @property
    def n_channels(self):
        return self._data.shape[0]

    @property
    def capacity(self):
        return self._data.shape[1]

    @property
    def count(self):
        """Samples written since creation (including those no longer kept)."""
        return self._count

    def write(self, block):
        """Append ``block``.

        Parameters
        ----------
        block : array, shape (n_channels, n)
            Stored as float32; of a block longer than the buffer, the last ``capacity``
            samples are kept (all are counted). An empty block changes nothing.
        """
        block = np.asarray(block)
        if block.ndim != 2 or block.shape[0] != self._data.shape[0]:
            raise DataError(f"ring buffer: a block must have shape ({self.n_channels} channels, "
                            f"n samples), got {block.shape}.")
        cap = self._data.shape[1]
        total = block.shape[1]
        if total == 0:
            return
        kept = block[:, -cap:] if total > cap else block
        n = kept.shape[1]
        with self._lock:
            # The newest sample goes to (count + total - 1) % cap.
            start = (self._count + total - n) % cap
            first = min(n, cap - start)
            self._data[:, start:start + first] = kept[:, :first]
            if first < n:
                self._data[:, :n - first] = kept[:, first:]
            self._count += total
            self.last_write = time.monotonic()

    def latest(self, n):
        """The last ``n`` samples (fewer at the start), shape (n_channels, m), a copy."""
        cap = self._data.shape[1]
        with self._lock:
            m = max(0, int(min(n, cap, self._count)))
            end = self._count % cap
            if m == 0:
                return np.zeros((self._data.shape[0], 0), dtype=np.float32)
            if end >= m:
                return self._data[:, end - m:end].copy()
            return np.concatenate([self._data[:, cap - (m - end):], self._data[:, :end]],
                                  axis=1)

    def age(self, now=None):
        """Seconds since samples last arrived (None if none ever did).

        Parameters
        ----------
        now : float | None
            A :func:`time.monotonic` time; None: now.
        """
        last = self.last_write
        if last is None:
            return None
        return (time.monotonic() if now is None else now) - last
