"""When may the technician's self-test start? One pure rule the core applies to the command.

- Not while a self-test runs (``selftest_running``).
- Not unless the device is idle with no treatment session open (``selftest_not_idle``): the
  steps drive the relays and the test current, which must never meet a client's session.
- With a fault latched only the steps that switch nothing on (``READ_ONLY_STEPS``: the chips,
  the DAC EEPROM, the E-stop loop) and the EEPROM programming; anything else is refused with
  ``selftest_fault_limits``, which names what is allowed. The boot self-test's own failure
  (a factory-fresh EEPROM) is exactly the case the technician must be able to inspect and fix.
- An unknown step name: ``selftest_unknown_step``.
"""

from __future__ import annotations

from kiosk.control.codes import Reason
from kiosk.control.commands import ProgramDacEeprom, RunSelfTest
from kiosk.control.reasons import Code, make
from kiosk.control.snapshot import TreatmentState

STEP_NAMES: tuple[str, ...] = ("chips", "dac_eeprom", "adc_noise", "boost", "dac_linearity",
                               "relays", "monostable", "hw_trip", "estop")
READ_ONLY_STEPS: tuple[str, ...] = ("chips", "dac_eeprom", "estop")
IDLE_STATES = frozenset({TreatmentState.IDLE, TreatmentState.FAULT})


def admit(command: RunSelfTest | ProgramDacEeprom, *, state: TreatmentState,
          session_open: bool, fault_code: str | None, running: bool) -> Reason | None:
    """None when ``command`` may start now, else the refusal."""
    step = command.step if isinstance(command, RunSelfTest) else None
    if isinstance(command, RunSelfTest) and step is not None and step not in STEP_NAMES:
        return make(Code.SELFTEST_UNKNOWN_STEP, step=step[:40])
    if running:
        return make(Code.SELFTEST_RUNNING)
    if session_open or state not in IDLE_STATES:
        return make(Code.SELFTEST_NOT_IDLE, state=str(state), session_open=session_open)
    if fault_code is not None and isinstance(command, RunSelfTest) \
            and step not in READ_ONLY_STEPS:
        return make(Code.SELFTEST_FAULT_LIMITS, fault_code=fault_code,
                     allowed=", ".join(READ_ONLY_STEPS))
    return None
