"""Functional-connectivity matrices per window, vectorised over windows.

:class:`Connectivity` turns windows of multichannel EEG into one SPD matrix
per window, so that Riemannian tools (tangent space, MDM) apply to them:

* ``"cov"``: Ledoit-Wolf shrunk covariance (equal to
  ``pyriemann.estimation.Covariances("lwf")``, computed by
  :func:`bci_app.decoding.covariance.shrunk_covariances`);
* ``"coherence"``, ``"instantaneous"``, ``"lagged"``, ``"imaginary"``:
  squared coherences from Welch cross-spectra, averaged over a frequency band
  (equal, before the SPD projection, to the band mean of
  ``pyriemann.estimation.Coherences(coh=...)``);
* ``"plv"``: phase-locking value of the analytic signal (the input must
  already be band-pass filtered).

Coherence and PLV matrices are not always positive definite (the imaginary
coherence has a zero diagonal); they are projected with
:func:`bci_app.decoding.covariance.nearest_spd`.

The sampling rate is taken from ``mne.Epochs`` input or from the ``sfreq`` parameter
(:mod:`bci_app.decoding.channels` explains the precedence).

All trials (windows) are processed together: one sliding-window view, one FFT and one
stacked matrix product for the whole batch, without a Python loop per window.
"""

import logging

import numpy as np
from numpy.lib.stride_tricks import sliding_window_view
from scipy.signal import hilbert
from sklearn.base import BaseEstimator, TransformerMixin

from ..errors import ConfigError, DataError
from ._checks import check_n_channels, check_trials, check_value, ensure_int, ensure_number
from .channels import HOW_TO_GIVE_INFO, agreed_sfreq, unpack_epochs
from .covariance import nearest_spd, shrunk_covariances

__all__ = [
    "METHODS",
    "SPECTRAL_METHODS",
    "Connectivity",
    "coherences",
    "cross_spectra",
    "phase_locking_values",
]

logger = logging.getLogger(__name__)

#: Coherence kinds, named as in this module (keys) and in pyRiemann (values).
_COHERENCE_KINDS = {
    "coherence": "ordinary",
    "instantaneous": "instantaneous",
    "lagged": "lagged",
    "imaginary": "imaginary",
}
#: Methods that need the sampling frequency.
SPECTRAL_METHODS = tuple(_COHERENCE_KINDS)
#: Every method of :class:`Connectivity`.
METHODS = ("cov",) + SPECTRAL_METHODS + ("plv",)

# Size of the per-chunk cross-spectra (bytes) when many windows are transformed at once.
_CHUNK_BYTES = 4 * 2**20


def _ctranspose(A):
    """Conjugate transpose of the last two axes."""
    return np.conj(np.swapaxes(A, -1, -2))


def _check_windows(X, name):
    """Trials (windows) of shape (n_trials, n_channels, n_times), at least 2 samples long."""
    X = check_trials(X, f"{name}: X")
    if X.shape[-1] < 2:
        raise DataError(f"{name} needs at least 2 time samples per window; got {X.shape[-1]}.")
    return X


