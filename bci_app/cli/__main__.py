"""``python -m bci_app.cli``: the same as ``bci-app``."""

import sys

from . import main

sys.exit(main())
