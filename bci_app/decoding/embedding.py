"""Data-driven delay-embedding parameters (lag and order) for augmented covariances.

The augmented covariance matrix (:mod:`bci_app.decoding.augmented`) needs an embedding
lag ``tau`` and order ``p``. Instead of a cross-validated grid (MOABB's reference grid is
10 x 10 values), both can be estimated from the training data with the classic tools of
nonlinear time-series analysis, as Carrara & Papadopoulo proposed:

**Lag: first significant minimum of the average mutual information**
(:func:`estimate_lag`, :func:`average_mutual_information`; Fraser & Swinney 1986).
``I(tau) = I(x_t; x_{t+tau})`` is estimated with a 2-D histogram per signal: each signal
is cut into ``n_bins`` equal-width bins between its minimum and maximum (or equiprobable
bins with ``binning="quantile"``), ``n_bins`` defaulting to Rice's rule
``ceil(2 * n_pairs ** (1/3))`` for the ``n_pairs = n_times - max_lag`` pairs of the
largest lag (16 bins for 500-sample windows, 14 for 321), in nats. The curves of all
trials and channels are averaged (averaging the curves rather than the per-channel
minima gives one smooth curve, robust to noisy channels) and the lag is the first
minimum ``tau >= 1`` that the curve then rises above by more than its estimation noise:
the running minimum ``best`` is returned at the first ``tau`` where
``I(tau) - I(best) > noise_z * SE`` (``noise_z = 2``), ``SE`` being the standard error
of that difference across trials (per-trial curves, channels averaged; at least 5
trials, otherwise any rise counts and this is the plain first local minimum). Without
such a minimum, the lag is the first ``tau`` where the curve falls below ``I(0) / e``;
failing that, ``max_lag``.

Why this estimator. The former default, Sturges' ``ceil(log2(n_pairs)) + 1`` bins, grows
like ``log n`` and oversmooths long signals (Hyndman 1995), whereas the bin width that
minimises a histogram's integrated squared error shrinks like ``n ** (-1/3)`` (Scott
1979; Freedman & Diaconis 1981), the growth of Rice's rule. Too coarse a partition
flattens the AMI curve and moves its minimum: on the x coordinate of the Lorenz system
(sigma=10, rho=28, beta=8/3), whose AMI has its first minimum at 0.160 time units (a
Kraskov k-NN estimate and 64-256-bin histograms of ~10^7 pairs agree to 0.002), 5500
samples at dt=0.02 give a 14-bin curve whose minimum sits near 0.186 time units and lies
0.002 nats below the next lag on average, while the sampling noise of that difference on
one series is 0.009 nats: over 300 independent trajectories the first minimum spread
over 8-14 samples (56 % within 7-9), and a scipy update moved the test trajectory's from
~9 to 12. With Rice's 36 bins all 300 give 8 samples, the known answer (2000-sample
series: 99.8 % within 7-9 instead of 41 %). The noise criterion guards the training-set
case, where a flat shoulder makes "first local minimum" a coin toss: on PhysioNet
subject 3 the averaged curve differs by 1e-4 nats between lags 2 and 3 (standard error
0.008 across trials), and the plain rule, with either partition, gives 2 or 4 depending
on the signal subsample or on which half or third of the trials is used; the noise
criterion gives 4 on each. (A block-jackknife noise estimate for single signals was
tried and dropped: on one 500-2000-sample Lorenz series it is so large that 18-67 % of
the series had no accepted minimum; a single signal therefore uses the plain first
minimum of the finer curve.)
Cost: ``O(n_signals * (max_lag + 1) * (n_times + n_bins**2))`` (one ``bincount`` per lag,
vectorised over signals, and a table of ``c log c`` for the integer counts, so that the
finer partition costs no more than the former one: 2000 signals x 500 samples, lags
0-10, take 60-110 ms depending on the machine's load, as with 10 Sturges bins), plus ``O(n_signals * max_lag)`` for the
noise, with ``n_signals`` capped at ``max_signals`` (default 2000, fixed-seed subsample).

**Order: Cao's averaged false neighbours** (:func:`estimate_order` with
``method="cao"``, :func:`cao_e1`; Cao 1997, Physica D 110:43-50).
For each dimension ``d``, every delay vector's nearest neighbour (Chebyshev / max norm)
gives ``a(i, d) = |y_i(d+1) - y_n(d+1)| / |y_i(d) - y_n(d)|``; ``E(d)`` is its mean and
``E1(d) = E(d+1) / E(d)`` stops changing (tends to 1) once ``d`` is a sufficient
embedding dimension. ``E2(d) = E*(d+1) / E*(d)``, with ``E*(d)`` the mean distance of
the neighbours' next samples, stays close to 1 for every ``d`` on stochastic signals
(and departs from 1 for some ``d`` on deterministic ones). The order is the smallest ``d`` with
``E1(d) >= 0.9``; failing that, the first ``d`` where ``E1`` increases by less than
0.02; failing that, ``max_order``.

**Order: false nearest neighbours** (``method="fnn"``, :func:`false_nearest_neighbours`;
Kennel, Brown & Abarbanel 1992, Phys. Rev. A 45:3403). With Euclidean distances ``R_d``
to the nearest neighbour, a neighbour is false when the added coordinate separates the
pair: ``|x_{i+d tau} - x_{n+d tau}| / R_d > 10`` or ``R_{d+1} / R_A > 2`` (``R_A`` = the
signal's standard deviation). The order is the smallest ``d`` with at most 5 % false
neighbours; failing that, the first ``d`` within 0.02 of the lowest fraction reached.
(Nichkawde's MDOP, the authors' other choice, builds non-uniform delays and does not map
onto one ``(order, lag)`` pair; it is not implemented.)

Neighbour searches (both order methods) pool, per channel, the delay vectors of all
(subsampled) trials into one ``scipy.spatial.cKDTree``; vectors never span two trials,
and neighbours from the same trial closer than a Theiler window (``lag`` samples by
default) in time are excluded, so that oversampled signals are not matched with their
own immediate past. At most ``max_channels`` channels (default 8) and ``max_trials``
trials (default 20) are used, and ``n_ref`` reference points (default 500) per channel
and dimension are queried, all drawn with a fixed seed: results are deterministic.
Cost per channel and dimension: ``O(M log M)`` to build the tree of
``M = n_trials * n_times`` points plus ``O(n_ref * k * log M)`` to query it
(``k = 2 * theiler + 10`` candidate neighbours; k-d trees degrade with the dimension,
so the queries at the highest ``d`` dominate), for ``max_order + 1`` (Cao) or
``max_order`` (FNN) dimensions; independent of the number of channels beyond
``max_channels`` and of the number of trials beyond ``max_trials``.

Measured on one core of the development machine (Python 3.11, numpy 2.4, scipy 1.17),
40 trials x 22 channels x 500 samples (250 Hz; 10 Hz resonant noise plus broadband noise,
band-passed 8-35 Hz), defaults ``max_lag=10``, ``max_order=10``:

==================================================  ==========
``estimate_lag`` (880 AMI curves, lags 0-10)         ~30 ms
``estimate_order(method="cao")`` (lag 6)             ~0.9 s
``estimate_order(method="fnn")`` (lag 6)             ~0.8 s
==================================================  ==========

On PhysioNet EEGMMIDB imagery (subjects 1-5, 64 channels at 160 Hz, 8-35 Hz,
0.5-2.5 s after the cue) they give a lag of 2-4 samples (3, 2, 4, 2, 2; subject 3 gave 2
with the former first-local-minimum rule, see above), a Cao order of 8 and an FNN order
of 5 (E2 stays within about 0.15 of 1: the signals look stochastic to Cao's test).
They run once per training set, where a 10 x 10 (order, lag) grid with 5-fold
cross-validation fits 500 pipelines.
"""

