"""Nearest neighbours in delay space: Cao's E1/E2 and false nearest neighbours.

The statistics from which :func:`bci_app.decoding.embedding.estimate_order` picks the
embedding order (Cao 1997; Kennel, Brown & Abarbanel 1992), computed on one channel at a
time with the delay vectors of several trials pooled into one ``scipy.spatial.cKDTree``.
The methods, their cost and their defaults are described in
:mod:`bci_app.decoding.embedding`, which re-exports the public functions.
"""

import logging
from typing import NamedTuple

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.spatial import cKDTree

from ..errors import DataError
from ._checks import check_signals, ensure_int, ensure_number

__all__ = ["CaoStatistics", "cao_e1", "false_nearest_neighbours"]

logger = logging.getLogger(__name__)


def _subsample(n, n_max, seed):
    """Sorted indices of at most ``n_max`` of ``range(n)``, drawn with a fixed seed."""
    if n <= n_max:
        return np.arange(n)
    return np.sort(np.random.default_rng(seed).choice(n, size=n_max, replace=False))



def _nearest_neighbours(segments, lag, dim, theiler, p_norm, n_ref, seed):
    """Nearest neighbours of delay vectors of dimension ``dim``, pooled over segments.

    Parameters
    ----------
    segments : ndarray, shape (n_segments, n_times)
        Independent recordings of one signal (e.g. one channel in several trials).
    lag, dim : int
        Delay (samples) and dimension of the vectors ``(x_i, x_{i+lag}, ...)``; only
        vectors whose next coordinate ``x_{i + dim*lag}`` exists are used.
    theiler : int
        Neighbours from the same segment with ``|i - j| <= theiler`` are excluded.
    p_norm : float
        Minkowski norm of the search (``np.inf``: Chebyshev).
    n_ref : int
        Number of reference vectors (fixed-seed subsample).
    seed : int
        Seed of the subsample.

    Returns
    -------
    dist : ndarray, shape (n_found,)
        Distance from each reference vector to its nearest valid neighbour (> 0).
    next_diff : ndarray, shape (n_found,)
        ``|x_{i + dim*lag} - x_{j + dim*lag}|`` for each pair.
    """
    n_segments, n_times = segments.shape
    n_valid = n_times - dim * lag
    span = (dim - 1) * lag + 1
    vectors = sliding_window_view(segments, span, axis=-1)[:, :n_valid, ::lag]
    vectors = vectors.reshape(n_segments * n_valid, dim)
    nxt = segments[:, dim * lag : dim * lag + n_valid].ravel()
    n_points = len(vectors)
    ref = _subsample(n_points, n_ref, [seed, dim])
    k = min(n_points, 2 * theiler + 10)
    tree = cKDTree(vectors, balanced_tree=False, compact_nodes=False)
    dist, idx = tree.query(vectors[ref], k=k, p=p_norm)
    seg_ref, t_ref = np.divmod(ref, n_valid)
    seg_nb, t_nb = np.divmod(idx, n_valid)
    valid = (dist > 0) & (
        (seg_nb != seg_ref[:, None]) | (np.abs(t_nb - t_ref[:, None]) > theiler)
    )
    first = valid.argmax(axis=1)
    rows = np.nonzero(valid[np.arange(len(ref)), first])[0]
    if len(rows) < len(ref):
        logger.debug("Dimension %d: %d of %d reference points without a valid neighbour "
                     "among their %d nearest", dim, len(ref) - len(rows), len(ref), k)
    cols = first[rows]
    return dist[rows, cols], np.abs(nxt[ref[rows]] - nxt[idx[rows, cols]])


def _check_embedding_args(x, lag, max_order, theiler, n_ref):
    """Validated ``(segments, lag, max_order, theiler, n_ref)`` of :func:`cao_e1` and FNN."""
    segments = check_signals(x)
    lag = ensure_int(lag, "lag", minimum=1, extra=" (samples)")
    max_order = ensure_int(max_order, "max_order", minimum=1)
    theiler = lag if theiler is None else ensure_int(theiler, "theiler", minimum=0,
                                                     extra=" (samples)")
    n_ref = ensure_int(n_ref, "n_ref", minimum=10)
    n_times = segments.shape[1]
    if n_times - (max_order + 1) * lag < 10:
        raise DataError(
            f"Signals of {n_times} samples are too short for max_order={max_order} and "
            f"lag={lag}: dimension max_order + 1 needs at least {(max_order + 1) * lag + 10} "
            "samples. Use a smaller max_order or lag, or longer windows."
        )
    return segments, lag, max_order, theiler, n_ref


