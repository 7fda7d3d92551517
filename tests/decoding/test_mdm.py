"""FastMDM gives the same means, distances, predictions and probabilities as pyRiemann's MDM."""

import numpy as np
import pytest
from pyriemann.classification import MDM
from sklearn.base import clone

from bci_app.decoding.mdm import FastMDM
from bci_app.errors import ConfigError, DataError


def _spd_classes(rng, n_per_class, dim, n_classes=2):
    """SPD matrices whose classes differ by the scale of a few directions."""
    X, y = [], []
    for k in range(n_classes):
        A = rng.standard_normal((n_per_class, dim, 2 * dim))
        A[:, k % dim] *= 1.0 + 0.4 * k
        A[:, (k + 1) % dim] *= 1.0 + 0.2 * k
        X.append(A @ A.transpose(0, 2, 1) / (2 * dim) + 0.01 * np.eye(dim))
        y.append(np.full(n_per_class, k))
    return np.concatenate(X), np.concatenate(y)


# mean "riemann" is iterative and slow at large sizes: keep it for the small size
CASES = [
    (22, "riemann"),
    (22, "logeuclid"),
    (22, "euclid"),
    (22, {"mean": "logeuclid", "distance": "riemann"}),
    (22, {"mean": "riemann", "distance": "logeuclid"}),
    (22, {"mean": "euclid", "distance": "kullback_sym"}),  # delegated distance
    (132, {"mean": "logeuclid", "distance": "riemann"}),
    (132, "logeuclid"),
    (176, {"mean": "logeuclid", "distance": "riemann"}),
    (176, {"mean": "euclid", "distance": "riemann"}),
    (176, "euclid"),
]


@pytest.mark.parametrize("dim, metric", CASES)
def test_same_as_pyriemann(dim, metric):
    rng = np.random.default_rng(dim)
    n_classes = 3 if dim == 22 else 2
    n_train = 12 if dim == 22 else 6
    X, y = _spd_classes(rng, n_train, dim, n_classes)
    X_test, _ = _spd_classes(rng, 6, dim, n_classes)
    ref = MDM(metric=metric).fit(X, y)
    ours = FastMDM(metric=metric).fit(X, y)
    np.testing.assert_array_equal(ours.classes_, ref.classes_)
    np.testing.assert_allclose(ours.covmeans_, ref.covmeans_, rtol=1e-12, atol=1e-14)
    np.testing.assert_allclose(ours.transform(X_test), ref.transform(X_test), rtol=1e-8)
    np.testing.assert_array_equal(ours.predict(X_test), ref.predict(X_test))
    np.testing.assert_allclose(ours.predict_proba(X_test), ref.predict_proba(X_test),
                               rtol=1e-6, atol=1e-10)


def test_sample_weight_and_string_labels():
    rng = np.random.default_rng(0)
    X, y = _spd_classes(rng, 10, 8)
    labels = np.array(["left_hand", "right_hand"])[y]
    w = rng.uniform(0.1, 2.0, len(y))
    ref = MDM(metric="riemann").fit(X, labels, sample_weight=w)
    ours = FastMDM(metric="riemann").fit(X, labels, sample_weight=w)
    np.testing.assert_allclose(ours.covmeans_, ref.covmeans_, rtol=1e-12)
    np.testing.assert_array_equal(ours.predict(X), ref.predict(X))
    assert ours.score(X, labels) > 0.5


def test_clone_params_and_proba():
    clf = FastMDM(metric={"mean": "logeuclid", "distance": "riemann"}, n_jobs=2)
    cloned = clone(clf)
    assert cloned.get_params() == clf.get_params()
    assert not hasattr(cloned, "covmeans_")
    cloned.set_params(metric="riemann", n_jobs=1)
    assert cloned.metric == "riemann"
    rng = np.random.default_rng(1)
    X, y = _spd_classes(rng, 8, 6)
    proba = clf.fit(X, y).predict_proba(X)
    np.testing.assert_allclose(proba.sum(axis=1), 1.0)
    assert clf.covmeans_invsqrt_.shape == (2, 6, 6)
    fitted_clone = clone(clf)
    assert not hasattr(fitted_clone, "covmeans_")


def test_errors():
    rng = np.random.default_rng(2)
    X, y = _spd_classes(rng, 5, 4)
    with pytest.raises(ConfigError, match="riemann"):
        FastMDM(metric="nope").fit(X, y)
    with pytest.raises(ConfigError, match="distance"):
        FastMDM(metric={"mean": "riemann"}).fit(X, y)
    with pytest.raises(ConfigError, match="str or a dict"):
        FastMDM(metric=3).fit(X, y)
    with pytest.raises(DataError, match="shape"):
        FastMDM().fit(X[:, :, :3], y)
    clf = FastMDM().fit(X, y)
    with pytest.raises(DataError, match="4 x 4"):
        clf.predict(X[:, :3, :3])
