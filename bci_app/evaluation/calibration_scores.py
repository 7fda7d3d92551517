"""Scores of pipelines on a session's calibration runs, before any online run.

The calibration runs are split into folds, leave one run out (with a single run: its first
half of the trials to calibrate, the second half to test); each fold is scored by the
pseudo-online evaluation (:func:`bci_app.evaluation.pseudo_online.evaluate_session`), which
gives the offline (one epoch per trial) and pseudo-online (sliding windows, idle included,
nMCC) scores of the same split side by side; a pipeline's score is their mean over the folds.

The offline score covers the trials the decoder is trained to tell apart
(:func:`bci_app.evaluation.scoring.offline_trials`): with two hands, the hand trials; with
a hand and a cued rest class (affected hand vs rest, ``cued``), the hand trials and the
rest trials, a rest trial expecting the decoder's idle class. Its chance levels are those of
the same trials: the majority class and the shuffled decisions (means over the folds), and
the binomial level of all the folds' trials together (the accuracy that many trials must
reach for p < 0.05, :func:`bci_app.evaluation.metrics.binomial_chance_level`).

These are out-of-sample scores: each fold's test data are never trained on. A decoder scored
on a recording it was trained on (e.g. a calibration run swept with the decoder trained on
it) gets an **in-sample** score, optimistic and no measure of how it performs online:
:func:`in_sample` tells, from what the decoder says it was trained on, and
:data:`IN_SAMPLE_NOTE` is what such a score is labelled with wherever it is shown.
"""

from dataclasses import replace
from pathlib import Path
from typing import NamedTuple

import numpy as np

from ..errors import DataError

#: Scores averaged over the folds (keys of :func:`evaluate_session`'s metrics).
SCORE_KEYS = ("offline_accuracy", "offline_majority_accuracy", "offline_shuffled_accuracy",
              "accuracy", "majority_accuracy", "shuffled_accuracy", "nmcc", "shuffled_nmcc",
              "itr_bits_per_min", "shuffled_itr_bits_per_min", "latency_median_s",
              "detected_fraction")


class Fold(NamedTuple):
    """One validation split of the calibration runs.

    Attributes
    ----------
    runs : list of Run
        The runs in the order evaluated: calibration first, the test run last.
    split : dict
        The :class:`~bci_app.processing.calibration.PseudoOnlineConfig` fields that make
        the split (``calibration_runs``, or ``calibration_trials``).
    name : str
        What is tested, for progress messages.
    """

    runs: list
    split: dict
    name: str


