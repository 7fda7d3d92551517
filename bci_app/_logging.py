"""The package logger: every module logs through ``bci_app.logger``."""

import contextlib
import logging
import warnings

logger = logging.getLogger("bci_app")
logger.addHandler(logging.NullHandler())


def set_log_level(level="INFO"):
    """Send the package's log records to stderr at ``level``.

    Parameters
    ----------
    level : str | int
        A :mod:`logging` level name (``"DEBUG"``, ``"INFO"``, ...) or number.
    """
    if not any(isinstance(h, logging.StreamHandler) and not isinstance(h, logging.NullHandler)
               for h in logger.handlers):
        handler = logging.StreamHandler()
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
        logger.addHandler(handler)
    logger.setLevel(level)


#: Notices of the dependencies that say nothing to a bci-app user: MNE's per-file log lines
#: and these warnings (message regex or module), hidden unless asked for (``-vv``).
_QUIET_WARNINGS = (
    dict(message="Montage name 'standard_1005'", category=FutureWarning),
    dict(category=FutureWarning, module="moabb"),
    dict(message="Creating a dataset without passing data"),
    # pyRiemann's iterative means on ill-conditioned connectivity matrices (imaginary
    # coherence) stop at their iteration limit; the result is used as it is.
    dict(message="Convergence not reached"),
)


def quiet_dependencies():
    """Hide the dependencies' chatter (see ``_QUIET_WARNINGS``) for the rest of the process."""
    import mne

    mne.set_log_level("WARNING")
    for kwargs in _QUIET_WARNINGS:
        warnings.filterwarnings("ignore", **kwargs)


@contextlib.contextmanager
def quieted_dependencies(quiet=True):
    """:func:`quiet_dependencies` for the duration of a ``with`` block only."""
    with warnings.catch_warnings(), contextlib.ExitStack() as stack:
        if quiet:
            import mne

            stack.enter_context(mne.utils.use_log_level("WARNING"))
            for kwargs in _QUIET_WARNINGS:
                warnings.filterwarnings("ignore", **kwargs)
        yield
