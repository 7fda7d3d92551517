"""``python -m bci_app.gui``: the clinical application (same options as ``bci-app gui``)."""

import sys

from ..commands.gui import main

sys.exit(main())
