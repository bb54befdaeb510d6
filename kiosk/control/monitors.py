"""Plausibility and safety monitors: each limit of domain.md 6 watched on every reading.

Why a separate module: every monitor is a small rule with a threshold and a time it must hold
(so one noisy sample does not cut a treatment, and a real fault still cuts it inside the
domain's 100 ms). They judge a reading against what the core had commanded when it was taken
(:class:`MonitorContext`, last cycle's actuation), never against this cycle's intent.
Persistence is measured on the readings' own sample times.

The monitors only report; the core latches the first fault and goes to the safe state.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from kiosk.control import domain_limits as lim
from kiosk.control.codes import Reason
from kiosk.control.cycle import Measurements
from kiosk.control.limits import (
    SafetyConfig,
    boost_window_v,
    dac_readback_tolerance_ma,
    over_current_limit_ma,
    regulation_tolerance_ma,
)
from kiosk.control.reasons import Code, make

_EPS = 1e-9
RELAY_OPEN_SETTLE_S = 0.020
"""After K1 opens: release (<= 10 ms allowance) plus a sample before the off-state rule applies."""

FROZEN_READINGS_COUNT = 30
"""SR-031: this many bit-identical shunt readings in a row, while current flows, latch
``sensor_stale`` (a stuck converter, or a bus that replays one result).

Why 30 (0.29 s at 100 Hz, ~0.3 s to the safe state): a live ADS1115 at 860 SPS shows about
1 LSB RMS of noise (hardware.md 4; the simulated ADC draws 1.0 LSB Gaussian noise). On AIN0
1 LSB is 15.6 uV = 0.156 uA, so a reading is a noisy integer code and two independent readings
of a steady current share the code with p = sum(p_k^2) ~ 1 / (2 sqrt(pi) sigma): 0.28 at
sigma = 1 LSB, 0.40 for a quieter converter at 0.7 LSB, 0.52 at 0.5 LSB. A run of N needs N - 1
such coincidences: at N = 30 that is 1e-16 per cycle at 1 LSB and 3e-12 at 0.7 LSB (a false
trip about once in 10^9 hours of current at 1 LSB). SR-031 names 50 readings (C, to be
confirmed), which finishes right at its 0.5 s target; 30 keeps the detection well under it
while a false trip needs a converter quieter than 0.6 LSB. Fewer than ~25 would start to trip a
quiet real ADC; the DAC readback (AIN3, every 5th cycle) still catches a converter stuck at a
value away from the commanded current within ~50 ms. A stuck value equal to the commanded
current passes the readback: only this rule sees it.
"""
FROZEN_MIN_CURRENT_MA = 0.010
"""Judged only above the off-state level (64 LSB): near zero a single-ended input may clip."""
POLARISATION_ALLOWANCE_V = 2.0
"""The load voltage a contacted skin may show beyond ``I x R`` (H-03, issue 12 item 1): the
electrode polarisation E_pol (0.5-1.5 V, hardware.md 6) plus 0.5 V for a Cp still charged from
a faster current a moment ago (tau = Rp x Cp <= 10 ms) and the converters' offsets."""
COMPLIANCE_HELD_CONTACT_S = 2.0
"""A ramp held by the compliance warning for this long at a set-point that needs, at the
contact limit, far less voltage than the electrode shows, is contact lost (a backstop of the
open-load rule that does not rely on the current reading)."""


class Persistence:
    """True once a condition has held, sample after sample, for ``hold_s``.

    The hold counts from the first sample that saw the condition to the current one, so with
    10 ms samples "for 50 ms" means six samples in a row. Any sample without it starts over.
    """

    def __init__(self, hold_s: float) -> None:
        self.hold_s = hold_s
        self.since_s: float | None = None

    def update(self, condition: bool, time_s: float) -> bool:
        if not condition:
            self.since_s = None
            return False
        if self.since_s is None:
            self.since_s = time_s
        return time_s - self.since_s >= self.hold_s - _EPS

    def reset(self) -> None:
        self.since_s = None


