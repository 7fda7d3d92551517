"""An adapting re-centring step in the online engine: pushing equals sweeping, every run
starts from the calibration reference, and adaptation changes the decisions causally."""

import numpy as np
import pytest
from sklearn.pipeline import make_pipeline

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding import FastMDM, Recenter, ShrunkCovariances
from bci_app.online.engine import WindowedDecoder, fit_decoder_model
from bci_app.processing.calibration import PseudoOnlineConfig, calibration_set
from bci_app.processing.runs import run_from_raw


@pytest.fixture(scope="module")
def runs():
    return [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=5, seed=s),
                                         sfreq=128.0, seed=s, skill=0.9), name=f"r{s}")
            for s in (1, 2)]


@pytest.fixture(scope="module")
def model(runs):
    cfg = PseudoOnlineConfig()
    X, y, _, _ = calibration_set(runs[:1], [runs[0].n_samples], cfg)
    pipe = make_pipeline(ShrunkCovariances(), Recenter(adapt=10), FastMDM())
    return fit_decoder_model(pipe, X, y, runs[0].sfreq, runs[0].ch_names)


def _push(dec, data, sfreq, seed):
    rng = np.random.default_rng(seed)
    ts = np.arange(data.shape[1]) / sfreq
    parts, i = [], 0
    while i < data.shape[1]:
        n = int(rng.integers(1, 50))
        parts.append(dec.push(data[:, i:i + n], ts[i:i + n]))
        i += n
    return parts


def test_push_equals_sweep_with_adaptation(runs, model):
    test = runs[1]
    dec = WindowedDecoder(model, test.sfreq, test.ch_names, step_s=0.25)
    swept = dec.sweep(test.data)
    dec.reset()
    pushed = type(swept).concatenate(_push(dec, test.data, test.sfreq, 0), swept.classes)
    np.testing.assert_allclose(pushed.proba, swept.proba, rtol=1e-8, atol=1e-10)
    np.testing.assert_array_equal(pushed.decisions, swept.decisions)
    # a second sweep starts again from the calibration reference: the same result
    np.testing.assert_allclose(dec.sweep(test.data).proba, swept.proba, rtol=1e-10)


def test_adaptation_moves_the_reference_and_the_decisions(runs, model):
    test = runs[1]
    rc = model.named_steps["recenter"]
    fixed = WindowedDecoder(model, test.sfreq, test.ch_names, step_s=0.25)
    start = rc.reference_.copy()
    swept = fixed.sweep(test.data)
    assert rc.n_adapted_ == len(swept)
    assert np.linalg.norm(rc.reference_ - start) > 0.05 * np.linalg.norm(start)
    # the first window is decoded on the calibration reference, whatever follows: the same
    # probabilities as without adaptation; later ones differ
    rc.set_params(adapt=0)
    try:
        plain = WindowedDecoder(model, test.sfreq, test.ch_names, step_s=0.25).sweep(test.data)
    finally:
        rc.set_params(adapt=10)
    np.testing.assert_allclose(swept.proba[0], plain.proba[0], rtol=1e-10)
    assert np.abs(swept.proba[1:] - plain.proba[1:]).max() > 1e-3
    # the decoder resets the model when it is made: a new run starts from calibration
    WindowedDecoder(model, test.sfreq, test.ch_names, step_s=0.25)
    np.testing.assert_allclose(rc.reference_, rc.references_["target"], rtol=1e-12, atol=0)
