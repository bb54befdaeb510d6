"""A control process the device-record tests kill (``python device_record_child.py DIR SAVE_S``).

It builds the real controller on the wall clock and the simulated board with its state folder,
saves the counters every ``SAVE_S`` seconds, runs treatments one after another (K1 closes and
opens, the dose rises) and prints its live counters every 50 ms as ``live <json>``, so the test
knows what the process had counted when it was killed.
"""

from __future__ import annotations

import json
import sys
import time
from dataclasses import asdict
from pathlib import Path

from tests.consent_version import CONSENT


def main(state_dir: Path, save_s: float) -> None:
    from kiosk.control.commands import EndSession, Heartbeat, ProgramRequest, StartTreatment, Stop
    from kiosk.control.service import build_controller
    from kiosk.control.snapshot import TreatmentState
    from kiosk.control.watchdog import SystemdWatchdog

    controller = build_controller(sim=True, state_dir=state_dir,
                                  notifier=SystemdWatchdog(env={}))
    record = controller.device_record
    assert record is not None
    record._save_interval_s = save_s
    controller.start()
    program = ProgramRequest("face", "pigmentation", current_ma=0.6, current_stage_s=60)
    session = 0
    started_at = time.monotonic()
    while True:
        snapshot = controller.snapshot
        if snapshot.state in (TreatmentState.IDLE, TreatmentState.DONE) \
                and controller.selftest is not None:
            if snapshot.session_id is not None:
                controller.submit(EndSession(snapshot.session_id))
            else:
                session += 1
                started_at = time.monotonic()
                controller.submit(StartTreatment(program, f"child-{session}", True,
                                                 consent_version=CONSENT))
        else:
            ramped = snapshot.output_enabled and snapshot.state is TreatmentState.RAMP_UP \
                and time.monotonic() - started_at > 3.0
            if ramped or snapshot.state is TreatmentState.PAUSED:
                controller.submit(Stop())
        controller.submit(Heartbeat())
        print("live " + json.dumps(asdict(record.counter.counters)), flush=True)
        time.sleep(0.05)


if __name__ == "__main__":
    main(Path(sys.argv[1]), float(sys.argv[2]))
