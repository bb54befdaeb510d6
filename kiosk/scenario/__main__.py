"""``python -m kiosk.scenario``: same as the ``kiosk-scenario`` command."""

import sys

from kiosk.scenario import main

sys.exit(main())
