"""One way from a model file and calibration runs to a saved-ready :class:`TrainedModel`.

The command line (``bci-app train``), headless sessions
(:func:`bci_app.session.headless.train_session_model`) and the GUI's training step all train
through :func:`train_model`: the pipeline is fitted by
:func:`bci_app.online.training.train_decoder` (calibration crops filtered as online) and
wrapped with the settings the online engine needs (rate, channels, window, step, band), the
model file's text (to retrain it later) and what it was trained on.
"""

from ..decoding.persistence import TrainedModel
from ..processing.calibration import PseudoOnlineConfig
from .training import train_decoder


def train_model(spec, runs, cfg, trained_on=None, sources=None):
    """Fit a model file's pipeline on calibration runs.

    Parameters
    ----------
    spec : bci_app.decoding.loading.ModelSpec
        The model file (its pipeline is cloned, its grid searched if it has one).
    runs : list of Run
        Calibration runs of one montage, used whole.
    cfg : PseudoOnlineConfig | None
        Classes, window, step, band, idle handling, crops; None: the defaults.
    trained_on : dict | None
        What the caller knows of the data (files, dataset, subject, session, run files,
        cross-validation scores...): added to the training report, its keys winning.
    sources : list of TransferSource | None
        Other subjects' or sessions' windows to train with (transfer), matched to the runs'
        channels and rate.

    Returns
    -------
    trained : TrainedModel
        Not saved. ``trained.trained_on`` is the report of
        :func:`~bci_app.online.training.train_decoder` (runs, windows per class, training
        accuracy, settings, rate and channels; ``best_params`` after a grid search) updated
        with ``trained_on``.
    """
    cfg = cfg or PseudoOnlineConfig()
    model, report = train_decoder(spec.pipeline, runs, cfg, param_grid=spec.param_grid,
                                  sources=sources)
    report.update(trained_on or {})
    return TrainedModel(
        model, spec.name, runs[0].sfreq, runs[0].ch_names, window_s=cfg.window_s,
        step_s=cfg.step_s, l_freq=cfg.l_freq, h_freq=cfg.h_freq,
        pipeline_file=spec.path.read_text(encoding="utf-8") if spec.path else None,
        trained_on=report)
