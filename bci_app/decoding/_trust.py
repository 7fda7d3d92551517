"""Which types a ``.bcimodel`` file may hold: the trust check run before loading.

skops trusts builtins, numpy arrays and dtypes and the public scikit-learn estimators; on
top of that :func:`bci_app.decoding.persistence.load_model` trusts only estimators
(:class:`sklearn.base.BaseEstimator` subclasses) defined in :data:`TRUSTED_PACKAGES`, and
scikit-learn's cross-validation splitters, scorers and :class:`~sklearn.utils.Bunch`.
A type is resolved by its defining path only, importing no module whose path could run
code on import (tests, ``__main__``, ``setup``...).
"""

import importlib
import inspect

from sklearn.base import BaseEstimator

from ..errors import ConfigError

#: Packages whose estimator classes :func:`~bci_app.decoding.persistence.load_model` trusts.
TRUSTED_PACKAGES = ("bci_app", "sklearn", "pyriemann")

# Module path components never imported while checking a type (import side effects).
_NEVER_IMPORT = {"__main__", "tests", "test", "testing", "conftest", "setup", "f2py",
                 "distutils"}


def _resolve(type_path):
    """The object a fully qualified name designates, importing only safe modules, or None."""
    parts = type_path.split(".")
    if parts[0] not in TRUSTED_PACKAGES or not all(p.isidentifier() for p in parts):
        return None
    if any(p.strip("_") in _NEVER_IMPORT or (p.startswith("__") and p.endswith("__"))
           for p in parts):
        return None
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
    from sklearn.model_selection import BaseCrossValidator, BaseShuffleSplit
    from sklearn.model_selection import _split
    from sklearn.utils import Bunch

    bases = [BaseCrossValidator, BaseShuffleSplit, Bunch]
    for module, names in ((_scorer, ("_BaseScorer", "_PassthroughScorer",
                                     "_MultimetricScorer")),
                          (_split, ("_RepeatedSplits",))):
        bases.extend(getattr(module, n) for n in names if inspect.isclass(getattr(module, n,
                                                                                     None)))
    return tuple(bases)


def _is_trusted_type(type_path):
    """True if ``type_path`` is an estimator or helper class of a trusted package."""
    obj = _resolve(type_path)
    if not inspect.isclass(obj):
        return False
    module = getattr(obj, "__module__", "") or ""
    if module.split(".")[0] not in TRUSTED_PACKAGES:
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
