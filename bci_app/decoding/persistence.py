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

* estimators (:class:`sklearn.base.BaseEstimator` subclasses) defined in
  ``bci_app.decoding``, ``sklearn``, ``pyriemann`` or ``moabb.pipelines``, or in a package
  named in ``$BCI_APP_ALLOW_MODULES`` (the allow-list of model files),
* scikit-learn's cross-validation splitters, scorers (and the metric functions of its
  named scorers, such as ``balanced_accuracy_score``) and :class:`~sklearn.utils.Bunch`
  (held by fitted grid searches and stacking ensembles).

Any other type, including other classes and functions of numpy and scipy (some of them
act on the file system when they are garbage-collected or called), is refused with a
:class:`~bci_app.errors.DataError` naming it, unless the caller, having inspected the
file, passes its name in ``trusted`` (the check is in :mod:`bci_app.decoding._trust`).

Before anything is decompressed, the zip directories of the file and of the
``pipeline.skops`` archive inside it are checked against caps (:data:`MAX_MEMBERS`
members, :data:`MAX_UNCOMPRESSED_BYTES` uncompressed, a compression ratio of at most
:data:`MAX_COMPRESSION_RATIO` for members over 1 MiB): a file beyond them (a zip bomb) is
refused with a DataError. :func:`save_model` refuses to write a pipeline beyond them. The
largest model the shipped pipelines produce on 64 channels (FgMDM on three PhysioNet runs,
272 windows) holds 69.5 MB in 12 members; the most members is 33 (the grid search), the
highest ratio 28:1 (``schema.json``).

Public API
----------
TrainedModel
    A fitted pipeline and its metadata (defined in :mod:`bci_app.decoding.trained_model`);
    :meth:`bci_app.online.engine.WindowedDecoder.from_model` builds the decoder that uses
    it.
save_model
    Write a ``.bcimodel`` file (atomically).
load_model
    Read one back, refusing unknown types.
read_model_info
    The metadata of a ``.bcimodel`` file, without loading the pipeline.
"""

import contextlib
import io
import json
import logging
import zipfile
from dataclasses import fields
from pathlib import Path

import skops.io as sio

from .._utils import atomic_write
from ..errors import ConfigError, DataError
from ._checks import check_type
from ._trust import (
    ALLOW_MODULES_ENV,
    TRUSTED_PACKAGES,
    _is_trusted_type,
    _trusted_names,
    allowed_modules,
)
from .trained_model import (
    TrainedModel,
    _bci_app_version,
    _check_fields,
    _library_versions,
)

__all__ = [
    "FORMAT_NAME",
    "FORMAT_VERSION",
    "MAX_COMPRESSION_RATIO",
    "MAX_MEMBERS",
    "MAX_UNCOMPRESSED_BYTES",
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

#: Most members a model file, or the skops archive in it, may have.
MAX_MEMBERS = 10_000
#: Most bytes the members of a model file, or of the skops archive in it, may expand to.
MAX_UNCOMPRESSED_BYTES = 2**30
#: Highest compression ratio (uncompressed / compressed) of a member over 1 MiB.
MAX_COMPRESSION_RATIO = 200
_RATIO_MIN_BYTES = 2**20
_MAX_DIRECTORY_BYTES = MAX_MEMBERS * 256

_META_MEMBER = "meta.json"
_PIPELINE_MEMBER = "pipeline.skops"
_MAX_META_BYTES = 16 * 2**20
_ZIP_MAGIC = b"PK\x03\x04"
_ZIP_EMPTY_MAGIC = b"PK\x05\x06"

logger = logging.getLogger(__name__)


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
    check_type(trained, (TrainedModel,), "save_model: trained")
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
    with zipfile.ZipFile(io.BytesIO(blob)) as zf:
        excess = _excess(zf.infolist())
    if excess:
        raise ConfigError(f"{path}: the fitted pipeline of {trained.name!r} is too large to "
                          f"be loaded back: pipeline.skops has {excess}. Use fewer channels "
                          "or a smaller model.")
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as zf:
        zf.writestr(_META_MEMBER, json.dumps(meta, indent=2, ensure_ascii=False),
                    compress_type=zipfile.ZIP_DEFLATED)
        zf.writestr(_PIPELINE_MEMBER, blob, compress_type=zipfile.ZIP_STORED)
    atomic_write(path, buffer.getbuffer())
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


def _mib(n):
    return f"{n / 2**20:.1f} MiB"


def _excess(infos):
    """What in a zip directory (``ZipFile.infolist()``) is beyond the caps, or None."""
    if len(infos) > MAX_MEMBERS:
        return f"{len(infos)} members, more than {MAX_MEMBERS}"
    total = sum(i.file_size for i in infos)
    if total > MAX_UNCOMPRESSED_BYTES:
        big = max(infos, key=lambda i: i.file_size)
        return (f"{_mib(total)} uncompressed (largest member {big.filename}: "
                f"{_mib(big.file_size)}), more than {_mib(MAX_UNCOMPRESSED_BYTES)}")
    for i in infos:
        ratio = i.file_size / max(i.compress_size, 1)
        if i.file_size > _RATIO_MIN_BYTES and ratio > MAX_COMPRESSION_RATIO:
            return (f"member {i.filename} with a compression ratio of {ratio:.0f}:1 "
                    f"({_mib(i.file_size)} from {i.compress_size} bytes), more than "
                    f"{MAX_COMPRESSION_RATIO}:1")
    return None


@contextlib.contextmanager
def _checked_zip(path, fileobj, what):
    """``zipfile.ZipFile(fileobj)`` once its directory is within the caps; a DataError
    naming ``what`` (a file or a member) if not. The member count and directory size are
    read from the end record before the directory itself."""
    def refuse(excess):
        return DataError(
            f"{path}: refused without decompressing it: {what} has {excess}. bci-app's "
            "trained models stay far below these caps (the largest shipped pipeline on 64 "
            "channels: 70 MB in 12 members, compression ratio 28:1); this file is damaged or "
            "built to exhaust memory (a zip bomb). Retrain the model.")

    end = zipfile._EndRecData(fileobj)  # None: not a zip, which ZipFile reports below
    if end is not None and (end[zipfile._ECD_ENTRIES_TOTAL] > MAX_MEMBERS
                            or end[zipfile._ECD_SIZE] > _MAX_DIRECTORY_BYTES):
        raise refuse(f"{end[zipfile._ECD_ENTRIES_TOTAL]} members (a directory of "
                     f"{end[zipfile._ECD_SIZE]} bytes), more than {MAX_MEMBERS}")
    with zipfile.ZipFile(fileobj) as zf:
        excess = _excess(zf.infolist())
        if excess:
            raise refuse(excess)
        yield zf


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
        with open(path, "rb") as f, _checked_zip(path, f, "the file") as zf:
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
        with _checked_zip(path, io.BytesIO(blob), _PIPELINE_MEMBER):
            pass
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
            f"{', '.join(refused)}. Only estimators of {', '.join(allowed_modules())} "
            "and scikit-learn's helpers are loaded automatically, because loading runs "
            "their code. If you know where the file comes from and trust these types, load "
            f"it with load_model(path, trusted={refused!r}) (or name their package in "
            f"{ALLOW_MODULES_ENV}); otherwise retrain the model from its pipeline file.")
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

