"""MOABB datasets from local files only: their names, where their files are, no network.

bci-app never downloads data. This module is what makes that true for a MOABB dataset:

Names
    A dataset name is one of MOABB's registered dataset classes
    (``moabb.datasets.utils.dataset_dict``, e.g. ``PhysionetMI``, ``BNCI2014_001``), matched
    exactly, then ignoring case, ``_`` and ``-``; deprecated MOABB names are read as their
    new ones. Any other name is a :class:`~bci_app.errors.UsageError` that lists the close
    matches (:func:`dataset_class`); no attribute of a module is ever looked up by name.

Where the files are
    MOABB (``moabb.datasets.download.get_dataset_path``) keeps a dataset under the folder
    of MNE's config ``MNE_DATASETS_<SIGN>_PATH``, else ``MNE_DATA`` (environment first, then
    MNE's config file), in ``MNE-<sign>-data/``. :func:`data_folder` finds that folder the
    same way (``--data-path`` first) and refuses a folder that is not there.

The files of a subject, checked before any work (:func:`check_local_subjects`)
    For the datasets whose layout bci-app knows (:data:`LOCAL_LAYOUTS`: PhysionetMI), the
    files a subject needs are computed and looked for: nothing of MOABB runs. For the other
    MOABB datasets only the dataset's own code knows its layout: it is asked for the
    subject's files with the network shut for the asking thread (:func:`no_network`), so
    that a file it would fetch is reported, not downloaded. A subject whose files are not
    all there is a :class:`~bci_app.errors.DataError` naming the path expected and how to
    get the data on a machine with network.

The download provider of MOABB is pinned to ``upstream`` (no NEMAR mirror is tried first).
"""

import contextlib
import difflib
import errno
import logging
import os
import re
import shutil
import socket
import threading
from pathlib import Path

from .._logging import logger
from ..errors import DataError, UsageError

#: bci-app's own names for PhysionetMI (besides MOABB's ``PhysionetMI``).
PHYSIONET_NAMES = ("physionet", "physionetmi", "eegbci", "eegmmidb")
#: Names that are not MOABB datasets, listed with MOABB's in the close matches.
OWN_NAMES = ("SyntheticMI",)


def _key(name):
    return str(name).lower().replace("_", "").replace("-", "")


def moabb_datasets():
    """MOABB's registered dataset classes: ``{class name: class}`` (no deprecated names)."""
    from moabb.datasets import utils

    if not utils.dataset_dict:
        utils._init_dataset()  # MOABB fills its registry on its first search
    return dict(utils.dataset_dict)


def dataset_class(name):
    """The MOABB dataset class of ``name`` (see the module notes).

    Parameters
    ----------
    name : str

    Returns
    -------
    name : str
        MOABB's name of the class.
    cls : type
        A subclass of ``moabb.datasets.base.BaseDataset``.

    Raises
    ------
    UsageError
        ``name`` is no MOABB dataset; the message lists the close matches.
    DataError
        ``name`` is a path (it has ``/``, ``\\`` or ``.``) to nothing: a missing file.
    """
    from moabb.utils import aliases_list

    registry = moabb_datasets()
    name = str(name)
    renamed = {old: new for old, new, *_ in aliases_list}
    if _key(name) in PHYSIONET_NAMES:
        name = "PhysionetMI"
    name = renamed.get(name, name)
    if name in registry:
        return name, registry[name]
    same = [n for n in registry if _key(n) == _key(name)]
    if len(same) == 1:
        return same[0], registry[same[0]]
    if any(c in name for c in "/\\.") or name.startswith("~"):  # a path, not a name
        raise DataError(f"--dataset {name}: no such file or folder (and no MOABB dataset "
                        "has such a name); give an existing recording file or recordings "
                        "folder, or a MOABB dataset class name (e.g. PhysionetMI).")
    choices = sorted(registry) + list(OWN_NAMES)
    by_key = {_key(n): n for n in choices}
    close = [by_key[k] for k in difflib.get_close_matches(_key(name), list(by_key), n=5,
                                                          cutoff=0.6)]
    hint = f"close names: {', '.join(close)}; " if close else ""
    raise UsageError(
        f"--dataset {name!r}: no such dataset; {hint}give a MOABB dataset class name "
        f"({len(registry)} known, e.g. PhysionetMI, BNCI2014_001), SyntheticMI, or a "
        "recordings folder written by `bci-app session`.")


# -- where the files are ----------------------------------------------------------------------
#: Environment values this process set to point MOABB to a folder (key -> value): not a
#: user's setting when they are read again (a later call without ``--data-path``).
_SET_HERE = {}


def _setting(key):
    """A user's value of MNE's config ``key``: the environment, else MNE's config file."""
    import mne

    value = os.environ.get(key)
    if value is not None and _SET_HERE.get(key) == value:
        value = None
    return value or mne.get_config(key, use_env=False)


