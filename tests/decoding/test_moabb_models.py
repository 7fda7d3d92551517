"""The shipped model files run in MOABB itself, unchanged and without bci-app's binding.

MOABB's own reader (``parse_pipelines_from_directory``) builds the pipelines of ``models/``
and MOABB's own evaluations fit and score them on MOABB datasets generated in memory: MOABB's
``FakeDataset`` (white noise: a score row per subject, nothing to learn) and bci-app's
``SyntheticMI`` (a MOABB dataset with motor-imagery class structure: scores above chance).
The steps that need the channel names or the sampling rate read them from the ``mne.Epochs``
MOABB gives with ``return_epochs=True``; ``bind_recording_info`` is never called here.
"""

import mne
import numpy as np
import pytest
from moabb.datasets.fake import FakeDataset
from moabb.evaluations import CrossSessionEvaluation, WithinSessionEvaluation
from moabb.paradigms import LeftRightImagery
from moabb.pipelines.features import AugmentedDataset
from moabb.pipelines.utils import parse_pipelines_from_directory
from pyriemann.estimation import Covariances
from pyriemann.tangentspace import TangentSpace
from sklearn.base import clone
from sklearn.svm import SVC

from bci_app.evaluation.datasets import SyntheticMI
from bci_app.evaluation.local_data import no_network

mne.set_log_level("ERROR")
# MOABB evaluations of every model: about 1.5 min in all (the grid model's search cut to two
# points of its own grid).
pytestmark = pytest.mark.slow

#: Every model of models/*.yml.
SHIPPED = ["ACM+MDM", "ACM+TS+SVM", "ACM+TS+SVM(grid)", "CSP+LDA", "Coh-Graph+LDA", "FUCONE",
           "FgMDM", "MDM", "TS+LR", "TS+LR+adapt"]
#: Models whose steps need the recording's channel names or sampling rate.
NEED_RECORDING_INFO = {"ACM+MDM", "ACM+TS+SVM", "ACM+TS+SVM(grid)", "Coh-Graph+LDA", "FUCONE"}
#: Channels of the fake recordings: seven of the sensorimotor set, two outside it.
CHANNELS = ("Fz", "FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4", "Pz")
N_SUBJECTS = 2


@pytest.fixture(scope="module")
def moabb_models(models_dir):
    """``{name: config}`` of ``models/*.yml`` as MOABB's own parser reads them."""
    return {c["name"]: c for c in parse_pipelines_from_directory(str(models_dir))}


def _small_grid(config):
    """The model file's own grid, cut to two points (its parameter names as MOABB passes them
    to the nested search; the full grid is the grid model's cost, not what is tested)."""
    grid = config.get("param_grid")
    if not grid:
        return None
    first, *others = sorted(grid)
    return {first: list(grid[first])[:2], **{k: list(grid[k])[:1] for k in others}}


def _evaluate(evaluation_class, dataset, config, tmp_path, return_epochs=True,
              param_grid="file"):
    grid = _small_grid(config) if param_grid == "file" else param_grid
    # two folds: a score per subject is what is checked, not its variance over folds
    folds = {"n_splits": 2} if evaluation_class is WithinSessionEvaluation else {}
    evaluation = evaluation_class(paradigm=LeftRightImagery(), datasets=[dataset],
                                  overwrite=True, hdf5_path=str(tmp_path), n_jobs=1,
                                  return_epochs=return_epochs, random_state=0, **folds)
    with no_network() as attempts:
        results = evaluation.process({config["name"]: config["pipeline"]},
                                     param_grid={config["name"]: grid} if grid else None)
    assert attempts == []
    return results


def _fake_dataset():
    return FakeDataset(event_list=("left_hand", "right_hand"), n_subjects=N_SUBJECTS,
                       n_sessions=1, n_runs=1, n_events=40, duration=130, channels=CHANNELS,
                       sfreq=128, seed=7)


def test_moabb_reads_every_shipped_model(moabb_models):
    assert sorted(moabb_models) == sorted(SHIPPED)  # a new file is tested here too