import logging

import numpy as np

from ..errors import DataError
from ._checks import check_trials, check_value, ensure_int, ensure_number
from ._false_neighbours import CaoStatistics, _subsample, cao_e1, false_nearest_neighbours
from ._mutual_information import average_mutual_information

__all__ = [
    "CaoStatistics",
    "ORDER_METHODS",
    "average_mutual_information",
    "cao_e1",
    "estimate_lag",
    "estimate_order",
    "false_nearest_neighbours",
]

logger = logging.getLogger(__name__)

#: Order estimators offered by :func:`estimate_order`.
ORDER_METHODS = ("cao", "fnn")

#: Default decision thresholds of :func:`estimate_order`, per method.
_DEFAULT_THRESHOLD = {"cao": 0.9, "fnn": 0.05}
#: Saturation tolerance: smallest increment of E1 (Cao) / distance to the lowest FNN
#: fraction (FNN) considered a plateau when the threshold is never reached.
_PLATEAU_TOL = 0.02


# ----------------------------------------------------------------------------------------
# Lag: first significant minimum of the average mutual information
# ----------------------------------------------------------------------------------------


#: Fewest independent recordings (trials) from which :func:`estimate_lag` estimates the
#: noise of the averaged AMI curve; with fewer, any rise after a minimum counts.
_MIN_NOISE_UNITS = 5


