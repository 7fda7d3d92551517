"""The package logger: every module logs through ``bci_app.logger``."""

import logging

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
