"""What transfer buys: learning curves and leave-one-subject-out transfer, pseudo-online.

A clinic cannot record 45 trials per class before every session. The question is how good a
decoder is after a *short* calibration, with and without the data of other subjects (or of
the patient's earlier sessions). Everything here runs the one pseudo-online evaluation
(:func:`~bci_app.evaluation.pseudo_online.evaluate_session`): windows swept in time order by
the online engine, scored with nMCC and ITR next to chance, and the offline score of the
same split.

* **Leave-one-subject-out transfer** (:func:`subject_sources`): for each target subject, the
  sources are the *other* subjects of the dataset, every run of theirs cropped like a
  calibration (:func:`~bci_app.processing.calibration.source_windows`), each subject and
  session its own domain. The target contributes only its calibration part, so no test
  window enters any fit or re-centring reference; a model with a
  :class:`~bci_app.decoding.transfer.Recenter` step re-centres each domain on its own mean
  and the target online on its calibration reference (moving causally with ``adapt``).
  A model without one is trained on the pooled windows as they are.
* **Learning curves** (:func:`learning_curve`): the test part is fixed (the last
  ``test_runs`` runs of each session) and the calibration grows: the first trials, in time
  order, until every class has ``k`` of them, for each ``k`` of ``sizes``; each model
  is trained on them alone ("within") and with the other subjects ("transfer").
  :func:`summarise_learning_curve` gives the mean scores per size with their chance levels,
  a paired test across subjects per size, and how few trials with transfer reach the score
  that within-subject training reaches with the most.
"""

from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd

from .._logging import logger
from ..errors import ConfigError, DataError
from ..processing.calibration import source_windows, task_events
from ..processing.labels import IDLE
from .pseudo_online import evaluate_session
from .recordings import dataset_sessions

#: How a learning curve's models are trained: on the target's trials only, or with the
#: other subjects' data.
TRAINING = ("within", "transfer")


def subject_sources(sessions_of, subjects, target, cfg, sfreq, ch_names, code="dataset",
                    cache=None):
    """The transfer sources of a target subject: every session of every other subject.

    Parameters
    ----------
    sessions_of : callable
        ``sessions_of(subject)`` -> iterable of (session, runs), e.g. a dataset's
        :func:`~bci_app.evaluation.recordings.dataset_sessions`.
    subjects : list
        The dataset's subjects; ``target`` is left out (None: none is).
    cfg : PseudoOnlineConfig
        Windows, band and crops, as the target's calibration.
    sfreq, ch_names
        The target's rate and channels: sources are matched to them.
    code : str
        Dataset name, in the source names (``code/subject/session``).
    cache : dict | None
        Reused between targets of one montage: ``(subject, sfreq, channels) -> sources``.

    Returns
    -------
    sources : list of TransferSource
    """
    cache = {} if cache is None else cache
    out = []
    for subject in subjects:
        if str(subject) == str(target):
            continue
        key = (str(subject), float(sfreq), tuple(ch_names))
        if key not in cache:
            cache[key] = [source_windows(f"{code}/{subject}/{session}", runs, cfg, sfreq,
                                         ch_names)
                          for session, runs in sessions_of(subject)]
        out += cache[key]
    if not out:
        raise DataError(f"transfer to subject {target}: no other subject to learn from; "
                        "give a dataset with at least two subjects."
                        if target is not None else "transfer: the source dataset is empty.")
    return out


def dataset_sources(name, cfg, sfreq, ch_names, subjects=None, paradigm="left-right",
                    data_path=None, exclude=None):
    """Transfer sources from a dataset: a MOABB dataset with local files (e.g.
    ``PhysionetMI``) or the app's recordings folder (earlier sessions of this patient, or
    other patients), every session of every subject (but ``exclude``) its own domain,
    matched to the target's channels and rate.

    Raises
    ------
    DataError
        A source lacks a channel of the target or the task classes (the message names the
        source and what differs), or nothing is left.
    """
    from .datasets import resolve_dataset

    dataset = resolve_dataset(name, subjects, paradigm, data_path)
    return subject_sources(lambda s: dataset_sessions(dataset, s), dataset.subject_list,
                           exclude, cfg, sfreq, ch_names, dataset.code)


def trials_for(runs, classes, per_class):
    """How many first task trials (time order, across runs) hold ``per_class`` trials of
    every class; None if the runs hold fewer."""
    seen = dict.fromkeys(classes, 0)
    n = 0
    for run in runs:
        for _, _, label in task_events(run, (IDLE,) + tuple(classes)):
            n += 1
            seen[label] += 1
            if min(seen.values()) >= per_class:
                return n
    return None