class CaoStatistics(NamedTuple):
    """Cao's statistics for dimensions ``d = 1 .. max_order``.

    Attributes
    ----------
    dims : ndarray of int, shape (max_order,)
        Embedding dimensions ``d``.
    E : ndarray, shape (max_order + 1,)
        ``E(d)`` for ``d = 1 .. max_order + 1``.
    E1 : ndarray, shape (max_order,)
        ``E(d + 1) / E(d)``: saturates near 1 from the minimal embedding dimension on.
    E_star : ndarray, shape (max_order + 1,)
        ``E*(d)``, mean distance of the neighbours' next samples (signal unit).
    E2 : ndarray, shape (max_order,)
        ``E*(d + 1) / E*(d)``: close to 1 for all ``d`` on stochastic signals.
    """

    dims: np.ndarray
    E: np.ndarray
    E1: np.ndarray
    E_star: np.ndarray
    E2: np.ndarray


def cao_e1(x, lag, max_order, theiler=None, n_ref=500, seed=0):
    """Cao's (1997) E1 and E2 statistics of a signal, with Chebyshev nearest neighbours.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (n_segments, n_times)
        One signal, or independent segments of it (e.g. one channel in several trials):
        delay vectors of all segments are pooled, none spans two segments.
    lag : int
        Embedding lag in samples.
    max_order : int
        Largest dimension ``d`` for which E1 and E2 are returned (needs ``E(max_order +
        1)``).
    theiler : int | None
        Theiler window in samples: neighbours from the same segment closer than this in
        time are skipped. ``None``: ``lag``.
    n_ref : int
        Number of reference vectors per dimension (fixed-seed subsample); all vectors are
        candidate neighbours.
    seed : int
        Seed of the subsample.

    Returns
    -------
    stats : CaoStatistics
        ``dims``, ``E``, ``E1``, ``E_star``, ``E2``.

    Notes
    -----
    ``a(i, d) = max(|y_i(d) - y_n(d)|_inf, |x_{i+d lag} - x_{n+d lag}|) /
    |y_i(d) - y_n(d)|_inf`` where ``n`` is the nearest neighbour of ``y_i(d)``; neighbours
    at distance 0 are skipped (Cao's prescription). Cost per dimension: a cKDTree over
    ``n_segments * n_times`` points plus ``n_ref`` queries.
    """
    segments, lag, max_order, theiler, n_ref = _check_embedding_args(
        x, lag, max_order, theiler, n_ref
    )
    E = np.empty(max_order + 1)
    E_star = np.empty(max_order + 1)
    for d in range(1, max_order + 2):
        dist, diff = _nearest_neighbours(segments, lag, d, theiler, np.inf, n_ref, seed)
        if dist.size == 0:
            raise DataError(
                f"No valid nearest neighbour at dimension {d}: the signal is constant or "
                "too short for this lag and Theiler window."
            )
        E[d - 1] = np.mean(np.maximum(dist, diff) / dist)
        E_star[d - 1] = np.mean(diff)
    with np.errstate(divide="ignore", invalid="ignore"):
        E1 = E[1:] / E[:-1]
        E2 = E_star[1:] / E_star[:-1]
    return CaoStatistics(np.arange(1, max_order + 1), E, E1, E_star, E2)


def false_nearest_neighbours(x, lag, max_order, rtol=10.0, atol=2.0, theiler=None,
                             n_ref=500, seed=0):
    """Fraction of false nearest neighbours (Kennel et al. 1992) for ``d = 1 .. max_order``.

    Parameters
    ----------
    x : ndarray, shape (n_times,) or (n_segments, n_times)
        One signal, or independent segments of it (pooled as in :func:`cao_e1`).
    lag : int
        Embedding lag in samples.
    max_order : int
        Largest dimension tested.
    rtol : float
        Criterion 1: the neighbour is false if the added coordinate's distance exceeds
        ``rtol`` times the distance ``R_d`` in dimension ``d``.
    atol : float
        Criterion 2: the neighbour is false if its distance in dimension ``d + 1`` exceeds
        ``atol`` times the signal's standard deviation ``R_A``.
    theiler : int | None
        Theiler window in samples (``None``: ``lag``).
    n_ref : int
        Reference vectors per dimension (fixed-seed subsample).
    seed : int
        Seed of the subsample.

    Returns
    -------
    fractions : ndarray, shape (max_order,)
        Fraction (0-1) of false nearest neighbours in dimension ``d = 1 .. max_order``
        (Euclidean distances).
    """
    segments, lag, max_order, theiler, n_ref = _check_embedding_args(
        x, lag, max_order, theiler, n_ref
    )
    ensure_number(rtol, "rtol", gt=0)
    ensure_number(atol, "atol", gt=0)
    r_a = segments.std()
    if r_a == 0:
        raise DataError("x is constant: false nearest neighbours are undefined.")
    fractions = np.empty(max_order)
    for d in range(1, max_order + 1):
        dist, diff = _nearest_neighbours(segments, lag, d, theiler, 2.0, n_ref, seed)
        if dist.size == 0:
            raise DataError(
                f"No valid nearest neighbour at dimension {d}: the signal is too short "
                "for this lag and Theiler window."
            )
        false = (diff / dist > rtol) | (np.hypot(dist, diff) / r_a > atol)
        fractions[d - 1] = false.mean()
    return fractions
