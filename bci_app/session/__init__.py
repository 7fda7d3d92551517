"""Sessions: the session data model (subjects, sessions, runs and their status),
crash-safe recording (XDF), BIDS conversion, the session report.

The session data model
----------------------
One model, used by the GUI and the command line alike (the GUI keeps none of its own):

- :class:`RecordingStore` (``store = RecordingStore("recordings")``, :mod:`.store`):
  ``create_subject(id, age, sex, hand, affected_side, notes)``, ``save_subject(id,
  **fields)`` (create or change), ``subjects()``, ``subject(id)``, ``update_subject(id,
  ...)``, ``new_session(id)``, ``open_session(id, session)`` -> a :class:`Session`, and
  ``recover()`` at start-up.
- :class:`Subject` (:mod:`.participants`): a row of ``participants.tsv``.
- :class:`Session` (:mod:`.sessions`): ``log(event, ...)``, ``entries()``,
  ``meta``/``update(...)`` (its settings, ``session.json``), ``runs`` (list of
  :class:`RunInfo`), ``runs_of_type(...)``, ``next_run()``, ``new_run(...)``,
  ``save_run(run)``, ``save_model(trained)``, ``models()``.
- :class:`RunInfo` (:mod:`.runs`): one run, its status (``"recording"``, ``"saving"``,
  ``"complete"``, ``"aborted"``, ``"interrupted"``, ``"failed"``) and files;
  :func:`load_run_recording` reads its BIDS recording back.
- ``rec = session.start_recording(protocol, [("eeg", desc), ("markers", desc),
  ("predictions", desc)], model=..., amplifier={...}, run=run_info)`` starts an
  :class:`XDFRecorder` (LabRecorder in a separate process, state file written first);
  ``rec.stop()`` then ``session.convert(rec)`` (:func:`convert_recording`) writes the run
  to BIDS; :func:`recover` (:mod:`.recovery`) stops orphan recorders and converts
  interrupted runs.
- :class:`RunOrchestrator` (:mod:`.orchestrator`) carries out one run (runner, simulator
  follower, online decoder, recorder, conversion, run record), for ``bci-app session``
  and the GUI alike; :func:`record_run` and :func:`train_session_model` do a whole
  headless run / training.
- :func:`bci_app.session.report.build_report` writes the session report (imports
  matplotlib: not at start-up).

See :mod:`bci_app.session.layout` for the folder layout.

Modules, each importing only those listed before it (no cycle):
:mod:`._proc` (processes), :mod:`.layout` (labels and paths), :mod:`.runs` (RunInfo),
:mod:`.xdf` (reading an XDF run), :mod:`.state` (recording state files),
:mod:`.session_log`, :mod:`.participants`, :mod:`._labrecorder` (the LabRecorderCLI
program), :mod:`.recorder` (recording with it), :mod:`.supervision` (disk space, watching a
recording), :mod:`.bids` (one XDF to BIDS),
:mod:`.recovery` (interrupted runs), :mod:`.sessions`, :mod:`.store`, then
:mod:`.orchestrator`, :mod:`.headless`, :mod:`.report` and :mod:`.continuation`.
"""

from .bids import convert_recording
from .headless import RunResult, record_run, train_session_model
from .layout import task_label
from .orchestrator import EEGSource, RunOrchestrator
from .participants import Subject
from .recorder import RecordedStream, XDFRecorder
from .recovery import recover
from .runs import RunInfo, load_run_recording
from .sessions import Session
from .store import RecordingStore
from .xdf import load_xdf_run

__all__ = [
    "EEGSource", "RecordedStream", "RecordingStore", "RunInfo", "RunOrchestrator",
    "RunResult", "Session", "Subject",
    "XDFRecorder", "convert_recording", "load_run_recording", "load_xdf_run", "record_run",
    "recover", "task_label", "train_session_model",
]
