"""``python -m kiosk.control.scenario``: same as the ``kiosk-scenario`` command."""

import sys

from kiosk.control.scenario import main

sys.exit(main())