def _check_spectral(sfreq, nperseg, overlap, fmin, fmax, n_times, name):
    """Validate spectral parameters; return (nperseg, step, n_segments, freqs, band index)."""
    if sfreq is None:
        raise ConfigError(
            f"{name}: set sfreq (Hz), the sampling frequency of the signals; it is "
            "required by the spectral methods."
        )
    sfreq = ensure_number(sfreq, f"{name}: sfreq", gt=0, unit="Hz")
    if fmin is None or fmax is None or not (0 <= fmin < fmax):
        raise ConfigError(
            f"{name}: the band must satisfy 0 <= fmin < fmax (Hz); got fmin={fmin}, fmax={fmax}."
        )
    if 2.0 * fmax > sfreq:
        raise ConfigError(
            f"{name}: fmax={fmax} Hz is above the Nyquist frequency sfreq/2={sfreq / 2} Hz."
        )
    ensure_number(overlap, f"{name}: overlap", gt=0, lt=1)
    if nperseg is None:
        # about half a second, as a power of two, and no longer than the window
        nperseg = 1
        while nperseg < sfreq / 2:
            nperseg *= 2
        nperseg = min(nperseg, n_times)
    nperseg = ensure_int(nperseg, f"{name}: nperseg", minimum=2, extra=" (samples)")
    if nperseg > n_times:
        raise DataError(
            f"{name}: nperseg={nperseg} samples is longer than the windows ({n_times} samples); "
            "lower nperseg or use longer windows."
        )
    step = int((1.0 - overlap) * nperseg)
    if step < 1:
        raise ConfigError(
            f"{name}: overlap={overlap} leaves no step between segments of {nperseg} samples."
        )
    n_segments = int((n_times - nperseg) / step + 1)
    freqs = np.arange(nperseg // 2 + 1) * (sfreq / nperseg)
    band = np.flatnonzero((freqs >= fmin) & (freqs <= fmax))
    if band.size == 0:
        raise ConfigError(
            f"{name}: no frequency bin in [{fmin}, {fmax}] Hz with nperseg={nperseg} at "
            f"sfreq={sfreq} Hz (resolution {sfreq / nperseg:.3g} Hz)."
        )
    return nperseg, step, n_segments, freqs, band


def cross_spectra(X, sfreq, fmin, fmax, nperseg=None, overlap=0.75):
    """Welch cross-spectral matrices of every window, restricted to a band.

    Segments of ``nperseg`` samples every ``int((1 - overlap) * nperseg)``
    samples, a symmetric Hann window (:func:`numpy.hanning`), real FFT, and the
    average of ``conj(F_c) * F_d`` over segments, normalised by
    ``n_segments * sum(window ** 2)`` -- the conventions of
    :func:`pyriemann.geometry.covariance.cross_spectrum`. Bins other than DC and
    Nyquist are doubled (one-sided spectrum).

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Real signals (any unit, e.g. V).
    sfreq : float
        Sampling frequency (Hz).
    fmin, fmax : float
        Band edges (Hz), both included.
    nperseg : int | None, default=None
        Segment length (samples). None: the power of two just above
        ``sfreq / 2`` (about 0.5 s), capped at ``n_times``.
    overlap : float, default=0.75
        Overlap between segments, in (0, 1).

    Returns
    -------
    S : ndarray of complex, shape (n_trials, n_freqs, n_channels, n_channels)
        Hermitian cross-spectral matrices (unit of X squared per Hz, up to the
        constant ``sfreq``), for each frequency of ``freqs``.
    freqs : ndarray, shape (n_freqs,)
        Frequencies (Hz) of the bins in ``[fmin, fmax]``.
    """
    X = _check_windows(X, "cross_spectra")
    nperseg, step, n_segments, freqs, band = _check_spectral(
        sfreq, nperseg, overlap, fmin, fmax, X.shape[-1], "cross_spectra")
    win = np.hanning(nperseg)
    # (n, C, n_segments, nperseg) view, then only the band bins of the FFT
    segments = sliding_window_view(X, nperseg, axis=-1)[:, :, ::step][:, :, :n_segments]
    F = np.fft.rfft(segments * win, axis=-1)[..., band]          # (n, C, S, F)
    Z = np.moveaxis(F, -1, 1)                                     # (n, F, C, S)
    S = np.conj(Z) @ np.swapaxes(Z, -1, -2)                       # (n, F, C, C)
    scale = np.full(band.size, 2.0)
    scale[band == 0] = 1.0
    if nperseg % 2 == 0:
        scale[band == nperseg // 2] = 1.0
    S *= (scale / (n_segments * np.sum(win ** 2)))[:, None, None]
    return S, freqs[band]


def _coherence_from_cross_spectra(S, kind, freqs, sfreq):
    """Squared coherence of each frequency bin, shape (n, F, C, C)."""
    n_channels = S.shape[-1]
    idx = np.arange(n_channels)
    psd = np.abs(S[..., idx, idx])                                # (n, F, C)
    psd_prod = psd[..., :, None] * psd[..., None, :]              # (n, F, C, C)
    if kind == "coherence":
        num = S.real ** 2 + S.imag ** 2
        den = psd_prod
    elif kind == "instantaneous":
        num = S.real ** 2
        den = psd_prod
    elif kind == "imaginary":
        num = S.imag ** 2
        den = psd_prod
    elif kind == "lagged":
        re = S.real.copy()
        re[..., idx, idx] = 0.0
        den = psd_prod - re ** 2
        # floor relative to the spectral power, so that the result does not depend on
        # the unit of the signals (pyRiemann uses an absolute floor of 1e-10)
        den = np.maximum(den, 1e-10 * psd_prod)
        num = S.imag ** 2
    else:  # pragma: no cover - validated by the callers
        raise ConfigError(f"unknown coherence kind {kind!r}; allowed: {list(_COHERENCE_KINDS)}.")
    coh = np.divide(num, den, out=np.zeros_like(num), where=den != 0)
    if kind == "lagged":
        # not defined at DC and Nyquist, where the cross-spectrum is real
        undefined = (freqs <= 0) | (freqs >= sfreq / 2)
        coh[:, undefined] = 0.0
    return coh


def coherences(X, sfreq, fmin=8.0, fmax=35.0, kind="coherence", nperseg=None, overlap=0.75):
    """Band-averaged squared coherence matrices of every window.

    Equal to ``pyriemann.estimation.Coherences(window=nperseg, overlap=overlap,
    fmin=fmin, fmax=fmax, fs=sfreq, coh=...).transform(X).mean(axis=-1)`` for a
    power-of-two ``nperseg`` (pyRiemann rounds its window up to a power of two),
    with ``coh`` = ``"ordinary"`` for ``kind="coherence"``.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Real signals.
    sfreq : float
        Sampling frequency (Hz).
    fmin, fmax : float, default=8.0, 35.0
        Band edges (Hz), both included.
    kind : {"coherence", "instantaneous", "lagged", "imaginary"}, default="coherence"
        Magnitude-squared coherence, squared real part (in phase), squared
        lagged coherence, or squared imaginary part (out of phase) of the
        coherency.
    nperseg : int | None, default=None
        Welch segment length (samples), see :func:`cross_spectra`.
    overlap : float, default=0.75
        Overlap between segments, in (0, 1).

    Returns
    -------
    coh : ndarray, shape (n_trials, n_channels, n_channels)
        Symmetric matrices with values in [0, 1] (not necessarily positive
        definite).

    Notes
    -----
    For ``kind="lagged"`` the denominator floor is relative
    (``1e-10 * psd_i * psd_j``). pyRiemann floors it at an absolute ``1e-10``,
    which for signals in volts (spectral power ~1e-20) replaces every
    denominator and returns values ~1e-10; both agree on unit-scaled signals.
    """
    check_value(kind, tuple(_COHERENCE_KINDS), "coherences: kind")
    X = _check_windows(X, "coherences")
    n_trials, n_channels, n_times = X.shape
    _, _, _, _, band = _check_spectral(sfreq, nperseg, overlap, fmin, fmax, n_times, "coherences")
    # windows by chunks, to keep the (chunk, n_freqs, C, C) temporaries in cache
    chunk = max(1, _CHUNK_BYTES // (16 * band.size * n_channels ** 2))
    out = np.empty((n_trials, n_channels, n_channels))
    for start in range(0, n_trials, chunk):
        S, freqs = cross_spectra(X[start:start + chunk], sfreq, fmin, fmax, nperseg=nperseg,
                                 overlap=overlap)
        out[start:start + chunk] = _coherence_from_cross_spectra(
            S, kind, freqs, float(sfreq)).mean(axis=1)
    return out


def phase_locking_values(X):
    r"""Phase-locking value between every pair of channels of every window.

    :math:`PLV_{ij} = |\frac{1}{T}\sum_t e^{i(\phi_i(t) - \phi_j(t))}|`, with the
    phases :math:`\phi` of the analytic signal (:func:`scipy.signal.hilbert`
    along time). The signals should be band-pass filtered beforehand.

    Parameters
    ----------
    X : ndarray, shape (n_trials, n_channels, n_times)
        Real, band-limited signals.

    Returns
    -------
    plv : ndarray, shape (n_trials, n_channels, n_channels)
        Symmetric matrices with values in [0, 1] and a unit diagonal (zero for
        a flat channel).
    """
    X = _check_windows(X, "phase_locking_values")
    analytic = hilbert(X, axis=-1)
    amplitude = np.abs(analytic)
    phasors = np.divide(analytic, amplitude, out=np.zeros_like(analytic), where=amplitude > 0)
    plv = np.abs(phasors @ _ctranspose(phasors)) / X.shape[-1]
    return plv


class Connectivity(TransformerMixin, BaseEstimator):
    """Connectivity matrix of each window, as an SPD matrix.

    Parameters
    ----------
    method : {"cov", "coherence", "instantaneous", "lagged", "imaginary", "plv"}, \
            default="coherence"
        ``"cov"``: Ledoit-Wolf covariance; ``"coherence"``: magnitude-squared
        coherence; ``"instantaneous"``: squared real part of the coherency;
        ``"lagged"``: squared lagged coherence; ``"imaginary"``: squared
        imaginary part of the coherency (the coherences are averaged over
        ``[fmin, fmax]``, see :func:`coherences`); ``"plv"``: phase-locking
        value (the signals must already be band-pass filtered).
    fmin, fmax : float, default=8.0, 35.0
        Band (Hz) over which coherences are averaged. Not used by ``"cov"``
        and ``"plv"``.
    sfreq : float | None, default=None
        Sampling frequency (Hz). Required by the coherence methods: taken from
        ``mne.Epochs`` input when None, else bound from the recording by
        :func:`~bci_app.decoding.channels.bind_recording_info`.
    nperseg : int | None, default=None
        Welch segment length (samples). None: the power of two just above
        ``sfreq / 2`` (about 0.5 s), capped at the window length.
    overlap : float, default=0.75
        Overlap between Welch segments, in (0, 1).
    regularization : float, default=1e-6
        Relative eigenvalue floor of :func:`nearest_spd`, applied to the
        coherence and PLV matrices (not to ``"cov"``, which is SPD).

    Attributes
    ----------
    n_channels_ : int
        Number of channels seen at fit.
    sfreq_ : float | None
        Sampling frequency used at fit (from the Epochs or ``sfreq``).

    Notes
    -----
    Stateless: ``fit`` only validates the parameters and records the number of
    channels. All windows of a call are computed together.
    """

    def __init__(self, method="coherence", fmin=8.0, fmax=35.0, sfreq=None, nperseg=None,
                 overlap=0.75, regularization=1e-6):
        self.method = method
        self.fmin = fmin
        self.fmax = fmax
        self.sfreq = sfreq
        self.nperseg = nperseg
        self.overlap = overlap
        self.regularization = regularization

    def _validate(self, X):
        """(trials as an array, sampling rate) of ``X``, with the parameters checked."""
        check_value(self.method, METHODS, "Connectivity parameter method")
        ensure_number(self.regularization, "Connectivity parameter regularization", ge=0)
        X, found, _ = unpack_epochs(X, "Connectivity")
        sfreq = agreed_sfreq("Connectivity", self.sfreq, found)
        fitted = getattr(self, "sfreq_", None)
        if sfreq is None:
            sfreq = fitted
        elif fitted is not None and abs(sfreq - fitted) > 1e-6 * fitted:
            raise DataError(f"Connectivity was fitted at {fitted:g} Hz but the data are "
                            f"sampled at {sfreq:g} Hz; resample them or fit again.")
        X = _check_windows(X, "Connectivity")
        if self.method in SPECTRAL_METHODS:
            if sfreq is None:
                raise ConfigError(f"Connectivity(method={self.method!r}) needs the sampling "
                                  "frequency of the signals (plain arrays carry none): "
                                  f"{HOW_TO_GIVE_INFO} (parameter sfreq).")
            _check_spectral(sfreq, self.nperseg, self.overlap, self.fmin, self.fmax,
                            X.shape[-1], f"Connectivity(method={self.method!r})")
        return X, sfreq

    def fit(self, X, y=None):
        """Validate the parameters against the data.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Signals.
        y : None
            Ignored.

        Returns
        -------
        self : Connectivity
            This transformer.
        """
        for attr in ("sfreq_", "n_channels_"):  # a new fit forgets the previous data
            self.__dict__.pop(attr, None)
        X, self.sfreq_ = self._validate(X)
        self.n_channels_ = X.shape[1]
        logger.debug("Connectivity(method=%s) fitted on %d channels", self.method, self.n_channels_)
        return self

    def transform(self, X):
        """Compute one connectivity matrix per window.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Signals.

        Returns
        -------
        covs : ndarray, shape (n_trials, n_channels, n_channels)
            SPD matrices.
        """
        X, sfreq = self._validate(X)
        check_n_channels(X.shape[1], getattr(self, "n_channels_", None), "Connectivity")
        if self.method == "cov":
            return shrunk_covariances(X, estimator="lwf")
        if self.method == "plv":
            M = phase_locking_values(X)
        else:
            M = coherences(X, sfreq, self.fmin, self.fmax, kind=self.method,
                           nperseg=self.nperseg, overlap=self.overlap)
        return nearest_spd(M, self.regularization)

    def __sklearn_is_fitted__(self):
        """Stateless: usable without fit."""
        return True