class FrozenReadingMonitor:
    """SR-031: counts new shunt readings that are bit-identical to the one before.

    Only readings with a new sample time count (a failed read repeats the old reading with its
    old time; the stale rule judges that). Compared as the floats the shell calibrated from the
    raw codes: the calibration is a fixed linear map, so equal floats mean equal codes.
    """

    def __init__(self, count: int = FROZEN_READINGS_COUNT) -> None:
        if count < 2:
            raise ValueError(f"count must be >= 2, got {count}")
        self.count = count
        self._last_value: float | None = None
        self._last_time_s: float | None = None
        self._run = 0
        self._run_start_s = 0.0

    def update(self, flowing: bool, value: float, time_s: float) -> float | None:
        """The run's duration in seconds once ``count`` identical readings are seen, else None."""
        if self._last_time_s is not None and time_s <= self._last_time_s:
            return None  # not a new reading
        if not flowing or not math.isfinite(value):
            self.reset()
            return None
        if self._last_value is not None and value == self._last_value:
            self._run += 1
        else:
            self._run = 1
            self._run_start_s = time_s
        self._last_value = value
        self._last_time_s = time_s
        if self._run >= self.count:
            return time_s - self._run_start_s
        return None

    def reset(self) -> None:
        self._last_value = None
        self._last_time_s = None
        self._run = 0


@dataclass(frozen=True, slots=True)
class MonitorContext:
    """What was commanded while the reading was taken (the previous cycle's actuation)."""

    relay_closed: bool
    relay_changed_at_s: float | None  # cycle time of the last K1 change (None: never)
    dac_ma: float
    setpoint_ma: float  # the ramped set-point behind ``dac_ma``
    current_cap_ma: float  # the program's cap; the firmware maximum when none is loaded
    regulating: bool  # ramp_up / hold / ramp_down with the PI active
    boost_on_since_s: float | None
    ma_per_code: float


@dataclass(slots=True)
class MonitorReport:
    faults: list[Reason] = field(default_factory=list)
    compliance_warning: bool = False  # electrode voltage >= 24 V while regulating
    compliance_limited: bool = False  # at the rail and below the set-point (regulation lost)
    contact_doubt: bool = False  # a contact-loss condition is present (not yet for long enough)
    load_kohm: float | None = None


