"""The project's exceptions, raised at its boundaries (files, streams, configuration, input).

Each message says what was wrong, where (file, field, stream) and what to do about it.
"""


class BCIAppError(Exception):
    """Base class of every error the application raises on purpose."""


class ConfigError(BCIAppError, ValueError):
    """A configuration file (model, protocol) or a parameter is invalid."""


class DataError(BCIAppError, ValueError):
    """Input data is missing, malformed or inconsistent (shape, channels, sampling rate)."""


class StreamError(BCIAppError, RuntimeError):
    """An LSL stream cannot be found, is lost, or does not match what is expected."""


class UsageError(ConfigError):
    """A command-line argument is missing, malformed, or conflicts with another."""
