"""Hostile and broken model files: configuration never runs code, archives never explode.

Each case is a file an attacker could drop in a shared models folder or send as a trained
model: a YAML pipeline file whose steps name arbitrary callables, and ``.bcimodel`` archives
built to exhaust memory. Every one must be refused with a clear error before anything is
imported, constructed or decompressed, and the shipped models must still load and fit.
"""

import io
import shutil
import sys
import textwrap
import tracemalloc
import zipfile
from pathlib import Path

import numpy as np
import pytest

from bci_app import cli
from bci_app.acquisition.simulation import DEFAULT_CHANNELS
from bci_app.decoding import bind_recording_info
from bci_app.decoding.loading import (
    ALLOW_MODULES_ENV,
    find_model,
    load_models,
    read_model_file,
)
from bci_app.decoding.persistence import (
    MAX_MEMBERS,
    MAX_UNCOMPRESSED_BYTES,
    MODEL_SUFFIX,
    TrainedModel,
    load_model,
    save_model,
)
from bci_app.errors import ConfigError, DataError

pytestmark = pytest.mark.filterwarnings("ignore:Convergence not reached:UserWarning")

MODELS_DIR = Path(__file__).resolve().parents[2] / "models"
SHIPPED = sorted(MODELS_DIR.glob("*.yml"))
SFREQ = 250.0
CH_NAMES = list(DEFAULT_CHANNELS)
MiB = 2**20


def _model_file(folder, stem, steps, name=None):
    """A model file of ``steps`` (YAML text of the pipeline list) in ``folder``."""
    path = Path(folder) / f"{stem}.yml"
    path.write_text(f"name: {name or stem}\nparadigms: [LeftRightImagery]\npipeline:\n"
                    + textwrap.indent(textwrap.dedent(steps).strip("\n"), "  ") + "\n",
                    encoding="utf-8")
    return path


def _popen_steps(marker):
    return f"""
        - name: Popen
          from: subprocess
          parameters: {{args: [sh, -c, "echo ran > '{marker}'"]}}
        """


def _refused(path, *fragments):
    """read_model_file(path) raises a ConfigError naming the file and each fragment."""
    with pytest.raises(ConfigError) as err:
        read_model_file(path)
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    return message


# ----------------------------------------------------------------------------------------
# YAML model files: steps are estimator classes of allowed packages, nothing else
# ----------------------------------------------------------------------------------------


def test_a_popen_step_runs_no_command(tmp_path):
    marker = tmp_path / "marker"
    path = _model_file(tmp_path, "popen", _popen_steps(marker))
    _refused(path, "pipeline step 1 (Popen)", "module 'subprocess'", "sklearn",
             ALLOW_MODULES_ENV)
    assert not marker.exists()


def test_a_file_step_leaves_the_file_alone(tmp_path):
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = _model_file(tmp_path, "fileio", f"""
        - name: FileIO
          from: io
          parameters: {{file: '{victim}', mode: w}}
        """)
    _refused(path, "pipeline step 1 (FileIO)", "module 'io'")
    assert victim.read_text() == "precious"


def test_a_module_with_import_side_effects_is_not_imported(tmp_path, monkeypatch, capsys):
    monkeypatch.delitem(sys.modules, "this", raising=False)
    path = _model_file(tmp_path, "zen", """
        - name: Zen
          from: this
        """)
    _refused(path, "module 'this'")
    assert "this" not in sys.modules
    assert capsys.readouterr().out == ""


@pytest.mark.parametrize("prefix", ["bciapp_probe", "sklearn_probe", "sklearnx"])
def test_an_importable_module_outside_the_allow_list_is_never_imported(
        tmp_path, monkeypatch, prefix):
    # The allow-list is checked on the module's name, by whole components: "sklearn_probe"
    # and "sklearnx" are not "sklearn".
    marker = tmp_path / "imported"
    code = tmp_path / "code"
    code.mkdir()
    (code / f"{prefix}.py").write_text(
        f"from pathlib import Path\nPath({str(marker)!r}).write_text('imported')\n"
        "from sklearn.base import BaseEstimator\n"
        "class Probe(BaseEstimator):\n    pass\n")
    monkeypatch.syspath_prepend(str(code))
    monkeypatch.delitem(sys.modules, prefix, raising=False)
    path = _model_file(tmp_path, "probe", f"""
        - name: Probe
          from: {prefix}
        """)
    _refused(path, f"module '{prefix}'", ALLOW_MODULES_ENV)
    assert prefix not in sys.modules and not marker.exists()


