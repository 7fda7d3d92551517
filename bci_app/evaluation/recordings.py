"""Recordings as the evaluation reads them: the sessions of a dataset or a file, as runs.

The runs themselves (:class:`~bci_app.processing.runs.Run`, :func:`run_from_raw`) are
:mod:`bci_app.processing.runs`; here are the two sources of an evaluation's sessions: a MOABB
dataset's subject (:func:`dataset_sessions`) and a recording file (:func:`file_session`).
"""

from ..processing.runs import run_from_raw


def dataset_sessions(dataset, subject):
    """The runs of each session of a MOABB dataset's subject, as :class:`Run` lists.

    Yields
    ------
    session : str
    runs : list of Run
        In the dataset's run order (time order for the datasets we read).
    """
    data = dataset.get_data(subjects=[subject])[subject]
    for session, runs in data.items():
        yield str(session), [run_from_raw(raw, name=str(name), meta={"subject": subject})
                             for name, raw in runs.items()]


def file_session(path, event_map=None):
    """A recording file (any format MNE reads) as one session of one run.

    The file is read as :func:`bci_app.acquisition.replay.read_recording` reads it for a
    real-time replay (EEG channels, standard channel names), so a sweep and a replay of the
    same file see the same samples.

    Parameters
    ----------
    path : str | Path
    event_map : dict | None
        Annotation description -> class name (e.g. ``{"T1": "left_hand"}``); descriptions
        mapped to ``"idle"`` or ``"rest"`` count as idle.

    Returns
    -------
    runs : list of Run
    """
    from pathlib import Path

    from ..acquisition.replay import read_recording

    raw = read_recording(path, event_map)
    return [run_from_raw(raw, name=Path(path).stem)]
