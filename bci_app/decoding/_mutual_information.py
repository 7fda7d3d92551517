"""Histogram estimate of the auto mutual information of signals, for the embedding lag.

:func:`average_mutual_information` gives ``I(x_t; x_{t+tau})`` for ``tau = 0 .. max_lag``
of many signals at once; :func:`bci_app.decoding.embedding.estimate_lag` picks the lag
from its curve. The estimator (Fraser & Swinney 1986 with Rice's bin count) and the
reasons for its choice are described in :mod:`bci_app.decoding.embedding`, which
re-exports this function.
"""

import numpy as np

from ..errors import DataError
from ._checks import check_signals, check_value, ensure_int

__all__ = ["average_mutual_information"]


def _default_n_bins(n_pairs):
    """Rice's rule ``ceil(2 * n_pairs ** (1/3))``: the bin count of the default partition.

    The bin width of a histogram that minimises the integrated squared error shrinks like
    ``n ** (-1/3)`` (Scott 1979; Freedman & Diaconis 1981); Rice's rule is the range-free
    form of that growth. Sturges' ``ceil(log2(n)) + 1``, the former default, grows like
    ``log n`` and oversmooths long signals (Hyndman 1995): see the module docstring.
    """
    return int(np.ceil(2.0 * n_pairs ** (1.0 / 3.0) - 1e-9))  # 1e-9: exact cubes, 27 -> 6


#: Upper bound on ``n_signals * (n_times + n_bins**2)`` handled at once by
#: :func:`average_mutual_information` (bounds its memory, ~100 MB, for long signals).
_AMI_CHUNK = 1 << 22


def average_mutual_information(x, max_lag, n_bins=None, binning="equal"):
    """Histogram estimate of the auto mutual information ``I(x_t; x_{t+tau})``.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (n_signals, n_times)
        Signal(s); each signal is binned on its own range.
    max_lag : int
        Largest lag ``tau``, in samples (``>= 0``).
    n_bins : int | None
        Number of bins per axis of the 2-D histogram, the same for every lag. ``None``
        applies Rice's rule to the number of pairs at the largest lag,
        ``ceil(2 * (n_times - max_lag) ** (1/3))``: 16 bins for 500-sample windows with
        ``max_lag=10``, 36 for 5500 samples with ``max_lag=20``. (The former default,
        Sturges' ``ceil(log2(n_times - max_lag)) + 1``, is too coarse for long signals;
        pass it explicitly to reproduce earlier results.)
    binning : {"equal", "quantile"}
        ``"equal"``: equal-width bins between each signal's minimum and maximum (as
        Fraser & Swinney / TISEAN ``mutual``). ``"quantile"``: equiprobable bins (by
        rank), robust to large artefacts.

    Returns
    -------
    ami : ndarray, shape (max_lag + 1,) or (n_signals, max_lag + 1)
        Mutual information in nats for ``tau = 0 .. max_lag`` (``ami[..., 0]`` is the
        binned entropy of the signal). 1-D when ``x`` is 1-D.

    Notes
    -----
    Pairs ``(x_t, x_{t+tau})`` for ``t < n_times - tau`` are counted, all signals at once
    with one ``np.bincount`` per lag, and
    ``I = log(n) + (sum c log c - sum a log a - sum b log b) / n`` is evaluated from the
    integer joint counts ``c`` and marginal counts ``a``, ``b`` of the ``n`` pairs with a
    table of ``c log c``: ``O(n_signals * (max_lag + 1) * (n_times + n_bins**2))`` time.
    Signals are processed in chunks of at most ``2**22`` samples plus histogram cells,
    so memory stays bounded for long signals and fine partitions.
    """
    squeeze = np.ndim(x) == 1
    x = check_signals(x)
    max_lag = ensure_int(max_lag, "max_lag", minimum=0)
    n_signals, n_times = x.shape
    if n_times - max_lag < 2:
        raise DataError(
            f"Signals of {n_times} samples are too short for max_lag={max_lag}: at least "
            f"{max_lag + 2} samples are needed. Use a smaller max_lag or longer signals."
        )
    if n_bins is None:
        n_bins = _default_n_bins(n_times - max_lag)
    n_bins = ensure_int(n_bins, "n_bins", minimum=2)
    check_value(binning, ("equal", "quantile"), "binning")

    n_cells = n_bins * n_bins
    counts = np.arange(n_times + 1, dtype=np.float64)
    clogc = counts * np.log(np.maximum(counts, 1.0))  # c log c, with 0 log 0 = 0
    chunk = max(1, _AMI_CHUNK // (n_times + n_cells))
    ami = np.empty((n_signals, max_lag + 1))
    for start in range(0, n_signals, chunk):
        part = x[start : start + chunk]
        ami[start : start + len(part)] = _ami_of_chunk(part, max_lag, n_bins, binning, clogc)
    return ami[0] if squeeze else ami


def _ami_of_chunk(part, max_lag, n_bins, binning, clogc):
    """AMI curves (n_part, max_lag + 1) of validated signals ``part`` (n_part, n_times).

    ``clogc`` is the table of ``c log c`` for the counts ``0 .. n_times``.
    """
    n_part, n_times = part.shape
    n_cells = n_bins * n_bins
    if binning == "equal":
        lo = part.min(axis=1, keepdims=True)
        width = part.max(axis=1, keepdims=True) - lo
        width[width == 0] = 1.0
        bins = np.floor((part - lo) / width * n_bins).astype(np.intp)
        np.clip(bins, 0, n_bins - 1, out=bins)
    else:
        ranks = np.argsort(np.argsort(part, axis=1, kind="stable"), axis=1, kind="stable")
        bins = ranks * n_bins // n_times
    # Row code of x_t (signal offset + bin * n_bins); the column code x_{t+tau} is added.
    rows = bins * n_bins + (np.arange(n_part, dtype=np.intp) * n_cells)[:, None]
    ami = np.empty((n_part, max_lag + 1))
    for tau in range(max_lag + 1):
        n_pairs = n_times - tau
        codes = rows[:, :n_pairs] + bins[:, tau:]
        joint = np.bincount(codes.ravel(), minlength=n_part * n_cells)
        joint = joint.reshape(n_part, n_bins, n_bins)
        ami[:, tau] = np.log(n_pairs) + (
            clogc[joint].sum(axis=(1, 2))
            - clogc[joint.sum(axis=2)].sum(axis=1)
            - clogc[joint.sum(axis=1)].sum(axis=1)
        ) / n_pairs
    return ami
