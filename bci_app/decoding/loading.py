"""Load decoding pipelines from ``models/``: MOABB's YAML pipeline format, as configuration.

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

``moabb.pipelines.utils.parse_pipelines_from_directory`` reads the same files unchanged and
builds the same pipelines, which MOABB's evaluations fit and score as they are (tested for
every shipped file). The steps that need the recording's channel names or sampling rate take
them from ``mne.Epochs`` input, so in MOABB those models are evaluated with
``return_epochs=True``; bci-app, which gives arrays, binds them from the recording instead
(:mod:`bci_app.decoding.channels`). :func:`load_models` builds the same pipelines as MOABB but
reports every mistake with the file and the field at fault, instead of a bare traceback.

A model file is configuration: it never runs code of its own choosing. Each step must be

* taken ``from:`` a module of an allowed package: bci-app's estimators
  (``bci_app.decoding``), scikit-learn (``sklearn``), pyRiemann (``pyriemann``) and
  MOABB's pipelines (``moabb.pipelines``), or a package named in the environment variable
  ``BCI_APP_ALLOW_MODULES`` (comma-separated, e.g. ``BCI_APP_ALLOW_MODULES=mylab.decoders``;
  on a Dask cluster, set it on the workers too). The module's name is checked before
  anything is imported;
* an estimator class: a subclass of :class:`sklearn.base.BaseEstimator` defined in an
  allowed package (not a function, a builtin, or a class the module merely imports);
* given parameters that are plain YAML data (numbers, strings, booleans, null, lists,
  mappings; at most :data:`MAX_PARAMETER_VALUES` values once aliases are expanded) or
  nested steps (a mapping with ``name``, ``from`` and optionally ``parameters``, e.g. the
  ``estimator`` of a ``BaggingClassifier``), which pass the same checks. MOABB's own reader
  builds nested steps only for the ``optimizer`` and ``callbacks`` of deep-learning models.

Every step of a file is checked before any is constructed; anything else is a
:class:`~bci_app.errors.ConfigError` naming the file, the step and what is allowed. Trained
models are loaded with the same allow-list (:mod:`bci_app.decoding._trust`).

:func:`load_models` reads the ``name:`` of every file of a folder first and builds only the
models selected; a file that cannot be read or is refused is skipped with a warning naming
it, unless it was asked for by name.
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
from ._trust import ALLOW_MODULES_ENV, allowed_modules, is_module_path, within

__all__ = ["ALLOW_MODULES_ENV", "KNOWN_PARADIGMS", "MAX_MODEL_FILE_BYTES",
           "MAX_PARAMETER_VALUES", "ModelSpec", "find_model", "load_models",
           "read_model_file"]

#: MOABB paradigm class names a model may declare.
KNOWN_PARADIGMS = (
    "LeftRightImagery", "MotorImagery", "FilterBankLeftRightImagery",
    "FilterBankMotorImagery", "P300", "SSVEP", "FilterBankSSVEP", "CVEP", "FilterBankCVEP",
    "RestingStateToP300Adapter",
)  # fmt: skip

#: Largest model file read, in bytes (the shipped ones have 1-2 kB).
MAX_MODEL_FILE_BYTES = 2**20
#: Most values the parameters of a step (or a grid) may hold, YAML aliases expanded.
MAX_PARAMETER_VALUES = 10_000
_MAX_DEPTH = 50

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


@dataclass
class _Step:
    """A checked step: its class and parameters (nested steps as _Step), not yet built."""

    cls: type
    params: dict
    where: str


def _fail(path, where, message):
    raise ConfigError(f"{path}: {where}: {message}")


def _check_data(path, where, value):
    """Refuse anything but plain YAML data, self-references and oversized alias expansions."""
    sizes, active = {}, set()
    too_many = (f"more than {MAX_PARAMETER_VALUES} values once YAML aliases are expanded; "
                "a model file holds a few settings, not data.")

    def size(node, depth):
        if node is None or isinstance(node, (bool, int, float, str)):
            return 1
        if not isinstance(node, (list, dict)):
            _fail(path, where, f"a {type(node).__name__} value ({node!r:.60}) is not plain "
                               "YAML data: use numbers, strings, booleans, null, lists and "
                               "mappings.")
        key = id(node)
        if key in sizes:
            return sizes[key]
        if key in active:
            _fail(path, where, "the value refers to itself (a recursive YAML alias).")
        if depth > _MAX_DEPTH:
            _fail(path, where, f"nested more than {_MAX_DEPTH} levels deep.")
        active.add(key)
        total = 1
        for item in (x for kv in node.items() for x in kv) if isinstance(node, dict) else node:
            total += size(item, depth + 1)
            if total > MAX_PARAMETER_VALUES:
                _fail(path, where, too_many)
        active.discard(key)
        sizes[key] = total
        return total

    size(value, 0)


def _is_step(value):
    return isinstance(value, dict) and {"name", "from"} <= set(value) <= _STEP_KEYS


def _allowed_text(allowed):
    return (f"allowed: {', '.join(allowed)} and their submodules (add a package with the "
            f"environment variable {ALLOW_MODULES_ENV}, e.g. "
            f"{ALLOW_MODULES_ENV}=mylab.decoders)")


def _step_class(path, where, cls_name, module_name):
    """The estimator class a step names, checked before and after importing its module."""
    allowed = allowed_modules()
    if not is_module_path(module_name) or not within(module_name, allowed):
        _fail(path, f"{where}, field 'from'",
              f"module {module_name!r} is not a module estimators are taken from; "
              f"{_allowed_text(allowed)}.")
    if not cls_name.isidentifier() or cls_name.startswith("_"):
        _fail(path, f"{where}, field 'name'",
              f"{cls_name!r} is not a class name (a public estimator class, e.g. MDM).")
    try:
        module = importlib.import_module(module_name)
    except ImportError as err:
        _fail(path, f"{where}, field 'from'", f"cannot import module {module_name!r} "
                                              f"({err}). Check the spelling or install it.")
    except Exception as err:  # an allowed module failing to import: a broken installation
        _fail(path, f"{where}, field 'from'", f"importing module {module_name!r} failed "
                                              f"({type(err).__name__}: {err}).")

    def usable(obj):
        return (inspect.isclass(obj) and issubclass(obj, BaseEstimator)
                and within(obj.__module__, allowed))

    cls = getattr(module, cls_name, None)
    rule = ("a step must be an estimator class (a subclass of sklearn.base.BaseEstimator) "
            "defined in an allowed package")
    if cls is None:
        candidates = sorted(n for n, o in vars(module).items()
                            if usable(o) and not n.startswith("_"))
        _fail(path, f"{where}, field 'name'",
              f"module {module_name!r} has no class {cls_name!r}; estimators there: "
              f"{candidates}.")
    if not inspect.isclass(cls):
        kind = ("a function" if inspect.isroutine(cls) else "a module"
                if inspect.ismodule(cls) else f"a {type(cls).__name__} object")
        _fail(path, f"{where}, field 'name'",
              f"{module_name}.{cls_name} is {kind}, not a class: {rule}.")
    if not within(getattr(cls, "__module__", "") or "", allowed):
        _fail(path, f"{where}, field 'name'",
              f"{cls_name} is defined in {cls.__module__!r}, which {module_name!r} only "
              f"imports: {rule}; {_allowed_text(allowed)}.")
    if not issubclass(cls, BaseEstimator):
        _fail(path, f"{where}, field 'name'",
              f"{cls_name} is not an estimator (not a subclass of "
              f"sklearn.base.BaseEstimator): {rule}.")
    return cls


def _check_value(path, where, value):
    """A parameter value with its nested steps checked (as _Step), the rest as it is."""
    if _is_step(value):
        return _check_step(path, where, value)
    if isinstance(value, dict):
        return {k: _check_value(path, where, v) for k, v in value.items()}
    return [_check_value(path, where, v) for v in value] if isinstance(value, list) else value


def _check_step(path, where, step):
    """Check one step (``where`` names it) and its nested steps; returns a _Step."""
    if not isinstance(step, dict):
        _fail(path, where, "each step must be a mapping with keys 'name', 'from' and "
                           "optionally 'parameters'.")
    unknown = set(step) - _STEP_KEYS
    if unknown:
        _fail(path, where, f"unknown key(s) {sorted(unknown)}; allowed: {sorted(_STEP_KEYS)}.")
    for key in ("name", "from"):
        if not isinstance(step.get(key), str) or not step.get(key):
            _fail(path, f"{where}, field '{key}'", "missing or not a string.")
    cls_name = step["name"]
    where = f"{where} ({cls_name})"
    cls = _step_class(path, where, cls_name, step["from"])
    params = step.get("parameters") or {}
    if not isinstance(params, dict) or not all(isinstance(k, str) for k in params):
        _fail(path, f"{where}, field 'parameters'", "must be a mapping of parameter: value.")
    try:
        signature = inspect.signature(cls)
    except (TypeError, ValueError):
        signature = None
    accepted = set(signature.parameters) - {"self"} if signature is not None else set()
    if signature is not None and not any(p.kind == p.VAR_KEYWORD
                                         for p in signature.parameters.values()):
        bad = sorted(set(params) - accepted)
        if bad:
            _fail(path, f"{where}, field 'parameters'",
                  f"{cls_name} has no parameter(s) {bad}; it accepts {sorted(accepted)}.")
    checked = {}
    for key, value in params.items():
        _check_data(path, f"{where}, parameter {key!r}", value)
        checked[key] = _check_value(path, f"{where}, parameter {key!r}", value)
    return _Step(cls=cls, params=checked, where=where)


def _build(path, value):
    if isinstance(value, _Step):
        return _construct(path, value)
    if isinstance(value, dict):
        return {k: _build(path, v) for k, v in value.items()}
    return [_build(path, v) for v in value] if isinstance(value, list) else value


def _construct(path, step):
    params = _build(path, step.params)
    name = step.cls.__name__
    try:
        instance = step.cls(**params)
    except Exception as err:  # any constructor error is a configuration error here
        _fail(path, f"{step.where}, field 'parameters'", f"{name}({params}) failed: {err}")
    validate = getattr(instance, "_validate_params", None)
    if validate is not None and hasattr(instance, "_parameter_constraints"):
        try:
            validate()
        except Exception as err:
            _fail(path, f"{step.where}, field 'parameters'", str(err))
    return instance


def _read_config(path):
    """The YAML mapping of a model file, with its top-level keys and ``name`` checked."""
    path = Path(path)
    if not path.is_file():
        raise ConfigError(f"{path}: no such model file.")
    size = path.stat().st_size
    if size > MAX_MODEL_FILE_BYTES:
        _fail(path, "file", f"{size} bytes, larger than the {MAX_MODEL_FILE_BYTES} bytes a "
                            "model file may have (model files have a few kB); not read.")
    try:
        config = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as err:
        mark = getattr(err, "problem_mark", None)
        line = f"line {mark.line + 1}" if mark is not None else "YAML"
        _fail(path, line, f"not valid YAML: {getattr(err, 'problem', err)}.")
    except UnicodeDecodeError as err:
        _fail(path, "file", f"not UTF-8 text ({err}).")
    except RecursionError:
        _fail(path, "YAML", "not valid YAML: nested too deeply.")
    if not isinstance(config, dict):
        _fail(path, "top level", "must be a mapping with keys 'name', 'paradigms', 'pipeline'.")
    unknown = set(config) - _TOP_KEYS
    if unknown:
        _fail(path, "top level", f"unknown key(s) {sorted(unknown, key=str)}; allowed: "
                                 f"{sorted(_TOP_KEYS)}.")
    name = config.get("name")
    if not isinstance(name, str) or not name.strip():
        _fail(path, "field 'name'", "missing or empty; give the model a display name.")
    return config


def _check_param_grid(path, param_grid, pipeline):
    if not isinstance(param_grid, dict) or not param_grid:
        _fail(path, "field 'param_grid'", "must be a mapping of parameter: list of values.")
    _check_data(path, "field 'param_grid'", param_grid)
    valid = pipeline.get_params(deep=True)
    for key, values in param_grid.items():
        if key not in valid:
            _fail(path, f"field 'param_grid', key {key!r}",
                  "not a parameter of the pipeline; valid keys look like "
                  f"{sorted(k for k in valid if '__' in k)[:8]} ...")
        if not isinstance(values, list) or not values:
            _fail(path, f"field 'param_grid', key {key!r}", "must be a non-empty list.")


def _spec_from_config(path, config):
    """Check every step of a read model file, then build its pipeline."""
    paradigms = config.get("paradigms")
    if not isinstance(paradigms, list) or not paradigms:
        _fail(path, "field 'paradigms'", f"must be a non-empty list, e.g. [LeftRightImagery]; "
                                         f"known: {list(KNOWN_PARADIGMS)}.")
    bad = [p for p in paradigms if p not in KNOWN_PARADIGMS]
    if bad:
        _fail(path, "field 'paradigms'", f"unknown paradigm(s) {bad}; known: "
                                         f"{list(KNOWN_PARADIGMS)}.")
    citations = config.get("citations") or []
    if not isinstance(citations, list) or not all(isinstance(c, str) for c in citations):
        _fail(path, "field 'citations'", "must be a list of strings.")
    steps = config.get("pipeline")
    if not isinstance(steps, list) or not steps:
        _fail(path, "field 'pipeline'", "must be a non-empty list of steps.")
    checked = [_check_step(path, f"pipeline step {i + 1}", s) for i, s in enumerate(steps)]
    pipeline = make_pipeline(*[_construct(path, s) for s in checked])
    param_grid = config.get("param_grid")
    if param_grid is not None:
        _check_param_grid(path, param_grid, pipeline)
    return ModelSpec(name=config["name"].strip(), pipeline=pipeline, paradigms=list(paradigms),
                     path=path, citations=list(citations), param_grid=param_grid)


def read_model_file(path):
    """Read one model file.

    Parameters
    ----------
    path : str | Path
        A ``.yml`` file in MOABB's pipeline format.

    Returns
    -------
    spec : ModelSpec

    Raises
    ------
    ConfigError
        If the file is missing, too large, not valid YAML, or breaks a rule of the format
        or of the allow-list (the message names the file, the field and what is allowed).
    """
    path = Path(path)
    return _spec_from_config(path, _read_config(path))


def _model_files(path):
    """(files, where they come from) for :func:`load_models`."""
    if path is None:
        files = list(list_files("models").values())
        where = " + ".join(str(f) for f in search_path("models"))
        if not files:
            raise ConfigError(f"{where}: no model files (*.yml).")
        return files, where
    path = Path(path)
    if path.is_dir():
        files = sorted(path.glob("*.yml"))
        if not files:
            raise ConfigError(f"{path}: no model files (*.yml) in this folder.")
        return files, str(path)
    if path.is_file():
        return [path], str(path)
    raise ConfigError(f"{path}: no such model file or folder.")


def _selected(path, names):
    """Read the names of the model files, build those selected by ``names`` (all: None).

    Returns (specs, names missing, where, names available); raises the ConfigError of a
    file that was asked for (by ``names``, or as the one file ``path``) and fails.
    """
    files, where = _model_files(path)
    strict = names is not None or (path is not None and Path(path).is_file())
    wanted = {str(n) for n in names} if names is not None else None
    configs, failed = {}, {}
    for file in files:
        try:
            configs[file] = _read_config(file)
        except ConfigError as err:
            if strict and (wanted is None or {file.stem, file.name} & wanted):
                raise
            failed[file] = err
    seen = {}
    for file, config in configs.items():
        name = config["name"].strip()
        if name in seen:
            raise ConfigError(f"{file}: field 'name': model name {name!r} is also used by "
                              f"{seen[name]}; names must be unique.")
        seen[name] = file
    keys = {f: {c["name"].strip(), f.stem, f.name} for f, c in configs.items()}
    chosen = [f for f in configs if wanted is None or keys[f] & wanted]
    found = set().union(*(keys[f] for f in chosen))
    specs = []
    for file in chosen:
        try:
            specs.append(_spec_from_config(file, configs[file]))
        except ConfigError as err:
            if strict:
                raise
            failed[file] = err
    for err in failed.values():
        logger.warning("%s The file is skipped; the other model files are used.", err)
    if not specs and not (wanted and wanted - found):
        raise ConfigError(f"{where}: no usable model file ({len(failed)} refused: "
                          f"{', '.join(f.name for f in failed)}; see the warnings).")
    missing = sorted(wanted - found) if wanted else []
    return specs, missing, where, sorted(seen)


def load_models(path=None, names=None):
    """Load model files: a folder (not recursive), one file, or the default search path.

    The ``name:`` of every file is read first; only the models selected by ``names`` are
    checked and built. A file that cannot be read or is refused is skipped with a warning
    naming it, unless ``names`` asks for it (or it is the one file ``path``): then its
    ConfigError is raised.

    Parameters
    ----------
    path : str | Path | None
        A folder of ``*.yml`` model files, or a single ``.yml`` file. ``None``: the shipped
        models plus the user's own (:func:`bci_app.resources.list_files`; a user file with
        the name of a shipped one replaces it).
    names : sequence of str | None
        Keep only the models with these names (or file stems, or file names).

    Returns
    -------
    specs : list of ModelSpec
        Sorted by file name.
    """
    specs, missing, where, available = _selected(path, names)
    if missing:
        raise ConfigError(f"{where}: no model named {missing}; available: {available}.")
    logger.info("loaded %d model(s) from %s", len(specs), where)
    return specs


def find_model(model, path=None):
    """One model by file path, or by name / file stem among :func:`load_models` ``(path)``.

    Only that model's file is checked and built.

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
    specs, missing, where, available = _selected(path, [str(model)])
    if missing:
        raise ConfigError(f"model {str(model)!r}: no such file, and no model of that name in "
                          f"{where} (there: {', '.join(available)}).")
    return specs[0]
