import textwrap

import pytest
from moabb.pipelines.utils import parse_pipelines_from_directory
from sklearn.base import BaseEstimator

from bci_app.decoding.loading import load_models, read_model_file
from bci_app.errors import ConfigError


def _plain_params(est):
    return {k: v for k, v in est.get_params(deep=True).items()
            if not isinstance(v, BaseEstimator) and k != "steps"}


def test_shipped_models_load_identically_with_moabb(models_dir):
    ours = {s.name: s for s in load_models(models_dir)}
    theirs = {c["name"]: c for c in parse_pipelines_from_directory(str(models_dir))}
    assert set(ours) == set(theirs)
    assert len(ours) >= 9
    for name, spec in ours.items():
        ref = theirs[name]["pipeline"]
        assert [type(s) for _, s in spec.pipeline.steps] == [type(s) for _, s in ref.steps]
        assert _plain_params(spec.pipeline) == _plain_params(ref)
        assert spec.param_grid == theirs[name].get("param_grid")


def test_reference_full_grid_loads(models_dir):
    spec = read_model_file(models_dir / "reference" / "acm_ts_svm_fullgrid.yml")
    sizes = [len(v) for v in spec.param_grid.values()]
    assert sizes[0] * sizes[1] * sizes[2] * sizes[3] == 600


GOOD_STEP = """
  - name: Covariances
    from: pyriemann.estimation
    parameters: {estimator: oas}
"""

BAD_FILES = {
    "yaml": ("name: x\npipeline: [unclosed\n", "line"),
    "no_name": ("paradigms: [LeftRightImagery]\npipeline:" + GOOD_STEP, "field 'name'"),
    "paradigm": ("name: x\nparadigms: [LeftRight]\npipeline:" + GOOD_STEP, "unknown paradigm"),
    "no_pipeline": ("name: x\nparadigms: [LeftRightImagery]\n", "field 'pipeline'"),
    "module": ("name: x\nparadigms: [LeftRightImagery]\npipeline:\n"
               "  - name: MDM\n    from: pyriemann.nonexistent\n", "cannot import module"),
    "class": ("name: x\nparadigms: [LeftRightImagery]\npipeline:\n"
              "  - name: MDMM\n    from: pyriemann.classification\n", "has no class 'MDMM'"),
    "param_name": ("name: x\nparadigms: [LeftRightImagery]\npipeline:\n"
                   "  - name: MDM\n    from: pyriemann.classification\n"
                   "    parameters: {metrik: riemann}\n", "no parameter(s) ['metrik']"),
    "param_value": ("name: x\nparadigms: [LeftRightImagery]\npipeline:\n"
                    "  - name: SVC\n    from: sklearn.svm\n    parameters: {kernel: fancy}\n",
                    "kernel"),
    "grid_key": ("name: x\nparadigms: [LeftRightImagery]\npipeline:" + GOOD_STEP +
                 "param_grid:\n  svc__C: [1, 2]\n", "field 'param_grid', key 'svc__C'"),
    "top_key": ("name: x\nparadigms: [LeftRightImagery]\npipline:" + GOOD_STEP,
                "unknown key(s) ['pipline']"),
    "step_key": ("name: x\nparadigms: [LeftRightImagery]\npipeline:\n"
                 "  - name: MDM\n    form: pyriemann.classification\n", "unknown key(s)"),
}


@pytest.mark.parametrize("kind", sorted(BAD_FILES))
def test_bad_model_files_name_file_and_field(tmp_path, kind):
    text, expected = BAD_FILES[kind]
    path = tmp_path / f"bad_{kind}.yml"
    path.write_text(textwrap.dedent(text))
    with pytest.raises(ConfigError) as err:
        read_model_file(path)
    message = str(err.value)
    assert str(path) in message
    assert expected in message


def test_duplicate_names_and_unknown_selection(tmp_path):
    body = "name: same\nparadigms: [LeftRightImagery]\npipeline:" + GOOD_STEP
    (tmp_path / "a.yml").write_text(body)
    (tmp_path / "b.yml").write_text(body)
    with pytest.raises(ConfigError, match="also used by"):
        load_models(tmp_path)
    (tmp_path / "b.yml").unlink()
    assert [s.name for s in load_models(tmp_path, names=["a"])] == ["same"]
    with pytest.raises(ConfigError, match="no model named"):
        load_models(tmp_path, names=["other"])
    (tmp_path / "empty").mkdir()
    with pytest.raises(ConfigError, match="no model files"):
        load_models(tmp_path / "empty")
    with pytest.raises(ConfigError, match="no such model file or folder"):
        load_models(tmp_path / "missing")
