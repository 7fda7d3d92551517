"""Causal filters that carry their state from chunk to chunk.

Filtering a recording chunk by chunk, whatever the chunk sizes, gives exactly the samples of
filtering it whole: the state (``zi``) of each second-order section is carried across calls.
This is what makes the live path, real-time replay and pseudo-online sweeps see the same data.
"""

import numpy as np
from scipy.signal import butter, iirnotch, sosfilt, sosfilt_zi, tf2sos

from ..errors import ConfigError, DataError


class CausalFilter:
    """Band-pass (and optional notch) IIR filter with carried state.

    Parameters
    ----------
    sfreq : float
        Sampling rate in Hz.
    l_freq, h_freq : float | None
        Pass band edges in Hz. ``l_freq=None`` gives a low-pass, ``h_freq=None`` a high-pass,
        both None no band filter.
    order : int
        Butterworth order (per edge).
    notch : float | None
        Mains frequency to notch out (e.g. 50 or 60 Hz).
    initial : {"steady", "zeros"}
        Initial state: ``"steady"`` starts as if the first sample had lasted forever
        (no step transient), ``"zeros"`` from rest.
    """

    def __init__(self, sfreq, l_freq=8.0, h_freq=35.0, order=4, notch=None,
                 initial="steady"):
        if sfreq is None or sfreq <= 0:
            raise ConfigError(f"filter: sfreq must be a positive number of Hz, got {sfreq}.")
        nyq = sfreq / 2.0
        for name, f in (("l_freq", l_freq), ("h_freq", h_freq), ("notch", notch)):
            if f is not None and not 0 < f < nyq:
                raise ConfigError(f"filter: {name}={f} Hz must be between 0 and the Nyquist "
                                  f"frequency {nyq} Hz.")
        if l_freq is not None and h_freq is not None and l_freq >= h_freq:
            raise ConfigError(f"filter: l_freq ({l_freq}) must be below h_freq ({h_freq}).")
        if initial not in ("steady", "zeros"):
            raise ConfigError(f"filter: initial must be 'steady' or 'zeros', got {initial!r}.")
        sections = []
        if l_freq is not None and h_freq is not None:
            sections.append(butter(order, [l_freq, h_freq], btype="band", fs=sfreq,
                                   output="sos"))
        elif l_freq is not None:
            sections.append(butter(order, l_freq, btype="high", fs=sfreq, output="sos"))
        elif h_freq is not None:
            sections.append(butter(order, h_freq, btype="low", fs=sfreq, output="sos"))
        if notch is not None:
            b, a = iirnotch(notch, Q=30.0, fs=sfreq)
            sections.append(tf2sos(b, a))
        self.sfreq = float(sfreq)
        self.l_freq, self.h_freq, self.order, self.notch = l_freq, h_freq, order, notch
        self.initial = initial
        self.sos = np.concatenate(sections) if sections else None
        self._zi = None

    def reset(self):
        """Forget the state: the next chunk starts a new recording."""
        self._zi = None

    def process(self, chunk):
        """Filter the next chunk.

        Parameters
        ----------
        chunk : ndarray, shape (n_channels, n_samples)

        Returns
        -------
        filtered : ndarray, shape (n_channels, n_samples)
        """
        chunk = np.asarray(chunk, dtype=float)
        if chunk.ndim != 2:
            raise DataError(f"filter: chunks must be (n_channels, n_samples), got shape "
                            f"{chunk.shape}.")
        if self.sos is None or chunk.shape[1] == 0:
            return chunk.copy()
        if self._zi is None:
            base = sosfilt_zi(self.sos)[:, None, :]  # (n_sections, 1, 2)
            scale = chunk[:, 0][None, :, None] if self.initial == "steady" else 0.0
            self._zi = base * scale * np.ones((1, chunk.shape[0], 1))
        elif self._zi.shape[1] != chunk.shape[0]:
            raise DataError(f"filter: chunk has {chunk.shape[0]} channels but the filter "
                            f"state has {self._zi.shape[1]}; call reset() for a new stream.")
        out, self._zi = sosfilt(self.sos, chunk, axis=-1, zi=self._zi)
        return out

    def process_whole(self, data):
        """Filter a whole recording from a fresh state (same result as any chunking)."""
        self.reset()
        return self.process(data)