@pytest.mark.parametrize("module, name, fragment", [
    ("builtins", "dict", "module 'builtins'"),
    ("builtins", "exec", "module 'builtins'"),
    ("sklearn.utils", "Bunch", "not an estimator"),               # a dict class
    ("sklearn.model_selection", "KFold", "not an estimator"),     # a class, not an estimator
    ("sklearn.datasets", "fetch_openml", "not a class"),          # a function (downloads)
    ("bci_app.decoding", "load_models", "not a class"),           # a function
    ("bci_app.decoding.loading", "Path", "defined in 'pathlib'"),  # re-exported class
    ("sklearn", "__builtins__", "not a class name"),
])
def test_a_step_must_be_an_estimator_class(tmp_path, module, name, fragment):
    path = _model_file(tmp_path, "notanestimator", f"""
        - name: {name}
          from: {module}
        """)
    _refused(path, f"pipeline step 1 ({name})", fragment)


def test_a_class_re_exported_by_an_allowed_package_is_refused(tmp_path):
    # sklearn.datasets._covtype imports gzip.GzipFile: opening it for writing empties a file.
    victim = tmp_path / "victim.txt"
    victim.write_text("precious")
    path = _model_file(tmp_path, "gzip", f"""
        - name: GzipFile
          from: sklearn.datasets._covtype
          parameters: {{filename: '{victim}', mode: wb}}
        """)
    _refused(path, "GzipFile", "defined in 'gzip'")
    assert victim.read_text() == "precious"


def test_nested_steps_pass_the_same_check(tmp_path):
    marker = tmp_path / "marker"
    path = _model_file(tmp_path, "nested", f"""
        - name: BaggingClassifier
          from: sklearn.ensemble
          parameters:
            n_estimators: 3
            estimator:
              name: Popen
              from: subprocess
              parameters: {{args: [sh, -c, "echo ran > '{marker}'"]}}
        """)
    _refused(path, "pipeline step 1 (BaggingClassifier)", "parameter 'estimator'",
             "module 'subprocess'")
    assert not marker.exists()
    good = _model_file(tmp_path, "bagging", """
        - name: BaggingClassifier
          from: sklearn.ensemble
          parameters:
            n_estimators: 3
            estimator: {name: SVC, from: sklearn.svm, parameters: {kernel: linear}}
        """)
    bagging = read_model_file(good).pipeline[-1]
    assert type(bagging.estimator).__name__ == "SVC"
    assert bagging.estimator.kernel == "linear" and bagging.n_estimators == 3


@pytest.mark.parametrize("value, fragment", [
    ("!!binary aGVsbG8=", "bytes"),
    ("!!set {a, b}", "set"),
    ("2024-01-01", "date"),
])
def test_parameters_are_plain_data(tmp_path, value, fragment):
    path = _model_file(tmp_path, "data", f"""
        - name: MDM
          from: pyriemann.classification
          parameters: {{metric: {value}}}
        """)
    _refused(path, "parameter 'metric'", fragment, "plain YAML data")


def test_aliases_cannot_expand_parameters(tmp_path):
    # Nested YAML aliases: a small file whose parameter expands to a million strings (and
    # to a billion with three more levels), copied out in full by every clone of the model.
    levels = ["&a0 [" + ", ".join(["x"] * 10) + "]"]
    levels += [f"&a{i} [" + ", ".join([f"*a{i - 1}"] * 10) + "]" for i in range(1, 6)]
    path = _model_file(tmp_path, "laughs", f"""
        - name: MDM
          from: pyriemann.classification
          parameters: {{metric: riemann, n_jobs: [{', '.join(levels)}]}}
        """)
    assert path.stat().st_size < 1000
    _refused(path, "parameter 'n_jobs'", "more than")


