"""Channel selection inside a pipeline, and binding a recording's facts to a pipeline.

Decoding pipelines receive plain arrays ``(n_trials, n_channels, n_times)``; the channel
names and the sampling rate of the recording are bound to the steps that need them
(``ch_names`` and ``sfreq`` parameters) by :func:`bind_recording_info` just before fitting,
whether the data come from a MOABB dataset, a recording swept pseudo-online or a live stream.
"""

import logging

import numpy as np
from sklearn.base import BaseEstimator, TransformerMixin
from sklearn.utils.validation import check_is_fitted

from ..errors import ConfigError, DataError
from ._checks import check_n_channels

logger = logging.getLogger(__name__)

#: Sensorimotor channels of the 10-10 system, where motor imagery shows (mu/beta ERD).
SENSORIMOTOR = (
    "FC5", "FC3", "FC1", "FCz", "FC2", "FC4", "FC6",
    "C5", "C3", "C1", "Cz", "C2", "C4", "C6",
    "CP5", "CP3", "CP1", "CPz", "CP2", "CP4", "CP6",
)  # fmt: skip

#: A compact motor set: the hand areas (C3, C4), the vertex, and one row in front and behind.
MOTOR = ("FC3", "FCz", "FC4", "C3", "Cz", "C4", "CP3", "CPz", "CP4")

_CHANNEL_SETS = {"sensorimotor": SENSORIMOTOR, "motor": MOTOR}


class SelectChannels(BaseEstimator, TransformerMixin):
    """Keep a named subset of channels, in a fixed order.

    Parameters
    ----------
    channels : str | sequence of str | None
        The channels to keep, by name (matched without regard to case), or the name of a
        channel set: ``"motor"`` (:data:`MOTOR`, 9 channels) or ``"sensorimotor"``
        (:data:`SENSORIMOTOR`, 21 channels). ``None`` keeps every channel.
    ch_names : sequence of str | None
        The names of the channels of the incoming arrays, in order. Bound from the
        recording by :func:`bind_recording_info`; required unless ``channels`` is None.
    min_channels : int
        Fewest channels of ``channels`` that must be present; channels missing from the
        recording are dropped with a warning as long as this many remain.

    Attributes
    ----------
    picks_ : ndarray of int, shape (n_selected,)
        Indices of the selected channels in the incoming arrays.
    selected_ : list of str
        Names of the selected channels, in output order.
    """

    def __init__(self, channels="sensorimotor", ch_names=None, min_channels=2):
        self.channels = channels
        self.ch_names = ch_names
        self.min_channels = min_channels

    def _wanted(self):
        if isinstance(self.channels, str):
            key = self.channels.lower()
            if key not in _CHANNEL_SETS:
                raise ConfigError(
                    f"SelectChannels: unknown channel set {self.channels!r}; use one of "
                    f"{sorted(_CHANNEL_SETS)} or a list of channel names."
                )
            return list(_CHANNEL_SETS[key])
        return list(self.channels)

    def fit(self, X, y=None):
        """Resolve the channel indices from ``ch_names``.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)
        y : ignored
        """
        n_channels = np.shape(X)[1]
        if self.channels is None:
            self.picks_ = np.arange(n_channels)
            self.selected_ = list(self.ch_names) if self.ch_names is not None else None
            return self
        if self.ch_names is None:
            raise DataError(
                "SelectChannels needs the channel names of the data (parameter ch_names); "
                "they are bound from the recording by bci_app.decoding.bind_recording_info."
            )
        if len(self.ch_names) != n_channels:
            raise DataError(
                f"SelectChannels: ch_names lists {len(self.ch_names)} channels but the data "
                f"have {n_channels}."
            )
        index = {name.lower(): i for i, name in enumerate(self.ch_names)}
        wanted = self._wanted()
        present = [name for name in wanted if name.lower() in index]
        missing = [name for name in wanted if name.lower() not in index]
        if len(present) < self.min_channels:
            raise DataError(
                f"SelectChannels: only {len(present)} of the channels {wanted} are in the "
                f"recording (it has {list(self.ch_names)}); at least {self.min_channels} "
                "are needed. Choose channels the recording has."
            )
        if missing:
            logger.warning("SelectChannels: channels %s are not in the recording; using %s",
                           missing, present)
        self.picks_ = np.array([index[name.lower()] for name in present], dtype=int)
        self.selected_ = [self.ch_names[i] for i in self.picks_]
        return self

    def transform(self, X):
        """Return ``X[:, picks_]``.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times)

        Returns
        -------
        X_new : ndarray, shape (n_trials, n_selected, n_times)
        """
        check_is_fitted(self, "picks_")
        X = np.asarray(X)
        if self.ch_names is not None:
            check_n_channels(X.shape[1], len(self.ch_names), "SelectChannels")
        return X[:, self.picks_]


def bind_recording_info(estimator, sfreq=None, ch_names=None, overwrite=False):
    """Set ``sfreq`` and ``ch_names`` on every (nested) step of ``estimator`` that has them.

    Parameters
    ----------
    estimator : sklearn estimator
        Usually a :class:`sklearn.pipeline.Pipeline` loaded from ``models/``.
    sfreq : float | None
        Sampling rate of the data the estimator will see, in Hz.
    ch_names : sequence of str | None
        Channel names of the data, in order.
    overwrite : bool
        Replace values already set. By default only parameters left at ``None`` are bound,
        so a model file that fixes them keeps its values.

    Returns
    -------
    estimator : sklearn estimator
        The same object, modified in place.
    """
    values = {"sfreq": float(sfreq) if sfreq is not None else None,
              "ch_names": list(ch_names) if ch_names is not None else None}
    params = estimator.get_params(deep=True)
    update = {}
    for key, current in params.items():
        leaf = key.rsplit("__", 1)[-1]
        if leaf in values and values[leaf] is not None and (current is None or overwrite):
            update[key] = values[leaf]
    # Shallow keys first so nested estimators replaced by them are set before their own keys.
    for key in sorted(update, key=lambda k: k.count("__")):
        estimator.set_params(**{key: update[key]})
    if update:
        logger.debug("bound recording info to %s", sorted(update))
    return estimator
