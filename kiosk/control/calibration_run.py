"""The calibration current: what the core drives while a technician calibrates (pure, no I/O).

The core delegates the technician's commands here (``CalibrationDrive``, ``CalibrationEnd``,
``SaveCalibration``) once it has checked that no current may flow for a treatment, no session
is open and no fault is latched. While a run is active the core's outputs come from
:meth:`CalibrationRun.actuation` and the monitors keep judging every reading (over-current
against the firmware maximum, the DAC readback, the boost rail, sensor range and sign).

Sequence (hardware.md 8, the same waits as the contact check), each wait on readings taken after
the action settled:

  boost (BOOST_EN, ``boost_settle_s``) -> output (heartbeat, K2 normal, K1 closed, DAC 0,
  ``relay_settle_s``) -> load (the contact check's 50 uA test current: the load must read as
  the reference resistor, :data:`REFERENCE_OHM` +- 10 %; a client's skin is refused) -> point
  (the DAC at the point's code, open loop, :data:`POINT_SETTLE_S`, then the mean of
  :data:`POINT_SAMPLES` readings) -> hold (the point stays driven while the technician reads
  the meter; :data:`HOLD_MAX_S` at most) -> drain (DAC 0, |I| < 10 uA within 200 ms) ->
  open (K1 off, ``relay_settle_s``) -> off.

Open loop on purpose: the DAC calibration maps codes to the current the meter reads, so the PI
must not move the code. The point currents come from the calibration in force.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from kiosk.control import domain_limits as lim
from kiosk.control.calibration import Calibration, PointReading
from kiosk.control.codes import Reason
from kiosk.control.cycle import Actuation, Measurements
from kiosk.control.reasons import Code, make

POINTS_MA: tuple[float, float] = (0.5, 1.5)
"""Point 1 and point 2: 5 V and 15 V across the 10 kΩ reference, well apart, under 24 V."""
REFERENCE_OHM = 10_000.0
REFERENCE_TOLERANCE = 0.10
POINT_SETTLE_S = 0.300
POINT_SAMPLES = 20
HOLD_MAX_S = 180.0
"""A point is held this long at most for the technician to read the meter; then it ends."""
_MARGIN_S = 0.001


class RunStep(StrEnum):
    OFF = "off"
    BOOST = "boost"
    OUTPUT = "output"
    LOAD = "load"
    POINT = "point"
    HOLD = "hold"
    DRAIN = "drain"
    OPEN = "open"


@dataclass(frozen=True, slots=True)
class RunStatus:
    """What the service screen shows (published each cycle; read from any thread)."""

    step: RunStep
    point: int  # 0 when no point is driven
    measured: tuple[PointReading | None, PointReading | None]
    load_kohm: float | None

    @property
    def driving(self) -> bool:
        return self.step is not RunStep.OFF


class CalibrationRun:
    """The sub-machine; the core calls :meth:`request`, :meth:`end`, :meth:`advance` and
    :meth:`actuation` on its own thread."""

    def __init__(self, *, relay_settle_s: float, boost_settle_s: float) -> None:
        self.relay_settle_s = relay_settle_s
        self.boost_settle_s = boost_settle_s
        self._step = RunStep.OFF
        self._step_at_s = 0.0
        self._point = 0
        self._wanted_point = 0
        self._code = 0
        self._samples: list[tuple[float, float]] = []
        self._measured: list[PointReading | None] = [None, None]
        self._load_kohm: float | None = None
        self.status = RunStatus(RunStep.OFF, 0, (None, None), None)

    @property
    def driving(self) -> bool:
        return self._step is not RunStep.OFF

    def measured(self) -> tuple[PointReading | None, PointReading | None]:
        return self._measured[0], self._measured[1]

    def forget_points(self) -> None:
        self._measured = [None, None]
        self._publish()

    # --- commands -------------------------------------------------------------------------

    def request(self, point: int, now_s: float) -> None:
        """Drive ``point`` (1 or 2): from off the whole sequence, else straight to the point."""
        self._wanted_point = point
        if self._step is RunStep.OFF:
            self._measured = [None, None]  # a new run: never mix points of two connections
            self._load_kohm = None
            self._go(RunStep.BOOST, now_s)
        elif self._step in (RunStep.POINT, RunStep.HOLD):
            self._measured[point - 1] = None
            self._begin_point(now_s)
        elif self._step in (RunStep.DRAIN, RunStep.OPEN):
            self._go(RunStep.BOOST, now_s)  # closing again from where it is: start over
        self._publish()

    def end(self, now_s: float) -> bool:
        """Bring the current to zero and open the output; False when nothing was driven."""
        if self._step in (RunStep.OFF, RunStep.DRAIN, RunStep.OPEN):
            return False
        self._go(RunStep.DRAIN, now_s)
        self._publish()
        return True

    def cut(self) -> None:
        """A fault: the core's safe actuation takes over at once; nothing is held."""
        self._step = RunStep.OFF
        self._point = 0
        self._publish()

    # --- per cycle ------------------------------------------------------------------------

    def advance(self, now_s: float, m: Measurements, current_ma: float, cal: Calibration,
                events: list[Reason]) -> Reason | None:
        """Move the sequence on; a fault reason to latch (drain timed out), else None."""
        step, at = self._step, self._step_at_s
        settled = m.sample_time_s >= at + _MARGIN_S
        if step is RunStep.BOOST and now_s - at >= self.boost_settle_s \
                and m.sample_time_s >= at + self.boost_settle_s:
            self._go(RunStep.OUTPUT, now_s)
        elif step is RunStep.OUTPUT and m.sample_time_s >= at + self.relay_settle_s + _MARGIN_S:
            self._go(RunStep.LOAD, now_s)
        elif step is RunStep.LOAD and m.sample_time_s >= at + lim.TEST_SETTLE_S + _MARGIN_S:
            self._samples.append((current_ma, m.electrode_v))
            if len(self._samples) >= lim.TEST_SAMPLES:
                self._judge_load(now_s, events)
        elif step is RunStep.POINT and m.sample_time_s >= at + POINT_SETTLE_S + _MARGIN_S:
            self._samples.append((cal.nominal_current_ma(current_ma),
                                  cal.nominal_node_v(m.electrode_v)))
            if len(self._samples) >= POINT_SAMPLES:
                self._finish_point(now_s, events)
        elif step is RunStep.HOLD and now_s - at > HOLD_MAX_S:
            self._go(RunStep.DRAIN, now_s)
        elif step is RunStep.DRAIN and settled:
            if abs(current_ma) < lim.OFF_STATE_CURRENT_MA:
                self._go(RunStep.OPEN, now_s)
            elif now_s - at > lim.DRAIN_TIMEOUT_S:
                self.cut()
                return make(Code.UNINTENDED_OUTPUT, measured_ma=abs(current_ma))
        elif step is RunStep.OPEN and m.sample_time_s >= at + self.relay_settle_s + _MARGIN_S:
            self._step = RunStep.OFF
            self._point = 0
            events.append(make(Code.CALIBRATION_DRIVE_ENDED))
        self._publish()
        return None

    def _judge_load(self, now_s: float, events: list[Reason]) -> None:
        current = sum(c for c, _v in self._samples) / len(self._samples)
        node = sum(v for _c, v in self._samples) / len(self._samples)
        reference_kohm = REFERENCE_OHM / 1000.0
        if current < lim.OFF_STATE_CURRENT_MA:
            self._load_kohm = None
            shown = "open"
        else:
            self._load_kohm = (node - current * lim.SHUNT_KOHM) / current
            shown = f"{self._load_kohm:.1f}"
        if self._load_kohm is None \
                or abs(self._load_kohm - reference_kohm) > REFERENCE_TOLERANCE * reference_kohm:
            events.append(make(Code.CALIBRATION_LOAD_WRONG, load_kohm=shown,
                               reference_kohm=reference_kohm))
            self._go(RunStep.DRAIN, now_s)
            return
        self._begin_point(now_s)

    def _begin_point(self, now_s: float) -> None:
        self._point = self._wanted_point
        self._go(RunStep.POINT, now_s)

    def _finish_point(self, now_s: float, events: list[Reason]) -> None:
        nominal_ma = sum(c for c, _v in self._samples) / len(self._samples)
        nominal_v = sum(v for _c, v in self._samples) / len(self._samples)
        reading = PointReading(self._code, nominal_ma, nominal_v)
        self._measured[self._point - 1] = reading
        events.append(make(Code.CALIBRATION_POINT_MEASURED, point=self._point,
                           dac_code=self._code, device_ma=nominal_ma, device_v=nominal_v))
        self._go(RunStep.HOLD, now_s)

    def _go(self, step: RunStep, now_s: float) -> None:
        self._step = step
        self._step_at_s = now_s
        self._samples = []

    def _publish(self) -> None:
        self.status = RunStatus(self._step, self._point if self._step in (
            RunStep.POINT, RunStep.HOLD) else 0, self.measured(), self._load_kohm)

    # --- outputs --------------------------------------------------------------------------

    def actuation(self, cal: Calibration, buzzer_on: bool) -> Actuation:
        """The outputs of the step (K2 always normal: a resistor has no polarity)."""
        step = self._step
        dac_ma = 0.0
        if step is RunStep.LOAD:
            dac_ma = lim.TEST_CURRENT_MA
        elif step in (RunStep.POINT, RunStep.HOLD):
            self._code = cal.code_for_current_ma(POINTS_MA[self._point - 1])
            dac_ma = cal.dac().current_ma_for_code(self._code)
        relay = step in (RunStep.OUTPUT, RunStep.LOAD, RunStep.POINT, RunStep.HOLD,
                         RunStep.DRAIN)
        boost = step is not RunStep.OFF
        return Actuation(dac_ma=max(0.0, dac_ma), output_relay_closed=relay,
                         polarity_reversed=False, boost_on=boost, buzzer_on=buzzer_on,
                         heartbeat_ok=boost)