def test_a_cyclic_parameter_is_refused(tmp_path):
    path = _model_file(tmp_path, "cycle", """
        - name: MDM
          from: pyriemann.classification
          parameters: {metric: riemann, n_jobs: &loop [*loop]}
        """)
    _refused(path, "parameter 'n_jobs'", "refers to itself")


def test_python_tags_are_not_yaml(tmp_path):
    marker = tmp_path / "marker"
    path = tmp_path / "tag.yml"
    path.write_text(f"name: !!python/object/apply:os.system ['echo ran > {marker}']\n"
                    "paradigms: [LeftRightImagery]\npipeline: []\n")
    _refused(path, "not valid YAML")
    assert not marker.exists()


def test_an_oversized_model_file_is_not_parsed(tmp_path):
    path = _model_file(tmp_path, "huge", """
        - name: MDM
          from: pyriemann.classification
        """)
    with path.open("a") as f:
        f.write("# padding\n" * 250_000)
    _refused(path, "larger than")


def test_own_packages_are_allowed_explicitly(tmp_path, monkeypatch):
    code = tmp_path / "code"
    (code / "mylab_decoders").mkdir(parents=True)
    (code / "mylab_decoders" / "__init__.py").write_text(
        "from subprocess import Popen\n"
        "from sklearn.base import BaseEstimator, TransformerMixin\n"
        "class Identity(TransformerMixin, BaseEstimator):\n"
        "    def __init__(self, gain=1.0):\n        self.gain = gain\n"
        "    def fit(self, X, y=None):\n        return self\n"
        "    def transform(self, X):\n        return X * self.gain\n")
    monkeypatch.syspath_prepend(str(code))
    path = _model_file(tmp_path, "own", """
        - name: Identity
          from: mylab_decoders
          parameters: {gain: 2.0}
        """)
    _refused(path, "module 'mylab_decoders'", ALLOW_MODULES_ENV)
    monkeypatch.setenv(ALLOW_MODULES_ENV, "mylab_decoders, other_lab.estimators")
    step = read_model_file(path).pipeline[-1]
    assert type(step).__name__ == "Identity" and step.gain == 2.0
    # Still only estimator classes defined there: not what the package imports.
    marker = tmp_path / "marker"
    _refused(_model_file(tmp_path, "reexport", f"""
        - name: Popen
          from: mylab_decoders
          parameters: {{args: [sh, -c, "echo ran > '{marker}'"]}}
        """), "defined in 'subprocess'")
    assert not marker.exists()
    monkeypatch.setenv(ALLOW_MODULES_ENV, "mylab decoders")
    with pytest.raises(ConfigError, match=ALLOW_MODULES_ENV):
        read_model_file(path)


# ----------------------------------------------------------------------------------------
# Folders of model files: --only selects by name before building; a bad file is skipped
# ----------------------------------------------------------------------------------------


@pytest.fixture
def shared_folder(tmp_path):
    """The shipped models, a hostile file and a broken one, as in a shared models folder."""
    folder = tmp_path / "models"
    shutil.copytree(MODELS_DIR, folder)
    marker = tmp_path / "marker"
    _model_file(folder, "zz_hostile", _popen_steps(marker), name="Fast CSP")
    (folder / "broken.yml").write_text("name: [unclosed\n")
    return folder, marker


def test_only_builds_the_selected_models(shared_folder, caplog):
    folder, marker = shared_folder
    specs = load_models(folder, names=["MDM", "csp_lda"])
    assert [s.name for s in specs] == ["CSP+LDA", "MDM"]
    assert find_model("ts_lr", folder).name == "TS+LR"
    assert not marker.exists()
    warned = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "zz_hostile.yml" not in warned  # not selected: never built, nothing to say


def test_a_refused_file_among_others_is_skipped_with_a_warning(shared_folder, caplog):
    folder, marker = shared_folder
    specs = load_models(folder)
    assert sorted(s.path.name for s in specs) == sorted(p.name for p in SHIPPED)
    assert not marker.exists()
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any("zz_hostile.yml" in w and "module 'subprocess'" in w for w in warnings)
    assert any("broken.yml" in w and "not valid YAML" in w for w in warnings)


