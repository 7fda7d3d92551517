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
    Mains interference: the mains line stands out of the spectrum, its peak (the largest
    bin within :data:`LINE_PEAK_HALF_WIDTH` of the mains frequency) at least
    :data:`LINE_PEAK_RATIO` times the median of the bins 3 to 15 Hz around it, i.e. one
    decade on the signal check's log-scale spectrum: a peak anyone sees there is flagged;
    or the mains band holds more than :data:`LINE_RATIO` of the 1-40 Hz power. The mains
    frequency is the one of the settings (50 or 60 Hz, ``line_freqs``).
``"good"``
    None of these.

The spectrum the signal check draws is :func:`spectrum` (Welch, 1-s Hann segments), the one
the line noise is measured on, so what is flagged is what the user sees.

Signal that is not EEG, by the same measures
--------------------------------------------
What the decoder may classify (:func:`window_faults`, every window, live and offline) and
what a recording read for training or scoring is checked for (:func:`signal_faults`) use
the definitions above: a sample is **non-finite** (NaN, inf) as for "no signal", a channel
is **flat** when its standard deviation is below :data:`FLAT_UV`, judged on every stretch
of :data:`FLAT_STRETCH_S` (a disconnection for part of a window counts). A window's
amplitude is **implausible** when its band-passed standard deviation (what the model
reads) exceeds :data:`IMPLAUSIBLE_UV`, five times the largest seen on real EEG (PhysioNet
MI, 8-35 Hz, 2-s windows: at most ~100 µV), so only what cannot be EEG (saturation,
a step or pop and its filter ringing, wrong units) is refused. A window with any of these
on a channel the model reads gets the decision :data:`ARTIFACT` (no decision) instead of a
class.
"""

from dataclasses import dataclass

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view

from ..errors import DataError

#: Every status :func:`channel_quality` gives, best first.
STATUSES = ("good", "line noise", "noisy", "flat", "no signal")
#: Standard deviation (µV) below which a channel is flat (disconnected electrode).
FLAT_UV = 0.5
#: Standard deviation (µV) of all but the mains above which a channel is noisy (bad contact,
#: movement).
NOISY_UV = 100.0
#: Ratio of the spectrum's peak at the mains frequency to the median of the bins 3-15 Hz
#: around it from which a channel has line noise (10: one decade, 10 dB, on the log-scale
#: spectrum the signal check draws). EEG without a mains line: a median of 1.5 to 2.5, at
#: most ~5 (2-s stretches of the simulator without hum, of PhysioNet MI subjects 1-3); the
#: simulated amplifier's 3 µV hum on ~10 µV of EEG: 20 to 100; PhysioNet subject 4's 3 µV
#: line: ~17.
LINE_PEAK_RATIO = 10.0
#: Half-width (Hz) of the bins searched for the mains peak.
LINE_PEAK_HALF_WIDTH = 1.0
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
#: The decision on a window that is not classified (its signal is not EEG, or the model
#: failed on it): no decision. Never a class of a model.
ARTIFACT = "artifact"
#: Length (s) of the stretches flatness is judged on (real EEG: at least ~3 µV over any
#: 0.25 s of PhysioNet MI, six times :data:`FLAT_UV`).
FLAT_STRETCH_S = 0.25
#: Standard deviation (µV) of a band-passed window above which it is not EEG.
IMPLAUSIBLE_UV = 500.0
#: Channel names listed in a message before "and N more".
_NAMES_SHOWN = 8


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
    """Per channel: power (V²) of the strongest mains line above the spectrum around it, and
    the ratio of its peak to that spectrum (:data:`LINE_PEAK_RATIO`)."""
    power = np.zeros(psd.shape[0])
    peak_ratio = np.zeros(psd.shape[0])
    if len(freqs) < 2:
        return power, peak_ratio
    df = freqs[1] - freqs[0]
    for f0 in line_freqs:
        if f0 + LINE_HALF_WIDTH >= sfreq / 2:
            continue
        dist = np.abs(freqs - f0)
        band = dist <= LINE_HALF_WIDTH
        around = (dist > LINE_HALF_WIDTH + 1.0) & (dist <= LINE_HALF_WIDTH + 13.0)
        if not around.any():
            continue
        floor = np.median(psd[:, around], axis=1)
        excess = ((psd[:, band] - floor[:, None]).sum(axis=1) * df).clip(0.0, None)
        peak = psd[:, dist <= max(LINE_PEAK_HALF_WIDTH, df / 2)].max(axis=1)
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(floor > 0, peak / floor, np.where(peak > 0, np.inf, 0.0))
        power = np.maximum(power, excess)
        peak_ratio = np.maximum(peak_ratio, ratio)
    return power, peak_ratio


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
            "line_ratio": nan.copy(), "line_peak": nan.copy(),
            "status": ["no signal"] * n_channels,
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
        Mains frequencies looked at (those more than 2 Hz below Nyquist): the one of the
        settings, or both 50 and 60 Hz when it is not known.

    Returns
    -------
    quality : dict
        Per channel: ``std_uv`` (standard deviation after removing the channel's mean, µV),
        ``line_uv`` (RMS of the mains line above the spectrum around it, µV), ``noise_uv``
        (standard deviation without that line, µV), ``line_peak`` (ratio of the mains peak
        to the spectrum around it, :data:`LINE_PEAK_RATIO`), ``line_ratio`` (power within
        ±2 Hz of the mains over power in 1-40 Hz) and ``status`` (one of
        :data:`STATUSES`); and ``freqs``, ``psd``: the :func:`spectrum` of the channels
        (V²/Hz).
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
    line_power, peak_ratio = _line_power(freqs, psd, sfreq, line_freqs)
    ratio = _line_ratio(centred, sfreq, line_freqs)
    std_uv = std * 1e6
    line_uv = np.sqrt(line_power) * 1e6
    noise_uv = np.sqrt((std ** 2 - line_power).clip(0.0, None)) * 1e6
    status = []
    for ok, s, noise, peak, r in zip(assessed, std_uv, noise_uv, peak_ratio, ratio):
        if not ok:
            status.append("no signal")
        elif s < FLAT_UV:
            status.append("flat")
        elif noise > NOISY_UV:
            status.append("noisy")
        elif peak >= LINE_PEAK_RATIO or r > LINE_RATIO:
            status.append("line noise")
        else:
            status.append("good")
    nan = ~assessed
    peak_ratio = np.asarray(peak_ratio, dtype=float)
    for values in (std_uv, line_uv, noise_uv, ratio, peak_ratio):
        values[nan] = np.nan
    return {"std_uv": std_uv, "noise_uv": noise_uv, "line_uv": line_uv, "line_ratio": ratio,
            "line_peak": peak_ratio, "status": status, "freqs": freqs, "psd": psd}


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


# -- signal that is not EEG: windows before they are classified, recordings when read ----------
#: Kinds of :class:`SignalFault`.
NON_FINITE, FLAT = "non-finite", "flat"
_FAULT_TEXT = {NON_FINITE: "non-finite samples (NaN/inf)",
               FLAT: f"flat signal (below {FLAT_UV:g} µV)"}


def _names(names):
    """Channel names for a message, the first :data:`_NAMES_SHOWN` of them."""
    names = [str(n) for n in names]
    more = len(names) - _NAMES_SHOWN
    return ", ".join(names[:_NAMES_SHOWN]) + (f" and {more} more" if more > 0 else "")


def _stretch_std(data, length):
    """Standard deviation of stretches of ``length`` samples along the last axis: one every
    ``length`` samples from the first, and one ending at the last sample. Stretches holding
    a non-finite sample give NaN (or inf).

    Returns
    -------
    std : ndarray, shape (..., n_stretches)
    starts : ndarray of int, shape (n_stretches,)
    """
    n = data.shape[-1]
    length = max(2, min(int(length), n))
    whole = n // length
    parts = [data[..., :whole * length].reshape(data.shape[:-1] + (whole, length))]
    starts = np.arange(whole) * length
    if whole * length < n:
        parts.append(data[..., None, n - length:])
        starts = np.append(starts, n - length)
    # Sums rather than deviations: no copy of the (strided) windows; the cancellation error
    # (~1e-16 of the squared offset) is far below FLAT_UV for any EEG offset.
    with np.errstate(invalid="ignore", over="ignore"):
        s1 = np.concatenate([p.sum(axis=-1) for p in parts], axis=-1) / length
        s2 = np.concatenate([np.einsum("...i,...i->...", p, p) for p in parts],
                            axis=-1) / length
        return np.sqrt(np.maximum(s2 - s1 * s1, 0.0)), starts


def window_faults(raw, filtered, sfreq, ch_names=None, picks=None):
    """Which windows may be classified, and why the others may not (see the module's doc).

    Parameters
    ----------
    raw : array, shape (n_windows, n_channels, n_times)
        The windows as received (volts, unfiltered).
    filtered : array, shape (n_windows, n_channels, n_times)
        The same windows band-passed: what the model reads.
    sfreq : float
        Hz.
    ch_names : sequence of str | None
        Channel names, for the reasons (default ``channel <k>``).
    picks : array of int | None
        The channels the model reads (None: all); the others are not judged.

    Returns
    -------
    ok : ndarray of bool, shape (n_windows,)
        Windows that may be classified.
    reasons : ndarray of str (object), shape (n_windows,)
        Empty for those; else what is wrong and on which channels, e.g. ``"non-finite
        samples (NaN/inf) on C3; flat signal (below 0.5 µV) on C4"`` (the same text for the
        same fault, whatever the values).
    """
    raw, filtered = np.asarray(raw), np.asarray(filtered)
    n, n_ch = raw.shape[:2]
    picks = np.arange(n_ch) if picks is None else np.asarray(picks, dtype=int)
    names = np.asarray([str(c) for c in ch_names] if ch_names is not None else
                       [f"channel {k}" for k in range(n_ch)], dtype=object)[picks]
    raw, filtered = raw[:, picks], filtered[:, picks]
    std, _ = _stretch_std(raw, round(FLAT_STRETCH_S * sfreq))
    non_finite = ~np.isfinite(std).all(axis=-1)  # the stretches cover every sample
    flat = (std < FLAT_UV * 1e-6).any(axis=-1) & ~non_finite
    amplitude, _ = _stretch_std(filtered, filtered.shape[-1])
    loud = ~(amplitude[..., 0] <= IMPLAUSIBLE_UV * 1e-6) & ~non_finite & ~flat
    ok = ~(non_finite | flat | loud).any(axis=1)
    reasons = np.full(n, "", dtype=object)
    kinds = ((non_finite, _FAULT_TEXT[NON_FINITE]), (flat, _FAULT_TEXT[FLAT]),
             (loud, f"implausible amplitude (above {IMPLAUSIBLE_UV:g} µV)"))
    for w in np.flatnonzero(~ok):
        reasons[w] = "; ".join(f"{what} on {_names(names[mask[w]])}"
                               for mask, what in kinds if mask[w].any())
    return ok, reasons


@dataclass(frozen=True)
class SignalFault:
    """A stretch of one channel of a recording that is not EEG.

    Attributes
    ----------
    channel : str
    kind : str
        :data:`NON_FINITE` or :data:`FLAT`.
    start, stop : float
        From the recording's first sample, s (``stop`` exclusive).
    """

    channel: str
    kind: str
    start: float
    stop: float


def _spans(mask, merge):
    """(start, stop) of the runs of True in ``mask``, runs less than ``merge`` apart joined."""
    edges = np.flatnonzero(np.diff(np.concatenate([[0], mask.astype(np.int8), [0]])))
    starts, stops = edges[::2], edges[1::2]
    if starts.size > 1:
        keep = np.concatenate([[True], starts[1:] - stops[:-1] >= merge])
        starts, stops = starts[keep], stops[np.append(keep[1:], True)]
    return list(zip(starts.tolist(), stops.tolist()))


def signal_faults(data, sfreq, ch_names):
    """Non-finite and flat stretches of each channel of a recording.

    Parameters
    ----------
    data : array, shape (n_channels, n_samples)
        Volts, unfiltered.
    sfreq : float
        Hz.
    ch_names : sequence of str

    Returns
    -------
    faults : list of SignalFault
        By channel, then kind, then time. Flatness is judged on stretches of
        :data:`FLAT_STRETCH_S`; stretches less than that apart are joined.
    """
    data = np.asarray(data, dtype=np.float64)
    n_ch, n = data.shape
    if n < 2:
        return []
    length = max(2, int(round(FLAT_STRETCH_S * sfreq)))
    bad = ~np.isfinite(data)
    std, starts = _stretch_std(data, length)
    flat = std < FLAT_UV * 1e-6
    faults = []
    for c in range(n_ch):
        covered = np.zeros(n + 1, dtype=np.int64)
        np.add.at(covered, starts[flat[c]], 1)
        np.add.at(covered, np.minimum(starts[flat[c]] + length, n), -1)
        flat_spans = [_widen(data[c], a, b, length)
                      for a, b in _spans(np.cumsum(covered[:n]) > 0, length)]
        for kind, spans in ((NON_FINITE, _spans(bad[c], length)), (FLAT, flat_spans)):
            faults += [SignalFault(str(ch_names[c]), kind, a / sfreq, b / sfreq)
                       for a, b in spans]
    return faults


def _widen(x, a, b, length):
    """A flat span found on whole stretches, widened (up to ``length`` samples each side)
    to the neighbouring samples within :data:`FLAT_UV` of its median."""
    level, tol = np.median(x[a:b]), FLAT_UV * 1e-6
    near = np.abs(x[max(a - length, 0):a][::-1] - level) < tol
    a -= int(np.argmin(near)) if not near.all() else near.size
    near = np.abs(x[b:b + length] - level) < tol
    b += int(np.argmin(near)) if not near.all() else near.size
    return a, b


def describe_faults(faults, duration, spans_shown=3):
    """The faults of a recording in a sentence per kind and stretch set.

    Parameters
    ----------
    faults : list of SignalFault
    duration : float
        Length of the recording, s (a stretch covering it is "throughout").
    spans_shown : int
        Stretches listed per channel set before "and N more".

    Returns
    -------
    text : str
        E.g. ``"non-finite samples (NaN/inf) on C3 at 12.000-12.200 s; flat signal (below
        0.5 µV) on C4, Cz throughout"``; empty without faults.
    """
    groups = {}
    for f in faults:
        groups.setdefault((f.kind, f.channel), []).append((f.start, f.stop))
    by_spans = {}
    for (kind, channel), spans in groups.items():
        by_spans.setdefault((kind, tuple(spans)), []).append(channel)
    parts = []
    order = sorted(by_spans, key=lambda k: (k[0] != NON_FINITE, k[1][0][0]))
    for kind, spans in order:
        channels = by_spans[kind, spans]
        if len(spans) == 1 and spans[0][0] <= 0 and spans[0][1] >= duration - 1e-9:
            where = "throughout"
        else:
            where = "at " + ", ".join(f"{a:.3f}-{b:.3f} s" for a, b in spans[:spans_shown])
            if len(spans) > spans_shown:
                where += f" and {len(spans) - spans_shown} more stretches"
        parts.append(f"{_FAULT_TEXT[kind]} on {_names(channels)} {where}")
    return "; ".join(parts)
