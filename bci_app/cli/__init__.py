"""The ``bci-app`` command: one module per command, and the entry point that runs them.

Every command module has ``NAME`` (the command's name), ``add_parser(subparsers)`` (its
options, from the shared groups of :mod:`._options` where they are shared) and
``run(args)`` (the work: it returns the exit code, and raises a bci-app error on bad input;
:func:`bci_app.cli_common.run_command` turns either into a message and an exit code).
Importing them is cheap: each imports what its work needs inside ``run``.

:func:`main` builds the parser from the command modules, sets up logging and runs the
chosen command; ``bci-app`` alone and ``bci-app gui ...`` start the application (its own
options).
"""

import argparse
import os
import sys

from .. import __version__
from .._logging import quiet_dependencies, set_log_level
from ..cli_common import EXIT_CODES_HELP, EXIT_OK, run_command
from . import (
    evaluate,
    gui,
    learning_curve,
    models,
    online,
    pseudo_online,
    replay,
    session,
    simulate,
    train,
)

#: The command modules, in the order ``bci-app --help`` lists them.
MODULES = (evaluate, pseudo_online, learning_curve, simulate, train, online, replay, session,
           gui, models)

#: Command name -> its ``run(args)`` (``gui`` has its own entry point, :func:`gui.main`).
_COMMANDS = {m.NAME: m.run for m in MODULES if m is not gui}


def build_parser():
    """The parser of ``bci-app`` and of every command."""
    parser = argparse.ArgumentParser(
        prog="bci-app",
        description="Motor-imagery BCI: acquisition, pseudo-online decoding, evaluation.",
        epilog=EXIT_CODES_HELP,
    )
    parser.add_argument("--version", action="version", version=f"bci-app {__version__}")
    subparsers = parser.add_subparsers(dest="command", metavar="COMMAND")
    for module in MODULES:
        module.add_parser(subparsers)
    return parser


def main(argv=None):
    """Entry point of ``bci-app``; returns the exit code."""
    argv = sys.argv[1:] if argv is None else list(argv)
    if not argv or argv[0] == gui.NAME:
        return gui.main(argv[1:])
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return EXIT_OK
    set_log_level(["WARNING", "INFO", "DEBUG"][min(args.verbose, 2)])
    os.environ.setdefault("MOABB_DOWNLOAD_PROVIDER", "upstream")
    if args.verbose < 2:
        quiet_dependencies()
    return run_command(f"bci-app {args.command}", _COMMANDS[args.command], args)


__all__ = ["MODULES", "build_parser", "main"]
