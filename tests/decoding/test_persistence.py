import json
import os
import pickle
import zipfile
from pathlib import Path

import joblib
import numpy as np
import pytest
import skops.io as sio
from numpy.lib import _datasource
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.dummy import DummyClassifier
from sklearn.model_selection import GridSearchCV, StratifiedKFold
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler

from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.decoding import bind_recording_info, read_model_file
from bci_app.decoding._trust import ALLOW_MODULES_ENV, _is_trusted_type
from bci_app.decoding.persistence import (
    FORMAT_VERSION,
    MAX_COMPRESSION_RATIO,
    MODEL_SUFFIX,
    TrainedModel,
    load_model,
    read_model_info,
    save_model,
)
from bci_app.errors import ConfigError, DataError
from bci_app.online.engine import WindowedDecoder

pytestmark = pytest.mark.filterwarnings("ignore:Convergence not reached:UserWarning")

SFREQ = 250.0
CH_NAMES = list(DEFAULT_CHANNELS)  # 22 channels of the 10-20 system, motor set included
MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
STEMS = sorted(p.stem for p in MODELS_DIR.glob("*.yml"))


@pytest.fixture(scope="module")
def data():
    """40 windows x 22 channels x 2 s; class power differs over C3 / C4."""
    rng = np.random.default_rng(0)
    X = rng.standard_normal((40, len(CH_NAMES), 500)) * 1e-5
    y = np.array(["left_hand", "right_hand"] * 20)
    X[y == "left_hand", CH_NAMES.index("C4")] *= 2.5
    X[y == "right_hand", CH_NAMES.index("C3")] *= 2.5
    return X, y


def _fit(stem, X, y):
    """Fit a shipped model quickly: small fixed orders instead of "auto", a reduced grid."""
    spec = read_model_file(MODELS_DIR / f"{stem}.yml")  # a fresh, unfitted pipeline
    pipeline = bind_recording_info(spec.pipeline, sfreq=SFREQ, ch_names=CH_NAMES)
    params = pipeline.get_params()
    if params.get("augmentedcovariance__order") == "auto":
        pipeline.set_params(augmentedcovariance__order=2, augmentedcovariance__lag=2)
    if spec.param_grid:
        # first value of each parameter, two of the last one: a real search, kept short
        grid = {key: values[:1] for key, values in spec.param_grid.items()}
        last = list(spec.param_grid)[-1]
        grid[last] = spec.param_grid[last][:2]
        # scored as bci_app.online.training does: the search holds the metric function
        pipeline = GridSearchCV(pipeline, grid, cv=StratifiedKFold(2),
                                scoring="balanced_accuracy")
    return spec, pipeline.fit(X, y)


def _trained(stem, X, y, **kwargs):
    spec, pipeline = _fit(stem, X, y)
    return TrainedModel(pipeline=pipeline, name=spec.name, sfreq=SFREQ, ch_names=CH_NAMES,
                        window_s=2.0, step_s=0.5, l_freq=8.0, h_freq=30.0, notch=50.0,
                        pipeline_file=spec.path.read_text(encoding="utf-8"), **kwargs)


def _outputs(model, X):
    out = {"predict": model.predict(X)}
    for method in ("predict_proba", "decision_function"):
        try:
            out[method] = getattr(model, method)(X)
        except AttributeError:
            pass
    return out


@pytest.mark.parametrize("stem", STEMS)
def test_every_shipped_model_round_trips_identically(stem, data, tmp_path):
    X, y = data
    trained = _trained(stem, X, y)
    path = save_model(trained, tmp_path / f"{stem}{MODEL_SUFFIX}")
    loaded = load_model(path)
    assert type(loaded.pipeline) is type(trained.pipeline)
    before, after = _outputs(trained.pipeline, X), _outputs(loaded.pipeline, X)
    assert set(before) == set(after) and len(before) >= 2
    for method in before:
        np.testing.assert_array_equal(after[method], before[method], err_msg=method)
    assert loaded.classes == ["left_hand", "right_hand"]


