"""The clinical Qt application: guided session workflow, live signal, patient feedback,
replay and reports.

The GUI composes the other packages (acquisition, protocol, online, evaluation, decoding) and
re-implements none of them. Start it with ``bci-app gui`` or ``python -m bci_app.gui``;
:func:`main` is the entry point (imported lazily so that ``import bci_app.gui`` stays cheap).
"""


def main(argv=None):
    """Run the application (see :func:`bci_app.gui.app.main`)."""
    from .app import main as _main

    return _main(argv)
