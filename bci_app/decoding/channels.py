"""Channel selection inside a pipeline, and the recording's facts (channel names, rate) a
pipeline needs.

Decoding pipelines receive trials ``(n_trials, n_channels, n_times)`` either as plain arrays
or as :class:`mne.Epochs`. The steps that need the channel names or the sampling rate
(:class:`SelectChannels`, :class:`~bci_app.decoding.connectivity.Connectivity`,
:class:`~bci_app.decoding.ensemble.FuconeClassifier`) take them

1. from ``mne.Epochs`` input (:func:`unpack_epochs`): what a MOABB evaluation gives with
   ``return_epochs=True``, so the model files run in MOABB unchanged;
2. or from their ``ch_names`` / ``sfreq`` parameters, written in a model file or bound from
   the recording by :func:`bind_recording_info`: bci-app does so before fitting on arrays
   (offline evaluation, pseudo-online sweeps, the online decoder);
3. and without either, they stop with an error saying how to give them
   (:data:`HOW_TO_GIVE_INFO`).

When both Epochs and a parameter are given they must agree. The values a step used are kept
as fitted attributes (``ch_names_``, ``sfreq_``); the parameters are never changed by ``fit``.
Note that ``moabb.benchmark`` gives Epochs only to the SSVEP pipelines it knows by name: the
models needing the recording's facts are evaluated with MOABB's evaluation classes and
``return_epochs=True``.
"""

import logging
import sys

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

#: How to give a step the recording's facts, for the error messages.
HOW_TO_GIVE_INFO = ("give the step mne.Epochs (in a MOABB evaluation: return_epochs=True), "
                    "set the parameter in the model file, or bind it from the recording with "
                    "bci_app.decoding.bind_recording_info")


def _is_epochs(X):
    # mne is imported by whoever made Epochs; without it X cannot be one (and importing mne
    # here would slow every start-up).
    mne = sys.modules.get("mne")
    return mne is not None and isinstance(X, mne.BaseEpochs)


def unpack_epochs(X, owner):
    """The data of ``X``, and the sampling rate and channel names it carries.

    Parameters
    ----------
    X : mne.Epochs | list of mne.Epochs | array-like
        Trials. A list of Epochs is what scikit-learn's searches and cross-validation make of
        one Epochs object (``sklearn.utils._safe_indexing`` indexes it trial by trial); its
        parts are joined back, and must share their channels and rate.
    owner : str
        The step, named in the error messages.

    Returns
    -------
    data : ndarray, shape (n_trials, n_channels, n_times) | array-like
        The Epochs' data (in their unit, volts for EEG); any other ``X`` unchanged.
    sfreq : float | None
        The Epochs' sampling rate in Hz; None for arrays.
    ch_names : list of str | None
        The Epochs' channel names, in order; None for arrays.
    """
    if _is_epochs(X):
        return X.get_data(), float(X.info["sfreq"]), list(X.ch_names)
    if isinstance(X, (list, tuple)) and X and all(_is_epochs(e) for e in X):
        sfreq, ch_names = float(X[0].info["sfreq"]), list(X[0].ch_names)
        for part in X[1:]:
            if list(part.ch_names) != ch_names or float(part.info["sfreq"]) != sfreq:
                raise DataError(f"{owner}: the Epochs given together differ in channels or "
                                f"rate ({ch_names} at {sfreq:g} Hz, then {list(part.ch_names)} "
                                f"at {part.info['sfreq']:g} Hz); pass trials of one recording "
                                "setup.")
        return np.concatenate([part.get_data() for part in X]), sfreq, ch_names
    return X, None, None


def _same_names(a, b):
    return [str(c).lower() for c in a] == [str(c).lower() for c in b]


def agreed_ch_names(owner, parameter, found):
    """The channel names a step uses: those of Epochs input (``found``) or its parameter.

    Raises
    ------
    DataError
        If both are given and differ.
    """
    if found is None:
        return list(parameter) if parameter is not None else None
    if parameter is not None and not _same_names(parameter, found):
        raise DataError(f"{owner}: the data's channels {list(found)} are not those of the "
                        f"parameter ch_names={list(parameter)}; leave ch_names unset to take "
                        "them from the Epochs, or pass data of those channels.")
    return list(found)


def agreed_sfreq(owner, parameter, found):
    """The sampling rate a step uses: that of Epochs input (``found``) or its parameter.

    Raises
    ------
    DataError
        If both are given and differ.
    """
    if found is None:
        return float(parameter) if parameter is not None else None
    if parameter is not None and abs(float(parameter) - found) > 1e-6 * max(found, 1.0):
        raise DataError(f"{owner}: the data are sampled at {found:g} Hz but the parameter "
                        f"sfreq={parameter}; leave sfreq unset to take it from the Epochs, or "
                        "resample the data.")
    return float(found)


