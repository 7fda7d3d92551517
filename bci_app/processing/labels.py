"""What each moment of a run is (task, idle, not scored), and the label of each window.

The one labelling of the application: the calibration crops
(:mod:`bci_app.processing.calibration`, per sample with :func:`sample_codes`) and every score
(:mod:`bci_app.evaluation.scoring`, per window with :func:`label_windows`) read a run's
events by these rules.

Rules
-----
Events are ``(onset_s, duration_s, label)``. What each moment is:

* a **task** (a cued class): an event whose label is one of the classes, except idle names;
* **idle**: an event named in :data:`IDLE_NAMES` (``baseline``, ``idle``, ``rest``...), and
  any time no event covers (idle is everything that is not task time);
* **not scored**: any other event (``fixation``, ``cue_*``, ``pause``, ``resume``, another
  task, ``BAD_gap``...). Where events overlap, the later one wins;
* outside the run when the events mark it (before the protocol's ``run_start`` marker, from
  its ``run_end`` or ``run_aborted`` marker on): not scored, for the decoder runs before and
  after, the protocol does not.

Times fall on the sample grid at the nearest sample (a half sample rounds up).

Window truth (Carrara & Papadopoulo, 2024): the value of the majority of the window's
samples, a tie going to the value that comes later in the window (so a window that ends
before the next event takes the current event's value). A window not entirely within the
run is not scored.

The decision vocabulary: a model's idle class is :data:`IDLE`; decisions (and classes) named
with an idle name count as idle.
"""

import numpy as np

from ..protocol.spec import MARKER_RUN_ABORTED, MARKER_RUN_END, MARKER_RUN_START

#: The idle class of a model and of its decisions (not a task).
IDLE = "idle"
#: Event and class names read as idle (not task time), compared in lower case.
IDLE_NAMES = ("rest", "t0", "idle", "baseline")
_END_MARKERS = (MARKER_RUN_END, MARKER_RUN_ABORTED)


def is_idle_name(label):
    """True if ``label`` is read as idle (one of :data:`IDLE_NAMES`, any case)."""
    return str(label).lower() in IDLE_NAMES


def task_classes(classes):
    """The classes scored as tasks: ``classes`` without idle names, in order.

    Parameters
    ----------
    classes : sequence of str
        A protocol's, a model's (``idle`` included) or an evaluation's classes.

    Returns
    -------
    tasks : list of str
    """
    return [c for c in dict.fromkeys(str(c) for c in classes) if not is_idle_name(c)]


def normalise_decisions(decisions):
    """Decisions as an object array of str, every idle name (``rest``...) as ``idle``."""
    values, inverse = np.unique(np.asarray(decisions).astype(str), return_inverse=True)
    values = np.array([IDLE if is_idle_name(v) else v for v in values], dtype=object)
    return values[inverse.reshape(-1)] if values.size else np.empty(0, dtype=object)


def _paint(events, tasks, origin, sfreq, lo, hi):
    """The value of time on the sample grid through ``origin``, as constant segments.

    Returns
    -------
    bounds : ndarray of int, shape (n_segments + 1,)
        Segment ``j`` covers the grid samples ``[bounds[j], bounds[j + 1])``.
    value : ndarray of int, shape (n_segments,)
        -1 not scored, 0 idle, ``k`` the task ``tasks[k - 1]``.
    owner : ndarray of int, shape (n_segments,)
        Index in ``events`` of the event that set the value (-1: none).
    span : (int, int)
        The run, from its ``run_start`` marker to its ``run_end``/``run_aborted`` marker
        (``lo``/``hi`` without them).
    """
    lookup = {c: k + 1 for k, c in enumerate(tasks)}
    order = sorted(range(len(events)), key=lambda i: (float(events[i][0]), float(events[i][1]),
                                                      str(events[i][2])))
    onset = np.array([float(events[i][0]) for i in order])
    stop = onset + np.array([float(events[i][1]) for i in order])
    labels = [str(events[i][2]) for i in order]

    def index(t):  # nearest grid samples (ties up), within [lo, hi]
        return np.clip(np.floor((np.asarray(t, dtype=float) - origin) * sfreq + 0.5),
                       lo, hi).astype(np.int64)

    first, after = index(onset), index(stop)
    paints, start, end = [], None, None
    for k, (i, label) in enumerate(zip(order, labels)):
        if label == MARKER_RUN_START:
            start = onset[k] if start is None else start
        elif label in _END_MARKERS:
            end = onset[k] if end is None else end
        elif first[k] < after[k]:
            value = 0 if is_idle_name(label) else lookup.get(label, -1)
            paints.append((first[k], after[k], value, i))
    bounds = np.unique(np.array([lo, hi] + [p[0] for p in paints] + [p[1] for p in paints],
                                dtype=np.int64))
    value = np.zeros(bounds.size - 1, dtype=int)
    owner = np.full(bounds.size - 1, -1)
    for a, b, v, i in paints:
        sl = slice(np.searchsorted(bounds, a), np.searchsorted(bounds, b))
        value[sl], owner[sl] = v, i
    span = (lo if start is None else int(index(start)), hi if end is None else int(index(end)))
    return bounds, value, owner, span