def learning_curve(specs, dataset, cfg, sizes=(3, 5, 7, 10, 15), test_runs=1,
                   training=TRAINING, progress=True):
    """Pseudo-online scores against the number of calibration trials per class.

    Parameters
    ----------
    specs : list of ModelSpec
    dataset : moabb.datasets.base.BaseDataset
        Subjects already selected (local data only); at least two for ``transfer``.
    cfg : PseudoOnlineConfig
        Window, step, band, idle, decision (its calibration fields are replaced).
    sizes : sequence of int
        Calibration trials per class.
    test_runs : int
        The last runs of each session, the fixed test part.
    training : sequence of {"within", "transfer"}
    progress : bool

    Returns
    -------
    metrics : pandas.DataFrame
        One row per pipeline, subject, session, size and training: the metrics of
        :func:`~bci_app.evaluation.pseudo_online.evaluate_session` plus
        ``trials_per_class`` and ``training``.
    """
    from tqdm import tqdm

    unknown = sorted(set(training) - set(TRAINING))
    if unknown or not training:
        raise ConfigError(f"learning curve: training must be among {list(TRAINING)}, got "
                          f"{list(training)}.")
    sizes = sorted({int(k) for k in sizes})
    if not sizes or sizes[0] < 1:
        raise ConfigError(f"learning curve: sizes must be whole numbers >= 1, got {sizes}.")
    if test_runs < 1:
        raise ConfigError("learning curve: at least one test run (--test-runs >= 1).")
    pipelines = {s.name: s.pipeline for s in specs}
    subjects = list(dataset.subject_list)
    if "transfer" in training and len(subjects) < 2:
        raise ConfigError("learning curve with transfer: give at least two subjects (the "
                          "others are the sources of each).")
    sessions = {s: list(dataset_sessions(dataset, s)) for s in subjects}
    cache, rows = {}, []
    bar = tqdm(total=len(subjects), desc="learning curve", unit="subject",
               disable=not progress)
    for subject in subjects:
        for session, runs in sessions[subject]:
            test_from = len(runs) - test_runs
            if test_from < 1:
                raise DataError(f"subject {subject} session {session}: {len(runs)} run(s), "
                                f"{test_runs} kept for testing: none left to calibrate on. "
                                "Use fewer --test-runs.")
            sources = None
            if "transfer" in training:
                sources = subject_sources(lambda s: sessions[s], subjects, subject, cfg,
                                          runs[0].sfreq, runs[0].ch_names, dataset.code,
                                          cache)
            for k in sizes:
                n = trials_for(runs[:test_from], cfg.classes, k)
                if n is None:
                    logger.warning("subject %s session %s: fewer than %d trials per class "
                                   "before the test run(s); size %d left out.", subject,
                                   session, k, k)
                    continue
                ck = replace(cfg, calibration_runs=0, calibration_trials=n)
                for mode in training:
                    _, metrics, _ = evaluate_session(
                        runs, pipelines, ck, str(subject), str(session),
                        sources=sources if mode == "transfer" else None,
                        test_from=test_from)
                    for m in metrics:
                        m.update(trials_per_class=k, training=mode)
                    rows += metrics
        bar.update(1)
    bar.close()
    if not rows:
        raise DataError("learning curve: no size could be evaluated (too few trials before "
                        "the test runs).")
    out = pd.DataFrame(rows)
    out["dataset"] = dataset.code
    return out


#: Scores summarised per size, with their chance levels.
CURVE_COLUMNS = ("nmcc", "majority_nmcc", "shuffled_nmcc", "itr_bits_per_min",
                 "shuffled_itr_bits_per_min", "offline_accuracy", "offline_majority_accuracy")


def summarise_learning_curve(metrics, score="offline_accuracy"):
    """Means per pipeline, training and size; the paired test of transfer against within
    per size; and the fewest trials with transfer reaching within's best-size score.

    Returns
    -------
    summary : dict
        ``{pipeline: {"curve": [{training, trials_per_class, n_subjects, <means>}],
        "paired": [{trials_per_class, ...paired_test}], "reference": {...}}}``. The
        reference is within-subject training at its largest size that every subject has
        trials for (``n_subjects``: all of them); ``transfer_reaches_at`` the smallest such
        size whose mean ``score`` with transfer is at least that (None: never). Sizes only
        some subjects reach stay in ``curve`` with their ``n_subjects``.
    """
    from .paired import paired_test

    out = {}
    per_subject = (metrics.groupby(["pipeline", "training", "trials_per_class", "subject"])
                   [list(CURVE_COLUMNS)].mean(numeric_only=True).reset_index())
    for name, rows in per_subject.groupby("pipeline", sort=False):
        curve = []
        for (mode, k), part in rows.groupby(["training", "trials_per_class"]):
            entry = {"training": mode, "trials_per_class": int(k),
                     "n_subjects": int(part["subject"].nunique())}
            entry.update({c: round(float(part[c].mean()), 4) for c in CURVE_COLUMNS})
            curve.append(entry)
        paired = []
        for k, part in rows.groupby("trials_per_class"):
            by = {m: part[part["training"] == m].set_index("subject")[score]
                  for m in TRAINING}
            if all(len(v) for v in by.values()):
                test = paired_test(by["transfer"], by["within"])
                paired.append({"trials_per_class": int(k), "score": score, "n": test.n,
                               "mean_diff": round(test.mean_diff, 4),
                               "median_diff": round(test.median_diff, 4),
                               "p_value": test.pvalue, "method": test.method})
        entry = {"curve": curve, "paired": paired}
        # Like for like: only sizes every subject of the pipeline has trials for (a larger
        # size some subjects cannot reach averages over others).
        n_all = int(rows["subject"].nunique())
        complete = [c for c in curve if c["n_subjects"] == n_all]
        within = [c for c in complete if c["training"] == "within"]
        transfer = [c for c in complete if c["training"] == "transfer"]
        if within and transfer:
            best = max(within, key=lambda c: c["trials_per_class"])
            reached = [c["trials_per_class"] for c in transfer if c[score] >= best[score]]
            entry["reference"] = {
                "score": score, "within_trials_per_class": best["trials_per_class"],
                "within_score": best[score],
                "transfer_reaches_at": min(reached) if reached else None,
                "n_subjects": n_all}
        out[str(name)] = entry
    return out


