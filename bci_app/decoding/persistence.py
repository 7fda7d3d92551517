"""Save and load trained decoders without pickle.

A trained decoder is written to one ``.bcimodel`` file: a zip archive holding

* ``meta.json``: what the decoder needs besides the fitted pipeline (classes, sampling
  rate, channels, window, band-pass), the YAML pipeline file it was trained from (so it can
  be retrained), what it was trained on, and the library versions;
* ``pipeline.skops``: the fitted scikit-learn pipeline in the :mod:`skops.io` format,
  which stores the state of each object as data and never runs code from the file.

Loading never unpickles anything. The types named in ``pipeline.skops`` are checked
before any object is created: skops trusts builtins, numpy arrays and dtypes and the
public scikit-learn estimators; on top of that :func:`load_model` trusts only

* estimators (:class:`sklearn.base.BaseEstimator` subclasses) defined in ``bci_app``,
  ``sklearn`` or ``pyriemann``,
* scikit-learn's cross-validation splitters, scorers and :class:`~sklearn.utils.Bunch`
  (held by fitted grid searches and stacking ensembles).

Any other type, including other classes and functions of numpy and scipy (some of them
act on the file system when they are garbage-collected or called), is refused with a
:class:`~bci_app.errors.DataError` naming it, unless the caller, having inspected the
file, passes its name in ``trusted``.

Public API
----------
TrainedModel
    A fitted pipeline and its metadata; :meth:`TrainedModel.decoder` builds the
    :class:`~bci_app.online.engine.WindowedDecoder` that uses it.
save_model
    Write a ``.bcimodel`` file (atomically).
load_model
    Read one back, refusing unknown types.
read_model_info
    The metadata of a ``.bcimodel`` file, without loading the pipeline.
"""

import datetime as _dt
import importlib
import inspect
import io
import json
import math
import os
import platform
import tempfile
import zipfile
from dataclasses import dataclass, field, fields
from importlib import metadata as _metadata
from pathlib import Path

import numpy as np
import skops.io as sio
from sklearn.base import BaseEstimator

from .._logging import logger
from ..errors import ConfigError, DataError

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MODEL_SUFFIX",
    "TRUSTED_PACKAGES",
    "TrainedModel",
    "load_model",
    "read_model_info",
    "save_model",
]

#: Suffix of trained-model files.
MODEL_SUFFIX = ".bcimodel"
#: Value of ``meta.json``'s ``format`` field.
FORMAT_NAME = "bci-app trained model"
#: Version of the file layout written by :func:`save_model`; files with a larger version
#: are refused (they come from a newer bci-app).
FORMAT_VERSION = 1
#: Packages whose estimator classes :func:`load_model` trusts.
TRUSTED_PACKAGES = ("bci_app", "sklearn", "pyriemann")

_META_MEMBER = "meta.json"
_PIPELINE_MEMBER = "pipeline.skops"
_MAX_META_BYTES = 16 * 2**20
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY_MAGIC = b"PK\x05\x06"
# Module path components never imported while checking a type (import side effects).
_NEVER_IMPORT = {"__main__", "tests", "test", "testing", "conftest", "setup", "f2py",
                 "distutils"}
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


def _now():
    return _dt.datetime.now(_dt.timezone.utc).astimezone().isoformat(timespec="seconds")


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
        ``models/``), taking windows ``(n_windows, n_channels, n_times)``.
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
            self.created = _now()
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

    def decoder(self, **overrides):
        """A windowed decoder using this model with its training settings.

        Parameters
        ----------
        **overrides
            Any argument of :class:`~bci_app.online.engine.WindowedDecoder` to change
            (``smoothing``, ``threshold``, ``step_s``, ``batch_size``...).

        Returns
        -------
        decoder : bci_app.online.engine.WindowedDecoder
        """
        from ..online.engine import WindowedDecoder

        kwargs = dict(sfreq=self.sfreq, ch_names=self.ch_names, window_s=self.window_s,
                      step_s=self.step_s, l_freq=self.l_freq, h_freq=self.h_freq,
                      notch=self.notch)
        kwargs.update(overrides)
        return WindowedDecoder(self.pipeline, **kwargs)

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


# ----------------------------------------------------------------------------------------
# Saving
# ----------------------------------------------------------------------------------------


