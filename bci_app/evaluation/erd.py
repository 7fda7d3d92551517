"""ERD strength at the motor channels: the r² of the mu/beta power at C3 and C4, with chance.

One number per hand area for a session's summary and a patient's course: at each of
:data:`MOTOR_CHANNELS`, the signed r² of :func:`bci_app.evaluation.r2.r2_map` (log band power
vs class, per 2 Hz bin) at its strongest bin of the mu/beta band :data:`MU_BETA`. Compared
with rest, imagery of a hand lowers the mu/beta power over the opposite hemisphere (event
related desynchronisation): the r² of (rest, hand) is then negative there, and its size says
how strong and reliable the ERD is. Between two hands, the sign says which class has more
power.

Chance: the same number with the class labels of the compared trials permuted
(:func:`bci_app.evaluation.metrics.shuffle_indices`), the mean over the permutations, as the
shuffled chance level of every other score. With few trials the peak |r²| of random labels
is well above 0: a session's r² is only meaningful beside it.
"""

from dataclasses import replace

import numpy as np

from ..errors import DataError
from ..processing.labels import is_idle_name
from .metrics import shuffle_indices
from .r2 import r2_map

#: The hand areas of the 10-20 system (left hemisphere: right hand; right: left hand).
MOTOR_CHANNELS = ("C3", "C4")
#: The mu and beta rhythms, Hz.
MU_BETA = (8.0, 30.0)
#: Permutations of the chance level (r² maps of two channels: cheap).
N_PERMUTATIONS = 100


def compared_classes(classes):
    """The two classes an ERD r² compares: (rest, task) when an idle-named class is cued
    (affected hand vs rest: the ERD itself), else the first two task classes.

    Returns
    -------
    pair : tuple of 2 str | None
        None with fewer than two classes.
    """
    classes = [str(c) for c in classes]
    idle = [c for c in classes if is_idle_name(c)]
    task = [c for c in classes if not is_idle_name(c)]
    if idle and task:
        return idle[0], task[0]
    if len(task) >= 2:
        return task[0], task[1]
    return None


def _peaks(r2, rows):
    """Signed r² and frequency at the strongest bin of each row."""
    values = np.asarray(r2["values"])[rows]
    k = np.abs(values).argmax(axis=1)
    return values[np.arange(len(rows)), k], np.asarray(r2["freqs"])[k]


def motor_r2(runs, classes, channels=MOTOR_CHANNELS, band=MU_BETA,
             n_permutations=N_PERMUTATIONS):
    """Signed r² at the motor channels (strongest mu/beta bin), with its shuffled chance.

    Parameters
    ----------
    runs : list of bci_app.processing.runs.Run
        Calibration runs (one montage and rate).
    classes : sequence of str
        The cued classes: :func:`compared_classes` chooses the pair.
    channels : sequence of str
        Motor channels (those the runs lack are left out).
    band : (float, float)
        Hz.
    n_permutations : int

    Returns
    -------
    out : dict
        ``classes`` (the pair: positive r² is more power in the second), ``n_trials`` per
        class, and per channel found ``{channel: {"r2": signed r², "freq": Hz,
        "chance": mean peak |r²| of the permuted labels}}`` under ``channels``.

    Raises
    ------
    DataError
        No pair of classes to compare, none of ``channels`` in the runs, or too few trials
        (:func:`~bci_app.evaluation.r2.r2_map`).
    """
    pair = compared_classes(classes)
    if pair is None:
        raise DataError(f"ERD r²: the classes {list(classes)} give no pair to compare (a "
                        "task and rest, or two tasks).")
    if not runs:
        raise DataError("ERD r²: no calibration run.")
    names = list(runs[0].ch_names)
    found = [c for c in channels if c in names]
    if not found:
        raise DataError(f"ERD r²: none of the motor channels {list(channels)} is in the "
                        f"recording (channels: {names[:8]}...).")
    picks = [names.index(c) for c in found]
    small = [replace(r, data=r.data[picks], ch_names=found) for r in runs]
    fmin, fmax = band
    r2 = r2_map(small, pair, fmin=fmin, fmax=fmax)
    values, freqs = _peaks(r2, range(len(found)))
    # The compared trials of every run, their labels permuted among them.
    slots = [(i, k) for i, r in enumerate(small) for k, e in enumerate(r.events)
             if e[2] in pair]
    labels = np.array([small[i].events[k][2] for i, k in slots], dtype=object)
    chance = np.zeros(len(found))
    perms = shuffle_indices(len(slots), 0, n_permutations)
    for perm in perms:
        events = [list(r.events) for r in small]
        for (i, k), label in zip(slots, labels[perm]):
            onset, duration, _ = events[i][k]
            events[i][k] = (onset, duration, label)
        shuffled = r2_map([replace(r, events=e) for r, e in zip(small, events)], pair,
                          fmin=fmin, fmax=fmax)
        chance += np.abs(_peaks(shuffled, range(len(found)))[0])
    chance /= max(len(perms), 1)
    return {"classes": tuple(pair), "n_trials": dict(r2["n_trials"]),
            "channels": {c: {"r2": float(values[j]), "freq": float(freqs[j]),
                             "chance": float(chance[j])} for j, c in enumerate(found)}}
