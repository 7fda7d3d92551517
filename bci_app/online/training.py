"""Training a decoder from calibration recordings, the way a calibration run is used online.

The runs are filtered causally (as the engine filters live), cropped into cue-locked windows
(plus rest windows when idle is a class) by :mod:`bci_app.processing.calibration`, the crops
the pseudo-online evaluation trains on too, and the pipeline is fitted on them with the
recording's sampling rate and channel names bound to it, so that the online engine can refuse
a stream that does not match.

The runs are checked first (:func:`check_training_signal`): non-finite samples, or a channel
the model reads that is flat throughout a run, refuse the training (a clear error naming
the channels, the times and what to do); channels flat for part of a run are named in a
warning and in the training report (``signal_warnings``).
"""

from dataclasses import asdict

import numpy as np
from sklearn.base import clone

from .._logging import logger
from ..decoding.channels import SelectChannels
from ..decoding.transfer import domain_steps, reset_adaptation
from ..errors import DataError
from ..processing.calibration import PseudoOnlineConfig, calibration_set
from ..processing.labels import IDLE
from ..processing.quality import FLAT, NON_FINITE, describe_faults, signal_faults
from .engine import class_probabilities, fit_decoder_model


def read_channel_names(pipeline, ch_names):
    """Names of the channels an unfitted pipeline will read: those its first step
    (:class:`~bci_app.decoding.channels.SelectChannels`) picks, else all of ``ch_names``."""
    steps = getattr(pipeline, "steps", None)
    if isinstance(steps, list) and steps and isinstance(steps[0][1], SelectChannels):
        try:
            step = clone(steps[0][1]).set_params(ch_names=list(ch_names))
            return list(step.fit(np.zeros((1, len(ch_names), 2))).selected_)
        except Exception:  # noqa: BLE001 - the fit says what is wrong with it
            pass
    return list(ch_names)


def check_training_signal(runs, read=None):
    """Refuse calibration runs that are not EEG throughout; name the partly flat channels.

    Parameters
    ----------
    runs : list of Run
    read : list of str | None
        The channels the model reads (None: all).

    Returns
    -------
    warnings : list of str
        One per run with channels the model reads flat for part of it (also logged).

    Raises
    ------
    DataError
        A run holds non-finite samples (NaN, inf), on any channel: the causal filter would
        carry them to the end of the run; or a channel the model reads is flat throughout.
    """
    warnings = []
    for run in runs:
        faults = signal_faults(run.data, run.sfreq, run.ch_names)
        duration = run.n_samples / run.sfreq
        where = f"training: run {run.name!r}" + (f" ({run.source})" if run.source else "")
        bad = [f for f in faults if f.kind == NON_FINITE]
        if bad:
            raise DataError(f"{where}: {describe_faults(bad, duration)}. A decoder cannot be "
                            "trained on them; repair the recording (interpolate the channels, "
                            "crop or leave out the stretches or the run) and train again.")
        flat = [f for f in faults if f.kind == FLAT and (read is None or f.channel in read)]
        dead = sorted({f.channel for f in flat if f.start <= 0 and f.stop >= duration - 1e-9})
        if dead:
            raise DataError(f"{where}: channel(s) {dead} read by the model are flat throughout "
                            "(no electrode contact). Reconnect them and record again, or "
                            "train a model without them.")
        if flat:
            text = (f"{where}: {describe_faults(flat, duration)}; the training windows over "
                    "these stretches hold no EEG on these channels. Check the electrodes, or "
                    "crop or leave out the run.")
            logger.warning(text)
            warnings.append(text)
        others = [f for f in faults if f.kind == FLAT and f not in flat]
        if others:
            logger.info("%s: channels not read by the model: %s", where,
                        describe_faults(others, duration))
    return warnings