class SelectChannels(BaseEstimator, TransformerMixin):
    """Keep a named subset of channels, in a fixed order.

    Parameters
    ----------
    channels : str | sequence of str | None
        The channels to keep, by name (matched without regard to case), or the name of a
        channel set: ``"motor"`` (:data:`MOTOR`, 9 channels) or ``"sensorimotor"``
        (:data:`SENSORIMOTOR`, 21 channels). ``None`` keeps every channel.
    ch_names : sequence of str | None
        The names of the channels of the incoming arrays, in order. Taken from
        ``mne.Epochs`` input when None; otherwise bound from the recording by
        :func:`bind_recording_info` (see the module notes). Required for arrays unless
        ``channels`` is None.
    min_channels : int
        Fewest channels of ``channels`` that must be present; channels missing from the
        recording are dropped with a warning as long as this many remain.

    Attributes
    ----------
    picks_ : ndarray of int, shape (n_selected,)
        Indices of the selected channels in the incoming arrays.
    selected_ : list of str | None
        Names of the selected channels, in output order (None when ``channels`` is None and
        the names are unknown).
    ch_names_ : list of str | None
        Names of the channels of the data seen at fit (from the Epochs or ``ch_names``).
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
        """Resolve the channel indices from the channel names.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
        y : ignored
        """
        X, _, found = unpack_epochs(X, "SelectChannels")
        names = agreed_ch_names("SelectChannels", self.ch_names, found)
        n_channels = np.shape(X)[1]
        if names is not None and len(names) != n_channels:
            raise DataError(
                f"SelectChannels: ch_names lists {len(names)} channels but the data "
                f"have {n_channels}."
            )
        self.ch_names_ = names
        if self.channels is None:
            self.picks_ = np.arange(n_channels)
            self.selected_ = names
            return self
        if names is None:
            raise DataError(
                "SelectChannels needs the channel names of the data (plain arrays carry "
                f"none): {HOW_TO_GIVE_INFO} (parameter ch_names)."
            )
        index = {name.lower(): i for i, name in enumerate(names)}
        wanted = self._wanted()
        present = [name for name in wanted if name.lower() in index]
        missing = [name for name in wanted if name.lower() not in index]
        if len(present) < self.min_channels:
            raise DataError(
                f"SelectChannels: only {len(present)} of the channels {wanted} are in the "
                f"recording (it has {names}); at least {self.min_channels} "
                "are needed. Choose channels the recording has."
            )
        if missing:
            logger.warning("SelectChannels: channels %s are not in the recording; using %s",
                           missing, present)
        self.picks_ = np.array([index[name.lower()] for name in present], dtype=int)
        self.selected_ = [names[i] for i in self.picks_]
        return self

    def transform(self, X):
        """Return ``X[:, picks_]``.

        Parameters
        ----------
        X : ndarray, shape (n_trials, n_channels, n_times) | mne.Epochs
            Epochs must have the channels seen at fit, in the same order.

        Returns
        -------
        X_new : ndarray, shape (n_trials, n_selected, n_times)
        """
        check_is_fitted(self, "picks_")
        X, _, found = unpack_epochs(X, "SelectChannels")
        fitted = getattr(self, "ch_names_", self.ch_names)  # models saved before ch_names_
        if found is not None and fitted is not None and not _same_names(found, fitted):
            raise DataError(f"SelectChannels was fitted on channels {list(fitted)} but the "
                            f"data have {found}; pass data of the same channels, in the same "
                            "order.")
        X = np.asarray(X)
        if fitted is not None:
            check_n_channels(X.shape[1], len(fitted), "SelectChannels")
        return X[:, self.picks_]


def bind_recording_info(estimator, sfreq=None, ch_names=None, overwrite=False, step_s=None):
    """Set ``sfreq``, ``ch_names`` and ``step_s`` on every (nested) step of ``estimator``
    that has them.

    Parameters
    ----------
    estimator : sklearn estimator
        Usually a :class:`sklearn.pipeline.Pipeline` loaded from ``models/``.
    sfreq : float | None
        Sampling rate of the data the estimator will see, in Hz.
    ch_names : sequence of str | None
        Channel names of the data, in order.
    step_s : float | None
        Step between the windows a decoder sees online (or pseudo-online), s: a step that
        adapts over a time (:class:`~bci_app.decoding.transfer.Recenter`'s ``adapt_s``)
        turns it into windows. None for epochs that are not a stream.
    overwrite : bool
        Replace values already set. By default only parameters left at ``None`` are bound,
        so a model file that fixes them keeps its values.

    Returns
    -------
    estimator : sklearn estimator
        The same object, modified in place.
    """
    values = {"sfreq": float(sfreq) if sfreq is not None else None,
              "ch_names": list(ch_names) if ch_names is not None else None,
              "step_s": float(step_s) if step_s is not None else None}
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