def plot_learning_curve(metrics, path, title=None):
    """Offline accuracy and pseudo-online nMCC against calibration trials per class, one
    colour per pipeline, solid with transfer, dashed within-subject, chance in grey."""
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    summary = summarise_learning_curve(metrics)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4.2), layout="constrained")
    panels = (("offline_accuracy", "offline_majority_accuracy", "offline accuracy"),
              ("nmcc", "shuffled_nmcc", "pseudo-online nMCC"))
    colours = plt.get_cmap("tab10")
    for ax, (key, chance, label) in zip(axes, panels):
        chance_values = []
        for i, (name, entry) in enumerate(summary.items()):
            for mode, style in (("transfer", "-"), ("within", "--")):
                pts = [c for c in entry["curve"] if c["training"] == mode]
                if pts:
                    ax.plot([c["trials_per_class"] for c in pts], [c[key] for c in pts],
                            style, marker="o", color=colours(i % 10),
                            label=f"{name} ({mode})")
                    chance_values += [c[chance] for c in pts]
        if chance_values:
            ax.axhline(float(np.nanmean(chance_values)), color="grey", lw=1, ls=":",
                       label="chance")
        ax.set_xlabel("calibration trials per class")
        ax.set_ylabel(label)
    axes[0].legend(fontsize=7)
    fig.suptitle(title or "learning curve", fontsize=10)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
    return path


def format_learning_curve(metrics, score="offline_accuracy"):
    """Text table of a learning curve (``scores.txt``): per pipeline and size, the mean
    offline accuracy and pseudo-online nMCC, within and with transfer, next to chance, the
    paired test per size and the trials transfer needs to reach within's best."""
    summary = summarise_learning_curve(metrics, score)
    lines = []
    for name, entry in summary.items():
        lines.append(f"{name}")
        lines.append("  trials/class  training  n  offline acc (chance)   nMCC (shuffled)  "
                     "ITR bits/min (shuffled)")
        for c in sorted(entry["curve"], key=lambda c: (c["trials_per_class"], c["training"])):
            lines.append(
                f"  {c['trials_per_class']:>12}  {c['training']:<8}  {c['n_subjects']}  "
                f"{c['offline_accuracy']:.3f} ({c['offline_majority_accuracy']:.3f})      "
                f"{c['nmcc']:.3f} ({c['shuffled_nmcc']:.3f})    "
                f"{c['itr_bits_per_min']:.2f} ({c['shuffled_itr_bits_per_min']:.2f})")
        for p in entry["paired"]:
            lines.append(
                f"  {p['trials_per_class']:>2} trials/class, transfer - within ({score}): "
                f"mean {p['mean_diff']:+.3f}, Wilcoxon p = {p['p_value']:.3g}, "
                f"n = {p['n']} subjects")
        ref = entry.get("reference")
        if ref:
            reach = ref["transfer_reaches_at"]
            lines.append(
                f"  within-subject with {ref['within_trials_per_class']} trials/class: "
                f"{score} {ref['within_score']:.3f}; with transfer reached at "
                + (f"{reach} trials/class" if reach is not None else "no size tried"))
        lines.append("")
    lines.append(
        "offline accuracy: one cue-locked epoch per test trial (chance: the majority class).\n"
        "nMCC: pseudo-online windows of the fixed test run(s), idle included (chance 0.5;\n"
        "shuffled: the decisions permuted within each run). transfer: the other subjects'\n"
        "runs as sources, each its own domain; no test data in any fit or reference.\n"
        "Wilcoxon: two-sided signed-rank test across subjects (the paired unit).")
    return "\n".join(lines)
