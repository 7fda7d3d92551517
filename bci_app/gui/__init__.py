"""The clinical Qt application: guided session workflow, live signal, patient feedback,
replay and reports.

The GUI composes the other packages (acquisition, protocol, online, evaluation, decoding,
session) and re-implements none of them. Start it with ``bci-app gui`` (or
``python -m bci_app gui``; options and entry point: :mod:`bci_app.cli.gui`);
``import bci_app.gui`` stays cheap.
"""
