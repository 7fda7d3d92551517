"""Channel quality: flat, noisy, line-noise and no-signal indicators of raw EEG, and its spectrum.

The signal check shows, for each channel, one status computed from the last seconds of the
raw (unfiltered) stream:

``"no signal"``
    Nothing arrived for :data:`SIGNAL_TIMEOUT_S` (the stream stopped: the buffer only holds
    old samples), or the channel's samples are not numbers (NaN, inf).
``"flat"``
    Standard deviation below :data:`FLAT_UV`: the electrode is not connected.
``"noisy"``
    Standard deviation of everything but the mains above :data:`NOISY_UV`: bad contact,
    movement.
``"line noise"``
    Mains interference: the mains line stands out of the spectrum around it (its power above
    that spectrum is more than :data:`LINE_PROMINENCE` times the power the spectrum around
    it would put in the same band) with more than :data:`LINE_UV` µV RMS; or it holds more
    than :data:`LINE_RATIO` of the 1-40 Hz power.
``"good"``
    None of these.

The spectrum the signal check draws is :func:`spectrum` (Welch, 1-s Hann segments), the one
the line noise is measured on, so what is flagged is what the user sees.
"""

import numpy as np

from ..errors import DataError

#: Every status :func:`channel_quality` gives, best first.
STATUSES = ("good", "line noise", "noisy", "flat", "no signal")
#: Standard deviation (µV) below which a channel is flat (disconnected electrode).
FLAT_UV = 0.5
#: Standard deviation (µV) of all but the mains above which a channel is noisy (bad contact,
#: movement).
NOISY_UV = 100.0
#: RMS (µV) of the mains line above which a channel has line noise.
LINE_UV = 5.0
#: How many times the power the spectrum around the mains would have in the mains band the
#: line must add to it to count (a line, not broadband noise).
LINE_PROMINENCE = 5.0
#: Ratio of mains-band power to 1-40 Hz power above which a channel has line noise.
LINE_RATIO = 0.5
#: Half-width (Hz) of the band around the mains frequency counted as the mains.
LINE_HALF_WIDTH = 2.0
#: Seconds of signal the indicators look at.
QUALITY_SECONDS = 2.0
#: Seconds without new samples after which the stream has no signal.
SIGNAL_TIMEOUT_S = 1.0
#: Fraction of a channel's samples that must be finite for it to be assessed.
MIN_FINITE = 0.5


def spectrum(data, sfreq):
    """Power spectral density of each channel (Welch, Hann segments of 1 s, half overlap).

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        Volts.
    sfreq : float
        Hz.

    Returns
    -------
    freqs : ndarray, shape (n_freqs,)
        Hz (1-Hz steps when there is at least one second of data).
    psd : ndarray, shape (n_channels, n_freqs)
        V²/Hz; its sum times the frequency step is the signal's power (V²).
    """
    from scipy.signal import welch

    data = np.asarray(data)
    return welch(data, fs=sfreq, nperseg=min(data.shape[-1], int(sfreq)))


def _line_power(freqs, psd, sfreq, line_freqs):
    """Power (V²) of the strongest mains line above the spectrum around it, per channel, and
    whether it stands out of that spectrum (:data:`LINE_PROMINENCE`)."""
    power = np.zeros(psd.shape[0])
    prominent = np.zeros(psd.shape[0], dtype=bool)
    if len(freqs) < 2:
        return power, prominent
    df = freqs[1] - freqs[0]
    for f0 in line_freqs:
        if f0 + LINE_HALF_WIDTH >= sfreq / 2:
            continue
        dist = np.abs(freqs - f0)
        band = dist <= LINE_HALF_WIDTH
        around = (dist > LINE_HALF_WIDTH + 1.0) & (dist <= LINE_HALF_WIDTH + 13.0)
        floor = np.median(psd[:, around], axis=1) if around.any() else np.zeros(len(psd))
        excess = ((psd[:, band] - floor[:, None]).sum(axis=1) * df).clip(0.0, None)
        stands_out = excess > LINE_PROMINENCE * floor * band.sum() * df
        stronger = excess > power
        prominent = np.where(stronger, stands_out, prominent)
        power = np.where(stronger, excess, power)
    return power, prominent


def _line_ratio(centred, sfreq, line_freqs):
    """Power within ±2 Hz of the mains over power in 1-40 Hz (Hann periodogram)."""
    spec = np.abs(np.fft.rfft(centred * np.hanning(centred.shape[1]), axis=1)) ** 2
    freqs = np.fft.rfftfreq(centred.shape[1], 1.0 / sfreq)
    band = (freqs >= 1.0) & (freqs <= 40.0)
    ref = spec[:, band].sum(axis=1) + 1e-30
    ratio = np.zeros(centred.shape[0])
    for f0 in line_freqs:
        if f0 + LINE_HALF_WIDTH < sfreq / 2:
            sel = np.abs(freqs - f0) <= LINE_HALF_WIDTH
            ratio = np.maximum(ratio, spec[:, sel].sum(axis=1) / ref)
    return ratio


