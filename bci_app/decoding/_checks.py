"""Argument checks shared by the decoding functions and estimators.

In the manner of mne-lsl's ``utils/_checks.py``: each check names the argument, says what
was expected and what was received. A bad parameter raises
:class:`~bci_app.errors.ConfigError`, bad data :class:`~bci_app.errors.DataError` (both
are ``ValueError`` subclasses, as scikit-learn's estimator checks expect).

Names of the first axis: ``n_trials`` for the signals an estimator receives
(``(n_trials, n_channels, n_times)``, the scikit-learn / MOABB convention) and
``n_matrices`` for stacks of SPD matrices (pyRiemann's name).
"""

import operator
from collections.abc import Hashable
from numbers import Real

import numpy as np

from ..errors import ConfigError, DataError


def _listing(values):
    return ", ".join(repr(v) for v in values)


def check_type(item, types, item_name, extra=""):
    """Check that ``item`` is an instance of one of ``types``.

    Parameters
    ----------
    item : object
        Value to check.
    types : tuple of type
        Accepted types.
    item_name : str
        How the message names the argument, e.g. ``"FastMDM parameter metric"``.
    extra : str
        Appended to the expectation, e.g. ``" with keys 'mean' and 'distance'"``.

    Raises
    ------
    ConfigError
        If ``item`` has another type.
    """
    if not isinstance(item, types):
        names = " or ".join(t.__name__ for t in types)
        raise ConfigError(f"{item_name} must be an instance of {names}{extra}, got "
                          f"{type(item).__name__}.")


def check_value(item, allowed_values, item_name):
    """Check that ``item`` is one of ``allowed_values``.

    Parameters
    ----------
    item : object
        Value to check.
    allowed_values : sequence
        The values accepted, listed in the message in this order.
    item_name : str
        How the message names the argument.

    Raises
    ------
    ConfigError
        If ``item`` is not one of them (unhashable values never are).
    """
    if not isinstance(item, Hashable) or item not in allowed_values:
        raise ConfigError(f"{item_name} must be one of {_listing(allowed_values)}, "
                          f"got {item!r}.")


def check_choices(items, allowed_values, item_name):
    """Check a non-empty selection of distinct values among ``allowed_values``.

    Parameters
    ----------
    items : str | sequence of str
        One value, or several.
    allowed_values : sequence
        The values accepted.
    item_name : str
        How the message names the argument.

    Returns
    -------
    items : tuple
        The selection, in the order given.

    Raises
    ------
    ConfigError
        If the selection is empty, holds an unknown value, or holds duplicates.
    """
    try:
        chosen = (items,) if isinstance(items, str) else tuple(items)
    except TypeError:
        raise ConfigError(f"{item_name} must be a name or a list of names among "
                          f"{list(allowed_values)}, got {items!r}.") from None
    if not chosen:
        raise ConfigError(f"{item_name} is empty; choose from {list(allowed_values)}.")
    unknown = [v for v in chosen if not isinstance(v, Hashable) or v not in allowed_values]
    if unknown:
        raise ConfigError(f"{item_name} has unknown values {unknown}; "
                          f"allowed: {list(allowed_values)}.")
    if len(set(chosen)) != len(chosen):
        raise ConfigError(f"{item_name} has duplicates: {list(chosen)}.")
    return chosen


def ensure_int(item, item_name, minimum=None, extra=""):
    """Return ``item`` as an int, checking its lower bound.

    Integers of any kind (``int``, numpy integers) are accepted; ``bool``, floats (even
    ``2.0``), strings and ``None`` are not.

    Parameters
    ----------
    item : object
        Value to check.
    item_name : str
        How the message names the argument.
    minimum : int | None
        Smallest value allowed.
    extra : str
        Appended to the expectation, e.g. ``" (samples)"``.

    Returns
    -------
    item : int

    Raises
    ------
    ConfigError
        If ``item`` is not an integer or is below ``minimum``.
    """
    try:
        if isinstance(item, bool):  # True is much more likely a mistake than a 1
            raise TypeError
        value = int(operator.index(item))
    except TypeError:
        value = None
    if value is None or (minimum is not None and value < minimum):
        bound = "" if minimum is None else f" >= {minimum}"
        raise ConfigError(f"{item_name} must be an integer{bound}{extra}, got {item!r}.")
    return value