def _point_moabb(key, folder):
    if os.environ.get(key) != str(folder):
        os.environ[key] = _SET_HERE[key] = str(folder)


def mne_data_path(data_path=None, sign=None):
    """The data folder MOABB uses for a dataset, as MOABB finds it (see the module notes).

    Parameters
    ----------
    data_path : str | Path | None
        ``--data-path``: wins over the configuration.
    sign : str | None
        The dataset's MNE sign (e.g. ``"EEGBCI"``): ``MNE_DATASETS_<SIGN>_PATH`` first.

    Returns
    -------
    folder : Path | None
        None when nothing is configured.
    """
    if data_path is not None:
        return Path(data_path).expanduser().resolve()
    keys = ([f"MNE_DATASETS_{sign.upper()}_PATH"] if sign else []) + ["MNE_DATA"]
    for key in keys:
        value = _setting(key)
        if value:
            return Path(value).expanduser().resolve()
    return None


def data_folder(name, data_path=None, sign=None):
    """:func:`mne_data_path`, which must be set and exist; MOABB is pointed to it.

    Raises
    ------
    DataError
        No folder is set, or it is not a folder.
    """
    root = mne_data_path(data_path, sign)
    if root is None:
        raise DataError(f"{name}: no MNE data folder is set. Set MNE_DATA (or pass "
                        "--data-path) to the folder that holds its MNE-*-data/ folder; "
                        "bci-app never downloads data.")
    if not root.is_dir():
        raise DataError(f"{name}: the MNE data folder {root} does not exist (MNE_DATA or "
                        "--data-path); point it to the folder that holds the data. bci-app "
                        "never downloads data.")
    # MOABB reads from the same folder (the environment wins over MNE's config file), and
    # never tries a download mirror first.
    os.environ["MOABB_DOWNLOAD_PROVIDER"] = "upstream"
    if sign:
        _point_moabb(f"MNE_DATASETS_{sign.upper()}_PATH", root)
    if data_path is not None or not sign:
        _point_moabb("MNE_DATA", root)
    return root


# -- no network --------------------------------------------------------------------------------
_GUARD = threading.local()


class NetworkBlocked(OSError):
    """A connection attempted in a thread where :func:`no_network` shut the network."""


def _attempts():
    return getattr(_GUARD, "attempts", None)


def _guard_connect(original):
    def connect(self, address):
        attempts = _attempts()
        if attempts is not None and self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(str(address))
            raise NetworkBlocked(errno.ENETUNREACH, f"bci-app never downloads: {address}")
        return original(self, address)

    return connect


def _guard_connect_ex(original):
    def connect_ex(self, address):
        attempts = _attempts()
        if attempts is not None and self.family in (socket.AF_INET, socket.AF_INET6):
            attempts.append(str(address))
            return errno.ENETUNREACH
        return original(self, address)

    return connect_ex


def _guard_getaddrinfo(original):
    def getaddrinfo(host, *args, **kwargs):
        attempts = _attempts()
        if attempts is not None:
            attempts.append(str(host))
            raise socket.gaierror(socket.EAI_FAIL, f"bci-app never downloads: {host}")
        return original(host, *args, **kwargs)

    return getaddrinfo


_GUARDS = ((socket.socket, "connect", _guard_connect),
           (socket.socket, "connect_ex", _guard_connect_ex),
           (socket, "getaddrinfo", _guard_getaddrinfo))
_INSTALL = threading.Lock()


def _install_guards():
    """Wrap the socket functions once (again if something replaced the wrappers since)."""
    with _INSTALL:
        for owner, name, make in _GUARDS:
            current = getattr(owner, name)
            if not getattr(current, "_bci_app_guard", False):
                wrapper = make(current)
                wrapper._bci_app_guard = True
                setattr(owner, name, wrapper)


@contextlib.contextmanager
def no_network():
    """Shut the network for the calling thread: any Internet connection (or name look-up)
    it attempts fails at once, and is recorded.

    Other threads are not affected (a Dask worker's own connections go on).

    Yields
    ------
    attempts : list of str
        The addresses or host names the thread tried to reach.
    """
    _install_guards()
    outer = _attempts()
    _GUARD.attempts = attempts = []
    try:
        yield attempts
    finally:
        _GUARD.attempts = outer
        if outer is not None:
            outer.extend(attempts)


class _Wanted(logging.Handler):
    """Collects the files pooch announces it would download (``... to file '<path>'``)."""

    def __init__(self):
        super().__init__(logging.INFO)
        self.files = []

    def emit(self, record):
        found = re.search(r"to file '([^']+)'", record.getMessage())
        if found:
            self.files.append(found.group(1))