def test_metadata_round_trip(data, tmp_path):
    X, y = data
    trained = _trained("csp_lda", X, y, trained_on={
        "subject": "S01", "session": 2, "runs": [Path("run-01.fif"), "run-02.fif"],
        "n_windows": {"left_hand": np.int64(20), "right_hand": np.int64(20)},
        "calibration_accuracy": np.float64(0.85), "lags": np.arange(3)})
    path = save_model(trained, tmp_path / "sub" / f"m{MODEL_SUFFIX}")
    assert path.is_file() and [p.name for p in path.parent.iterdir()] == [path.name]
    loaded = load_model(path)
    assert loaded.metadata() == trained.metadata()
    assert loaded.trained_on == {
        "subject": "S01", "session": 2, "runs": ["run-01.fif", "run-02.fif"],
        "n_windows": {"left_hand": 20, "right_hand": 20}, "calibration_accuracy": 0.85,
        "lags": [0, 1, 2]}
    for name in ("name", "sfreq", "ch_names", "window_s", "step_s", "l_freq", "h_freq",
                 "notch", "pipeline_file", "created", "bci_app_version",
                 "library_versions"):
        assert getattr(loaded, name) == getattr(trained, name), name
    assert loaded.pipeline_file == (MODELS_DIR / "csp_lda.yml").read_text(encoding="utf-8")
    assert set(loaded.library_versions) >= {"scikit-learn", "pyriemann", "numpy"}
    info = read_model_info(path)
    assert info["format_version"] == FORMAT_VERSION and info["name"] == "CSP+LDA"
    spec = loaded.untrained_pipeline()
    assert spec.name == "CSP+LDA"
    assert [type(s) for _, s in spec.pipeline.steps] == [
        type(s) for _, s in trained.pipeline.steps]