def _bounds(gt, ge, lt, le):
    low = f"({gt}" if gt is not None else f"[{ge}" if ge is not None else None
    high = f"{lt})" if lt is not None else f"{le}]" if le is not None else None
    if low and high:
        return f" in {low}, {high}"
    if low:
        return f" > {gt}" if gt is not None else f" >= {ge}"
    if high:
        return f" < {lt}" if lt is not None else f" <= {le}"
    return ""


def ensure_number(item, item_name, *, gt=None, ge=None, lt=None, le=None, unit=None):
    """Return ``item`` as a float, checking that it is a finite real number within bounds.

    Parameters
    ----------
    item : object
        Value to check (a real number; ``bool`` and strings are refused).
    item_name : str
        How the message names the argument.
    gt, ge, lt, le : float | None
        Bounds: greater than, greater or equal, less than, less or equal.
    unit : str | None
        Unit shown in the message, e.g. ``"Hz"``.

    Returns
    -------
    item : float

    Raises
    ------
    ConfigError
        If ``item`` is not a finite real number, or is out of bounds.
    """
    ok = isinstance(item, Real) and not isinstance(item, bool) and np.isfinite(item)
    if ok:
        value = float(item)
        ok = ((gt is None or value > gt) and (ge is None or value >= ge)
              and (lt is None or value < lt) and (le is None or value <= le))
    if not ok:
        unit = f" ({unit})" if unit else ""
        raise ConfigError(f"{item_name} must be a number{_bounds(gt, ge, lt, le)}{unit}, "
                          f"got {item!r}.")
    return value


def _real_array(X, item_name, dtype, allow_complex=False):
    """``X`` as an array of numbers (complex only if allowed), cast to ``dtype``.

    ``dtype=None`` keeps a floating (or allowed complex) dtype and casts other numbers to
    float64.
    """
    if np.iscomplexobj(X) and not allow_complex:
        raise DataError(f"{item_name} must hold real numbers, got dtype {X.dtype}.")
    if not np.issubdtype(X.dtype, np.number):
        raise DataError(f"{item_name} must hold numbers, got dtype {X.dtype}.")
    if dtype is None:
        if np.issubdtype(X.dtype, np.inexact):
            return X
        dtype = np.float64
    return X.astype(dtype, copy=False)


def _check_values(X, item_name, finite):
    if X.size == 0:
        raise DataError(f"{item_name} is empty: shape {X.shape}.")
    if finite and not np.all(np.isfinite(X)):
        raise DataError(f"{item_name} holds NaN or infinite values; clean or reject those "
                        "trials first.")


def check_trials(X, item_name="X", *, finite=False, dtype=np.float64):
    """Return trials as an array of shape (n_trials, n_channels, n_times).

    Parameters
    ----------
    X : array-like, shape (n_trials, n_channels, n_times)
        Trials (windows) of multichannel signals, real numbers.
    item_name : str
        How the message names the data, e.g. ``"X"`` or ``"Connectivity: X"``.
    finite : bool
        Also refuse NaN and infinite values.
    dtype : numpy dtype | None
        Cast to this dtype (without a copy when it already is); None keeps a floating
        dtype (other numbers become float64).

    Returns
    -------
    X : ndarray, shape (n_trials, n_channels, n_times)

    Raises
    ------
    DataError
        If ``X`` is not 3-D, holds complex or non-numeric values, is empty, or (with
        ``finite``) holds NaN or infinite values.
    """
    X = np.asarray(X)
    if X.ndim != 3:
        raise DataError(
            f"{item_name} must have shape (n_trials, n_channels, n_times), got an array "
            f"with {X.ndim} dimension(s) {X.shape}; wrap a single window as X[np.newaxis]."
        )
    X = _real_array(X, item_name, dtype)
    _check_values(X, item_name, finite)
    return X


