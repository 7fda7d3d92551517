"""Riemannian transfer (bci_app.decoding.transfer) against pyRiemann's transfer tools, and the
adapting reference's known behaviour."""

import numpy as np
import pytest
from pyriemann.geometry.mean import mean_riemann
from pyriemann.transfer import TLCenter, TLScale, encode_domains
from sklearn.pipeline import make_pipeline

from bci_app.decoding import ShrunkCovariances
from bci_app.decoding.mdm import FastMDM
from bci_app.decoding.transfer import (
    Recenter,
    domain_steps,
    fit_pipeline,
    reset_adaptation,
)
from bci_app.errors import ConfigError, DataError


def _domain(rng, n, dim, mix, scale=1.0):
    """SPD matrices of one domain: two classes seen through the domain's mixing matrix."""
    y = np.repeat([0, 1], n // 2)
    A = rng.standard_normal((n, dim, 4 * dim))
    A[y == 1, 0] *= 1.8  # class 1: more power in the first source
    C = A @ A.transpose(0, 2, 1) / (4 * dim) + 0.05 * np.eye(dim)
    return mix @ C @ mix.T * scale, y


def _spd_mixing(rng, dim):
    """A random SPD matrix: the domain's congruence (what re-centring undoes)."""
    S = 0.4 * rng.standard_normal((dim, dim))
    w, V = np.linalg.eigh(S + S.T)
    return (V * np.exp(w)) @ V.T


def _two_domains(seed=0, dim=6, n=40):
    rng = np.random.default_rng(seed)
    mix_s, mix_t = _spd_mixing(rng, dim), _spd_mixing(rng, dim)
    Xs, ys = _domain(rng, n, dim, mix_s, scale=3.0)
    Xt, yt = _domain(rng, n, dim, mix_t, scale=0.5)
    X = np.concatenate([Xs, Xt])
    y = np.concatenate([ys, yt])
    domains = np.array(["source"] * n + ["target"] * n)
    return X, y, domains


def test_recentre_equals_pyriemann_tlcenter():
    X, y, domains = _two_domains()
    _, y_enc = encode_domains(X, y, domains)
    ref = TLCenter(target_domain="target").fit(X, y_enc)
    ours = Recenter()
    np.testing.assert_allclose(ours.fit_transform(X, y, domains=domains, target="target"),
                               ref.fit_transform(X, y_enc), rtol=1e-6, atol=1e-9)
    # test time: every matrix re-centred on the target's reference
    np.testing.assert_allclose(ours.transform(X[:5]), ref.transform(X[:5]), rtol=1e-6,
                               atol=1e-9)
    # each domain's mean is the identity afterwards
    out = ours.fit_transform(X, y, domains=domains)
    for d in ("source", "target"):
        np.testing.assert_allclose(mean_riemann(out[domains == d]), np.eye(X.shape[-1]),
                                   atol=1e-6)


def test_stretch_equals_pyriemann_tlscale():
    X, y, domains = _two_domains(seed=1)
    _, y_enc = encode_domains(X, y, domains)
    centred = TLCenter(target_domain="target").fit_transform(X, y_enc)
    scaled = TLScale(target_domain="target", centered_data=True).fit_transform(centred, y_enc)
    ours = Recenter(stretch=True)
    np.testing.assert_allclose(ours.fit_transform(X, y, domains=domains), scaled, rtol=1e-6,
                               atol=1e-9)
    # test time: the target's stretching
    test = TLCenter(target_domain="target").fit(X, y_enc).transform(X[-4:])
    ref_scale = TLScale(target_domain="target", centered_data=True).fit(centred, y_enc)
    np.testing.assert_allclose(ours.transform(X[-4:]), ref_scale.transform(test), rtol=1e-6,
                               atol=1e-9)


def test_rotation_aligns_source_class_means_with_target():
    X, y, domains = _two_domains(seed=2)
    out = Recenter(rotate=True).fit_transform(X, y, domains=domains, target="target")
    plain = Recenter().fit_transform(X, y, domains=domains, target="target")

    def gap(Z):  # distance between the two domains' class-1 means
        a = mean_riemann(Z[(domains == "source") & (y == 1)])
        b = mean_riemann(Z[(domains == "target") & (y == 1)])
        return np.linalg.norm(a - b)

    assert gap(out) < gap(plain)
    # the target itself is not moved by the rotation
    np.testing.assert_allclose(out[domains == "target"], plain[domains == "target"], atol=1e-8)


def test_transfer_pools_a_shifted_source_that_alone_fails():
    """Trained on a source domain seen through another mixing, MDM fails on the target;
    re-centring each domain on its own mean makes the source's class structure usable."""
    X, y, domains = _two_domains(seed=3, n=80)
    src, tgt = domains == "source", domains == "target"
    plain = FastMDM().fit(X[src], y[src])
    acc_plain = np.mean(plain.predict(X[tgt]) == y[tgt])
    rc = make_pipeline(Recenter(), FastMDM())
    # the target's reference from its first 10 (unlabelled use: reference only) matrices
    fit_pipeline(rc, np.concatenate([X[src], X[tgt][:10]]),
                 np.concatenate([y[src], y[tgt][:10]]),
                 domains=np.array(["source"] * src.sum() + ["target"] * 10), target="target")
    acc_rc = np.mean(rc.predict(X[tgt][10:]) == y[tgt][10:])
    assert acc_plain <= 0.6
    assert acc_rc >= 0.8


def test_adapting_reference_follows_the_signal():
    X, _, domains = _two_domains(seed=4)
    rc = Recenter(adapt=1).fit(X[domains == "source"])
    # adapt=1: each window becomes the reference for the next one
    out = rc.transform(np.stack([X[-1], X[-1], X[-1]]))
    np.testing.assert_allclose(out[1], np.eye(X.shape[-1]), atol=1e-8)
    np.testing.assert_allclose(out[2], np.eye(X.shape[-1]), atol=1e-8)
    # a slower reference converges to a new domain's centre: its outputs centre on identity
    slow = Recenter(adapt=20).fit(X[domains == "source"])
    target = np.tile(X[domains == "target"], (4, 1, 1))
    out = slow.transform(target)
    far = np.linalg.norm(mean_riemann(out[:20]) - np.eye(X.shape[-1]))
    near = np.linalg.norm(mean_riemann(out[-40:]) - np.eye(X.shape[-1]))
    assert near < 0.3 * far
    # reset: back to the calibration reference, same outputs as the first time
    reset_adaptation(make_pipeline(slow))
    np.testing.assert_allclose(slow.transform(target[:5]), out[:5], atol=1e-10)


def test_adapting_equals_sequential_one_window_calls():
    X, _, domains = _two_domains(seed=5)
    a = Recenter(adapt=5).fit(X[domains == "source"])
    b = Recenter(adapt=5).fit(X[domains == "source"])
    batch = a.transform(X[domains == "target"])
    one = np.concatenate([b.transform(c[None]) for c in X[domains == "target"]])
    np.testing.assert_allclose(batch, one, atol=1e-10)


def test_adapt_in_seconds_is_adapt_in_windows_at_the_bound_step():
    from bci_app.decoding.channels import bind_recording_info

    X, _, domains = _two_domains(seed=6)
    src, tgt = X[domains == "source"], X[domains == "target"]
    windows = Recenter(adapt=6).fit(src).transform(tgt)
    pipe = make_pipeline(Recenter(adapt_s=1.5))
    bind_recording_info(pipe, sfreq=160.0, step_s=0.25)  # as the engine binds its step
    seconds = pipe.fit(src).transform(tgt)
    assert pipe[0].adapt_windows() == 6
    np.testing.assert_allclose(seconds, windows, atol=1e-10)
    # epochs, not a stream (no step bound): the reference stays the calibration one
    fixed = Recenter(adapt_s=1.5).fit(src)
    assert fixed.adapt_windows() == 0
    np.testing.assert_allclose(fixed.transform(tgt), Recenter().fit(src).transform(tgt),
                               atol=1e-10)
    with pytest.raises(ConfigError, match="not both"):
        Recenter(adapt=6, adapt_s=1.5).fit(src)
    with pytest.raises(ConfigError, match="adapt_s must be a positive"):
        Recenter(adapt_s=-2).fit(src)


def test_fit_pipeline_routes_domains_to_recenter_steps():
    rng = np.random.default_rng(0)
    X = rng.standard_normal((30, 4, 200))
    X[15:] *= 10.0  # second domain ten times the amplitude
    y = np.tile([0, 1], 15)
    domains = np.repeat(["a", "b"], 15)
    pipe = make_pipeline(ShrunkCovariances(), Recenter(), FastMDM())
    assert domain_steps(pipe) == ["recenter"]
    fit_pipeline(pipe, X, y, domains=domains, target="a")
    rc = pipe.named_steps["recenter"]
    assert list(rc.references_) == ["a", "b"] and rc.target_ == "a"
    ratio = np.trace(rc.references_["b"]) / np.trace(rc.references_["a"])
    assert 80 < ratio < 120
    # no domain-aware step: plain pooled fit
    fit_pipeline(make_pipeline(ShrunkCovariances(), FastMDM()), X, y, domains=domains)


def test_connectivity_like_matrices_need_shrinkage():
    rng = np.random.default_rng(1)
    v = rng.standard_normal((20, 5, 2))
    X = v @ v.transpose(0, 2, 1)  # rank 2: not SPD
    with pytest.raises(np.linalg.LinAlgError):
        np.linalg.cholesky(X[0])
    out = Recenter(shrinkage=0.1).fit_transform(X)
    assert np.all(np.linalg.eigvalsh(out) > 0)


def test_bad_input_is_explained():
    with pytest.raises(ConfigError, match="adapt"):
        Recenter(adapt=-1).fit(np.tile(np.eye(3), (4, 1, 1)))
    with pytest.raises(DataError, match="square matrices"):
        Recenter().fit(np.zeros((4, 3, 10)))
    with pytest.raises(DataError, match="target domain 'c'"):
        Recenter().fit(np.tile(np.eye(3), (4, 1, 1)), domains=list("aabb"), target="c")
    rc = Recenter().fit(np.tile(np.eye(3), (4, 1, 1)))
    with pytest.raises(DataError, match="fitted on 3x3"):
        rc.transform(np.tile(np.eye(4), (2, 1, 1)))


def test_log_euclidean_reference():
    from pyriemann.geometry.mean import mean_logeuclid

    X, y, domains = _two_domains(seed=6)
    rc = Recenter(metric="logeuclid").fit(X, y, domains=domains, target="target")
    for d in ("source", "target"):
        np.testing.assert_allclose(rc.references_[d], mean_logeuclid(X[domains == d]),
                                   rtol=1e-10)
    with pytest.raises(ConfigError, match="metric must be one of"):
        Recenter(metric="euclid").fit(X)


def test_target_weight_gives_the_target_its_share_of_the_class_means():
    """With target_weight 1, the sources only set their own references: the classifier's
    class means are the target's alone (the same as training on the target only)."""
    X, y, domains = _two_domains(seed=7)
    tgt = domains == "target"
    only = make_pipeline(Recenter(), FastMDM()).fit(X[tgt], y[tgt])
    weighted = make_pipeline(Recenter(target_weight=1.0), FastMDM())
    fit_pipeline(weighted, X, y, domains=domains, target="target")
    np.testing.assert_allclose(weighted[-1].covmeans_, only[-1].covmeans_, rtol=1e-6)
    plain = make_pipeline(Recenter(), FastMDM())
    fit_pipeline(plain, X, y, domains=domains, target="target")
    assert np.abs(plain[-1].covmeans_ - only[-1].covmeans_).max() > 1e-3
    with pytest.raises(ConfigError, match="target_weight"):
        Recenter(target_weight=0).fit(X)


def test_a_step_saved_before_adapt_s_existed_loads_and_decodes_as_it_did():
    from bci_app.decoding.channels import bind_recording_info

    X, _, domains = _two_domains(seed=7)
    rc = Recenter(adapt=4).fit(X[domains == "source"])
    expected = Recenter(adapt=4).fit(X[domains == "source"]).transform(X[domains == "target"])
    state = rc.__getstate__()
    del state["adapt_s"], state["step_s"]  # as an older file holds it
    old = Recenter.__new__(Recenter)
    old.__setstate__(state)
    bind_recording_info(make_pipeline(old), step_s=0.1, overwrite=True)  # as the engine does
    assert old.adapt_windows() == 4
    np.testing.assert_allclose(old.transform(X[domains == "target"]), expected, atol=1e-10)
