"""The self-test's steps: one small monitor per step, each with one job.

Modelled on Klipper's ``extras/verify_heater.py``: a check owns its thresholds, judges what it
measured, and says in one stable code what is wrong. Here each step is a generator the control
cycle drives: it acts on the board, yields how long to wait (seconds; the runner resumes it on a
later cycle, so no cycle blocks), measures, and returns an :class:`Outcome`. Nothing here sleeps.

Currents into the load never exceed the contact check's test current (``TEST_CURRENT_MA``,
0.05 mA): the same current a treatment's contact check drives into skin, so even a step run with
a client connected instead of the reference load does nothing a treatment start would not do.
Relays switch dry: K1 closes only onto a drained node, K2 moves only with K1 open and settled.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Callable, Generator
from dataclasses import dataclass
from typing import ClassVar

from kiosk.control import domain_limits as lim
from kiosk.control.core import boot_check_failures
from kiosk.control.limits import boost_window_v, dac_readback_tolerance_ma
from kiosk.control.selftest.admission import READ_ONLY_STEPS, STEP_NAMES
from kiosk.control.selftest.io import StepIO, lsb_v
from kiosk.control.selftest.report import DetailValue, Prompt
from kiosk.hal.adc import AdcChannel

TEST_MA = lim.TEST_CURRENT_MA
OFF_MA = lim.OFF_STATE_CURRENT_MA
SETTLE_S = lim.RELAY_SETTLE_S + 0.010  # relay allowance plus one cycle
MEASURE_S = 0.030  # after a set-point change, before reading (node and filter settled)
DRAINED_V = 1.0  # K1 closes only onto a node below this (a dry switch)
DRAIN_TIMEOUT_S = 0.200
OPEN_NODE_MIN_V = 14.0  # K1 released with the test current on: the node rises towards 28 V
NODE_DEAD_V = 0.05  # the test current into any load lifts the node far above this

# The reference load (docs/hardware-proposals.md): 10 kOhm + diode, bridged by 47 kOhm.
# At the test current it reads about 18 kOhm in normal polarity and 47 kOhm reversed.
REFERENCE_FORWARD_KOHM = (14.0, 23.0)
REFERENCE_REVERSED_KOHM = (40.0, 55.0)

LINEARITY_POINTS_MA = (0.25, 0.5, 1.0, 1.5, 2.0)
NOISE_SAMPLES = 32
NOISE_MAX_LSB = 4.0  # hardware.md 4: about 1 LSB RMS at 860 SPS; 4x is a broken input
NOISE_MIN_LSB = 0.1  # a live converter is never this quiet: a stuck result shows no noise
LIVE_FRACTION = 0.5  # a channel must read at least half of what the test signal gives it

MONOSTABLE_EARLIEST = 0.4  # x the board's monostable period: earlier is a wrong part
MONOSTABLE_LATEST = 2.0  # x the period, plus the relay release and one cycle
MONOSTABLE_WATCH_S = 0.400
RAIL_FALLEN_FRACTION = 0.9  # BOOST_EN cut: the rail falls through its bleeder (tau ~0.9 s)

TRIP_LATCH_TIMEOUT_S = 0.050  # the comparator needs > 1 ms
TRIP_HOLD_S = 0.020
TRIP_POLL_IN_CYCLE_S = 0.004  # watched within the injecting cycle: a sub-cycle figure

ESTOP_WAIT_S = 60.0


@dataclass(frozen=True, slots=True)
class Outcome:
    passed: bool
    figure: float | None = None
    unit: str = ""
    cause: str = ""
    details: tuple[tuple[str, DetailValue], ...] = ()


Wait = Generator[float, None, Outcome]


class Step:
    """One check. ``needs_output``: it energises something (never while a fault is latched,
    never after the chips failed to answer). ``timeout_s``: the runner fails it after this."""

    name: ClassVar[str]
    needs_output: ClassVar[bool] = True
    timeout_s: ClassVar[float] = 3.0
    prompt: Prompt | None = None

    def __init__(self, io: StepIO) -> None:
        self.io = io

    def run(self) -> Wait:
        raise NotImplementedError


def _fail(cause: str, figure: float | None = None, unit: str = "",
          **details: DetailValue) -> Outcome:
    return Outcome(False, figure, unit, cause, tuple(details.items()))


def _pass(figure: float | None, unit: str, **details: DetailValue) -> Outcome:
    return Outcome(True, figure, unit, "", tuple(details.items()))


def _load_kohm(volts: float, current_ma: float) -> float:
    if current_ma < OFF_MA:
        return math.inf
    return (volts - current_ma * lim.SHUNT_KOHM) / current_ma


def _within(value: float, window: tuple[float, float]) -> bool:
    return window[0] <= value <= window[1]


def _no_current_cause(node_v: float) -> str:
    """The test current does not show on the shunt: an open node means no path (K1 open,
    see the relay step); a node held low by the load means the shunt channel reads wrong."""
    return "no_test_current" if node_v >= OPEN_NODE_MIN_V else "current_not_measured"


def _drain(io: StepIO) -> Generator[float, None, bool]:
    """DAC zero, then wait until the node has bled below ``DRAINED_V``."""
    io.dac_ma(0.0)
    waited_s = 0.0
    while io.electrode_v() >= DRAINED_V:
        if waited_s >= DRAIN_TIMEOUT_S:
            return False
        yield 0.010
        waited_s += 0.010
    return True


# ---------------------------------------------------------------------------- read-only steps

class ChipsStep(Step):
    """Both chips answer (the boot self-test's own readings and judgement, hardware.md 8)."""

    name = "chips"
    needs_output = False

    def run(self) -> Wait:
        failures = boot_check_failures(self.io.boot_readings())
        missing = [f for f in failures if f in ("dac_not_answering", "adc_not_answering")]
        answering = 2 - len(missing)
        if missing:
            return _fail(missing[0], answering, "chips")
        yield from ()
        return _pass(answering, "chips")


class DacEepromStep(Step):
    """The DAC's power-up EEPROM holds PD = 01 / code 0 (hardware.md 3)."""

    name = "dac_eeprom"
    needs_output = False

    def run(self) -> Wait:
        readings = self.io.boot_readings()
        failures = boot_check_failures(readings)
        pd, code = readings.dac_eeprom_power_down, readings.dac_eeprom_code
        if pd is None or code is None:
            return _fail("dac_not_answering")
        yield from ()
        if "dac_eeprom_not_safe" in failures:
            return _fail("eeprom_not_safe", float(code), "code", power_down=pd)
        return _pass(float(code), "code", power_down=pd)


class EstopStep(Step):
    """The E-stop loop is intact, a press is seen (the technician presses it), and it closes
    again on release. The press trips the shutdown path as always; that expected trip is the
    step's evidence and latches no fault (a press in any other step does)."""

    name = "estop"
    needs_output = False
    timeout_s = 2 * ESTOP_WAIT_S + 1.0

    def run(self) -> Wait:
        io = self.io
        if not io.estop_intact:
            return _fail("estop_loop_open")
        io.expected_trip = "estop"
        self.prompt = Prompt.PRESS_ESTOP
        asked_s = io.now_s
        while io.estop_intact and io.saw_trip("estop") is None:
            if io.now_s - asked_s >= ESTOP_WAIT_S:
                return _fail("no_press_seen", ESTOP_WAIT_S, "s")
            yield 0.010
        pressed_after_s = io.now_s - asked_s
        tripped = io.saw_trip("estop") is not None
        self.prompt = Prompt.RELEASE_ESTOP
        released_s = io.now_s
        while not io.estop_intact:
            if io.now_s - released_s >= ESTOP_WAIT_S:
                return _fail("estop_not_released", pressed_after_s, "s")
            yield 0.010
        yield 0.020  # the edge's trip reaches the runner within a cycle
        tripped = tripped or io.saw_trip("estop") is not None
        self.prompt = None
        if not tripped:
            return _fail("press_not_signalled", pressed_after_s, "s")
        return _pass(round(pressed_after_s, 2), "s")


# ---------------------------------------------------------------------------- output steps

class BoostStep(Step):
    """The 30 V rail settles within 5 % (hardware.md 8 step 2); K1 stays open."""

    name = "boost"

    def run(self) -> Wait:
        io = self.io
        io.boost(True)
        yield lim.BOOST_SETTLE_S + 0.010
        volts = io.boost_v(4)
        low, high = boost_window_v()
        io.boost(False)
        if not low <= volts <= high:
            return _fail("boost_out_of_range", round(volts, 2), "V", low_v=low, high_v=high)
        return _pass(round(volts, 2), "V", low_v=low, high_v=high)


class DacLinearityStep(Step):
    """AIN3 reads the DAC's set-point back at several points within the loop's readback
    tolerance. K1 open and the boost off: the stage has no supply, nothing leaves the board."""

    name = "dac_linearity"

    def run(self) -> Wait:
        io = self.io
        ma_per_code = io.board.dac.cal.ua_per_lsb / 1000.0
        worst_ua, worst_at = 0.0, 0.0
        failed_at: float | None = None
        for point_ma in LINEARITY_POINTS_MA:
            io.dac_ma(point_ma)
            yield 0.010
            error_ma = io.readback_ma(4) - point_ma
            if abs(error_ma) * 1000.0 > abs(worst_ua):
                worst_ua, worst_at = error_ma * 1000.0, point_ma
            if abs(error_ma) > dac_readback_tolerance_ma(point_ma, ma_per_code) \
                    and failed_at is None:
                failed_at = point_ma
        io.dac_ma(0.0)
        if failed_at is not None:
            return _fail("readback_off", round(worst_ua, 1), "uA", at_ma=worst_at,
                         first_bad_ma=failed_at)
        return _pass(round(worst_ua, 1), "uA", at_ma=worst_at)


class RelaysStep(Step):
    """K1 and K2 switch, shown by the test current into the reference load: K1 released
    passes nothing; K1 energised passes it into ~18 kOhm (the fixture's diode conducts);
    K2 energised makes it ~47 kOhm (the diode blocks). A stuck relay in either position fails
    here and says which."""

    name = "relays"

    def run(self) -> Wait:
        io = self.io
        io.k1(False)
        io.k2(False)
        io.boost(True)
        yield lim.BOOST_SETTLE_S + 0.010
        # 1. K1 released: the test current must find no way out.
        io.dac_ma(TEST_MA)
        yield MEASURE_S
        leak_ma, open_v = io.current_ma(), io.electrode_v()
        if leak_ma >= OFF_MA:
            return _fail("k1_stays_closed", round(leak_ma * 1000, 1), "uA")
        if not (yield from _drain(io)):
            return _fail("node_did_not_bleed", round(io.electrode_v(), 2), "V")
        # 2. K1 energised, K2 normal: the fixture forward.
        io.k1(True)
        yield SETTLE_S
        io.dac_ma(TEST_MA)
        yield MEASURE_S
        forward_ma, forward_v = io.current_ma(), io.electrode_v()
        forward = _load_kohm(forward_v, forward_ma)
        io.dac_ma(0.0)
        if forward_ma < OFF_MA:
            # Open node (towards 28 V): nothing took the current, K1 stayed open. A node held
            # low by the load while the shunt reads nothing: the measurement is at fault.
            cause = "k1_does_not_close" if forward_v >= OPEN_NODE_MIN_V \
                else "current_not_measured"
            return _fail(cause, round(forward_ma * 1000, 1), "uA", node_v=round(forward_v, 2))
        if forward_v < NODE_DEAD_V:
            return _fail("voltage_not_measured", round(forward_v, 3), "V")
        if _within(forward, REFERENCE_REVERSED_KOHM):
            return _fail("k2_stays_reversed", round(forward, 1), "kOhm")
        if not _within(forward, REFERENCE_FORWARD_KOHM):
            return _fail("reference_load_missing", round(forward, 1), "kOhm")
        # 3. K2 energised (K1 released and settled first): the fixture reversed.
        yield SETTLE_S
        io.k1(False)
        yield SETTLE_S
        io.k2(True)
        yield SETTLE_S
        if not (yield from _drain(io)):
            return _fail("node_did_not_bleed", round(io.electrode_v(), 2), "V")
        io.k1(True)
        yield SETTLE_S
        io.dac_ma(TEST_MA)
        yield MEASURE_S
        reverse_ma, reverse_v = io.current_ma(), io.electrode_v()
        reverse = _load_kohm(reverse_v, reverse_ma)
        io.dac_ma(0.0)
        yield SETTLE_S
        io.k1(False)
        yield SETTLE_S
        io.k2(False)
        details: dict[str, DetailValue] = {
            "forward_kohm": round(forward, 2), "reversed_kohm": round(reverse, 2),
            "k1_open_leak_ua": round(leak_ma * 1000, 2), "k1_open_node_v": round(open_v, 2)}
        if _within(reverse, REFERENCE_FORWARD_KOHM):
            return _fail("k2_does_not_switch", round(reverse, 1), "kOhm", **details)
        if not _within(reverse, REFERENCE_REVERSED_KOHM):
            return _fail("reference_load_missing", round(reverse, 1), "kOhm", **details)
        return _pass(round(forward, 1), "kOhm", **details)


class MonostableStep(Step):
    """The heartbeat monostable drops K1 (and BOOST_EN) when the toggles stop. Evidence: the
    test current through K1 stops, or, if K1's contacts do not open (a welded K1, which the
    relay step reports), the boost rail falls because BOOST_EN was cut."""

    name = "monostable"

    def __init__(self, io: StepIO, period_s: float) -> None:
        super().__init__(io)
        self.period_s = period_s

    def run(self) -> Wait:
        io = self.io
        io.boost(True)
        yield lim.BOOST_SETTLE_S + 0.010
        io.k1(True)
        yield SETTLE_S
        io.dac_ma(TEST_MA)
        yield MEASURE_S
        if io.current_ma() < OFF_MA:
            node_v = io.electrode_v()
            io.dac_ma(0.0)
            return _fail(_no_current_cause(node_v), None, "", node_v=round(node_v, 2))
        rail_before_v = io.boost_v()
        io.heartbeat_allowed = False  # from this cycle on nobody toggles GPIO5
        stopped_s = io.now_s
        dropped_after_s: float | None = None
        while io.now_s - stopped_s < MONOSTABLE_WATCH_S:
            yield 0.010
            if io.current_ma(1) < OFF_MA:
                dropped_after_s = io.now_s - stopped_s
                break
        rail_after_v = io.boost_v()
        io.dac_ma(0.0)
        io.k1(False)
        io.heartbeat_allowed = True
        earliest = MONOSTABLE_EARLIEST * self.period_s
        latest = MONOSTABLE_LATEST * self.period_s + 0.015
        rail_fell = rail_after_v < RAIL_FALLEN_FRACTION * rail_before_v
        details: dict[str, DetailValue] = {"rail_before_v": round(rail_before_v, 2),
                                           "rail_after_v": round(rail_after_v, 2),
                                           "period_ms": round(self.period_s * 1000)}
        if dropped_after_s is None:
            if rail_fell:
                return _pass(None, "ms", k1_contacts_opened=False, **details)
            return _fail("k1_not_dropped", round(MONOSTABLE_WATCH_S * 1000), "ms", **details)
        figure = round(dropped_after_s * 1000, 1)
        if dropped_after_s < earliest:
            return _fail("dropped_too_early", figure, "ms", **details)
        if dropped_after_s > latest:
            return _fail("dropped_too_late", figure, "ms", **details)
        return _pass(figure, "ms", **details)


class HwTripStep(Step):
    """The hardware trip latches when its comparator sees an over-current and resets with the
    reset pulse. The over-current is injected at the comparator's input by the PROPOSED
    trip-test line (docs/hardware-proposals.md): no current flows anywhere (the analog clamp
    keeps the DAC from ever reaching the 2.7 mA trip level). K1 stays open throughout."""

    name = "hw_trip"

    def run(self) -> Wait:
        io = self.io
        if io.hw_tripped:
            return _fail("latched_before_test")
        io.expected_trip = "hw_trip"
        if not io.trip_test(True):
            return _fail("no_trip_test_input")
        injected_s = io.now_s
        io.poll(lambda: io.hw_tripped, TRIP_POLL_IN_CYCLE_S)
        while not io.hw_tripped:
            if io.now_s - injected_s >= TRIP_LATCH_TIMEOUT_S:
                io.trip_test(False)
                return _fail("trip_did_not_latch", round(TRIP_LATCH_TIMEOUT_S * 1000), "ms")
            yield 0.002
        latched_ms = round((io.now_s - injected_s) * 1000, 1)
        io.trip_test(False)
        yield TRIP_HOLD_S
        if not io.hw_tripped:
            return _fail("latch_did_not_hold", latched_ms, "ms")
        if not io.reset_trip():
            return _fail("latch_did_not_reset", latched_ms, "ms")
        yield 0.010  # the latch's edge reaches the runner before the step ends
        return _pass(latched_ms, "ms")


class AdcNoiseStep(Step):
    """Every ADC channel is live and its noise within bounds: with the test current in the
    load, the boost on and the DAC at the test set-point, each input carries a known signal;
    32 single-shot readings per channel, one per cycle. A dead input reads ~0 (fails
    liveness); a stuck converter shows no noise; a broken one shows too much."""

    name = "adc_noise"

    def run(self) -> Wait:
        io = self.io
        io.boost(True)
        yield lim.BOOST_SETTLE_S + 0.010
        io.k1(True)
        yield SETTLE_S
        io.dac_ma(TEST_MA)
        yield MEASURE_S
        samples: dict[AdcChannel, list[float]] = {c: [] for c in AdcChannel}
        for _ in range(NOISE_SAMPLES):
            for channel in AdcChannel:
                samples[channel].append(io.pin_v(channel))
            yield 0.0
        io.dac_ma(0.0)
        yield SETTLE_S
        io.k1(False)
        io.boost(False)
        expected = _expected_pin_v(io)
        worst_lsb = 0.0
        details: dict[str, DetailValue] = {}
        dead: list[int] = []
        quiet: list[int] = []
        noisy: list[int] = []
        for channel, values in samples.items():
            mean_v = statistics.fmean(values)
            sigma_lsb = statistics.pstdev(values) / lsb_v(channel)
            worst_lsb = max(worst_lsb, sigma_lsb)
            details[f"ain{channel.pin}_mean_v"] = round(mean_v, 5)
            details[f"ain{channel.pin}_sigma_lsb"] = round(sigma_lsb, 2)
            if mean_v < LIVE_FRACTION * expected[channel]:
                dead.append(channel.pin)
            elif sigma_lsb < NOISE_MIN_LSB:
                quiet.append(channel.pin)
            elif sigma_lsb > NOISE_MAX_LSB:
                noisy.append(channel.pin)
        figure = round(worst_lsb, 2)
        node_v = statistics.fmean(samples[AdcChannel.V_OUT]) / ratio_v_out(io)
        if 0 in dead and node_v >= OPEN_NODE_MIN_V:  # no current path: AIN0 untestable
            return _fail("no_test_current", figure, "LSB", node_v=round(node_v, 2), **details)
        if dead:
            return _fail("channel_dead", figure, "LSB", channel=dead[0], **details)
        if quiet:
            return _fail("channel_stuck", figure, "LSB", channel=quiet[0], **details)
        if noisy:
            return _fail("channel_noisy", figure, "LSB", channel=noisy[0], **details)
        return _pass(figure, "LSB", **details)


def ratio_v_out(io: StepIO) -> float:
    f = io.board.config.frontend
    return f.vout_divider_bottom_kohm / (f.vout_divider_top_kohm + f.vout_divider_bottom_kohm)


def _expected_pin_v(io: StepIO) -> dict[AdcChannel, float]:
    """The smallest signal each pin should carry in the noise step (design values): the test
    current on the shunt and on VSET (x 100 Ohm), the node above a load of at least 5 kOhm
    (the smallest skin; the fixture reads ~18 kOhm), the 30 V rail through its divider."""
    f = io.board.config.frontend
    ratio = ratio_v_out(io)
    shunt_v = TEST_MA * 1e-3 * f.rshunt_ohm
    return {AdcChannel.I_SHUNT: shunt_v,
            AdcChannel.V_OUT: TEST_MA * 5.0 * ratio,
            AdcChannel.V_BOOST: lim.BOOST_NOMINAL_V * ratio,
            AdcChannel.VSET: TEST_MA * 1e-3 * f.rset_ohm}


# ---------------------------------------------------------------------------- the list

StepFactory = Callable[[StepIO], Step]


__all__ = ["READ_ONLY_STEPS", "STEP_NAMES", "Outcome", "Step", "make_step"]


def make_step(name: str, io: StepIO) -> Step:
    period_s = io.board.config.timing.heartbeat_timeout_ms / 1000.0
    factories: dict[str, StepFactory] = {
        "chips": ChipsStep, "dac_eeprom": DacEepromStep, "estop": EstopStep,
        "boost": BoostStep, "dac_linearity": DacLinearityStep, "relays": RelaysStep,
        "monostable": lambda step_io: MonostableStep(step_io, period_s),
        "hw_trip": HwTripStep, "adc_noise": AdcNoiseStep}
    return factories[name](io)
