"""Training a decoder from calibration recordings, the way a calibration run is used online.

The runs are filtered causally (as the engine filters live), cropped into cue-locked windows
(plus rest windows when idle is a class) by :mod:`bci_app.processing.calibration`, the crops
the pseudo-online evaluation trains on too, and the pipeline is fitted on them with the
recording's sampling rate and channel names bound to it, so that the online engine can refuse
a stream that does not match.
"""

from dataclasses import asdict

import numpy as np
from sklearn.base import clone

from .._logging import logger
from ..errors import DataError
from ..processing.calibration import PseudoOnlineConfig, calibration_set
from ..processing.labels import IDLE
from .engine import class_probabilities, fit_decoder_model


def train_decoder(pipeline, runs, cfg=None, param_grid=None):
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
        order, balanced accuracy) on the calibration windows.

    Returns
    -------
    model : sklearn estimator
        Fitted, with ``sfreq`` and ``ch_names`` bound.
    report : dict
        What the model was trained on: windows per class, the settings, the training
        accuracy on the calibration windows (an optimistic figure, for sanity only).
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

        estimator = GridSearchCV(estimator, dict(param_grid), scoring="balanced_accuracy",
                                 cv=StratifiedKFold(3, shuffle=False), refit=True)
    model = fit_decoder_model(estimator, X, y, sfreq, ch_names)
    train_acc = float(np.mean(np.asarray(model.classes_)[
        class_probabilities(model, X).argmax(axis=1)] == y))
    labels, counts = np.unique(y, return_counts=True)
    report = {
        "runs": [r.name for r in runs],
        "windows_per_class": {str(k): int(v) for k, v in zip(labels, counts)},
        "training_accuracy": train_acc,
        "settings": asdict(cfg),
        "sfreq": sfreq,
        "ch_names": ch_names,
    }
    if param_grid:
        report["best_params"] = {k: repr(v) for k, v in model.best_params_.items()}
    logger.info("training: %d windows %s, training accuracy %.2f", len(y),
                report["windows_per_class"], train_acc)
    return model, report
