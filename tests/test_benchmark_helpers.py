"""The helpers the benchmarks rely on for like-for-like comparisons and for their checks."""

import sys
from pathlib import Path

import numpy as np
import pytest

from bci_app.decoding import (
    SENSORIMOTOR,
    SelectChannels,
    bind_recording_info,
    find_model,
)
from bci_app.resources import DEFAULT_MODEL, shipped_dir

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
from _common import (
    ADAPT_SUFFIX,
    PHYSIONET_64,
    Checks,
    channel_set,
    describe_channels,
    with_adaptation,
    with_channels,
)


def _spec(name):
    return find_model(name, shipped_dir("models"))


def test_default_model_is_a_shipped_model():
    spec = _spec(DEFAULT_MODEL)
    assert spec.path.parent == shipped_dir("models") and spec.path.stem == DEFAULT_MODEL


def test_every_augmented_covariance_model_declares_the_sensorimotor_set():
    for stem in ("acm_mdm", "acm_ts_svm", "acm_ts_svm_grid"):
        assert channel_set(_spec(stem)) == "sensorimotor"
    assert channel_set(_spec("ts_lr")) == "all"
    assert describe_channels("sensorimotor") == "sensorimotor (21)"


def test_a_baseline_on_the_sensorimotor_set_keeps_only_those_channels():
    spec = _spec("ts_lr")
    variant = with_channels(spec, "sensorimotor")
    assert variant.name == "TS+LR [sensorimotor]"
    assert spec.pipeline.steps[0][0] != "selectchannels"  # the file's model is untouched
    pipe = bind_recording_info(variant.pipeline, sfreq=160.0, ch_names=PHYSIONET_64)
    X = np.random.default_rng(0).standard_normal((6, 64, 100))
    select = pipe.steps[0][1].fit(X)
    assert isinstance(select, SelectChannels)
    assert select.selected_ == list(SENSORIMOTOR)
    assert [name for name, _ in pipe.steps[1:]] == [name for name, _ in spec.pipeline.steps]


def test_a_model_already_on_that_set_is_returned_unchanged():
    spec = _spec("acm_mdm")
    assert with_channels(spec, "sensorimotor") is spec
    assert with_channels(spec, "all").pipeline.steps[0][1].channels is None


def test_checks_fail_the_run_when_predictions_differ(capsys):
    checks = Checks()
    same = checks.identical("same", np.array([0, 1, 1]), np.array([0, 1, 1]),
                            np.array([[0.9, 0.1]]), np.array([[0.9, 0.1 + 1e-12]]), atol=1e-9)
    assert same["check_passed"] and checks.exit_status() == 0
    differ = checks.identical("ACM order 8", np.array([0, 1, 1]), np.array([0, 0, 1]))
    assert not differ["check_passed"] and differ["n_different"] == 1
    assert checks.exit_status() == 1
    assert "ACM order 8" in capsys.readouterr().err


@pytest.mark.parametrize("atol, ok", [(1e-9, False), (1e-3, True)])
def test_checks_compare_probabilities_within_a_tolerance(atol, ok):
    checks = Checks()
    result = checks.identical("p", np.array([1]), np.array([1]), np.array([[0.5, 0.5]]),
                              np.array([[0.5001, 0.4999]]), atol=atol)
    assert result["check_passed"] is ok and (checks.exit_status() == 0) is ok


def test_the_adapting_variant_recentres_after_the_spd_step():
    from bci_app.decoding.transfer import Recenter

    spec = _spec("ts_lr")
    variant = with_adaptation(spec, 60)
    names = [name for name, _ in variant.pipeline.steps]
    assert variant.name == "TS+LR" + ADAPT_SUFFIX
    assert isinstance(variant.pipeline.steps[1][1], Recenter)
    assert variant.pipeline.steps[1][1].adapt == 60
    assert names[0] == spec.pipeline.steps[0][0] and len(names) == len(spec.pipeline.steps) + 1
    # the file's own spec is not changed
    assert not any(isinstance(step, Recenter) for _, step in spec.pipeline.steps)


def test_an_ensemble_has_no_adapting_variant():
    assert with_adaptation(_spec("fucone"), 60) is None


def test_adapted_figures_are_refused_unless_like_for_like():
    import choose_default

    po = {"TS+LR": {"per_subject_nmcc": {"1": 0.6, "2": 0.7}}}
    transfer = {"TS+LR | within": {"per_subject_nmcc": {"1": 0.6, "2": 0.7}},
                "TS+LR" + ADAPT_SUFFIX: {"per_subject_nmcc": {"1": 0.65, "2": 0.72}}}
    acc = {"TS+LR" + ADAPT_SUFFIX: {"mean_subjects_1_5": 0.7}, "TS+LR": {}}
    more_acc, more_po = choose_default.adapted_figures(acc, transfer, po)
    assert list(more_acc) == list(more_po) == ["TS+LR" + ADAPT_SUFFIX]
    transfer["TS+LR | within"]["per_subject_nmcc"]["2"] = 0.69  # another split or scoring
    with pytest.raises(SystemExit, match="not like-for-like"):
        choose_default.adapted_figures(acc, transfer, po)
