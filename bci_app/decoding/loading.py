"""Load decoding pipelines from ``models/``: MOABB's YAML pipeline format, checked with care.

A model file looks like::

    name: ACM+MDM
    paradigms: [LeftRightImagery, MotorImagery]
    citations: [...]
    pipeline:
      - name: AugmentedCovariance        # class name
        from: bci_app.decoding           # module it is imported from
        parameters: {order: auto, lag: auto}
      - name: FastMDM
        from: bci_app.decoding
    param_grid:                          # optional: nested grid search, as in MOABB
      augmentedcovariance__order: [2, 4, 6]

``moabb.pipelines.utils.parse_pipelines_from_directory`` reads the same files unchanged;
:func:`load_models` builds the same pipelines but reports every mistake with the file and
the field at fault, instead of a bare traceback.
"""

import importlib
import inspect
from dataclasses import dataclass, field
from pathlib import Path

import yaml
from sklearn.base import BaseEstimator
from sklearn.pipeline import make_pipeline

from .._logging import logger
from ..errors import ConfigError
from ..resources import list_files, search_path

#: MOABB paradigm class names a model may declare.
KNOWN_PARADIGMS = (
    "LeftRightImagery", "MotorImagery", "FilterBankLeftRightImagery",
    "FilterBankMotorImagery", "P300", "SSVEP", "FilterBankSSVEP", "CVEP", "FilterBankCVEP",
    "RestingStateToP300Adapter",
)  # fmt: skip

_TOP_KEYS = {"name", "paradigms", "citations", "pipeline", "param_grid"}
_STEP_KEYS = {"name", "from", "parameters"}


@dataclass
class ModelSpec:
    """A pipeline read from a model file.

    Attributes
    ----------
    name : str
        The model's display name (``name:`` in the file).
    pipeline : sklearn.pipeline.Pipeline
        A fresh, unfitted pipeline.
    paradigms : list of str
        MOABB paradigms the model applies to.
    path : Path
        The file it was read from.
    citations : list of str
    param_grid : dict | None
        Grid for a nested search (MOABB semantics), keyed by pipeline parameter.
    """

    name: str
    pipeline: BaseEstimator
    paradigms: list
    path: Path
    citations: list = field(default_factory=list)
    param_grid: dict | None = None


def _fail(path, where, message):
    raise ConfigError(f"{path}: {where}: {message}")


def _build_step(path, index, step):
    where = f"pipeline step {index + 1}"
    if not isinstance(step, dict):
        _fail(path, where, "each step must be a mapping with keys 'name', 'from' and "
                           "optionally 'parameters'.")
    unknown = set(step) - _STEP_KEYS
    if unknown:
        _fail(path, where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_STEP_KEYS)}.")
    for key in ("name", "from"):
        if not isinstance(step.get(key), str) or not step.get(key):
            _fail(path, f"{where}, field '{key}'", "missing or not a string.")
    cls_name, module_name = step["name"], step["from"]
    where = f"{where} ({cls_name}"
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        _fail(path, f"{where}), field 'from'", f"cannot import module {module_name!r} "
                                               f"({err}). Check the spelling or install it.")
    cls = getattr(module, cls_name, None)
    if cls is None or not inspect.isclass(cls):
        candidates = sorted(n for n, o in vars(module).items()
                            if inspect.isclass(o) and issubclass(o, BaseEstimator)
                            and not n.startswith("_"))
        _fail(path, f"{where}), field 'name'",
              f"module {module_name!r} has no class {cls_name!r}; estimators there: "
              f"{candidates}.")
    params = step.get("parameters") or {}
    if not isinstance(params, dict):
        _fail(path, f"{where}), field 'parameters'", "must be a mapping of parameter: value.")
    try:
        accepted = set(inspect.signature(cls).parameters) - {"self"}
    except (TypeError, ValueError):
        accepted = None
    if accepted is not None and not any(
        p.kind == p.VAR_KEYWORD for p in inspect.signature(cls).parameters.values()
    ):
        bad = sorted(set(params) - accepted)
        if bad:
            _fail(path, f"{where}), field 'parameters'",
                  f"{cls_name} has no parameter(s) {bad}; it accepts {sorted(accepted)}.")
    try:
        instance = cls(**params)
    except Exception as err:  # any constructor error is a configuration error here
        _fail(path, f"{where}), field 'parameters'", f"{cls_name}({params}) failed: {err}")
    validate = getattr(instance, "_validate_params", None)
    if validate is not None and hasattr(instance, "_parameter_constraints"):
        try:
            validate()
        except Exception as err:
            _fail(path, f"{where}), field 'parameters'", str(err))
    return instance