@pytest.mark.parametrize("name", SHIPPED)
def test_every_model_fits_and_scores_in_moabb_within_session(moabb_models, name, tmp_path):
    results = _evaluate(WithinSessionEvaluation, _fake_dataset(), moabb_models[name], tmp_path)
    assert sorted(results["subject"].astype(str)) == [str(s) for s in
                                                     range(1, N_SUBJECTS + 1)]
    assert set(results["pipeline"]) == {name}
    assert results["score"].between(0, 1).all()
    assert (results["channels"] == len(CHANNELS)).all()


@pytest.mark.parametrize("name", SHIPPED)
def test_every_model_scores_above_chance_in_moabb_cross_session(moabb_models, name,
                                                                tmp_path):
    # Subject 1 of SyntheticMI has the deepest imagery-related desynchronisation of the
    # first ten (skill 0.69 in [0.35, 0.9]).
    dataset = SyntheticMI(n_subjects=1, n_trials=10, ch_names=CHANNELS)
    results = _evaluate(CrossSessionEvaluation, dataset, moabb_models[name], tmp_path)
    assert len(results) == 2  # one row per test session
    assert (results["score"] > 0.75).all(), results[["session", "score"]]


def test_models_take_channels_and_rate_from_moabbs_epochs(moabb_models):
    epochs, y, _ = LeftRightImagery().get_data(_fake_dataset(), subjects=[1],
                                               return_epochs=True)
    acm = clone(moabb_models["ACM+TS+SVM"]["pipeline"]).fit(epochs, y)
    assert acm.steps[0][1].selected_ == ["FC3", "FC4", "C3", "Cz", "C4", "CP3", "CP4"]
    graph = clone(moabb_models["Coh-Graph+LDA"]["pipeline"]).fit(epochs, y)
    assert graph.steps[0][1].sfreq_ == 128.0
    fucone = clone(moabb_models["FUCONE"]["pipeline"]).fit(epochs, y)
    assert fucone.steps[0][1].sfreq_ == 128.0
    for model in (acm, graph, fucone):  # the model files themselves are left as they were
        assert not [k for k, v in model.get_params().items()
                    if k.rsplit("__", 1)[-1] in ("sfreq", "ch_names") and v is not None]


@pytest.mark.parametrize("name", sorted(NEED_RECORDING_INFO))
def test_arrays_without_recording_info_give_a_clear_error(moabb_models, name, tmp_path):
    with pytest.raises(ValueError, match="return_epochs=True"):
        _evaluate(WithinSessionEvaluation, _fake_dataset(), moabb_models[name], tmp_path,
                  return_epochs=False)


def test_models_without_recording_info_also_take_arrays(moabb_models, tmp_path):
    for name in sorted(set(moabb_models) - NEED_RECORDING_INFO):
        results = _evaluate(WithinSessionEvaluation, _fake_dataset(), moabb_models[name],
                            tmp_path, return_epochs=False)
        assert len(results) == N_SUBJECTS, name


def test_reference_grid_is_moabbs_augmented_tangent_svm(models_dir, tmp_path):
    (config,) = parse_pipelines_from_directory(
        str(models_dir / "reference" / "acm_ts_svm_fullgrid.yml"))
    steps = config["pipeline"].steps
    assert [type(s) for _, s in steps] == [AugmentedDataset, Covariances, TangentSpace, SVC]
    assert steps[1][1].estimator == "cov" and steps[2][1].metric == "riemann"
    assert steps[3][1].kernel == "rbf"
    assert config["param_grid"] == {
        "augmenteddataset__order": list(range(1, 11)),
        "augmenteddataset__lag": list(range(1, 11)),
        "svc__C": [0.5, 1, 1.5],
        "svc__kernel": ["rbf", "linear"],
    }
    # MOABB's own file runs on arrays (return_epochs=False, as moabb.benchmark gives them);
    # two points of its grid keep the test short.
    small = {"augmenteddataset__order": [1, 2], "augmenteddataset__lag": [1]}
    results = _evaluate(WithinSessionEvaluation, _fake_dataset(), config, tmp_path,
                        return_epochs=False, param_grid=small)
    assert len(results) == N_SUBJECTS
    assert np.isfinite(results["score"]).all()
