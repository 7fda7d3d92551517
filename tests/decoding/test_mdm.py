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
    with pytest.raises(ConfigError, match="str or dict with keys 'mean' and 'distance'"):
        FastMDM(metric=3).fit(X, y)
    with pytest.raises(DataError, match="shape"):
        FastMDM().fit(X[:, :, :3], y)
    clf = FastMDM().fit(X, y)
    with pytest.raises(DataError, match="4 x 4"):
        clf.predict(X[:, :3, :3])


@pytest.mark.parametrize("n_classes, dim", [(2, 22), (3, 22), (3, 63)])
def test_joint_diagonalisation_equals_per_class_congruences(n_classes, dim):
    # The first two centroids share one congruence (joint_basis_); distances must equal
    # the per-centroid M_k^{-1/2} C M_k^{-1/2} path to rounding error.
    rng = np.random.default_rng(dim + n_classes)
    X, y = _spd_classes(rng, 8, dim, n_classes)
    X_test, _ = _spd_classes(rng, 5, dim, n_classes)
    clf = FastMDM(metric={"mean": "logeuclid", "distance": "riemann"}).fit(X, y)
    assert clf.joint_basis_.shape == (dim, dim)
    V, s = clf.joint_basis_, clf.joint_scale_
    np.testing.assert_allclose(V.T @ clf.covmeans_[1] @ V, np.eye(dim), atol=1e-10)
    np.testing.assert_allclose(V.T @ clf.covmeans_[0] @ V, np.diag(s ** -2.0), atol=1e-10)
    joint = clf.transform(X_test)
    clf.joint_basis_ = clf.joint_scale_ = None  # per-centroid path (as models fitted before)
    per_class = clf.transform(X_test)
    np.testing.assert_allclose(joint, per_class, rtol=1e-9)
    del clf.joint_basis_, clf.joint_scale_  # an older pickle without the attributes
    np.testing.assert_allclose(clf.transform(X_test), per_class, rtol=0)
    ref = MDM(metric={"mean": "logeuclid", "distance": "riemann"}).fit(X, y)
    np.testing.assert_allclose(joint, ref.transform(X_test), rtol=1e-8)


def test_joint_diagonalisation_single_class_or_other_metric():
    rng = np.random.default_rng(5)
    X, y = _spd_classes(rng, 6, 5)
    assert FastMDM().fit(X, np.zeros(len(y))).joint_basis_ is None
    assert FastMDM(metric="logeuclid").fit(X, y).joint_basis_ is None