def _first_minimum(curve, unit_curves, noise_z):
    """First minimum of ``curve`` that it then rises above by more than its noise.

    Parameters
    ----------
    curve : ndarray, shape (max_lag + 1,)
        Averaged AMI curve.
    unit_curves : ndarray, shape (n_units, max_lag + 1)
        Mean curve of each independent recording (trial); the spread of their
        differences gives the standard error of ``curve[tau] - curve[best]``. With fewer
        than ``_MIN_NOISE_UNITS`` rows the noise is taken as 0.
    noise_z : float
        The rise must exceed ``noise_z`` standard errors.

    Returns
    -------
    tau : int | None
        The running minimum ``best`` (over ``1 .. tau - 1``) at the first ``tau`` where
        ``curve[tau] - curve[best]`` exceeds the noise, or ``None`` if there is none up to
        ``max_lag``. With zero noise this is the first local minimum.
    """
    n_units = len(unit_curves)
    best = 1
    for tau in range(2, len(curve)):
        if curve[tau] < curve[best]:
            best = tau
            continue
        noise = 0.0
        if n_units >= _MIN_NOISE_UNITS and noise_z > 0:
            diff = unit_curves[:, tau] - unit_curves[:, best]
            noise = noise_z * diff.std(ddof=1) / np.sqrt(n_units)
        if curve[tau] - curve[best] > noise and curve[best] < curve[best - 1]:
            return best
    return None