def calibration_folds(runs, classes):
    """Leave-one-run-out folds of calibration runs (first/second half of one run's trials).

    Parameters
    ----------
    runs : list of Run
        The calibration runs, in recording order.
    classes : sequence of str
        Task classes; with one run, its trials of these classes are split.

    Returns
    -------
    folds : list of Fold
        One per run (that run tested, the others, in order, calibrating), or, with a single
        run, one: the first half of its task trials calibrating, the rest tested.

    Raises
    ------
    DataError
        No run, or a single run with fewer than 4 task trials.
    """
    if not runs:
        raise DataError("No calibration run to validate on: record one first.")
    if len(runs) >= 2:
        return [Fold([r for j, r in enumerate(runs) if j != k] + [runs[k]],
                     {"calibration_runs": len(runs) - 1}, f"test run {k + 1}")
                for k in range(len(runs))]
    n_task = sum(1 for _, _, lab in runs[0].events if lab in classes)
    if n_task < 4:
        raise DataError(f"the calibration run holds {n_task} trial(s) of {list(classes)}; "
                        "record at least 4 (better: 20 per class) before training.")
    return [Fold(runs, {"calibration_runs": 0, "calibration_trials": n_task // 2},
                 "first half / second half of the trials")]


def mean_scores(name, per_fold):
    """A pipeline's score: the mean over the folds of each of :data:`SCORE_KEYS`.

    Parameters
    ----------
    name : str
        The pipeline.
    per_fold : list of dict
        The metrics of each fold.

    Returns
    -------
    score : dict
        ``pipeline``, ``folds`` (their number) and each key of :data:`SCORE_KEYS`: the mean
        of its finite values, NaN when none is (a key a fold lacks counts as NaN);
        ``offline_n_trials``, the offline trials of all the folds, and
        ``offline_binomial_accuracy``, the accuracy that many trials must reach for
        p < 0.05 (NaN without trials).
    """
    from .metrics import binomial_chance_level

    score = {"pipeline": name, "folds": len(per_fold)}
    for key in SCORE_KEYS:
        values = np.array([m.get(key, np.nan) for m in per_fold], dtype=float)
        score[key] = float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")
    n = int(sum(m.get("offline_n_trials") or 0 for m in per_fold))
    k = max([int(m.get("offline_n_classes") or 2) for m in per_fold] + [2])
    score["offline_n_trials"] = n
    score["offline_binomial_accuracy"] = binomial_chance_level(n, k)
    return score


def cross_validate(name, pipeline, folds, cfg, before_fold=None, sources=None, cued=()):
    """Score a pipeline on calibration folds.

    Parameters
    ----------
    name : str
    pipeline : sklearn estimator
        Unfitted.
    folds : list of Fold
        From :func:`calibration_folds`.
    cfg : PseudoOnlineConfig
        Classes, window, step, band, decision settings; each fold sets its split.
    before_fold : callable | None
        ``before_fold(fold)``, called before each fold is scored (progress; it may raise to
        stop).
    sources : list of TransferSource | None
        Windows of earlier sessions or other subjects, matched to the folds' channels and
        rate: every fold trains with them (each its own domain), and is tested on the
        session's own test part only.
    cued : sequence of str
        The classes the runs' protocols cue, rest included (e.g. ``("right_hand",
        "rest")``): a cued rest class is scored offline too (its trials expect idle).
        Empty: the task classes ``cfg.classes`` only.

    Returns
    -------
    score : dict
        See :func:`mean_scores`.
    """
    from .pseudo_online import evaluate_session

    per_fold = []
    for fold in folds:
        if before_fold is not None:
            before_fold(fold)
        _, metrics, _ = evaluate_session(fold.runs, {name: pipeline}, replace(cfg, **fold.split),
                                         sources=sources, cued=tuple(cued))
        per_fold.append(metrics[0])
    return mean_scores(name, per_fold)


def best_score(scores, key="nmcc"):
    """Index of the best of ``scores`` by ``key`` (NaN counts as worst).

    Returns
    -------
    index : int | None
        None when there are no scores; the first when none has a finite ``key``.
    """
    if not scores:
        return None
    values = np.array([s[key] for s in scores], dtype=float)
    if not np.isfinite(values).any():
        return 0
    return int(np.nanargmax(values))


#: The label of a score of a decoder on a recording it was trained on.
IN_SAMPLE_NOTE = ("IN-SAMPLE: the decoder was trained on this recording, so this score is "
                  "optimistic and is not a measure of its online performance (the training's "
                  "cross-validated scores are)")


def in_sample(trained_on, path):
    """Whether a decoder was trained on a recording.

    Parameters
    ----------
    trained_on : dict
        What the decoder says it was trained on (``TrainedModel.trained_on``): ``runs`` (the
        names of its training runs: a session's BIDS file names, or the recordings' names,
        their file names without extension) and ``files`` (paths of recording files, as
        ``bci-app train --file`` writes them).
    path : str | Path
        The recording (its file).

    Returns
    -------
    entry : str | None
        The entry of ``trained_on`` that names the recording (same file name, or same name
        without extension: a BrainVision run's ``.vhdr``, ``.eeg`` and ``.vmrk``), or None
        when none does (the score is out-of-sample as far as the decoder tells).
    """
    path = Path(path)
    names = {path.name, path.stem}
    for key in ("files", "runs"):
        entries = (trained_on or {}).get(key) or ()
        if isinstance(entries, str):
            entries = [entries]
        for entry in entries:
            entry_path = Path(str(entry))
            if str(entry) in names or entry_path.name == path.name or \
                    (entry_path.suffix and entry_path.stem == path.stem):
                return str(entry)
    return None
