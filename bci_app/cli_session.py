"""``python -m bci_app.cli_session ...``: the same as ``bci-app session ...``.

The command lives in :mod:`bci_app.commands.session`; this module keeps its old path.
"""

import sys

from .commands.session import add_parser, main, run

__all__ = ["add_parser", "main", "run"]

if __name__ == "__main__":
    sys.exit(main())