def check_signals(x, item_name="x"):
    """Return one signal or a stack of signals as float64, shape (n_signals, n_times).

    Parameters
    ----------
    x : array-like, shape (n_times,) or (n_signals, n_times)
        Real, finite values.
    item_name : str
        How the message names the data.

    Returns
    -------
    x : ndarray, shape (n_signals, n_times)
        A 1-D ``x`` becomes one row.

    Raises
    ------
    DataError
        If ``x`` is not 1-D or 2-D, holds complex or non-numeric values, is empty, or
        holds NaN or infinite values.
    """
    x = np.asarray(x)
    if x.ndim not in (1, 2):
        raise DataError(
            f"{item_name} must be a 1-D signal (n_times,) or a stack of signals "
            f"(n_signals, n_times), got shape {x.shape}."
        )
    x = np.atleast_2d(_real_array(x, item_name, np.float64))
    if x.size == 0:
        raise DataError(f"{item_name} is empty: shape {x.shape}.")
    if not np.all(np.isfinite(x)):
        raise DataError(f"{item_name} holds NaN or infinite values; clean the data first.")
    return x


def check_matrices(X, item_name="X", *, allow_complex=False, dtype=np.float64):
    """Return a stack of square matrices, shape (n_matrices, n_channels, n_channels).

    Parameters
    ----------
    X : array-like, shape (n_matrices, n_channels, n_channels)
        Matrices (e.g. SPD covariance or connectivity matrices).
    item_name : str
        How the message names the data.
    allow_complex : bool
        Accept complex (e.g. Hermitian) matrices.
    dtype : numpy dtype | None
        As in :func:`check_trials`.

    Returns
    -------
    X : ndarray, shape (n_matrices, n_channels, n_channels)

    Raises
    ------
    DataError
        If ``X`` is not a 3-D stack of square matrices, holds values of the wrong kind, or
        is empty.
    """
    X = np.asarray(X)
    if X.ndim != 3 or X.shape[1] != X.shape[2]:
        raise DataError(f"{item_name} must have shape (n_matrices, n_channels, n_channels), "
                        f"got shape {X.shape}.")
    X = _real_array(X, item_name, dtype, allow_complex)
    _check_values(X, item_name, finite=False)
    return X


def check_n_channels(n_channels, n_fitted, owner, matrices=False):
    """Check that data have the number of channels seen at fit.

    Parameters
    ----------
    n_channels : int
        Channels (or matrix size) of the data.
    n_fitted : int | None
        The number seen at fit; None (not fitted, or stateless) skips the check.
    owner : str
        The estimator, e.g. ``"Connectivity"``.
    matrices : bool
        Word the message for ``n x n`` matrices.

    Raises
    ------
    DataError
        If the numbers differ.
    """
    if n_fitted is None or n_channels == n_fitted:
        return
    if matrices:
        raise DataError(f"{owner} was fitted on {n_fitted} x {n_fitted} matrices but got "
                        f"{n_channels} x {n_channels}; pass matrices of the same channels, "
                        "in the same order.")
    raise DataError(f"{owner} was fitted on {n_fitted} channels but got {n_channels}; pass "
                    "the same channels, in the same order.")


def check_vector(a, n, item_name, dtype=None):
    """Return ``a`` as a 1-D array of length ``n`` (one value per trial or matrix).

    Parameters
    ----------
    a : array-like, shape (n,)
        Labels, weights...
    n : int
        Number of rows of ``X``.
    item_name : str
        How the message names the argument, e.g. ``"FastMDM.fit: y"``.
    dtype : numpy dtype | None
        Cast to this dtype.

    Raises
    ------
    DataError
        If the shape is not ``(n,)``.
    """
    a = np.asarray(a, dtype=dtype)
    if a.shape != (n,):
        raise DataError(f"{item_name} must have shape ({n},) to match X, got {a.shape}.")
    return a
