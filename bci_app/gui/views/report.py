"""Step 6, Report: the session's clinical record (patient, operator, duration, runs trained
on, scores beside their chance levels, a table of trials per online run, the patient's
course); saved with the session as HTML and PDF (Qt's PDF writer), with the session's
summary (``summary.json``), and openable later."""

import threading
from pathlib import Path

from PySide6 import QtCore, QtGui, QtWidgets

from .common import show_error


class ReportView(QtWidgets.QWidget):
    """Create the session report, show it, open it in a web browser, open an older one."""

    _built = QtCore.Signal(object)
    reportReady = QtCore.Signal(object)  # Path

    def __init__(self, controller, parent=None):
        super().__init__(parent)
        self.controller = controller
        self.path = None
        self.create_button = QtWidgets.QPushButton("Create report")
        self.browser_button = QtWidgets.QPushButton("Open in web browser")
        self.pdf_button = QtWidgets.QPushButton("Open the PDF")
        self.pdf_button.setEnabled(False)
        self.open_button = QtWidgets.QPushButton("Open a saved report...")
        self.browser_button.setEnabled(False)
        self.status = QtWidgets.QLabel("Create the report at the end of the session.")
        self.status.setWordWrap(True)
        self.view = QtWidgets.QTextBrowser()
        self.view.setOpenExternalLinks(True)
        row = QtWidgets.QHBoxLayout()
        for b in (self.create_button, self.browser_button, self.pdf_button, self.open_button):
            row.addWidget(b)
        row.addStretch(1)
        layout = QtWidgets.QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status)
        layout.addWidget(self.view, 1)
        self.create_button.clicked.connect(self.create)
        self.browser_button.clicked.connect(
            lambda: QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(str(self.path))))
        self.pdf_button.clicked.connect(
            lambda: QtGui.QDesktopServices.openUrl(QtCore.QUrl.fromLocalFile(
                str(self.path.with_suffix(".pdf")))))
        self.open_button.clicked.connect(self._choose)
        self._built.connect(self._on_built)

    def create(self):
        session = self.controller.session
        if session is None:
            show_error(self, "No session", "Open a session in 'Patient & session' first.")
            return
        self.create_button.setEnabled(False)
        self.status.setText("Creating the report...")

        def work():
            from ...session.report import build_report
            from ..pdf import write_pdf

            try:
                self._built.emit(build_report(session, pdf_writer=write_pdf))
            except Exception as exc:
                self._built.emit(exc)

        threading.Thread(target=work, daemon=True, name="bci-app-report").start()

    def _on_built(self, result):
        self.create_button.setEnabled(True)
        if isinstance(result, Exception):
            show_error(self, "The report could not be created", str(result))
            self.status.setText(f"Report failed: {result}")
            return
        path, _summary = result
        self.load(path)
        self.reportReady.emit(path)

    def load(self, path):
        """Show a saved report file."""
        path = Path(path)
        self.path = path
        self.view.setHtml(path.read_text(encoding="utf-8"))
        self.browser_button.setEnabled(True)
        pdf = path.with_suffix(".pdf")
        self.pdf_button.setEnabled(pdf.is_file())
        self.status.setText(f"Report saved: {path}"
                            + (f" and {pdf.name}" if pdf.is_file() else ""))

    def _choose(self):
        start = str(self.controller.session.derivatives if self.controller.session
                    else self.controller.store.root)
        path, _ = QtWidgets.QFileDialog.getOpenFileName(self, "Open a session report", start,
                                                        "Reports (*.html)")
        if path:
            self.load(path)