def no_signal(n_channels):
    """The quality of channels that receive nothing (see :func:`channel_quality`)."""
    nan = np.full(n_channels, np.nan)
    return {"std_uv": nan, "noise_uv": nan.copy(), "line_uv": nan.copy(),
            "line_ratio": nan.copy(), "status": ["no signal"] * n_channels,
            "freqs": None, "psd": None}


def channel_quality(data, sfreq, line_freqs=(50.0, 60.0)):
    """Per-channel signal quality of a stretch of EEG.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        Volts, unfiltered. Non-finite samples (NaN, inf) are left out; a channel with fewer
        than :data:`MIN_FINITE` of its samples finite has no signal.
    sfreq : float
        Hz.
    line_freqs : tuple of float
        Mains frequencies looked at (those more than 2 Hz below Nyquist).

    Returns
    -------
    quality : dict
        Per channel: ``std_uv`` (standard deviation after removing the channel's mean, µV),
        ``line_uv`` (RMS of the mains line above the spectrum around it, µV), ``noise_uv``
        (standard deviation without that line, µV), ``line_ratio`` (power within ±2 Hz of
        the mains over power in 1-40 Hz) and ``status`` (one of :data:`STATUSES`); and
        ``freqs``, ``psd``: the :func:`spectrum` of the channels (V²/Hz).
    """
    data = np.asarray(data, dtype=np.float64)
    if data.ndim != 2:
        raise DataError(f"channel quality: data must be (channels, samples), got {data.shape}.")
    n_ch, n = data.shape
    if n < 2:
        return no_signal(n_ch)
    finite = np.isfinite(data)
    n_finite = finite.sum(axis=1)
    assessed = n_finite >= max(2, MIN_FINITE * n)
    if finite.all():
        centred = data - data.mean(axis=1, keepdims=True)
        std = centred.std(axis=1)
    else:  # centre on the finite samples; the others count as the mean
        clean = np.where(finite, data, 0.0)
        mean = clean.sum(axis=1) / np.maximum(n_finite, 1)
        centred = np.where(finite, data - mean[:, None], 0.0)
        std = np.sqrt((centred ** 2).sum(axis=1) / np.maximum(n_finite, 1))
    freqs, psd = spectrum(centred, sfreq)
    line_power, prominent = _line_power(freqs, psd, sfreq, line_freqs)
    ratio = _line_ratio(centred, sfreq, line_freqs)
    std_uv = std * 1e6
    line_uv = np.sqrt(line_power) * 1e6
    noise_uv = np.sqrt((std ** 2 - line_power).clip(0.0, None)) * 1e6
    status = []
    for ok, s, noise, line, peak, r in zip(assessed, std_uv, noise_uv, line_uv, prominent,
                                           ratio):
        if not ok:
            status.append("no signal")
        elif s < FLAT_UV:
            status.append("flat")
        elif noise > NOISY_UV:
            status.append("noisy")
        elif (peak and line > LINE_UV) or r > LINE_RATIO:
            status.append("line noise")
        else:
            status.append("good")
    nan = ~assessed
    for values in (std_uv, line_uv, noise_uv, ratio):
        values[nan] = np.nan
    return {"std_uv": std_uv, "noise_uv": noise_uv, "line_uv": line_uv, "line_ratio": ratio,
            "status": status, "freqs": freqs, "psd": psd}


def buffer_quality(buffer, sfreq, seconds=QUALITY_SECONDS, line_freqs=(50.0, 60.0),
                   timeout_s=SIGNAL_TIMEOUT_S, now=None):
    """Quality of the latest seconds of a stream's :class:`~bci_app.processing.buffers.RingBuffer`.

    Parameters
    ----------
    buffer : RingBuffer
        Raw (unfiltered) samples, volts.
    sfreq : float
        Hz.
    seconds : float
        Seconds looked at.
    line_freqs : tuple of float
        Mains frequencies looked at.
    timeout_s : float
        Seconds without new samples after which every channel has no signal.
    now : float | None
        :func:`time.monotonic` time; None: now.

    Returns
    -------
    quality : dict | None
        As :func:`channel_quality`; None while less than a second has arrived (and the
        stream is still sending).
    """
    age = buffer.age(now)
    if age is not None and age > timeout_s:
        return no_signal(buffer.n_channels)
    data = buffer.latest(int(seconds * sfreq))
    if data.shape[1] < int(sfreq):
        return None
    return channel_quality(data, sfreq, line_freqs)


def average_spectrum(quality, channels):
    """Mean spectrum of some channels of a :func:`channel_quality` result.

    Parameters
    ----------
    quality : dict
    channels : sequence of int
        Indices of the channels averaged (those without signal are left out).

    Returns
    -------
    spectrum : tuple of (freqs, psd) | None
        Hz and V²/Hz; None when there is no spectrum or no channel to average.
    """
    if quality.get("psd") is None:
        return None
    keep = [i for i in channels if quality["status"][i] != "no signal"]
    if not keep:
        return None
    return quality["freqs"], quality["psd"][keep].mean(axis=0)
