"""A model file's adaptation in seconds (Recenter's adapt_s) adapts over that time at the
decoder's own step, online and pseudo-online alike."""

import numpy as np
import pytest
from sklearn.base import clone
from sklearn.pipeline import make_pipeline

from bci_app.acquisition.simulation import make_trial_schedule, simulate_mi_raw
from bci_app.decoding import FastMDM, Recenter, ShrunkCovariances
from bci_app.online.engine import WindowedDecoder, fit_decoder_model
from bci_app.processing.calibration import PseudoOnlineConfig, calibration_set
from bci_app.processing.runs import run_from_raw


@pytest.fixture(scope="module")
def runs():
    return [run_from_raw(simulate_mi_raw(make_trial_schedule(n_trials_per_class=4, seed=s),
                                         sfreq=128.0, seed=s, skill=0.9), name=f"r{s}")
            for s in (3, 4)]


def _fit(runs, recenter):
    X, y, _, _ = calibration_set(runs[:1], [runs[0].n_samples], PseudoOnlineConfig())
    pipe = make_pipeline(ShrunkCovariances(), recenter, FastMDM())
    return fit_decoder_model(pipe, X, y, runs[0].sfreq, runs[0].ch_names)


@pytest.mark.parametrize("step_s", [0.25, 0.5])
def test_seconds_adapt_like_the_same_time_in_windows(runs, step_s):
    test = runs[1]
    in_seconds = _fit(runs, Recenter(adapt_s=3.0))
    in_windows = _fit(runs, Recenter(adapt=round(3.0 / step_s)))
    a = WindowedDecoder(in_seconds, test.sfreq, test.ch_names, step_s=step_s).sweep(test.data)
    b = WindowedDecoder(in_windows, test.sfreq, test.ch_names, step_s=step_s).sweep(test.data)
    assert in_seconds.named_steps["recenter"].adapt_windows() == round(3.0 / step_s)
    np.testing.assert_allclose(a.proba, b.proba, rtol=1e-8, atol=1e-10)
    # and it does adapt: a fixed reference decides otherwise
    fixed = _fit(runs, Recenter())
    c = WindowedDecoder(fixed, test.sfreq, test.ch_names, step_s=step_s).sweep(test.data)
    assert np.abs(a.proba - c.proba).max() > 1e-3


def test_a_search_binds_the_step_of_its_best_pipeline(runs):
    from sklearn.model_selection import GridSearchCV

    X, y, _, _ = calibration_set(runs[:1], [runs[0].n_samples], PseudoOnlineConfig())
    search = GridSearchCV(make_pipeline(ShrunkCovariances(), Recenter(adapt_s=3.0), FastMDM()),
                          {"fastmdm__metric": ["riemann"]}, cv=2)
    model = fit_decoder_model(clone(search), X, y, runs[0].sfreq, runs[0].ch_names)
    WindowedDecoder(model, runs[1].sfreq, runs[1].ch_names, step_s=0.25)
    assert model.best_estimator_.named_steps["recenter"].adapt_windows() == 12
