"""A trained decoder: the fitted pipeline and what is needed to use and retrain it.

:class:`TrainedModel` is what :func:`bci_app.decoding.persistence.save_model` writes and
:func:`~bci_app.decoding.persistence.load_model` returns; this module also holds the
schema of its metadata (``meta.json`` in a ``.bcimodel`` file), checked on both sides.
"""

import math
import os
import platform
import tempfile
from dataclasses import dataclass, field, fields
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np

from .._utils import now_iso
from ..errors import ConfigError, DataError

__all__ = ["TrainedModel"]

_LIBRARIES = ("numpy", "scipy", "scikit-learn", "pyriemann", "skops")


# ----------------------------------------------------------------------------------------
# Versions and JSON helpers
# ----------------------------------------------------------------------------------------


def _bci_app_version():
    try:
        from bci_app import __version__

        return str(__version__)
    except ImportError:  # pragma: no cover - partial installs
        try:
            return _metadata.version("bci-app")
        except _metadata.PackageNotFoundError:
            return "unknown"


def _library_versions():
    versions = {"python": platform.python_version()}
    for dist in _LIBRARIES:
        try:
            versions[dist] = _metadata.version(dist)
        except _metadata.PackageNotFoundError:
            versions[dist] = None
    return versions


def _to_json(value, where):
    """A copy of ``value`` made of JSON types (numpy scalars/arrays and paths converted)."""
    if value is None or isinstance(value, (bool, str)):
        return value
    if isinstance(value, (int, np.integer)):
        return int(value)
    if isinstance(value, (float, np.floating)):
        return float(value)
    if isinstance(value, np.bool_):
        return bool(value)
    if isinstance(value, (Path, os.PathLike)):
        return os.fspath(value)
    if isinstance(value, np.ndarray):
        return _to_json(value.tolist(), where)
    if isinstance(value, dict):
        out = {}
        for key, item in value.items():
            if not isinstance(key, str):
                raise ConfigError(f"{where}: key {key!r} is not a string; metadata keys "
                                  "must be strings.")
            out[key] = _to_json(item, f"{where}[{key!r}]")
        return out
    if isinstance(value, (list, tuple)):
        return [_to_json(item, f"{where}[{i}]") for i, item in enumerate(value)]
    raise ConfigError(f"{where}: a {type(value).__name__} cannot be stored in the model's "
                      "metadata; use numbers, strings, lists and dicts.")


# ----------------------------------------------------------------------------------------
# Metadata schema
# ----------------------------------------------------------------------------------------


def _is_number(value):
    return (isinstance(value, (int, float)) and not isinstance(value, bool)
            and math.isfinite(value))


_LOAD_HINT = ("The file was not written by bci-app's save_model or was edited; retrain the "
              "model from its pipeline file.")


def _check_fields(meta, where, error=DataError, hint=_LOAD_HINT):
    """Check the metadata fields; raise ``error`` naming ``where`` and the field at fault."""
    def bad(name, expected):
        value = meta.get(name, "<missing>")
        problem = "missing" if name not in meta else f"got {value!r}"
        raise error(f"{where}: metadata field '{name}' must be {expected} ({problem}). {hint}")

    checks = {
        "name": (lambda v: isinstance(v, str) and v.strip(), "a non-empty string"),
        "classes": (lambda v: isinstance(v, list) and len(v) >= 2
                    and all(isinstance(c, str) for c in v), "a list of >= 2 class names"),
        "sfreq": (lambda v: _is_number(v) and v > 0, "a positive number (Hz)"),
        "ch_names": (lambda v: isinstance(v, list) and v
                     and all(isinstance(c, str) for c in v), "a non-empty list of names"),
        "window_s": (lambda v: _is_number(v) and v > 0, "a positive number (s)"),
        "step_s": (lambda v: _is_number(v) and v > 0, "a positive number (s)"),
        "l_freq": (lambda v: v is None or (_is_number(v) and v > 0),
                   "a positive number (Hz) or null"),
        "h_freq": (lambda v: v is None or (_is_number(v) and v > 0),
                   "a positive number (Hz) or null"),
        "notch": (lambda v: v is None or (_is_number(v) and v > 0),
                  "a positive number (Hz) or null"),
        "pipeline_file": (lambda v: v is None or isinstance(v, str),
                          "the YAML text of the pipeline file, or null"),
        "trained_on": (lambda v: isinstance(v, dict), "a mapping"),
        "created": (lambda v: isinstance(v, str), "an ISO date string"),
        "bci_app_version": (lambda v: isinstance(v, str), "a version string"),
        "library_versions": (lambda v: isinstance(v, dict), "a mapping of library: version"),
    }
    for name, (ok, expected) in checks.items():
        if name not in meta or not ok(meta[name]):
            bad(name, expected)


