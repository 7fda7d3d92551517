"""The commands of ``bci-app``, one module each.

Every command module has ``NAME`` (the command's name), ``add_parser(subparsers)`` (its
options, from the shared groups of :mod:`._options` where they are shared) and
``run(args)`` (the work: it returns the exit code, and raises a bci-app error on bad input;
:func:`bci_app.cli_common.run_command` turns either into a message and an exit code).
Importing them is cheap: each imports what its work needs inside ``run``.
"""

from . import (
    evaluate,
    gui,
    models,
    online,
    pseudo_online,
    replay,
    session,
    simulate,
    train,
)

#: The command modules, in the order ``bci-app --help`` lists them.
MODULES = (evaluate, pseudo_online, simulate, train, online, replay, session, gui, models)

__all__ = ["MODULES"]
