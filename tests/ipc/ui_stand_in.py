"""A UI process as the daemon sees it: connects as the controlling client, starts a treatment,
sends a heartbeat at 15 Hz, prints ``plateau`` once the current holds, and goes on until it is
killed. ``python tests/ipc/ui_stand_in.py SOCKET [SESSION]``."""

from __future__ import annotations

import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))

from kiosk.control.commands import Heartbeat
from kiosk.ipc.client import RemoteController
from tests.ipc.daemon_rig import at_plateau, start_treatment


def main() -> int:
    remote = RemoteController(sys.argv[1], name="ui-stand-in")
    remote.start()
    if not remote.wait_connected(10.0):
        print(f"no connection: {remote.last_error}", flush=True)
        return 2
    start_treatment(remote, sys.argv[2] if len(sys.argv) > 2 else "stand-in")
    said = False
    while True:
        remote.submit(Heartbeat())
        if not said and remote.live and at_plateau(remote.snapshot):
            print(f"plateau {remote.snapshot.measured_ma:.4f}", flush=True)
            said = True
        time.sleep(1 / 15)


if __name__ == "__main__":
    sys.exit(main())