def save_model(trained, path):
    """Write a trained model to one ``.bcimodel`` file, atomically.

    The file is written to a temporary file in the same folder and renamed over ``path``
    when complete, so an interrupted save never leaves a partial file (an existing file
    at ``path`` is replaced only by a complete one).

    Parameters
    ----------
    trained : TrainedModel
        The model and its metadata.
    path : str | Path
        Destination; by convention it ends with :data:`MODEL_SUFFIX`. Missing parent
        folders are created.

    Returns
    -------
    path : Path
        The file written.

    Raises
    ------
    ConfigError
        If the pipeline is not fitted, a metadata value cannot be stored as JSON, or the
        pipeline holds an object the skops format cannot store.
    """
    if not isinstance(trained, TrainedModel):
        raise ConfigError(f"save_model expects a TrainedModel, got {type(trained).__name__}.")
    path = Path(path)
    if not hasattr(trained.pipeline, "classes_"):
        raise ConfigError(f"{path}: the pipeline of {trained.name!r} is not fitted (it has "
                          "no classes_); fit it before saving.")
    meta = trained.metadata()
    meta = {"format": FORMAT_NAME, "format_version": FORMAT_VERSION, **meta}
    try:
        blob = sio.dumps(trained.pipeline, compression=zipfile.ZIP_DEFLATED)
    except Exception as err:  # skops raises TypeError, PicklingError, ... per object
        raise ConfigError(f"{path}: the pipeline of {trained.name!r} holds an object the "
                          f"skops format cannot store ({type(err).__name__}: {err}). Keep "
                          "lambdas, open files, threads and generators out of estimators' "
                          "fitted attributes.") from err
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(_META_MEMBER, json.dumps(meta, indent=2, ensure_ascii=False),
                    compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(_PIPELINE_MEMBER, blob, compress_type=zipfile.ZIP_STORED)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(buffer.getbuffer())
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, path)
    except BaseException:
        try:
            os.unlink(tmp)
        except FileNotFoundError:
            pass
        raise
    logger.info("saved trained model %r (%s) to %s", trained.name,
                ", ".join(trained.classes), path)
    return path


# ----------------------------------------------------------------------------------------
# Loading
# ----------------------------------------------------------------------------------------


def _not_a_model(path, head, whole):
    """The DataError for a file that is not a zip archive, saying what it looks like."""
    never = ("bci-app never loads pickles, because unpickling a file can run any code it "
             f"contains. Retrain the model in bci-app, which saves it as a {MODEL_SUFFIX} "
             "file.")
    binary_pickle = len(head) >= 2 and head[0] == 0x80 and 2 <= head[1] <= 5
    text_pickle = whole and head[-1:] == b"." and head[:1] in (b"(", b"]", b"}", b"c")
    if binary_pickle or text_pickle:
        return DataError(f"{path}: this looks like a pickle (or joblib) file. {never}")
    compressed = (b"x\x01", b"x\x5e", b"x\x9c", b"x\xda", b"\x1f\x8b", b"BZh", b"\xfd7zXZ",
                  b"\x28\xb5\x2f\xfd")
    if head.startswith(compressed) or head.startswith(b"ZF"):
        return DataError(f"{path}: a compressed file (a compressed joblib or pickle file?), "
                         f"not a bci-app trained model. {never}")
    try:
        text = head.decode("utf-8")
    except UnicodeDecodeError:
        text = None
    if text is not None:
        import yaml

        try:
            config = yaml.safe_load(text)
        except yaml.YAMLError:
            config = None
        if isinstance(config, dict) and "pipeline" in config:
            return DataError(
                f"{path}: this is a pipeline description (YAML model file), not a trained "
                "model. Train it first (on a calibration run) to get a "
                f"{MODEL_SUFFIX} file.")
    return DataError(f"{path}: not a bci-app trained model (expected a {MODEL_SUFFIX} "
                     "file written by bci-app).")


