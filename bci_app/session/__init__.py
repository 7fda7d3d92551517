"""Sessions: subjects and sessions, crash-safe recording (XDF), BIDS conversion, recordings
as a MOABB dataset.

What the GUI calls
------------------
- :class:`RecordingStore` (``store = RecordingStore("recordings")``):
  ``create_subject(id, age, sex, hand, affected_side, notes)``, ``subjects()``,
  ``subject(id)``, ``update_subject(id, ...)``, ``open_session(id, session)`` -> a
  :class:`Session` (``log(event, ...)``, ``entries()``, ``next_run()``, ``xdf_path(task,
  run)``, ``runs()``, ``save_model(trained)``, ``models()``), and ``recover()`` at start-up.
- ``rec = session.start_recording(protocol, [("eeg", desc), ("markers", desc),
  ("predictions", desc)], model=..., amplifier={...}, seed=runner.seed)`` starts an
  :class:`XDFRecorder` (LabRecorder in a separate process, state file written first);
  ``rec.stop()`` then ``session.convert(rec)`` (:func:`convert_recording`) writes the run
  to BIDS; :func:`recover` stops orphan recorders and converts interrupted runs.
- :func:`record_run` and :func:`train_session_model` do a whole headless run / training.
- :func:`bci_app.session.dataset.recordings_dataset` (imports MOABB: not at start-up).

See :mod:`bci_app.session.bids` for the folder layout.
"""

from .bids import convert_recording, load_xdf_run, task_label
from .headless import RunResult, record_run, train_session_model
from .recorder import RecordedStream, XDFRecorder, recover
from .store import RecordingStore, Session, Subject

__all__ = [
    "RecordedStream", "RecordingStore", "RunResult", "Session", "Subject", "XDFRecorder",
    "convert_recording", "load_xdf_run", "record_run", "recover", "task_label",
    "train_session_model",
]
