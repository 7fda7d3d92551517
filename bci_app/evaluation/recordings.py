"""Recordings as the evaluation reads them: the sessions of a dataset or a file, as runs.

The runs themselves (:class:`~bci_app.processing.runs.Run`, :func:`run_from_raw`) are
:mod:`bci_app.processing.runs`; here are the two sources of an evaluation's sessions: a MOABB
dataset's subject (:func:`dataset_sessions`) and a recording file (:func:`file_session`,
one run read by :func:`read_recording_run`).
"""

from pathlib import Path

from ..processing.runs import acquisition_order, run_from_raw


def dataset_sessions(dataset, subject):
    """The runs of each session of a MOABB dataset's subject, as :class:`Run` lists.

    Yields
    ------
    session : str
    runs : list of Run
        In acquisition order (:func:`~bci_app.processing.runs.acquisition_order`), whatever
        order the dataset gives them in (MOABB gives a paradigm's runs grouped by task).
    """
    data = dataset.get_data(subjects=[subject])[subject]
    for session, runs in data.items():
        yield str(session), acquisition_order(
            [run_from_raw(raw, name=str(name), meta={"subject": subject})
             for name, raw in runs.items()])


def read_recording_run(path, event_map=None):
    """A recording file as one run named after the file.

    The file is read by :func:`bci_app.acquisition.replay.read_recording`, the reader of a
    real-time replay, of ``bci-app train --file`` and of the GUI: a BIDS run keeps the
    class names and durations of its ``events.tsv``; EEG channels only, standard channel
    names.

    Parameters
    ----------
    path : str | Path
    event_map : dict | None
        Annotation description -> class name (e.g. ``{"T1": "left_hand"}``); descriptions
        mapped to ``"idle"`` or ``"rest"`` count as idle.

    Returns
    -------
    run : Run
    """
    from ..acquisition.replay import read_recording

    return run_from_raw(read_recording(path, event_map), name=Path(path).stem)


def file_session(path, event_map=None):
    """A recording file as one session of one run (:func:`read_recording_run`): what the
    task of a pseudo-online evaluation of a file reads, in this process or on a worker.

    Returns
    -------
    runs : list of Run
    """
    return [read_recording_run(path, event_map)]