def test_selecting_a_refused_model_is_an_error(shared_folder):
    folder, marker = shared_folder
    with pytest.raises(ConfigError, match=r"zz_hostile\.yml: pipeline step 1 \(Popen\)"):
        load_models(folder, names=["Fast CSP"])
    with pytest.raises(ConfigError, match=r"broken\.yml: .*not valid YAML"):
        load_models(folder, names=["broken"])
    assert not marker.exists()


def test_models_command_lists_the_good_files(shared_folder, capsys, caplog):
    folder, marker = shared_folder
    assert cli.main(["models", "--models", str(folder)]) == 0
    out = capsys.readouterr().out
    listed = [line.split()[0] for line in out.splitlines()[:len(SHIPPED)]]
    assert sorted(listed) == sorted(read_model_file(p).name.split()[0] for p in SHIPPED)
    assert "zz_hostile" not in out and not marker.exists()
    assert any("zz_hostile.yml" in r.getMessage() for r in caplog.records)


def test_a_models_folder_in_the_working_folder_is_not_read(tmp_path, monkeypatch):
    marker = tmp_path / "marker"
    (tmp_path / "models").mkdir()
    _model_file(tmp_path / "models", "hostile", _popen_steps(marker))
    monkeypatch.chdir(tmp_path)
    assert sorted(s.path.name for s in load_models()) == sorted(p.name for p in SHIPPED)
    assert not marker.exists()


# ----------------------------------------------------------------------------------------
# The shipped models still load and fit
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def windows():
    """Training and test windows (22 channels, 2 s): a source shared by FC4, C4 and CP4
    (left hand) or FC3, C3 and CP3 (right hand) raises their power and coherence."""
    rng = np.random.default_rng(1)
    X = rng.standard_normal((80, len(CH_NAMES), 500)) * 1e-5
    y = np.array(["left_hand", "right_hand"] * 40)
    source = rng.standard_normal((80, 500)) * 2e-5
    for label, side in (("left_hand", "4"), ("right_hand", "3")):
        for channel in ("FC", "C", "CP"):
            X[y == label, CH_NAMES.index(channel + side)] += source[y == label]
    return (X[:60], y[:60]), (X[60:], y[60:])


@pytest.mark.parametrize("path", SHIPPED, ids=[p.stem for p in SHIPPED])
def test_shipped_models_load_and_fit(path, windows):
    (X, y), (X_test, y_test) = windows
    spec = read_model_file(path)
    pipeline = bind_recording_info(spec.pipeline, sfreq=SFREQ, ch_names=CH_NAMES)
    if pipeline.get_params().get("augmentedcovariance__order") == "auto":
        pipeline.set_params(augmentedcovariance__order=2, augmentedcovariance__lag=2)
    accuracy = np.mean(pipeline.fit(X, y).predict(X_test) == y_test)
    assert accuracy >= 0.9  # 20 test windows of two separable classes; chance 0.5


# ----------------------------------------------------------------------------------------
# Trained-model archives: sizes checked from the zip directory before reading anything
# ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def model_path(windows, tmp_path_factory):
    (X, y), _ = windows
    spec = read_model_file(MODELS_DIR / "csp_lda.yml")
    pipeline = bind_recording_info(spec.pipeline, sfreq=SFREQ, ch_names=CH_NAMES).fit(X, y)
    trained = TrainedModel(pipeline=pipeline, name=spec.name, sfreq=SFREQ, ch_names=CH_NAMES,
                           window_s=2.0, step_s=0.5, l_freq=8.0, h_freq=30.0, notch=50.0)
    return save_model(trained, tmp_path_factory.mktemp("model") / f"csp{MODEL_SUFFIX}")


def _members(source):
    """name -> (bytes, compress type) of the members of a zip file (a path or a buffer)."""
    with zipfile.ZipFile(source) as zf:
        return {i.filename: (zf.read(i), i.compress_type) for i in zf.infolist()}


