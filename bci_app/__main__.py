"""``python -m bci_app``: the same as the ``bci-app`` command."""

import sys

from .cli import main

sys.exit(main())
