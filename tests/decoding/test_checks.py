"""The shared argument checks of bci_app.decoding: what they accept, and their messages."""

import numpy as np
import pytest

from bci_app.decoding._checks import (
    check_choices,
    check_matrices,
    check_n_channels,
    check_signals,
    check_trials,
    check_type,
    check_value,
    check_vector,
    ensure_int,
    ensure_number,
)
from bci_app.errors import ConfigError, DataError


def test_check_type():
    check_type("riemann", (str, dict), "metric")
    with pytest.raises(ConfigError, match=r"metric must be an instance of str or dict, got int\."):
        check_type(3, (str, dict), "metric")


def test_check_value():
    check_value("oas", ("oas", "lwf"), "estimator")
    with pytest.raises(ConfigError, match=r"estimator must be one of 'oas', 'lwf', got 'x'\."):
        check_value("x", ("oas", "lwf"), "estimator")
    with pytest.raises(ConfigError, match="got \\['oas'\\]"):  # unhashable: never allowed
        check_value(["oas"], ("oas", "lwf"), "estimator")


def test_check_choices():
    assert check_choices("cov", ("cov", "plv"), "estimators") == ("cov",)
    assert check_choices(["plv", "cov"], ("cov", "plv"), "estimators") == ("plv", "cov")
    with pytest.raises(ConfigError, match="estimators is empty; choose from"):
        check_choices((), ("cov", "plv"), "estimators")
    with pytest.raises(ConfigError, match=r"unknown values \['pli'\]; allowed: \['cov', 'plv'\]"):
        check_choices(("cov", "pli"), ("cov", "plv"), "estimators")
    with pytest.raises(ConfigError, match="duplicates"):
        check_choices(("cov", "cov"), ("cov", "plv"), "estimators")
    with pytest.raises(ConfigError, match="a name or a list of names"):
        check_choices(3, ("cov", "plv"), "estimators")


@pytest.mark.parametrize("good", [1, 7, np.int64(3), np.uint8(2)])
def test_ensure_int_accepts_integers(good):
    value = ensure_int(good, "order", minimum=1)
    assert value == good and type(value) is int


@pytest.mark.parametrize("bad", [0, -1, 1.5, 2.0, "2", True, None, np.float64(2.0)])
def test_ensure_int_refuses(bad):
    with pytest.raises(ConfigError, match=r"lag must be an integer >= 1 \(samples\), got"):
        ensure_int(bad, "lag", minimum=1, extra=" (samples)")


def test_ensure_number():
    assert ensure_number(np.float32(0.5), "overlap", gt=0, lt=1) == 0.5
    assert ensure_number(3, "C", gt=0) == 3.0
    with pytest.raises(ConfigError, match=r"overlap must be a number in \(0, 1\), got 1"):
        ensure_number(1, "overlap", gt=0, lt=1)
    with pytest.raises(ConfigError, match=r"l1_ratio must be a number in \[0, 1\], got 1.5"):
        ensure_number(1.5, "l1_ratio", ge=0, le=1)
    with pytest.raises(ConfigError, match=r"sfreq must be a number > 0 \(Hz\), got -250"):
        ensure_number(-250, "sfreq", gt=0, unit="Hz")
    for bad in (np.nan, np.inf, None, "1", True):
        with pytest.raises(ConfigError, match="noise_z must be a number >= 0"):
            ensure_number(bad, "noise_z", ge=0)


def test_check_trials():
    X = check_trials(np.ones((2, 3, 4), dtype=np.int16))
    assert X.dtype == np.float64 and X.shape == (2, 3, 4)
    f32 = np.ones((2, 3, 4), dtype=np.float32)
    assert check_trials(f32, dtype=None) is f32
    f64 = np.ones((2, 3, 4))
    assert check_trials(f64) is f64  # no copy
    with pytest.raises(DataError, match=r"Connectivity: X must have shape \(n_trials, "
                                        r"n_channels, n_times\), got an array with 2 "):
        check_trials(np.ones((3, 4)), "Connectivity: X")
    with pytest.raises(DataError, match="X must hold real numbers, got dtype complex"):
        check_trials(np.ones((1, 2, 3), dtype=complex))
    with pytest.raises(DataError, match="X must hold numbers, got dtype <U"):
        check_trials(np.full((1, 2, 3), "a"))
    with pytest.raises(DataError, match=r"X is empty: shape \(0, 2, 3\)"):
        check_trials(np.ones((0, 2, 3)))
    bad = np.ones((1, 2, 3))
    bad[0, 1, 2] = np.nan
    check_trials(bad)
    with pytest.raises(DataError, match="NaN or infinite"):
        check_trials(bad, finite=True)


def test_check_signals():
    assert check_signals(np.arange(5)).shape == (1, 5)
    with pytest.raises(DataError, match=r"1-D signal \(n_times,\) or a stack"):
        check_signals(np.ones((1, 2, 3)))
    with pytest.raises(DataError, match="NaN or infinite"):
        check_signals([1.0, np.inf])
    with pytest.raises(DataError, match="empty"):
        check_signals(np.ones((2, 0)))


def test_check_matrices_and_n_channels():
    C = np.stack([np.eye(3)] * 2).astype(np.float32)
    assert check_matrices(C).dtype == np.float64
    assert check_matrices(C, dtype=None) is C
    assert check_matrices(C + 0j, allow_complex=True, dtype=None).dtype == np.complex64
    with pytest.raises(DataError, match=r"\(n_matrices, n_channels, n_channels\)"):
        check_matrices(np.ones((2, 3, 4)))
    with pytest.raises(DataError, match="real numbers"):
        check_matrices(C + 1j)
    check_n_channels(3, None, "GraphFeatures")
    with pytest.raises(DataError, match="GraphFeatures was fitted on 4 channels but got 3"):
        check_n_channels(3, 4, "GraphFeatures")
    with pytest.raises(DataError, match="FastMDM was fitted on 4 x 4 matrices but got 3 x 3"):
        check_n_channels(3, 4, "FastMDM", matrices=True)


def test_check_vector():
    assert check_vector([0, 1, 1], 3, "y").shape == (3,)
    with pytest.raises(DataError, match=r"FastMDM.fit: y must have shape \(4,\) to match X"):
        check_vector([0, 1, 1], 4, "FastMDM.fit: y")