@contextlib.contextmanager
def _announced_downloads():
    """Silence pooch's log for the block and collect the files it would download."""
    import pooch

    log = pooch.get_logger()
    handlers, level, wanted = log.handlers[:], log.level, _Wanted()
    log.handlers = [wanted]
    log.setLevel(logging.INFO)
    try:
        yield wanted.files
    finally:
        log.handlers = handlers
        log.setLevel(level)


def _empty_tree(path):
    return path.is_dir() and not any(p.is_file() for p in path.rglob("*"))


# -- the files of each subject -----------------------------------------------------------------
def _physionet_files(root, dataset, subject):
    runs = list(dataset.hand_runs) + list(dataset.feet_runs)
    base = root / "MNE-eegbci-data" / "files" / "eegmmidb" / "1.0.0" / f"S{subject:03d}"
    return [base / f"S{subject:03d}R{run:02d}.edf" for run in runs]


def _physionet_fetch(root, dataset, subjects):
    runs = list(dataset.hand_runs) + list(dataset.feet_runs)
    subjects = subjects[0] if len(subjects) == 1 else list(subjects)
    return (f"python -c \"import mne; mne.datasets.eegbci.load_data({subjects}, runs={runs}, "
            f"path='{root}')\"")


#: Datasets whose files bci-app finds without running MOABB: MOABB name -> (MNE sign,
#: ``files(root, dataset, subject)``: the files a subject needs, ``fetch(root, dataset,
#: subjects)``: the command that downloads them on a machine with network).
LOCAL_LAYOUTS = {"PhysionetMI": ("EEGBCI", _physionet_files, _physionet_fetch)}


def _moabb_fetch(name, root, subjects):
    return (f"python -c \"from moabb.datasets import {name}; "
            f"{name}().download(subject_list={list(subjects)}, path='{root}')\"")


#: One probe at a time in a process (they borrow pooch's logger).
_PROBES = threading.Lock()


def _probe(dataset, subject, root):
    """Ask MOABB for a subject's files with the network shut: None if they are all there,
    else what is missing (a file, or the host MOABB wanted to reach)."""
    before = set(root.iterdir())
    with _PROBES, _announced_downloads() as wanted, no_network() as attempts:
        try:
            dataset.data_path(subject)
            error = None
        except Exception as err:  # noqa: BLE001 - whatever MOABB raises, the files are not there
            error = err
    if error is None and not attempts:
        return None
    for new in set(root.iterdir()) - before:  # the empty folders MOABB made for a download
        if _empty_tree(new):
            shutil.rmtree(new, ignore_errors=True)
    if wanted:
        return f"{wanted[0]} is missing"
    if attempts:
        return f"MOABB needs the network to find its files (it tried {attempts[0]})"
    return f"MOABB cannot give its files ({type(error).__name__}: {error})"


def check_local_subjects(name, dataset, subjects, data_path=None, explicit=True):
    """Check that each subject's files are on this machine, before any work.

    Parameters
    ----------
    name : str
        MOABB's name of the dataset (a key of :func:`moabb_datasets`).
    dataset : moabb.datasets.base.BaseDataset
        With the runs it will read already chosen (PhysionetMI: ``hand_runs``,
        ``feet_runs``).
    subjects : list of int
    data_path : str | Path | None
        ``--data-path``.
    explicit : bool
        The subjects were asked for: each must be there. Otherwise (every subject of the
        dataset), the subjects found are kept and only none at all is an error.

    Returns
    -------
    subjects : list of int
        Those to use.

    Raises
    ------
    DataError
        Naming the first subject missing, the path expected, and how to get the data.
    """
    layout = LOCAL_LAYOUTS.get(name)
    root = data_folder(name, data_path, layout[0] if layout else None)
    missing = {}
    for subject in subjects:
        if layout:
            absent = [p for p in layout[1](root, dataset, subject) if not p.is_file()]
            if absent:
                missing[subject] = (f"{len(absent)} file(s) missing, e.g. {absent[0]}"
                                    if len(absent) > 1 else f"{absent[0]} is missing")
        else:
            problem = _probe(dataset, subject, root)
            if problem:
                missing[subject] = problem
        if missing and explicit:
            break
    present = [s for s in subjects if s not in missing]
    if explicit and missing or not present:
        first = next(iter(missing))
        asked = list(missing) if explicit else list(subjects)[:3]
        fetch = (layout[2](root, dataset, asked) if layout
                 else _moabb_fetch(name, root, asked))
        what = (f"subject {first}: {missing[first]}" if explicit else
                f"no subject has its files here (subject {first}: {missing[first]})")
        raise DataError(
            f"{name} {what} (MNE data folder {root}); bci-app never downloads data. Get the "
            f"data on a machine with network ({fetch}), copy its MNE-*-data folder into "
            f"{root}, or point --data-path / MNE_DATA to the folder that holds it.")
    if not explicit:
        logger.info("%s: using the %d subject(s) found locally: %s", name, len(present),
                    present)
    return present