def train_decoder(pipeline, runs, cfg=None, param_grid=None, sources=None):
    """Fit a pipeline on calibration runs.

    Parameters
    ----------
    pipeline : sklearn estimator
        Unfitted (it is cloned).
    runs : list of Run
        Calibration runs, all used whole.
    cfg : PseudoOnlineConfig | None
        Classes, window, step, band, idle handling, crops.
    param_grid : dict | None
        A model file's grid: the pipeline is tuned by a grid search (3 folds taken in time
        order, balanced accuracy) on the calibration windows (with ``sources``: every fold
        trains on all the sources and is scored on the target's windows only).
    sources : list of TransferSource | None
        Windows of other subjects or sessions to train with (transfer; see
        :func:`~bci_app.online.engine.fit_decoder_model`), matched to these runs' channels
        and rate (:func:`~bci_app.processing.calibration.source_windows`).

    Returns
    -------
    model : sklearn estimator
        Fitted, with ``sfreq`` and ``ch_names`` bound.
    report : dict
        What the model was trained on: windows per class, the settings, the training
        accuracy on the calibration windows (an optimistic figure, for sanity only);
        ``signal_warnings`` when channels the model reads are flat for part of a run.

    Raises
    ------
    DataError
        No run, runs of different montages, a class without windows, or signal that is
        not EEG (:func:`check_training_signal`).
    """
    cfg = cfg or PseudoOnlineConfig()
    cfg.check()
    if not runs:
        raise DataError("training: no calibration run given.")
    sfreq, ch_names = runs[0].sfreq, list(runs[0].ch_names)
    for run in runs[1:]:
        if run.sfreq != sfreq or list(run.ch_names) != ch_names:
            raise DataError(f"training: run {run.name!r} differs from run {runs[0].name!r} in "
                            "sampling rate or channels; train on runs of one montage.")
    signal_warnings = check_training_signal(runs, read_channel_names(pipeline, ch_names))
    X, y, _, _ = calibration_set(runs, [r.n_samples for r in runs], cfg)
    found = sorted(set(y) - {IDLE})
    missing = sorted(set(cfg.classes) - set(found))
    if missing:
        raise DataError(f"training: no calibration window of class(es) {missing}; the runs "
                        f"have {found}. Check the event names or the classes asked for, and that "
                        f"imagery periods last at least the window ({cfg.window_s} s) plus "
                        f"the crop offset ({cfg.crop_offset_s} s).")
    estimator = clone(pipeline)
    if param_grid:
        from sklearn.model_selection import GridSearchCV, StratifiedKFold

        cv = StratifiedKFold(3, shuffle=False)
        if sources:  # folds over the target's windows; the sources always train
            n_src = sum(len(s.y) for s in sources)
            cv = [(np.r_[np.arange(n_src), n_src + train], n_src + test)
                  for train, test in cv.split(X, y)]
        estimator = GridSearchCV(estimator, dict(param_grid), scoring="balanced_accuracy",
                                 cv=cv, refit=True)
    model = fit_decoder_model(estimator, X, y, sfreq, ch_names, sources=sources)
    train_acc = float(np.mean(np.asarray(model.classes_)[
        class_probabilities(model, X).argmax(axis=1)] == y))
    reset_adaptation(model)  # the saved model starts from its calibration reference
    labels, counts = np.unique(y, return_counts=True)
    report = {
        "runs": [r.name for r in runs],
        "windows_per_class": {str(k): int(v) for k, v in zip(labels, counts)},
        "training_accuracy": train_acc,
        "settings": asdict(cfg),
        "sfreq": sfreq,
        "ch_names": ch_names,
    }
    if sources:
        report["transfer"] = {"sources": [s.name for s in sources],
                              "source_windows": int(sum(len(s.y) for s in sources)),
                              "domain_steps": domain_steps(model)}
    if signal_warnings:
        report["signal_warnings"] = signal_warnings
    if param_grid:
        report["best_params"] = {k: repr(v) for k, v in model.best_params_.items()}
    logger.info("training: %d windows %s, training accuracy %.2f", len(y),
                report["windows_per_class"], train_acc)
    return model, report
