"""bci-app: a motor-imagery brain-computer interface application.

Acquisition over LSL, a windowed pseudo-online decoding pipeline (augmented-covariance
Riemannian and functional-connectivity classifiers), live feedback, and MOABB-style
offline evaluation of every recorded session.
"""

from ._logging import logger, set_log_level
from .errors import BCIAppError, ConfigError, DataError, StreamError, UsageError

__version__ = "0.1.0"

__all__ = [
    "BCIAppError",
    "ConfigError",
    "DataError",
    "StreamError",
    "UsageError",
    "logger",
    "set_log_level",
    "__version__",
]
