"""Which estimator classes bci-app builds and loads: one allow-list, and the checks using it.

Estimator classes come only from :data:`TRUSTED_PACKAGES` (bci-app's estimators,
scikit-learn, pyRiemann, MOABB's pipelines) and from the packages the user names, comma-
separated, in the environment variable ``BCI_APP_ALLOW_MODULES`` (:func:`allowed_modules`).
A package covers its submodules by whole dotted components (``sklearn`` covers
``sklearn.svm``, not ``sklearnx``). The same list serves

* model files (:mod:`bci_app.decoding.loading`): a step's ``from:`` module must be in it,
  checked on the name before anything is imported, and its class defined there;
* trained models (:func:`bci_app.decoding.persistence.load_model`): skops trusts builtins,
  numpy arrays and dtypes and the public scikit-learn estimators; on top of that only
  estimators (:class:`sklearn.base.BaseEstimator` subclasses) defined in these packages
  are trusted, and scikit-learn's cross-validation splitters, scorers (with the metric
  functions of its named scorers) and :class:`~sklearn.utils.Bunch`. A type is resolved by its defining path only, importing
  no module whose path could run code on import (tests, ``__main__``, ``setup``...).
"""

import importlib
import inspect
import os

from sklearn.base import BaseEstimator

from ..errors import ConfigError

#: Packages whose estimator classes model files may name and trained models may hold.
TRUSTED_PACKAGES = ("bci_app.decoding", "sklearn", "pyriemann", "moabb.pipelines")
#: Environment variable adding packages to :data:`TRUSTED_PACKAGES` (comma-separated).
ALLOW_MODULES_ENV = "BCI_APP_ALLOW_MODULES"

# Module path components never imported while checking a type (import side effects).
_NEVER_IMPORT = {"__main__", "tests", "test", "testing", "conftest", "setup", "f2py",
                 "distutils"}


def is_module_path(name):
    """True if ``name`` is a dotted module path safe to import: identifiers, none of them a
    dunder name or a test, setup or ``__main__`` module."""
    parts = name.split(".")
    return all(p.isidentifier() and not (p.startswith("__") and p.endswith("__"))
               and p.strip("_") not in _NEVER_IMPORT for p in parts)


def within(name, packages):
    """True if the dotted ``name`` is one of ``packages`` or inside one of them."""
    return any(name == p or name.startswith(p + ".") for p in packages)


def allowed_modules():
    """:data:`TRUSTED_PACKAGES` and the packages named in ``$BCI_APP_ALLOW_MODULES``.

    Raises
    ------
    ConfigError
        If the variable names something that is not a module path.
    """
    value = os.environ.get(ALLOW_MODULES_ENV, "")
    extra = []
    for name in (n.strip() for n in value.split(",")):
        if not name:
            continue
        if not is_module_path(name):
            raise ConfigError(f"{ALLOW_MODULES_ENV}={value!r}: {name!r} is not a package "
                              "name; give comma-separated dotted names, e.g. "
                              f"{ALLOW_MODULES_ENV}=mylab.decoders,otherpackage.")
        if name not in TRUSTED_PACKAGES and name not in extra:
            extra.append(name)
    return TRUSTED_PACKAGES + tuple(extra)


def _resolve(type_path):
    """The object a fully qualified name designates, importing only safe modules, or None."""
    if not within(type_path, allowed_modules()) or not is_module_path(type_path):
        return None
    parts = type_path.split(".")
    for i in range(len(parts) - 1, 0, -1):
        module_name = ".".join(parts[:i])
        try:
            obj = importlib.import_module(module_name)
        except ModuleNotFoundError:
            continue
        except Exception:  # a module failing to import is not trusted
            return None
        try:
            for attr in parts[i:]:
                obj = getattr(obj, attr)
        except AttributeError:
            return None
        return obj
    return None


def _helper_types():
    """Non-estimator scikit-learn classes held by fitted searches and ensembles."""
    from sklearn.metrics import _scorer
    from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit, _split
    from sklearn.utils import Bunch

    bases = [BaseCrossValidator, BaseShuffleSplit, Bunch]
    for module, names in ((_scorer, ("_BaseScorer", "_PassthroughScorer",
                                     "_MultimetricScorer")),
                          (_split, ("_RepeatedSplits",))):
        bases.extend(getattr(module, n) for n in names if inspect.isclass(getattr(module, n,
                                                                                     None)))
    return tuple(bases)


def _scorer_functions():
    """Qualified names of the metric functions of scikit-learn's named scorers (a grid
    search with ``scoring="balanced_accuracy"`` holds one)."""
    from sklearn.metrics import get_scorer, get_scorer_names

    funcs = (getattr(get_scorer(name), "_score_func", None) for name in get_scorer_names())
    return {f"{f.__module__}.{f.__qualname__}" for f in funcs if inspect.isfunction(f)}


def _is_trusted_type(type_path):
    """True if ``type_path`` is an estimator or helper class of a trusted package, or the
    metric function of a named scikit-learn scorer."""
    if type_path.startswith("sklearn.metrics.") and type_path in _scorer_functions():
        return True
    obj = _resolve(type_path)
    if not inspect.isclass(obj):
        return False
    module = getattr(obj, "__module__", "") or ""
    if not within(module, allowed_modules()):
        return False  # e.g. a name re-exported from an untrusted package
    if f"{module}.{obj.__qualname__}" != type_path:
        return False  # only the defining path, as skops writes it
    if issubclass(obj, BaseEstimator):
        return True
    return module.startswith("sklearn.") and issubclass(obj, _helper_types())


def _trusted_names(trusted, path):
    if trusted is None:
        return []
    if trusted is True or isinstance(trusted, (str, bytes)):
        raise ConfigError(f"{path}: trusted must be a list of fully qualified type names "
                          f"(e.g. ['mypackage.MyEstimator']), got {trusted!r}.")
    names = []
    for item in trusted:
        if isinstance(item, str):
            names.append(item)
        elif inspect.isclass(item):
            names.append(f"{item.__module__}.{item.__name__}")
        else:
            raise ConfigError(f"{path}: trusted must hold type names or classes, got "
                              f"{item!r}.")
    return names