def read_model_file(path):
    """Read one model file.

    Parameters
    ----------
    path : str | Path
        A ``.yml`` file in MOABB's pipeline format.

    Returns
    -------
    spec : ModelSpec
    """
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "YAML"
        _fail(path, line, f"not valid YAML: {getattr(err, 'problem', err)}.")
    if not isinstance(config, dict):
        _fail(path, "top level", "must be a mapping with keys 'name', 'paradigms', 'pipeline'.")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        _fail(path, "top level", f"unknown key(s) {sorted(unknown)}; allowed: "
                                 f"{sorted(_TOP_KEYS)}.")
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        _fail(path, "field 'name'", "missing or empty; give the model a display name.")
    paradigms = config.get("paradigms")
    if not isinstance(paradigms, list) or not paradigms:
        _fail(path, "field 'paradigms'", f"must be a non-empty list, e.g. [LeftRightImagery]; "
                                         f"known: {list(KNOWN_PARADIGMS)}.")
    bad = [p for p in paradigms if p not in KNOWN_PARADIGMS]
    if bad:
        _fail(path, "field 'paradigms'", f"unknown paradigm(s) {bad}; known: "
                                         f"{list(KNOWN_PARADIGMS)}.")
    steps = config.get("pipeline")
    if not isinstance(steps, list) or not steps:
        _fail(path, "field 'pipeline'", "must be a non-empty list of steps.")
    pipeline = make_pipeline(*[_build_step(path, i, s) for i, s in enumerate(steps)])
    param_grid = config.get("param_grid")
    if param_grid is not None:
        if not isinstance(param_grid, dict) or not param_grid:
            _fail(path, "field 'param_grid'", "must be a mapping of parameter: list of values.")
        valid = pipeline.get_params(deep=True)
        for key, values in param_grid.items():
            if key not in valid:
                _fail(path, f"field 'param_grid', key {key!r}",
                      "not a parameter of the pipeline; valid keys look like "
                      f"{sorted(k for k in valid if '__' in k)[:8]} ...")
            if not isinstance(values, list) or not values:
                _fail(path, f"field 'param_grid', key {key!r}", "must be a non-empty list.")
    citations = config.get("citations") or []
    return ModelSpec(name=name.strip(), pipeline=pipeline, paradigms=list(paradigms),
                     path=path, citations=list(citations), param_grid=param_grid)


def load_models(path=None, names=None):
    """Load model files: a folder (not recursive), one file, or the default search path.

    Parameters
    ----------
    path : str | Path | None
        A folder of ``*.yml`` model files, or a single ``.yml`` file. ``None``: the shipped
        models plus the user's own (:func:`bci_app.resources.list_files`; a user file with
        the name of a shipped one replaces it).
    names : sequence of str | None
        Keep only the models with these names (or file stems).

    Returns
    -------
    specs : list of ModelSpec
        Sorted by file name.
    """
    if path is None:
        files = list(list_files("models").values())
        where = " + ".join(str(f) for f in search_path("models"))
        if not files:
            raise ConfigError(f"{where}: no model files (*.yml).")
    else:
        path = where = Path(path)
        if path.is_dir():
            files = sorted(path.glob("*.yml"))
            if not files:
                raise ConfigError(f"{path}: no model files (*.yml) in this folder.")
        elif path.is_file():
            files = [path]
        else:
            raise ConfigError(f"{path}: no such model file or folder.")
    specs = [read_model_file(f) for f in files]
    seen = {}
    for spec in specs:
        if spec.name in seen:
            raise ConfigError(f"{spec.path}: field 'name': model name {spec.name!r} is also "
                              f"used by {seen[spec.name]}; names must be unique.")
        seen[spec.name] = spec.path
    if names:
        wanted = set(names)
        specs = [s for s in specs if s.name in wanted or s.path.stem in wanted]
        found = {s.name for s in specs} | {s.path.stem for s in specs}
        missing = sorted(wanted - found)
        if missing:
            raise ConfigError(f"{where}: no model named {missing}; available: "
                              f"{sorted(seen)}.")
    logger.info("loaded %d model(s) from %s", len(specs), where)
    return specs


def find_model(model, path=None):
    """One model by file path, or by name / file stem among :func:`load_models` ``(path)``.

    Parameters
    ----------
    model : str | Path
        A ``.yml`` file, or a model's name (``"ACM+MDM"``) or file stem (``"acm_mdm"``).
    path : str | Path | None
        Where to look the name up (see :func:`load_models`).

    Returns
    -------
    spec : ModelSpec
    """
    if Path(model).is_file():
        return read_model_file(model)
    specs = load_models(path)
    for spec in specs:
        if str(model) in (spec.name, spec.path.stem, spec.path.name):
            return spec
    where = path if path is not None else " + ".join(str(f) for f in search_path("models"))
    raise ConfigError(f"model {str(model)!r}: no such file, and no model of that name in "
                      f"{where} (there: {', '.join(s.path.stem for s in specs)}).")
