"""Where the shipped and the user's own model and protocol files are.

bci-app ships two folders of data files, ``models/`` (pipelines in MOABB's YAML format) and
``protocols/`` (TOML run definitions). In the source tree they are the project's top-level
folders; in an installed wheel they travel inside the package as
``bci_app/_builtin/{models,protocols}`` (``pyproject.toml`` maps them there at build time).

A user's own files live in the **user data folder**: ``$BCI_APP_HOME`` when set, otherwise
the platform's data folder (``~/.local/share/bci-app`` on Linux, ``~/Library/Application
Support/bci-app`` on macOS, ``%LOCALAPPDATA%\\bci-app`` on Windows), in ``models/`` and
``protocols/`` subfolders. They add to the shipped files, and a user file with the same
file name as a shipped one replaces it. Nothing is read from the working folder unless it
is named (``--models DIR``, ``--protocol PATH``): a folder of files from elsewhere is never
picked up by accident.
"""

import os
from importlib import resources
from pathlib import Path

from .errors import ConfigError

__all__ = ["DEFAULT_MODEL", "HOME_ENV", "KINDS", "find_file", "list_files", "search_path",
           "shipped_dir", "user_dir"]

#: Environment variable that sets the user data folder.
HOME_ENV = "BCI_APP_HOME"
#: The kinds of data files, and the file pattern of each.
KINDS = {"models": "*.yml", "protocols": "*.toml"}
#: The default online model: the stem of its file in ``models/`` (TS+LR whose re-centring
#: reference follows the signal over 15 s). Chosen by a rule fixed in advance
#: (benchmarks/choose_default.py) on PhysionetMI subjects 1-5: best sum of ranks of offline
#: within-session ROC-AUC and pseudo-online nMCC, among models (and their adapting variants)
#: that decode a 64-channel window in <= 10 ms; its figures are reported on subjects 6-9
#: (README.md, "The default model").
DEFAULT_MODEL = "ts_lr_adapt"


def _check_kind(kind):
    if kind not in KINDS:
        raise ValueError(f"kind must be one of {sorted(KINDS)}, got {kind!r}")


def shipped_dir(kind):
    """The folder of the files of ``kind`` shipped with bci-app.

    Parameters
    ----------
    kind : {"models", "protocols"}

    Returns
    -------
    folder : pathlib.Path
        ``bci_app/_builtin/<kind>`` in an installed package, the top-level ``<kind>/``
        folder in the source tree (an editable install).
    """
    _check_kind(kind)
    package = Path(str(resources.files("bci_app")))
    for folder in (package / "_builtin" / kind, package.parent / kind):
        if folder.is_dir():
            return folder
    raise ConfigError(f"the shipped {kind} are missing: neither {package / '_builtin' / kind} "
                      f"nor {package.parent / kind} exists. Reinstall bci-app.")


def user_dir(kind=None):
    """The user data folder (``$BCI_APP_HOME`` or the platform's), or its ``kind`` subfolder.

    The folder may not exist yet; it is not created here.
    """
    home = os.environ.get(HOME_ENV)
    if not home:
        from platformdirs import user_data_dir

        home = user_data_dir("bci-app", appauthor=False)
    home = Path(home).expanduser()
    if kind is None:
        return home
    _check_kind(kind)
    return home / kind


def search_path(kind):
    """Folders searched for files of ``kind``, lowest priority first (shipped, then user)."""
    folders = [shipped_dir(kind)]
    mine = user_dir(kind)
    if mine.is_dir() and mine.resolve() != folders[0].resolve():
        folders.append(mine)
    return folders


def list_files(kind):
    """Files of ``kind`` from the search path, by file name; user files replace shipped ones.

    Returns
    -------
    files : dict of str to pathlib.Path
        File stem -> file, sorted by stem.
    """
    found = {}
    for folder in search_path(kind):
        for path in folder.glob(KINDS[kind]):
            if path.is_file():
                found[path.stem] = path
    return dict(sorted(found.items()))


def find_file(kind, name):
    """The file of ``kind`` called ``name`` (a stem such as ``"left_right_hand"``), or None."""
    return list_files(kind).get(name)
