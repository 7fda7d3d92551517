"""``python -m bci_app.gui``: the clinical application (same options as ``bci-app gui``)."""

import sys

from .app import main

sys.exit(main())
