"""r² maps: where two classes of calibration trials differ, per channel and frequency.

The classic BCI2000-style map of a motor-imagery calibration: for every imagery period the
log band power of each channel and frequency, and its signed squared correlation with the
class. Mu and beta desynchronisation over the sensorimotor cortex show as the strongest cells.
"""

import numpy as np

from ..errors import DataError


def r2_map(runs, classes, fmin=1.0, fmax=40.0, offset_s=0.5):
    """Signed r² between two classes, per channel and frequency (log band power).

    For every imagery period of ``classes[0]`` and ``classes[1]`` the Welch spectrum (2 Hz
    bins) of each channel is taken from ``offset_s`` after its onset to its end (periods
    shorter than 0.5 s from there, or running past the end of their run, are left out); the
    squared point-biserial correlation of the log power with the class is given the sign of
    the difference (positive: more power in ``classes[1]``).

    Parameters
    ----------
    runs : list of Run
        Calibration runs, all of one sampling rate and the same channels.
    classes : sequence of str
        The first two are compared.
    fmin, fmax : float
        Frequencies kept, Hz.
    offset_s : float
        Start of each period after its onset, s.

    Returns
    -------
    r2 : dict
        ``values`` (n_channels, n_freqs), ``freqs``, ``ch_names``, ``classes`` (the two
        compared), ``n_trials`` per class.

    Raises
    ------
    DataError
        Fewer than two classes, runs of different sampling rates or channels, or fewer than 4 usable trials
        (or trials of one class only).
    """
    from scipy.signal import welch

    if len(classes) < 2:
        raise DataError("r² map: two classes are needed.")
    if not runs:
        raise DataError("r² map: no run given.")
    ch_names, sf = list(runs[0].ch_names), runs[0].sfreq
    for run in runs[1:]:
        if list(run.ch_names) != ch_names or run.sfreq != sf:
            raise DataError(f"r² map: run {run.name!r} differs from run {runs[0].name!r} in "
                            "sampling rate or channels; compare runs of one montage.")
    # Every period is at least int(sf / 2) samples long, so the spectra share one grid.
    nperseg = int(sf // 2)
    a, b = classes[0], classes[1]
    feats, ys = [], []
    for run in runs:
        for onset, duration, label in run.events:
            if label not in (a, b):
                continue
            start = round((onset + offset_s) * sf)
            stop = round((onset + duration) * sf)
            if stop - start < int(sf * 0.5) or stop > run.n_samples:
                continue
            seg = run.data[:, start:stop]
            freqs, psd = welch(seg, fs=sf, nperseg=nperseg)
            keep = (freqs >= fmin) & (freqs <= fmax)
            feats.append(np.log(psd[:, keep] + 1e-30))
            ys.append(1.0 if label == b else 0.0)
    ys = np.asarray(ys)
    if len(ys) < 4 or ys.min() == ys.max():
        raise DataError(f"r² map: not enough imagery trials of {a} and {b} "
                        f"({int((ys == 0).sum())} and {int((ys == 1).sum())}).")
    freqs = freqs[keep]
    X = np.stack(feats)  # (trials, channels, freqs)
    yc = ys - ys.mean()
    Xc = X - X.mean(axis=0)
    r = (Xc * yc[:, None, None]).sum(0) / np.sqrt(
        (Xc ** 2).sum(0) * (yc ** 2).sum() + 1e-30)
    return {"values": np.sign(r) * r ** 2, "freqs": freqs, "ch_names": ch_names,
            "classes": (a, b), "n_trials": {a: int((ys == 0).sum()), b: int((ys == 1).sum())}}
