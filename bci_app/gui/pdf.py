"""PDF of an HTML page with Qt's own writer (QTextDocument + QPdfWriter), no browser needed.

The session layer makes the report's HTML (:func:`bci_app.session.report.build_report`) and
stays free of Qt; it calls :func:`write_pdf` when given it. Works on any thread once a
QGuiApplication exists (the images, base64 PNG in the page, are decoded as QImage off the
GUI thread, with an event dispatcher made for the thread), offscreen too.
"""

from pathlib import Path

from PySide6 import QtCore, QtGui

from .._utils import atomic_write
from ..errors import DataError

#: Resolution of the PDF's layout, dots per inch.
RESOLUTION = 110


def write_pdf(html, path, title=""):
    """Write an HTML page as a PDF (A4 landscape: the tables of scores are wide).

    Parameters
    ----------
    html : str
    path : str | Path
        The PDF file (written atomically).
    title : str
        The PDF's title (its metadata).

    Returns
    -------
    path : Path

    Raises
    ------
    DataError
        Without a Qt application, or if the file could not be written.
    """
    if QtGui.QGuiApplication.instance() is None:
        raise DataError("PDF report: Qt's PDF writer needs the application (a "
                        "QGuiApplication); the HTML report is written without it.")
    path = Path(path)
    # Off the GUI thread (a Python thread) there is no Qt event dispatcher: the layout's
    # timers need one, which a QEventLoop creates for its thread.
    loop = QtCore.QEventLoop()  # noqa: F841 - kept alive while the document is laid out
    buffer = QtCore.QBuffer()
    buffer.open(QtCore.QIODevice.OpenModeFlag.WriteOnly)
    writer = QtGui.QPdfWriter(buffer)
    writer.setTitle(title)
    writer.setCreator("bci-app")
    writer.setResolution(RESOLUTION)
    writer.setPageLayout(QtGui.QPageLayout(
        QtGui.QPageSize(QtGui.QPageSize.PageSizeId.A4),
        QtGui.QPageLayout.Orientation.Landscape, QtCore.QMarginsF(12, 12, 12, 12),
        QtGui.QPageLayout.Unit.Millimeter))
    document = QtGui.QTextDocument()
    document.setHtml(html)
    document.print_(writer)
    del writer  # ends the PDF
    buffer.close()
    data = bytes(buffer.data())
    if not data.startswith(b"%PDF"):
        raise DataError(f"{path}: Qt's PDF writer produced no PDF.")
    try:
        atomic_write(path, data)
    except OSError as exc:
        raise DataError(f"{path}: the PDF report could not be written ({exc}).") from exc
    return path
