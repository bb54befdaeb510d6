"""What goes into and comes out of one control cycle of the pure core.

The shell (control thread) reads the board into :class:`Measurements`, calls
``ControlCore.step`` once per 10 ms cycle, applies the returned :class:`Actuation` (relay first
when opening) and publishes the snapshot. No I/O and no clock here: time comes in as numbers.
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.control.codes import Reason
from kiosk.control.snapshot import Snapshot


@dataclass(frozen=True, slots=True)
class Measurements:
    """One cycle's readings, calibrated, taken BEFORE this cycle's actuation is applied.

    ``current_ma``: shunt reading (AIN0) in mA. By default the shunt sits after the polarity
    cross-over, so the source's current reads positive in both polarities; a board that reads
    it signed by polarity is declared with ``ControlCore(shunt_sign_follows_polarity=True)``.
    ``electrode_v``: the V_OUT node (AIN1). ``boost_v`` (AIN2) and ``setpoint_readback_ma``
    (AIN3, the DAC's VSET as mA) are read only on the cycles after the core asked for them
    (``CycleResult.read_aux_next``); None otherwise. ``sample_time_s``: when AIN0 was
    sampled, on the same clock as ``now_s``; a reading that failed keeps the old time, and the
    core calls it stale after 100 ms. ``polarity_reversed_readback``: K2's state if the shell
    can read it back (gpiozero output value), else None. ``storage_ok``: the records writer is
    healthy (``RecordWriter.healthy``); False refuses new treatments (SR-042) but never cuts a
    current that already flows: the monitors keep the client safe, a log cannot.
    """

    sample_time_s: float
    current_ma: float
    electrode_v: float
    estop_intact: bool
    hw_trip_ok: bool
    boost_v: float | None = None
    setpoint_readback_ma: float | None = None
    polarity_reversed_readback: bool | None = None
    storage_ok: bool = True


@dataclass(frozen=True, slots=True)
class Actuation:
    """What the shell must apply this cycle.

    Order when opening (``output_relay_closed`` False after True): relay first by GPIO, then the
    DAC, then the boost. ``heartbeat_ok``: toggle the GPIO5 watchdog heartbeat this cycle (K1
    cannot close without it); False lets the monostable drop K1 and the boost in hardware as a
    second line. ``hw_trip_reset``: send the GPIO13 reset pulse (only ever with DAC 0 and the
    relay open).
    """

    dac_ma: float
    output_relay_closed: bool
    polarity_reversed: bool
    boost_on: bool
    buzzer_on: bool
    heartbeat_ok: bool
    hw_trip_reset: bool = False


SAFE_ACTUATION = Actuation(dac_ma=0.0, output_relay_closed=False, polarity_reversed=False,
                           boost_on=False, buzzer_on=True, heartbeat_ok=False)
"""hardware.md 8 safe state, with the alarm sounding."""


@dataclass(frozen=True, slots=True)
class CycleResult:
    actuation: Actuation
    snapshot: Snapshot
    events: tuple[Reason, ...]  # state changes, refusals, faults, decisions: for the event log
    read_aux_next: bool  # read AIN2 (boost) and AIN3 (DAC readback) in the next cycle
