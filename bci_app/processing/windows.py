"""Sliding windows over arrays (batch) and over incoming chunks (streaming).

Windows are ``window`` samples long and start every ``step`` samples; window ``j`` covers
samples ``[j*step, j*step + window)`` of the stream, and is stamped with the time of its last
sample. Both functions below give the same windows for the same samples.
"""

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import ConfigError, DataError


def window_samples(sfreq, window_s, step_s):
    """Window and step lengths in samples, checked."""
    if window_s is None or window_s <= 0 or step_s is None or step_s <= 0:
        raise ConfigError(f"windows: window ({window_s} s) and step ({step_s} s) must be "
                          "positive.")
    window = int(round(window_s * sfreq))
    step = int(round(step_s * sfreq))
    if window < 2 or step < 1:
        raise ConfigError(f"windows: a {window_s} s window with a {step_s} s step at "
                          f"{sfreq} Hz is shorter than 2 samples / 1 sample.")
    return window, step


def sliding_windows(data, window, step):
    """All complete windows of a recording, as a read-only strided view.

    Parameters
    ----------
    data : ndarray, shape (n_channels, n_samples)
    window, step : int
        In samples.

    Returns
    -------
    windows : ndarray, shape (n_windows, n_channels, window)
        A view (no copy) on ``data``.
    last : ndarray of int, shape (n_windows,)
        Index of the last sample of each window.
    """
    data = np.asarray(data)
    if data.shape[1] < window:
        return np.empty((0, data.shape[0], window)), np.empty(0, dtype=int)
    view = sliding_window_view(data, window, axis=1)[:, ::step]  # (C, n_windows, window)
    windows = view.transpose(1, 0, 2)
    last = np.arange(windows.shape[0]) * step + window - 1
    return windows, last


class StreamWindower:
    """Cut windows out of chunks as they arrive.

    Parameters
    ----------
    n_channels : int
    window, step : int
        In samples.
    """

    def __init__(self, n_channels, window, step):
        self.n_channels = int(n_channels)
        self.window = int(window)
        self.step = int(step)
        self.reset()

    def reset(self):
        """Start over (new stream): the next sample is sample 0."""
        self._buf = np.empty((self.n_channels, 0))
        self._times = np.empty(0)
        self._buf_start = 0  # absolute index of self._buf[:, 0]
        self._next_end = self.window  # absolute (exclusive) end of the next window

    @property
    def n_samples_seen(self):
        """Samples received since the last reset."""
        return self._buf_start + self._buf.shape[1]

    def push(self, chunk, timestamps):
        """Add a chunk; return the windows it completes.

        Parameters
        ----------
        chunk : ndarray, shape (n_channels, n_samples)
        timestamps : ndarray, shape (n_samples,)
            Time of each sample (s).

        Returns
        -------
        windows : ndarray, shape (n_windows, n_channels, window)
        times : ndarray, shape (n_windows,)
            Timestamp of each window's last sample.
        last : ndarray of int, shape (n_windows,)
            Absolute index of each window's last sample.
        """
        chunk = np.asarray(chunk, dtype=float)
        timestamps = np.asarray(timestamps, dtype=float)
        if chunk.ndim != 2 or chunk.shape[0] != self.n_channels:
            raise DataError(f"windows: expected chunks of {self.n_channels} channels, got "
                            f"shape {chunk.shape}.")
        if timestamps.shape != (chunk.shape[1],):
            raise DataError(f"windows: {chunk.shape[1]} samples but {timestamps.size} "
                            "timestamps.")
        self._buf = np.concatenate([self._buf, chunk], axis=1)
        self._times = np.concatenate([self._times, timestamps])
        total = self.n_samples_seen
        ends = np.arange(self._next_end, total + 1, self.step)
        if ends.size:
            starts = ends - self.window - self._buf_start
            idx = starts[:, None] + np.arange(self.window)[None, :]
            windows = self._buf[:, idx].transpose(1, 0, 2)
            times = self._times[ends - 1 - self._buf_start]
            self._next_end = int(ends[-1] + self.step)
        else:
            windows = np.empty((0, self.n_channels, self.window))
            times = np.empty(0)
        keep_from = max(0, self._next_end - self.window - self._buf_start)
        keep_from = min(keep_from, self._buf.shape[1])
        self._buf = self._buf[:, keep_from:]
        self._times = self._times[keep_from:]
        self._buf_start += keep_from
        return windows, times, ends - 1
