"""FUCONE-style stacking classifier on a synthetic coupling problem."""

import warnings

import numpy as np
import pytest
from scipy.signal import butter, sosfiltfilt
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.model_selection import StratifiedKFold, cross_val_score

from bci_app.decoding.ensemble import FuconeClassifier, elastic_net_logistic_regression
from bci_app.errors import ConfigError, DataError

SFREQ = 128.0

# the Riemannian mean of the (floor-regularised, ill-conditioned) imaginary-coherence
# matrices often stops at pyRiemann's iteration limit; the model is still usable
pytestmark = pytest.mark.filterwarnings("ignore:Convergence not reached:UserWarning")


def _coupling_problem(rng, n_per_class=30, n_channels=6, n_times=256):
    """Two classes: in class 1, channel 1 follows channel 0 with a 10 ms lag (8-30 Hz)."""
    sos = butter(4, [8.0, 30.0], btype="bandpass", fs=SFREQ, output="sos")
    X = sosfiltfilt(sos, rng.standard_normal((2 * n_per_class, n_channels, n_times)), axis=-1)
    y = np.repeat([0, 1], n_per_class)
    X[y == 1, 1] = 0.4 * X[y == 1, 1] + np.roll(X[y == 1, 0], 1, axis=-1)
    return 1e-5 * X, y


def test_cross_validated_accuracy_above_chance():
    rng = np.random.default_rng(0)
    X, y = _coupling_problem(rng)
    clf = FuconeClassifier(sfreq=SFREQ, cv=3)
    with warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)  # no deprecated LogisticRegression API
        scores = cross_val_score(clf, X, y, cv=StratifiedKFold(4, shuffle=True, random_state=0))
    assert scores.mean() > 0.8


def test_predict_proba_clone_and_labels():
    rng = np.random.default_rng(1)
    X, y = _coupling_problem(rng, n_per_class=16)
    labels = np.array(["left_hand", "right_hand"])[y]
    clf = FuconeClassifier(estimators=("cov", "imaginary"), sfreq=SFREQ, cv=3)
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    clf.fit(X, labels)
    assert list(clf.classes_) == ["left_hand", "right_hand"]
    proba = clf.predict_proba(X)
    assert proba.shape == (len(y), 2)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert set(clf.predict(X)) <= set(labels)
    assert not hasattr(clone(clf), "stacking_")


def test_parameter_errors():
    rng = np.random.default_rng(2)
    X, y = _coupling_problem(rng, n_per_class=6)
    with pytest.raises(ConfigError, match="sfreq"):
        FuconeClassifier().fit(X, y)
    with pytest.raises(ConfigError, match="allowed"):
        FuconeClassifier(estimators=("cov", "wpli"), sfreq=SFREQ).fit(X, y)
    with pytest.raises(ConfigError, match="l1_ratio"):
        FuconeClassifier(sfreq=SFREQ, l1_ratio=1.5).fit(X, y)
    with pytest.raises(ConfigError, match="cv"):
        FuconeClassifier(sfreq=SFREQ, cv=1).fit(X, y)
    with pytest.raises(DataError, match="at least cv=10"):
        FuconeClassifier(sfreq=SFREQ, cv=10).fit(X, y)


def test_elastic_net_lr_does_not_warn():
    rng = np.random.default_rng(3)
    Z = rng.standard_normal((40, 5))
    t = (Z[:, 0] > 0).astype(int)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        warnings.simplefilter("ignore", ConvergenceWarning)
        lr = elastic_net_logistic_regression(0.15, 1.0, 0).fit(Z, t)
    assert lr.score(Z, t) > 0.8


def test_sfreq_bound_from_recording_info():
    from bci_app.decoding.channels import bind_recording_info

    clf = bind_recording_info(FuconeClassifier(estimators="instantaneous"), sfreq=SFREQ)
    assert clf.sfreq == SFREQ
    rng = np.random.default_rng(4)
    X, y = _coupling_problem(rng, n_per_class=10)
    assert clf.set_params(cv=2).fit(X, y).score(X, y) > 0.8


def test_sampling_rate_from_epochs():
    import mne

    rng = np.random.default_rng(4)
    X, y = _coupling_problem(rng, n_per_class=10)
    epochs = mne.EpochsArray(X, mne.create_info(X.shape[1], SFREQ, "eeg"), verbose="error")
    clf = FuconeClassifier(estimators=("cov", "instantaneous"), cv=2).fit(epochs, y)
    assert clf.sfreq is None and clf.sfreq_ == SFREQ
    ref = FuconeClassifier(estimators=("cov", "instantaneous"), cv=2, sfreq=SFREQ).fit(X, y)
    np.testing.assert_allclose(clf.predict_proba(epochs), ref.predict_proba(X))
    assert clf.score(X, y) > 0.8
    slow = mne.EpochsArray(X, mne.create_info(X.shape[1], SFREQ / 2, "eeg"), verbose="error")
    with pytest.raises(DataError, match="fitted at 128 Hz but the data are sampled at 64 Hz"):
        clf.predict(slow)
    with pytest.raises(ConfigError, match="return_epochs=True"):
        FuconeClassifier(estimators="instantaneous", cv=2).fit(X, y)