def _write_zip(path, members, extra=0, bomb=None):
    """A zip of ``members`` (as :func:`_members` returns), ``extra`` empty members, and a
    ``bomb`` (name, prefix, n_bytes, suffix, fill byte) replacing the member of that name:
    ``prefix``, then ``n_bytes`` of ``fill`` written in 1 MiB chunks, then ``suffix``,
    deflated."""
    with zipfile.ZipFile(path, "w") as zf:
        for name, (data, compression) in members.items():
            if bomb is None or name != bomb[0]:
                zf.writestr(name, data, compress_type=compression)
        if bomb is not None:
            name, prefix, n_bytes, suffix, fill = bomb
            info = zipfile.ZipInfo(name)
            info.compress_type = zipfile.ZIP_DEFLATED
            with zf.open(info, "w", force_zip64=True) as f:
                f.write(prefix)
                chunk = fill * MiB
                for _ in range(n_bytes // MiB):
                    f.write(chunk)
                f.write(suffix)
        for i in range(extra):
            zf.writestr(f"padding/{i:05d}", b"")
    return path


def _inner(path, **kwargs):
    """The bytes of a pipeline.skops archive rewritten by :func:`_write_zip`."""
    buffer = io.BytesIO()
    _write_zip(buffer, _members(io.BytesIO(_members(path)["pipeline.skops"][0])), **kwargs)
    return buffer.getvalue()


def _refused_cheaply(path, *fragments):
    """load_model refuses ``path`` with a DataError, allocating less than 8 MiB."""
    tracemalloc.start()
    try:
        with pytest.raises(DataError) as err:
            load_model(path)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    message = str(err.value)
    assert str(path) in message
    for fragment in fragments:
        assert fragment in message, message
    assert peak < 8 * MiB, f"{peak / MiB:.0f} MiB allocated before refusing"
    return message


def test_a_zip_bomb_is_refused_before_decompressing(model_path, tmp_path):
    members = _members(model_path)
    path = _write_zip(tmp_path / f"bomb{MODEL_SUFFIX}", members,
                      bomb=("pipeline.skops", b"", 64 * MiB, b"", b"\0"))
    assert path.stat().st_size < 200_000  # 64 MiB of zeros in about 64 kB
    _refused_cheaply(path, "pipeline.skops", "compression ratio")


def test_a_zip_bomb_inside_the_pipeline_is_refused(model_path, tmp_path):
    # A valid skops archive whose schema.json is padded with 64 MiB of spaces (still valid
    # JSON): the pipeline would load, after decompressing all of it.
    schema = _members(io.BytesIO(_members(model_path)["pipeline.skops"][0]))["schema.json"][0]
    blob = _inner(model_path, bomb=("schema.json", b"", 64 * MiB, schema, b" "))
    members = {**_members(model_path), "pipeline.skops": (blob, zipfile.ZIP_STORED)}
    path = _write_zip(tmp_path / f"inner{MODEL_SUFFIX}", members)
    _refused_cheaply(path, "pipeline.skops", "schema.json", "compression ratio")


@pytest.mark.parametrize("where", ["outer", "inner"])
def test_thousands_of_members_are_refused(model_path, tmp_path, where):
    members = _members(model_path)
    if where == "inner":
        blob = _inner(model_path, extra=MAX_MEMBERS + 1)
        members["pipeline.skops"] = (blob, zipfile.ZIP_STORED)
    path = _write_zip(tmp_path / f"many{MODEL_SUFFIX}", members,
                      extra=MAX_MEMBERS + 1 if where == "outer" else 0)
    _refused_cheaply(path, "members", str(MAX_MEMBERS))


def test_a_declared_size_above_the_cap_is_refused(model_path, tmp_path):
    # The zip directory says how much each member expands to; an archive declaring more
    # than the cap (here 3 GiB, with a forged size field) is refused without reading it.
    path = _write_zip(tmp_path / f"forged{MODEL_SUFFIX}", _members(model_path))
    data = bytearray(path.read_bytes())
    name = b"pipeline.skops"
    central = data.index(b"PK\x01\x02")
    while data[central + 46:central + 46 + len(name)] != name:
        central = data.index(b"PK\x01\x02", central + 4)
    data[central + 24:central + 28] = (3 * 2**30).to_bytes(4, "little")
    path.write_bytes(bytes(data))
    assert MAX_UNCOMPRESSED_BYTES < 3 * 2**30
    _refused_cheaply(path, "uncompressed", "pipeline.skops")