def estimate_lag(X, max_lag=10, n_bins=None, binning="equal", max_signals=2000, seed=0,
                 noise_z=2.0):
    """Embedding lag: first significant minimum of the trial- and channel-averaged AMI.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Training trials (any leading shape ``(..., n_times)`` is accepted; the first axis
        indexes independent recordings, a 1-D ``X`` is one recording).
    max_lag : int
        Largest lag considered, in samples (``>= 1``).
    n_bins : int | None
        Histogram bins, see :func:`average_mutual_information` (``None``: Rice's rule,
        ``ceil(2 * (n_times - max_lag) ** (1/3))``).
    binning : {"equal", "quantile"}
        Bin placement, see :func:`average_mutual_information`.
    max_signals : int
        At most this many (trial, channel) signals are used, drawn with ``seed``.
    seed : int
        Seed of the subsampling.
    noise_z : float
        A minimum counts once the curve rises above it by more than ``noise_z`` standard
        errors, estimated from the spread of the per-trial curves (needs at least 5
        trials; otherwise any rise counts). ``0`` accepts the first local minimum
        whatever its depth.

    Returns
    -------
    lag : int
        The first ``tau >= 1`` where the averaged AMI has a minimum that the curve then
        rises above by more than its noise; otherwise the first ``tau`` where it falls
        below ``AMI(0) / e``; otherwise ``max_lag``.

    Notes
    -----
    The AMI of every selected signal is computed once
    (:func:`average_mutual_information`); the per-trial means and their spread add
    ``O(n_signals * max_lag)``. Deterministic for a given ``seed``.
    """
    X = np.asarray(X)
    if X.ndim < 1 or X.size == 0:
        raise DataError(f"X must have shape (n_trials, n_channels, n_times), got {X.shape}.")
    max_lag = ensure_int(max_lag, "max_lag", minimum=1, extra=" (samples)")
    max_signals = ensure_int(max_signals, "max_signals", minimum=1)
    ensure_number(noise_z, "noise_z", ge=0)
    n_times = X.shape[-1]
    per_unit = int(np.prod(X.shape[1:-1])) if X.ndim >= 2 else 1
    signals = X.reshape(-1, n_times)
    index = _subsample(len(signals), max_signals, seed)
    curves = average_mutual_information(signals[index], max_lag, n_bins, binning)
    curve = curves.mean(axis=0)
    units, unit_of = np.unique(index // max(per_unit, 1), return_inverse=True)
    unit_curves = np.zeros((len(units), max_lag + 1))
    np.add.at(unit_curves, unit_of, curves)
    unit_curves /= np.bincount(unit_of, minlength=len(units))[:, None]
    logger.debug("Average mutual information (nats), tau=0..%d: %s", max_lag, np.round(curve, 4))

    tau = _first_minimum(curve, unit_curves, noise_z)
    if tau is not None:
        logger.info("Embedding lag %d samples: first minimum of the average mutual "
                    "information that it then rises above by more than %g standard errors "
                    "(%d signals from %d trials)", tau, noise_z, len(index), len(units))
        return tau
    below = np.nonzero(curve[1:] <= curve[0] / np.e)[0]
    if below.size:
        tau = int(below[0]) + 1
        logger.info("Embedding lag %d samples: the average mutual information has no "
                    "minimum clearing its noise up to %d and first falls below 1/e of "
                    "AMI(0) there", tau, max_lag)
        return tau
    logger.warning("Embedding lag: the average mutual information neither has a minimum "
                   "clearing its noise nor falls below 1/e of AMI(0) up to max_lag=%d; "
                   "using %d", max_lag, max_lag)
    return max_lag


# ----------------------------------------------------------------------------------------
# Order: saturation of Cao's E1 or of the false-neighbour fraction
# ----------------------------------------------------------------------------------------


def estimate_order(X, lag, max_order=10, method="cao", threshold=None, theiler=None,
                   max_channels=8, max_trials=20, n_ref=500, seed=0):
    """Embedding order from Cao's E1 or false nearest neighbours, averaged over channels.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Training trials.
    lag : int
        Embedding lag in samples (e.g. from :func:`estimate_lag`).
    max_order : int
        Largest order considered.
    method : {"cao", "fnn"}
        ``"cao"``: Cao's E1 (Chebyshev neighbours); ``"fnn"``: Kennel's false nearest
        neighbours (Euclidean neighbours).
    threshold : float | None
        ``"cao"``: order = smallest ``d`` with mean ``E1(d) >= threshold`` (default 0.9).
        ``"fnn"``: smallest ``d`` with a mean fraction of false neighbours
        ``<= threshold`` (default 0.05). See the module docstring for the fallbacks.
    theiler : int | None
        Theiler window in samples (``None``: ``lag``).
    max_channels, max_trials : int
        At most this many channels and trials are used (fixed-seed subsample); the
        statistic is computed per channel (trials pooled) and averaged over channels.
    n_ref : int
        Reference vectors per channel and dimension.
    seed : int
        Seed of all subsamples.

    Returns
    -------
    order : int
        Estimated embedding order, ``1 <= order <= max_order``.
    """
    check_value(method, ORDER_METHODS, "method")
    X = check_trials(X, finite=True)
    max_order = ensure_int(max_order, "max_order", minimum=1)
    max_channels = ensure_int(max_channels, "max_channels", minimum=1)
    max_trials = ensure_int(max_trials, "max_trials", minimum=1)
    if threshold is None:
        threshold = _DEFAULT_THRESHOLD[method]
    else:
        ensure_number(threshold, "threshold", gt=0)
    trials = _subsample(X.shape[0], max_trials, seed)
    channels = _subsample(X.shape[1], max_channels, seed + 1)

    curves = []
    for ch in channels:
        segments = X[trials, ch, :]
        if method == "cao":
            curves.append(cao_e1(segments, lag, max_order, theiler, n_ref, seed).E1)
        else:
            curves.append(false_nearest_neighbours(
                segments, lag, max_order, theiler=theiler, n_ref=n_ref, seed=seed))
    curve = np.nanmean(np.asarray(curves), axis=0)
    order, rule = _saturation(curve, method, threshold)
    name = "Cao's E1" if method == "cao" else "false-neighbour fraction"
    logger.info("Embedding order %d (%s, lag %d; %s), from %d channels x %d trials; "
                "%s for d=1..%d: %s", order, method, lag, rule, len(channels), len(trials),
                name, max_order, np.round(curve, 3))
    return order


def _saturation(curve, method, threshold):
    """The order where ``curve`` (E1 or FNN fraction for d = 1 .. max_order) saturates.

    Returns
    -------
    order : int
        The first ``d`` meeting the threshold; failing that, the first on the plateau
        (increment of E1 below, or fraction within, :data:`_PLATEAU_TOL`); failing that,
        ``max_order``.
    rule : str
        Which of these rules gave the order, for the log.
    """
    dims = np.arange(1, len(curve) + 1)
    if method == "cao":
        hits = np.nonzero(curve >= threshold)[0]
        rule = f"first E1 >= {threshold}"
        if not hits.size:
            hits = np.nonzero(np.diff(curve) < _PLATEAU_TOL)[0]
            rule = f"E1 never reaches {threshold}; first increment below {_PLATEAU_TOL}"
    else:
        hits = np.nonzero(curve <= threshold)[0]
        rule = f"first fraction <= {threshold}"
        if not hits.size:
            hits = np.nonzero(curve <= np.nanmin(curve) + _PLATEAU_TOL)[0]
            rule = f"fraction never <= {threshold}; first within {_PLATEAU_TOL} of its minimum"
    if hits.size:
        return int(dims[hits[0]]), rule
    return len(curve), "no saturation; max_order"
