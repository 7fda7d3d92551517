"""The session log: what happened in a session, one JSON object a line.

``sourcedata/sub-<s>/ses-<e>/sub-<s>_ses-<e>_log.jsonl`` (:data:`.layout.LOG_NAME`). Each
entry is appended, flushed and synced to disk on its own, so a crash never loses an entry
already written; a line cut by a crash is skipped when the log is read back. Every entry
has ``time`` (:func:`bci_app._utils.now_iso`), ``event`` and, when liblsl is there,
``lsl_time``.

:class:`~bci_app.session.sessions.Session` keeps its log with it (``session.log(...)``); the
conversion (:mod:`.bids`) and the recovery (:mod:`.recovery`) write to a session's log
without opening the session.
"""

import json
import os

from .._logging import logger
from .._utils import now_iso
from .layout import LOG_NAME, source_dir


class SessionLog:
    """The log of one session.

    Parameters
    ----------
    root : str | Path
        The recordings folder.
    subject, session : str
        BIDS labels (checked by the caller).

    Attributes
    ----------
    path : Path
        The log file.
    """

    def __init__(self, root, subject, session):
        self.folder = source_dir(root, subject, session)
        self.path = self.folder / LOG_NAME.format(subject=subject, session=session)

    def __repr__(self):
        return f"<SessionLog {self.path}>"

    def log(self, event, **details):
        """Append an entry (flushed and synced to disk).

        The log never stops a session: if it cannot be written, a warning is logged and
        None returned.

        Parameters
        ----------
        event : str
            What happened (``"run_started"``, ``"run_converted"``, ``"model_saved"``,
            ``"note"``...).
        **details
            JSON-serialisable fields.

        Returns
        -------
        entry : dict | None
            None if the entry could not be written.
        """
        entry = {"time": now_iso(), "event": str(event), **details}
        try:
            from mne_lsl.lsl import local_clock

            entry.setdefault("lsl_time", round(local_clock(), 6))
        except Exception:  # pragma: no cover - liblsl missing
            pass
        line = json.dumps(entry, ensure_ascii=False, default=str)
        try:
            self.folder.mkdir(parents=True, exist_ok=True)
            with open(self.path, "a", encoding="utf-8") as f:
                f.write(line + "\n")
                f.flush()
                os.fsync(f.fileno())
        except OSError as exc:
            logger.warning("session log %s: entry %r not written (%s).", self.path, line,
                           exc)
            return None
        return entry

    def entries(self):
        """The log's entries (a line cut by a crash is skipped)."""
        if not self.path.exists():
            return []
        out = []
        for number, line in enumerate(self.path.read_text(encoding="utf-8").splitlines(), 1):
            if not line.strip():
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                logger.warning("%s:%d: unreadable log line skipped.", self.path, number)
        return out