def sample_codes(run, classes):
    """Per-sample class code: index in ``classes`` for task time, 0 idle, -1 not scored.

    The rules of this module on the run's samples: other events, other tasks and the
    samples outside the run (before ``run_start``, from ``run_end`` on) are -1.

    Parameters
    ----------
    run : Run
        Its ``events``, ``sfreq`` and ``n_samples`` are read.
    classes : sequence of str
        ``classes[0]`` must be the idle label; the task classes follow.

    Returns
    -------
    codes : ndarray of int, shape (n_samples,)
    """
    classes = [str(c) for c in classes]
    tasks = task_classes(classes)
    bounds, value, _, (start, stop) = _paint(run.events, tasks, 0.0, run.sfreq, 0,
                                            run.n_samples)
    code_of = np.array([-1, 0] + [classes.index(t) for t in tasks])  # value v at v + 1
    codes = np.repeat(code_of[value + 1], np.diff(bounds))
    codes[:max(start, 0)] = -1
    codes[max(stop, 0):] = -1
    return codes


def label_windows(events, times, window, sfreq, classes):
    """The truth of each decision's window, and the trial it belongs to.

    Parameters
    ----------
    events : sequence of (onset_s, duration_s, label)
        The run's events, on the clock of ``times``.
    times : array-like, shape (n_windows,)
        Time of each window's last sample, s.
    window : int
        Window length, samples.
    sfreq : float
        Sampling rate, Hz.
    classes : sequence of str
        The cued classes (idle names among them are idle; ``idle`` itself is ignored).

    Returns
    -------
    truth : ndarray of object, shape (n_windows,)
        A task class, ``"idle"``, or None (not scored).
    trial : ndarray of int, shape (n_windows,)
        Index in ``events`` of the trial each window belongs to, -1 for none: the latest
        event of a cued class (``rest`` included), of the window's truth, that the window
        overlaps.
    """
    times = np.asarray(times, dtype=float)
    tasks = task_classes(classes)
    if times.size == 0:
        return np.empty(0, dtype=object), np.empty(0, dtype=int)
    origin = times[0]
    last = np.floor((times - origin) * sfreq + 0.5).astype(np.int64)
    first = last - int(window) + 1
    bounds, value, owner, span = _paint(events, tasks, origin, sfreq, int(first.min()) - 1,
                                        int(last.max()) + 2)
    n_seg, n_val = value.size, len(tasks) + 2  # column v + 1 holds value v
    onehot = np.zeros((n_seg, n_val), dtype=np.int64)
    onehot[np.arange(n_seg), value + 1] = 1
    prefix = np.vstack([np.zeros((1, n_val), np.int64),
                        np.cumsum(onehot * np.diff(bounds)[:, None], axis=0)])

    def below(x):  # samples of each value at grid indices < x
        j = np.clip(np.searchsorted(bounds, x, side="right") - 1, 0, n_seg - 1)
        return prefix[j] + (x - bounds[j])[:, None] * onehot[j]

    counts = below(last + 1) - below(first)
    best = counts.max(axis=1)
    choice = counts.argmax(axis=1)
    seg_last = np.searchsorted(bounds, last, side="right") - 1
    for w in np.flatnonzero((counts == best[:, None]).sum(axis=1) > 1):
        tied, j = counts[w] == best[w], seg_last[w]
        while not tied[value[j] + 1]:  # the tied value that comes later in the window
            j -= 1
        choice[w] = value[j] + 1
    choice[(first < span[0]) | (last >= span[1])] = 0  # not entirely within the run
    names = np.array([None, IDLE] + tasks, dtype=object)
    # The latest segment of the window's value, at or before its last sample: its event.
    latest = np.where(value[None, :] + 1 == np.arange(n_val)[:, None], np.arange(n_seg), -1)
    seg = np.maximum.accumulate(latest, axis=1)[choice, seg_last]
    trial = np.where((seg >= 0) & (choice > 0), owner[np.maximum(seg, 0)], -1)
    cued = {str(c) for c in classes} - {IDLE}
    is_trial = np.array([str(e[2]) in cued for e in events] + [False])  # [-1]: no event
    trial[~is_trial[trial]] = -1
    return names[choice], trial