class SafetyMonitors:
    """All monitors with their persistence state; :meth:`check` once per reading."""

    def __init__(self, config: SafetyConfig) -> None:
        self.config = config
        self.over_current = Persistence(lim.OVER_CURRENT_HOLD_S)
        self.contact_low_current = Persistence(lim.CONTACT_LOSS_HOLD_S)
        self.contact_high_load = Persistence(lim.CONTACT_LOSS_HOLD_S)
        self.open_circuit = Persistence(lim.OPEN_CIRCUIT_HOLD_S)
        self.open_load = Persistence(lim.OPEN_CIRCUIT_HOLD_S)
        self.held_open = Persistence(COMPLIANCE_HELD_CONTACT_S)
        self.saturation = Persistence(lim.COMPLIANCE_SATURATION_HOLD_S)
        self.regulation = Persistence(lim.REGULATION_HOLD_S)
        self.off_state = Persistence(lim.SIGN_HOLD_S / 2)  # two samples in a row
        self.sign = Persistence(lim.SIGN_HOLD_S)
        self.short = Persistence(lim.SHORT_HOLD_S)
        self.frozen: FrozenReadingMonitor | None = None  # on: watch_frozen_readings()

    def watch_frozen_readings(self, count: int = FROZEN_READINGS_COUNT) -> None:
        """Switch on SR-031's rule. Only for readings from a real (noisy, quantised) converter:
        a noise-free plant model legitimately repeats a float exactly, an ADS1115 never does."""
        self.frozen = FrozenReadingMonitor(count)

    def reset_treatment(self) -> None:
        """Forget conditions tied to a current stage (a new ramp starts clean)."""
        for monitor in (self.contact_low_current, self.contact_high_load, self.open_circuit,
                        self.open_load, self.held_open, self.saturation, self.regulation,
                        self.short, self.sign):
            monitor.reset()

    def check(self, ctx: MonitorContext, m: Measurements, current_ma: float, now_s: float
              ) -> MonitorReport:
        """``current_ma`` is the reading with the expected sign made positive."""
        report = MonitorReport()
        t = m.sample_time_s
        age_s = now_s - t
        if age_s > lim.SENSOR_STALE_S + _EPS:
            report.faults.append(make(Code.SENSOR_STALE, age_s=age_s))
            return report  # a stale reading says nothing more
        range_fault = self._range(m)
        if range_fault is not None:
            report.faults.append(range_fault)
            return report

        self._frozen(ctx, m, t, report)
        self._sign(ctx, current_ma, t, report)
        self._readback(ctx, m, report)
        self._boost(ctx, m, now_s, report)
        self._over_current(ctx, current_ma, t, report)
        self._off_state(ctx, current_ma, t, now_s, report)
        if ctx.relay_closed and current_ma >= lim.OFF_STATE_CURRENT_MA:
            report.load_kohm = (m.electrode_v - current_ma * lim.SHUNT_KOHM) / current_ma
        if ctx.regulating and ctx.relay_closed:
            self._short(current_ma, m, t, report)
            self._compliance(ctx, current_ma, m, t, report)
            self._contact(ctx, current_ma, m, t, report)
            self._regulation(ctx, current_ma, t, report)
        else:
            for monitor in (self.contact_low_current, self.contact_high_load, self.open_circuit,
                            self.open_load, self.held_open, self.saturation, self.regulation,
                            self.short):
                monitor.reset()
        return report

    # --- the rules ----------------------------------------------------------------------------

    @staticmethod
    def _range(m: Measurements) -> Reason | None:
        checks: list[tuple[str, float | None, tuple[float, float]]] = [
            ("current_ma", m.current_ma, lim.CURRENT_READING_RANGE_MA),
            ("electrode_v", m.electrode_v, lim.ELECTRODE_READING_RANGE_V),
            ("boost_v", m.boost_v, lim.BOOST_READING_RANGE_V),
            ("setpoint_readback_ma", m.setpoint_readback_ma, (-0.1, lim.DAC_RANGE_MAX_MA + 0.2)),
        ]
        for signal, value, (low, high) in checks:
            if value is None:
                continue
            if not math.isfinite(value) or not low <= value <= high:
                return make(Code.SENSOR_RANGE, signal=signal, value=f"{value:.4g}")
        return None

    def _frozen(self, ctx: MonitorContext, m: Measurements, t: float,
                report: MonitorReport) -> None:
        if self.frozen is None:
            return
        flowing = ctx.relay_closed and ctx.regulating \
            and abs(m.current_ma) >= FROZEN_MIN_CURRENT_MA - _EPS
        frozen_s = self.frozen.update(flowing, m.current_ma, t)
        if frozen_s is not None:
            report.faults.append(make(Code.SENSOR_STALE, age_s=frozen_s))

    def _sign(self, ctx: MonitorContext, current_ma: float, t: float,
              report: MonitorReport) -> None:
        wrong_way = ctx.relay_closed and current_ma < -lim.SIGN_TOLERANCE_MA
        if self.sign.update(wrong_way, t):
            report.faults.append(make(Code.SENSOR_SIGN, measured_ma=current_ma))

    @staticmethod
    def _readback(ctx: MonitorContext, m: Measurements, report: MonitorReport) -> None:
        if m.setpoint_readback_ma is None:
            return
        tolerance = dac_readback_tolerance_ma(ctx.dac_ma, ctx.ma_per_code)
        if abs(m.setpoint_readback_ma - ctx.dac_ma) > tolerance:
            report.faults.append(make(Code.DAC_READBACK, readback_ma=m.setpoint_readback_ma,
                                      commanded_ma=ctx.dac_ma))

    @staticmethod
    def _boost(ctx: MonitorContext, m: Measurements, now_s: float, report: MonitorReport
               ) -> None:
        if m.boost_v is None or ctx.boost_on_since_s is None:
            return
        if m.sample_time_s < ctx.boost_on_since_s + lim.BOOST_SETTLE_S - _EPS:
            return
        low, high = boost_window_v()
        if not low <= m.boost_v <= high:
            report.faults.append(make(Code.BOOST_OUT_OF_RANGE, boost_v=m.boost_v, low_v=low,
                                      high_v=high))

    def _over_current(self, ctx: MonitorContext, current_ma: float, t: float,
                      report: MonitorReport) -> None:
        limit = over_current_limit_ma(ctx.current_cap_ma)
        if self.over_current.update(abs(current_ma) > limit + _EPS, t):
            report.faults.append(make(Code.OVER_CURRENT, measured_ma=abs(current_ma),
                                      limit_ma=limit))

    def _off_state(self, ctx: MonitorContext, current_ma: float, t: float, now_s: float,
                   report: MonitorReport) -> None:
        settled_open = not ctx.relay_closed and (
            ctx.relay_changed_at_s is None
            or now_s - ctx.relay_changed_at_s >= RELAY_OPEN_SETTLE_S - _EPS)
        flowing = abs(current_ma) >= lim.OFF_STATE_CURRENT_MA - _EPS
        if self.off_state.update(settled_open and flowing, t):
            report.faults.append(make(Code.UNINTENDED_OUTPUT, measured_ma=abs(current_ma)))

    def _short(self, current_ma: float, m: Measurements, t: float, report: MonitorReport
               ) -> None:
        load_v = m.electrode_v - current_ma * lim.SHUNT_KOHM
        shorted = current_ma > lim.SHORT_MIN_CURRENT_MA + _EPS and load_v < lim.SHORT_LOAD_V
        if self.short.update(shorted, t):
            report.faults.append(make(Code.SHORT_CIRCUIT, load_v=load_v, measured_ma=current_ma))

    def _compliance(self, ctx: MonitorContext, current_ma: float, m: Measurements, t: float,
                    report: MonitorReport) -> None:
        report.compliance_warning = m.electrode_v >= lim.COMPLIANCE_WARNING_V - _EPS
        shortfall = ctx.setpoint_ma - current_ma
        limited = (m.electrode_v >= lim.COMPLIANCE_SATURATION_V - _EPS
                   and shortfall > max(0.005, 0.02 * ctx.setpoint_ma))
        report.compliance_limited = limited
        if self.saturation.update(limited, t):
            report.faults.append(make(Code.COMPLIANCE_SATURATION, electrode_v=m.electrode_v))

    def _contact(self, ctx: MonitorContext, current_ma: float, m: Measurements, t: float,
                 report: MonitorReport) -> None:
        setpoint = ctx.setpoint_ma
        judged = setpoint >= lim.CONTACT_LOSS_MIN_SETPOINT_MA - _EPS
        low_current = judged and current_ma < lim.CONTACT_LOSS_RATIO * setpoint
        high_load = judged and report.load_kohm is not None \
            and report.load_kohm > self.config.contact_loss_kohm
        if judged and report.load_kohm is None:
            high_load = low_current  # no current at all: the load is unmeasurably high
        open_node = (setpoint > lim.OFF_STATE_CURRENT_MA
                     and m.electrode_v > lim.OPEN_CIRCUIT_VOUT_FRACTION * lim.COMPLIANCE_RAIL_V
                     and current_ma < lim.CONTACT_LOSS_RATIO * setpoint)
        # At every set-point, from the first cycle of the ramp (issue 12 item 1): a contacted
        # load needs at most I x R_loss (+ polarisation) across it. A lifted electrode leaves
        # the stage pushing the set-point into the 1 MOhm V_OUT divider: the node climbs to
        # I_set x ~1 MOhm (up to the rail) while the shunt sees ~0. The sag and high-load rules
        # above cannot see it below 0.05 mA, nor while the compliance warning holds the ramp.
        load_v = m.electrode_v - current_ma * lim.SHUNT_KOHM
        open_load = load_v > max(current_ma, 0.0) * self.config.contact_loss_kohm \
            + POLARISATION_ALLOWANCE_V
        held_open = report.compliance_warning and \
            load_v > max(setpoint, 0.0) * self.config.contact_loss_kohm + POLARISATION_ALLOWANCE_V
        report.contact_doubt = low_current or high_load or open_node or open_load or held_open
        tripped = [self.open_circuit.update(open_node, t),
                   self.open_load.update(open_load, t),
                   self.held_open.update(held_open, t),
                   self.contact_low_current.update(low_current, t),
                   self.contact_high_load.update(high_load, t)]
        if any(tripped):
            load = report.load_kohm
            report.faults.append(make(
                Code.CONTACT_LOST, measured_ma=current_ma, setpoint_ma=setpoint,
                load_kohm=round(load, 1) if load is not None else "open"))

    def _regulation(self, ctx: MonitorContext, current_ma: float, t: float,
                    report: MonitorReport) -> None:
        error = abs(current_ma - ctx.setpoint_ma)
        off = error > regulation_tolerance_ma(ctx.setpoint_ma) + _EPS \
            and not report.compliance_limited
        if self.regulation.update(off, t):
            report.faults.append(make(Code.REGULATION, measured_ma=current_ma,
                                      setpoint_ma=ctx.setpoint_ma))