def _open_container(path):
    """Return (meta dict, pipeline bytes) of a model file, with clear errors."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: no such model file.")
    if not path.is_file():
        raise DataError(f"{path}: not a file (expected a {MODEL_SUFFIX} file).")
    with open(path, "rb") as f:
        head = f.read(1 << 20)
        whole = not f.read(1)
    if not head:
        raise DataError(f"{path}: the file is empty (an interrupted copy?). Export or "
                        "retrain the model again.")
    if head[:4] not in (_ZIP_MAGIC, _ZIP_EMPTY_MAGIC):
        raise _not_a_model(path, head, whole)
    corrupted = (f"{path}: the model file is corrupted or truncated (an interrupted copy "
                 "or download?); copy it again, or retrain the model")
    try:
        with zipfile.ZipFile(path) as zf:
            names = set(zf.namelist())
            if _META_MEMBER not in names or _PIPELINE_MEMBER not in names:
                if "schema.json" in names:
                    raise DataError(
                        f"{path}: a bare skops file, without bci-app's metadata (classes, "
                        "channels, sampling rate, filters). Train the model in bci-app to "
                        f"get a {MODEL_SUFFIX} file.")
                raise DataError(f"{path}: a zip archive but not a bci-app trained model (no "
                                f"{_META_MEMBER} and {_PIPELINE_MEMBER} in it).")
            if zf.getinfo(_META_MEMBER).file_size > _MAX_META_BYTES:
                raise DataError(f"{path}: {_META_MEMBER} is implausibly large; not a model "
                                "file written by bci-app.")
            raw_meta = zf.read(_META_MEMBER)
            blob = zf.read(_PIPELINE_MEMBER)
    except DataError:
        raise
    except (zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, OSError, KeyError,
            NotImplementedError, ValueError) as err:
        raise DataError(f"{corrupted} ({type(err).__name__}: {err}).") from err
    try:
        meta = json.loads(raw_meta.decode("utf-8"))
    except (UnicodeDecodeError, json.JSONDecodeError) as err:
        raise DataError(f"{corrupted} ({_META_MEMBER}: {err}).") from err
    if not isinstance(meta, dict) or meta.get("format") != FORMAT_NAME:
        raise DataError(f"{path}: {_META_MEMBER} does not describe a bci-app trained model "
                        f"(field 'format' should be {FORMAT_NAME!r}).")
    version = meta.get("format_version")
    if not isinstance(version, int) or isinstance(version, bool) or version < 1:
        raise DataError(f"{path}: metadata field 'format_version' must be a positive integer "
                        f"(got {version!r}); the file was edited or is corrupted.")
    if version > FORMAT_VERSION:
        raise DataError(f"{path}: the file uses model format version {version}, but this "
                        f"bci-app ({_bci_app_version()}) reads versions up to "
                        f"{FORMAT_VERSION}. It was saved by a newer bci-app "
                        f"({meta.get('bci_app_version', 'unknown')}): upgrade bci-app, or "
                        "retrain the model with this version.")
    _check_fields(meta, str(path))
    return meta, blob


def read_model_info(path):
    """The metadata of a trained-model file, without loading its pipeline.

    Parameters
    ----------
    path : str | Path
        A ``.bcimodel`` file.

    Returns
    -------
    meta : dict
        The :class:`TrainedModel` fields except ``pipeline``, plus ``format`` and
        ``format_version``.

    Raises
    ------
    DataError
        If the file is missing, is not a model file, is corrupted, or comes from a
        newer bci-app.
    """
    meta, _ = _open_container(path)
    return meta


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


def load_model(path, trusted=None):
    """Load a trained model saved by :func:`save_model`; never unpickles anything.

    Parameters
    ----------
    path : str | Path
        A ``.bcimodel`` file.
    trusted : sequence of str or type | None
        Extra types to trust, by fully qualified name (as listed in the error raised for
        an untrusted file) or as classes. Only pass types you have inspected and whose
        code you trust: loading calls their methods.

    Returns
    -------
    trained : TrainedModel

    Raises
    ------
    DataError
        If the file is missing, is not a trained model (a pickle, a YAML pipeline file,
        another file), is corrupted or truncated, lacks metadata, comes from a newer
        bci-app, or holds a type outside the trusted set (the message lists them).
    """
    path = Path(path)
    extra = _trusted_names(trusted, path)
    meta, blob = _open_container(path)
    try:
        found = sio.get_untrusted_types(data=blob)
    except Exception as err:  # malformed schema: any parsing error of skops
        raise DataError(f"{path}: the model file is corrupted ({_PIPELINE_MEMBER}: "
                        f"{type(err).__name__}: {err}); copy it again, or retrain the "
                        "model.") from err
    refused = sorted(t for t in found if t not in extra and not _is_trusted_type(t))
    if refused:
        raise DataError(
            f"{path}: refused to load: the pipeline holds type(s) bci-app does not trust: "
            f"{', '.join(refused)}. Only estimators of {', '.join(TRUSTED_PACKAGES)} and "
            "scikit-learn's helpers are loaded automatically, because loading runs their "
            "code. If you know where the file comes from and trust these types, load it "
            f"with load_model(path, trusted={refused!r}); otherwise retrain the model from "
            "its pipeline file.")
    try:
        pipeline = sio.loads(blob, trusted=list(found))
    except Exception as err:
        raise DataError(f"{path}: the pipeline could not be rebuilt ({type(err).__name__}: "
                        f"{err}). The file may be corrupted, or come from incompatible "
                        f"library versions ({_version_note(meta)}); retrain the model."
                        ) from err
    fitted = getattr(pipeline, "classes_", None)
    if fitted is None or [str(c) for c in fitted] != meta["classes"]:
        raise DataError(f"{path}: metadata field 'classes' ({meta['classes']}) does not match "
                        "the pipeline's classes "
                        f"({None if fitted is None else [str(c) for c in fitted]}); the "
                        "file was edited or is corrupted. Retrain the model.")
    _warn_versions(path, meta)
    kwargs = {f.name: meta[f.name] for f in fields(TrainedModel) if f.name != "pipeline"}
    trained = TrainedModel(pipeline=pipeline, **kwargs)
    logger.info("loaded trained model %r (%s) from %s", trained.name,
                ", ".join(trained.classes), path)
    return trained


def _version_note(meta):
    saved = meta.get("library_versions") or {}
    now = _library_versions()
    return ", ".join(f"{lib} {saved.get(lib)} saved / {now.get(lib)} installed"
                     for lib in ("scikit-learn", "pyriemann", "numpy"))


def _warn_versions(path, meta):
    saved = meta.get("library_versions") or {}
    now = _library_versions()
    changed = [f"{lib} {saved[lib]} -> {now.get(lib)}" for lib in ("scikit-learn", "pyriemann")
               if saved.get(lib) and saved.get(lib) != now.get(lib)]
    if changed:
        logger.warning("%s: trained with other library versions (%s); predictions may "
                       "differ slightly: retrain the model if in doubt.", path,
                       ", ".join(changed))