def test_decoder_of_loaded_model_sweeps_identically(data, tmp_path):
    build = WindowedDecoder.from_model
    X, y = data
    trained = _trained("acm_mdm", X, y)
    loaded = load_model(save_model(trained, tmp_path / f"acm{MODEL_SUFFIX}"))
    rng = np.random.default_rng(5)
    run = rng.standard_normal((len(CH_NAMES), int(12 * SFREQ))) * 1e-5
    run[CH_NAMES.index("C3"), : run.shape[1] // 2] *= 2.5
    results = []
    for model in (trained, loaded):
        decoder = build(model, smoothing=3, threshold=0.55)
        assert isinstance(decoder, WindowedDecoder)
        assert decoder.model is model.pipeline and decoder.ch_names == CH_NAMES
        assert (decoder.rule.smoothing, decoder.rule.threshold) == (3, 0.55)
        assert (decoder.sfreq, decoder.window, decoder.step) == (SFREQ, 500, 125)
        assert decoder.filter.notch == 50.0 and decoder.filter.h_freq == 30.0
        results.append(decoder.sweep(run))
    original, reloaded = results
    assert len(original) == (run.shape[1] - 500) // 125 + 1
    np.testing.assert_array_equal(reloaded.proba, original.proba)
    np.testing.assert_array_equal(reloaded.smoothed, original.smoothed)
    np.testing.assert_array_equal(reloaded.decisions, original.decisions)


class _Outsider(BaseEstimator, TransformerMixin):
    """An estimator defined outside the trusted packages."""

    def fit(self, X, y=None):
        self.seen_ = np.shape(X)[1:]
        return self

    def transform(self, X):
        return X


def _save_with(step, data, tmp_path, name="outsider"):
    X, y = data
    _, pipeline = _fit("mdm", X, y)
    pipeline.steps.insert(0, ("extra", step))
    trained = TrainedModel(pipeline=pipeline, name="MDM", sfreq=SFREQ, ch_names=CH_NAMES)
    return save_model(trained, tmp_path / f"{name}{MODEL_SUFFIX}")


def test_type_outside_allow_list_is_refused_with_its_name(data, tmp_path):
    path = _save_with(_Outsider().fit(data[0]), data, tmp_path)
    type_name = f"{_Outsider.__module__}._Outsider"
    with pytest.raises(DataError) as err:
        load_model(path)
    message = str(err.value)
    assert str(path) in message and type_name in message
    assert "trusted=" in message and "retrain" in message
    # After inspection the caller may trust it, by name or as a class.
    loaded = load_model(path, trusted=[type_name])
    assert isinstance(loaded.pipeline.steps[0][1], _Outsider)
    assert isinstance(load_model(path, trusted=[_Outsider]).pipeline[0], _Outsider)
    with pytest.raises(ConfigError, match="trusted must be a list"):
        load_model(path, trusted=True)


def test_packages_allowed_for_model_files_are_trusted(data, tmp_path, monkeypatch):
    # The user's own package, named in BCI_APP_ALLOW_MODULES for model files, is trusted
    # for trained models too; bci-app's modules other than bci_app.decoding are not.
    path = _save_with(_Outsider().fit(data[0]), data, tmp_path)
    monkeypatch.setenv(ALLOW_MODULES_ENV, f"other.package, {_Outsider.__module__}")
    assert isinstance(load_model(path).pipeline[0], _Outsider)
    monkeypatch.delenv(ALLOW_MODULES_ENV)
    with pytest.raises(DataError, match=ALLOW_MODULES_ENV):
        load_model(path)
    assert not _is_trusted_type("bci_app.cli.main")
    assert _is_trusted_type("bci_app.decoding.mdm.FastMDM")


def test_a_pipeline_beyond_the_caps_is_not_saved(tmp_path):
    # 150,000 constant features: StandardScaler's mean_, var_ and scale_ (1.2 MB each)
    # compress about 1000:1, beyond MAX_COMPRESSION_RATIO: the file could not be loaded.
    X, y = np.zeros((4, 150_000)), np.array(["a", "b", "a", "b"])
    pipeline = make_pipeline(StandardScaler(), DummyClassifier()).fit(X, y)
    trained = TrainedModel(pipeline=pipeline, name="constant", sfreq=SFREQ,
                           ch_names=CH_NAMES)
    path = tmp_path / f"constant{MODEL_SUFFIX}"
    with pytest.raises(ConfigError, match=f"compression ratio .* more than "
                                          f"{MAX_COMPRESSION_RATIO}:1") as err:
        save_model(trained, path)
    assert str(path) in str(err.value) and "'constant'" in str(err.value)
    assert not path.exists()


def test_non_estimator_types_of_trusted_libraries_are_refused(data, tmp_path):
    # numpy's DataSource deletes its folder when garbage-collected: a crafted file could
    # point it anywhere, so classes are trusted by kind (estimators), not by package.
    source = _datasource.DataSource(str(tmp_path / "downloads"))
    path = _save_with(FunctionTransformer(kw_args={"source": source}), data, tmp_path, "ds")
    with pytest.raises(DataError, match=r"numpy\.lib\..*DataSource"):
        load_model(path)
    # Functions are not trusted either (only numpy ufuncs, which skops trusts).
    path = _save_with(FunctionTransformer(np.sort), data, tmp_path, "func")
    with pytest.raises(DataError, match=r"numpy\..*sort"):
        load_model(path)
    path = _save_with(FunctionTransformer(np.log1p), data, tmp_path, "ufunc")
    assert load_model(path).pipeline[0].func is np.log1p


class _Payload:
    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return open, (self.marker, "w")


@pytest.mark.parametrize("writer", ["pickle", "pickle-protocol-0", "joblib", "joblib-zlib"])
def test_pickle_is_refused_and_never_unpickled(writer, tmp_path):
    marker = tmp_path / "pwned.txt"
    path = tmp_path / f"model{MODEL_SUFFIX}"
    if writer.startswith("pickle"):
        protocol = 0 if writer.endswith("0") else 4
        path.write_bytes(pickle.dumps(_Payload(marker), protocol=protocol))
    else:
        joblib.dump(_Payload(marker), path, compress=3 if writer.endswith("zlib") else 0)
    with pytest.raises(DataError, match="pickle") as err:
        load_model(path)
    assert str(path) in str(err.value) and "never loads pickles" in str(err.value)
    assert not marker.exists()
    with pytest.raises(DataError, match="pickle"):
        read_model_info(path)
    assert not marker.exists()
    # The payload is real: unpickling it would have created the file.
    pickle.loads(pickle.dumps(_Payload(marker))).close()
    assert marker.exists()


def test_yaml_pipeline_file_is_refused_with_train_first(tmp_path):
    with pytest.raises(DataError, match="Train it first") as err:
        load_model(MODELS_DIR / "acm_mdm.yml")
    assert "acm_mdm.yml" in str(err.value)


@pytest.mark.parametrize("damage", ["half", "tail", "flip", "empty"])
def test_truncated_or_corrupted_file(damage, data, tmp_path):
    path = save_model(_trained("mdm", *data), tmp_path / f"m{MODEL_SUFFIX}")
    blob = bytearray(path.read_bytes())
    if damage == "half":
        blob = blob[: len(blob) // 2]
    elif damage == "tail":
        blob = blob[:-100]
    elif damage == "flip":
        with zipfile.ZipFile(path) as zf:
            info = zf.getinfo("pipeline.skops")
        middle = info.header_offset + 30 + len(info.filename) + info.compress_size // 2
        blob[middle] ^= 0xFF
    else:
        blob = b""
    path.write_bytes(bytes(blob))
    expected = "empty" if damage == "empty" else "corrupted"
    with pytest.raises(DataError, match=expected) as err:
        load_model(path)
    assert str(path) in str(err.value)


def _rewrite_meta(path, edit):
    with zipfile.ZipFile(path) as zf:
        meta = json.loads(zf.read("meta.json"))
        blob = zf.read("pipeline.skops")
    edit(meta)
    with zipfile.ZipFile(path, "w") as zf:
        zf.writestr("meta.json", json.dumps(meta))
        zf.writestr("pipeline.skops", blob)


def test_metadata_and_format_errors(data, tmp_path):
    trained = _trained("mdm", *data)
    path = save_model(trained, tmp_path / f"m{MODEL_SUFFIX}")

    _rewrite_meta(path, lambda m: m.pop("sfreq"))
    with pytest.raises(DataError, match="field 'sfreq'.*missing"):
        load_model(path)

    save_model(trained, path)
    _rewrite_meta(path, lambda m: m.update(classes=["feet", "tongue"]))
    with pytest.raises(DataError, match="field 'classes'"):
        load_model(path)

    save_model(trained, path)
    _rewrite_meta(path, lambda m: m.update(format_version=FORMAT_VERSION + 1))
    with pytest.raises(DataError, match="newer bci-app") as err:
        load_model(path)
    assert f"version {FORMAT_VERSION + 1}" in str(err.value)

    with pytest.raises(DataError, match="no such model file"):
        load_model(tmp_path / "missing.bcimodel")

    bare = tmp_path / "bare.skops"
    sio.dump(trained.pipeline, bare)
    with pytest.raises(DataError, match="bare skops file"):
        load_model(bare)

    other = tmp_path / "other.bcimodel"
    with zipfile.ZipFile(other, "w") as zf:
        zf.writestr("readme.txt", "hello")
    with pytest.raises(DataError, match="not a bci-app trained model"):
        load_model(other)

    text = tmp_path / "notes.bcimodel"
    text.write_text("just some notes\n")
    with pytest.raises(DataError, match="not a bci-app trained model"):
        load_model(text)


def test_save_refuses_unfitted_pipeline_and_bad_metadata(data, tmp_path):
    spec = read_model_file(MODELS_DIR / "mdm.yml")
    with pytest.raises(ConfigError, match="not fitted"):
        TrainedModel(pipeline=spec.pipeline, name="MDM", sfreq=SFREQ, ch_names=CH_NAMES)
    trained = _trained("mdm", *data, trained_on={"when": object()})
    with pytest.raises(ConfigError, match=r"trained_on.*'when'"):
        save_model(trained, tmp_path / f"m{MODEL_SUFFIX}")
    trained.trained_on, trained.sfreq = {}, -250.0
    with pytest.raises(ConfigError, match=r"field 'sfreq' must be a positive number"):
        save_model(trained, tmp_path / f"m{MODEL_SUFFIX}")
    assert not list(tmp_path.iterdir())


def test_save_is_atomic(data, tmp_path, monkeypatch):
    trained = _trained("mdm", *data)
    path = save_model(trained, tmp_path / f"m{MODEL_SUFFIX}")
    before = path.read_bytes()

    def crash(fd):
        raise OSError("disk full")

    monkeypatch.setattr(os, "fsync", crash)
    trained.name = "renamed"
    with pytest.raises(OSError, match="disk full"):
        save_model(trained, path)
    assert path.read_bytes() == before
    assert [p.name for p in tmp_path.iterdir()] == [path.name]
    assert load_model(path).name == "MDM"
