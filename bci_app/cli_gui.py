"""``bci-app gui``'s options and entry point, at their old path.

The command lives in :mod:`bci_app.commands.gui`; :mod:`bci_app.gui` still imports it
from here.
"""

import sys

from .commands.gui import build_parser, main, run

__all__ = ["build_parser", "main", "run"]

if __name__ == "__main__":
    sys.exit(main())