@dataclass
class TrainedModel:
    """A fitted decoding pipeline and everything needed to use and retrain it.

    Parameters
    ----------
    pipeline : sklearn estimator
        The fitted classifier (usually a :class:`sklearn.pipeline.Pipeline` from
        ``models/``), taking windows ``(n_trials, n_channels, n_times)``.
    name : str
        Display name of the pipeline (``name:`` of its model file).
    sfreq : float
        Sampling rate of the training data, Hz.
    ch_names : list of str
        Channels of the training data, in order.
    window_s, step_s : float
        Window length and step of the decoder, s.
    l_freq, h_freq, notch : float | None
        Causal band-pass (and notch) the decoder applies before windowing, Hz.
    pipeline_file : str | None
        The YAML text of the model file, verbatim (None for a pipeline built in code).
    classes : list of str | None
        Class of each probability column; None takes ``pipeline.classes_``.
    trained_on : dict
        Free description of the training data: subject, session, run files, windows per
        class, calibration accuracy... (JSON types; numpy scalars and paths are
        converted when saving).
    created : str | None
        ISO date of training; None: now.
    bci_app_version : str | None
        Version of bci-app that trained the model; None: this one.
    library_versions : dict | None
        Versions of Python, numpy, scipy, scikit-learn, pyriemann and skops; None: the
        installed ones.
    """

    pipeline: object
    name: str
    sfreq: float
    ch_names: list
    window_s: float = 2.0
    step_s: float = 0.25
    l_freq: float | None = 8.0
    h_freq: float | None = 35.0
    notch: float | None = None
    pipeline_file: str | None = None
    classes: list | None = None
    trained_on: dict = field(default_factory=dict)
    created: str | None = None
    bci_app_version: str | None = None
    library_versions: dict | None = None

    def __post_init__(self):
        if self.classes is None:
            fitted = getattr(self.pipeline, "classes_", None)
            if fitted is None:
                raise ConfigError(f"TrainedModel {self.name!r}: the pipeline is not fitted "
                                  "(it has no classes_); fit it before saving.")
            self.classes = [str(c) for c in fitted]
        else:
            self.classes = [str(c) for c in self.classes]
        self.ch_names = [str(c) for c in self.ch_names]
        if self.created is None:
            self.created = now_iso()
        if self.bci_app_version is None:
            self.bci_app_version = _bci_app_version()
        if self.library_versions is None:
            self.library_versions = _library_versions()

    def metadata(self):
        """Everything but the pipeline, as JSON types.

        Returns
        -------
        meta : dict
            The fields of the model except ``pipeline``.

        Raises
        ------
        ConfigError
            If a value cannot be stored as JSON or a field has the wrong type (the message
            names the field).
        """
        meta = {f.name: _to_json(getattr(self, f.name), f"TrainedModel field '{f.name}'")
                for f in fields(self) if f.name != "pipeline"}
        _check_fields(meta, f"TrainedModel {self.name!r}", ConfigError,
                      "Correct it before saving.")
        return meta

    def untrained_pipeline(self):
        """A fresh, unfitted pipeline from :attr:`pipeline_file`, to retrain the model.

        Returns
        -------
        spec : bci_app.decoding.loading.ModelSpec

        Raises
        ------
        ConfigError
            If the model has no pipeline file, or the file no longer loads (e.g. an
            estimator was renamed).
        """
        from .loading import read_model_file

        if not self.pipeline_file:
            raise ConfigError(f"model {self.name!r} was saved without its pipeline file; "
                              "it cannot be retrained from the saved model.")
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / f"{_safe_stem(self.name)}.yml"
            path.write_text(self.pipeline_file, encoding="utf-8")
            return read_model_file(path)


def _safe_stem(name):
    return "".join(c if c.isalnum() or c in "-_" else "_" for c in name) or "model"
