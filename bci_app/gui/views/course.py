"""Patient course: the scores of every session of the open session's patient, each beside
its chance level, as a table and a plot over sessions.

The content is the session layer's (:func:`bci_app.session.course.course_table`, from the
``summary.json`` each session's report stores; :func:`~bci_app.session.course.course_png`);
this view only shows it, read on a worker thread.
"""

import base64
import threading

from PySide6 import QtCore, QtGui, QtWidgets

from .common import PROTOCOL_COLUMN_PX, fit_column


class CourseView(QtWidgets.QWidget):
    """The course of the current patient over sessions.

    Signals
    -------
    loaded(object)
        The course table shown (``pandas.DataFrame``), after each refresh.
    """

    loaded = QtCore.Signal(object)
    _ready = QtCore.Signal(object, object)  # request number, (table, png) or an error

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.course = None
        self._request = 0
        self.refresh_button = QtWidgets.QPushButton("Refresh")
        self.status = QtWidgets.QLabel("Open a session of a patient in 'Patient & session'.")
        self.status.setWordWrap(True)
        self.table = QtWidgets.QTableWidget(0, 0)
        self.table.setEditTriggers(QtWidgets.QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.verticalHeader().setVisible(False)
        self.plot = QtWidgets.QLabel()
        self.plot.setAlignment(QtCore.Qt.AlignmentFlag.AlignLeft
                               | QtCore.Qt.AlignmentFlag.AlignTop)
        scroll = QtWidgets.QScrollArea()
        scroll.setWidget(self.plot)
        scroll.setWidgetResizable(True)
        row = QtWidgets.QHBoxLayout()
        row.addWidget(self.refresh_button)
        row.addWidget(self.status, 1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.table, 2)
        layout.addWidget(scroll, 3)
        self.refresh_button.clicked.connect(self.refresh)
        self._ready.connect(self._on_ready)
        controller.sessionChanged.connect(lambda session: self.refresh())

    def refresh(self):
        """Read the course of the open session's patient again (worker thread)."""
        session = self.controller.session
        if session is None:
            self.status.setText("Open a session of a patient in 'Patient & session'.")
            return
        self._request += 1
        request, store, subject = self._request, session.store, session.subject
        self.status.setText(f"Reading the sessions of sub-{subject}...")

        def work():
            from ...session.course import course_png, course_table

            try:
                table = course_table(store, subject)
                png = course_png(table) if len(table) else None
                self._ready.emit(request, (table, png))
            except Exception as exc:  # shown to the operator
                self._ready.emit(request, exc)

        threading.Thread(target=work, daemon=True, name="bci-app-course").start()

    def _on_ready(self, request, result):
        if request != self._request:  # an older request: a newer one is on its way
            return
        if isinstance(result, Exception):
            self.status.setText(f"The course could not be read: {result}")
            return
        from ...session.course import course_display

        table, png = result
        self.course = table
        session = self.controller.session
        header, rows = course_display(table, current=session.label if session else None)
        self.table.clear()
        self.table.setColumnCount(len(header))
        self.table.setRowCount(len(rows))
        self.table.setHorizontalHeaderLabels(header)
        bold = QtGui.QFont()
        bold.setBold(True)
        for r, row in enumerate(rows):
            for c, text in enumerate(row["cells"]):
                item = QtWidgets.QTableWidgetItem(text)
                if c >= 3:
                    item.setTextAlignment(QtCore.Qt.AlignmentFlag.AlignRight
                                          | QtCore.Qt.AlignmentFlag.AlignVCenter)
                if row["current"]:
                    item.setFont(bold)
                self.table.setItem(r, c, item)
        self.table.resizeColumnsToContents()
        if "protocol" in header:
            fit_column(self.table, header.index("protocol"), PROTOCOL_COLUMN_PX)
        if png:
            pixmap = QtGui.QPixmap()
            pixmap.loadFromData(base64.b64decode(png), "PNG")
            self.plot.setPixmap(pixmap)
        else:
            self.plot.clear()
        subject = table.attrs.get("subject", "")
        text = (f"sub-{subject}: {len(table)} session(s) with a report; in brackets and "
                "dashed, the chance level (the highest of majority, shuffled decisions and, "
                "for trial success, the binomial level p < 0.05; 'not informative' where "
                "chance reaches the best possible score)."
                if len(table) else f"sub-{subject}: no session report yet. Create one in "
                "'Report' at the end of a session.")
        missing = table.attrs.get("without_summary") or []
        if missing and len(table):
            text += f" Without a report yet: {', '.join('ses-' + m for m in missing)}."
        unreadable = table.attrs.get("unreadable") or {}
        if unreadable:
            text += " Unreadable: " + "; ".join(unreadable.values())
        self.status.setText(text)
        self.loaded.emit(table)
