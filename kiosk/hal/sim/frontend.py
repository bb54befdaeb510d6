"""Analog front end of the output stage, evaluated lazily and exactly (hardware.md 1, 5, 6, 8).

What is modelled, from the DAC pin to the ADC pins:

- VSET = VDAC x 10k/130k, hard-clamped at 0.25 V (the analog clamp: 2.5 mA whatever the DAC
  says); the V-to-I stage then sources I = VSET / 100 Ohm into the output node. Its ~20 us
  response is treated as instant (the loop samples at 100 Hz).
- The 30 V boost rail behind BOOST_EN: rises with a soft-start time constant, falls through its
  100 kOhm bleeder (and the AIN2 divider) when disabled. The stage cannot lift the node above
  rail minus its headroom (28 V usable at 30 V): above that it saturates and the current becomes
  whatever the load accepts, I = (Vmax - V_cp - E_pol) / (Rs + RSHUNT) (hardware.md 6).
- The output node: 10 nF to ground and the 1 M / 33.2 k divider (AIN1), optionally loaded by the
  ADS1115's 3 MOhm input; with the load open the source charges this node to compliance in
  about 0.1 ms.
- K1 (DPDT): energised, its NO contacts connect the node and the return; released, its NC
  contacts put 10 kOhm across the electrodes (skin discharge, no shunt in that loop). K2 swaps
  the electrodes. Both follow their coils after an operate / release delay.
- The load (``skin.Skin``) in series with RSHUNT 100 Ohm to ground; AIN0 reads the shunt through
  a 1 k / 100 nF filter (tau 0.1 ms).
- Three hardware paths that need no software: the E-stop's second pole and the HW-trip latch
  cut K1's coil; the heartbeat monostable (~100 ms, retriggered by every GPIO5 edge) cuts K1's
  coil and BOOST_EN when toggles stop; the trip latch also cuts BOOST_EN. The trip comparator
  sets the latch when the shunt carries > 2.7 mA for > 1 ms; a >= 5 ms pulse on the reset line
  clears it at its falling edge, only with the DAC at zero, the E-stop loop intact and no
  over-current. The PROPOSED trip-test line (docs/hardware-proposals.md) adds an offset at the
  comparator's input worth more than the threshold while it is high: the comparator sees an
  over-current although no current flows anywhere, and the latch sets after the same 1 ms.

Sign convention (the one the real board shows): the shunt sits in the return BELOW K2 and the
V_OUT divider ABOVE it, so both measure in the SOURCE frame: positive shunt voltage is current
the stage drives out through the load, whatever the polarity. Polarity only changes which
electrode is the anode. A reversed sign therefore appears only when the load drives current
itself (stored Cp charge or E_pol after a polarity change, stage off): then the node goes
negative (AIN1 reads a small negative code) and the shunt carries the back-current
(microamps through the 1 MOhm divider). ``true_current_a`` uses the same frame: positive is
conventional current through the skin in the direction the active polarity drives.

Everything happens in ``advance_to``: from the last update to the requested time the network is
piecewise linear, solved in closed form (``lti``) per sub-step; sub-steps end at every discrete
event (relay contacts moving, monostable expiry, trip deadline), at compliance entry/exit and at
trip-comparator crossings, and are at most 10 ms long so the slow skin drift stays accurate.
Nothing runs on a thread of its own.
"""

from __future__ import annotations

import bisect
import math
from dataclasses import dataclass
from functools import cached_property
from typing import Literal, NamedTuple

from kiosk.hal.sim.lti import AffineOutput, LinearSolution, Trajectory, first_order
from kiosk.hal.sim.skin import Skin

Relay = Literal["k1", "k2"]
DriveSignal = Literal["k1", "k2", "boost_en", "heartbeat", "trip_reset", "trip_test"]
InputSignal = Literal["hw_trip_n", "estop_loop"]

_MAX_SUBSTEP_S = 0.010
_MODE_TOLERANCE_V = 1e-9
_CURRENT_TOLERANCE_A = 1e-12


def _parallel(*resistances_ohm: float | None) -> float:
    conductance = sum(1.0 / r for r in resistances_ohm if r is not None)
    return math.inf if conductance == 0.0 else 1.0 / conductance


@dataclass(frozen=True)
class FrontEndParams:
    """Component values (hardware.md 5 design values; timing values are estimates)."""

    vset_divider_top_ohm: float = 120e3
    vset_divider_bottom_ohm: float = 10e3
    vset_clamp_v: float = 0.25
    rset_ohm: float = 100.0
    rshunt_ohm: float = 100.0
    shunt_filter_ohm: float = 1e3
    shunt_filter_nf: float = 100.0
    vout_divider_top_ohm: float = 1e6
    vout_divider_bottom_ohm: float = 33.2e3
    adc_input_impedance_ohm: float | None = 3e6  # ADS1115 at +-1.024 V; None = ideal ADC
    adc_vdd_v: float = 3.3
    node_capacitance_nf: float = 10.0
    boost_v: float = 30.0
    boost_rise_tau_s: float = 0.005  # soft start: 30 V +- 5 % well within the 50 ms check
    boost_capacitance_uf: float = 10.0
    boost_bleeder_ohm: float = 100e3
    stage_headroom_v: float = 2.0  # stage + Rset drop: 28 V usable at the node from 30 V
    output_bleeder_ohm: float = 10e3
    relay_operate_s: float = 0.004
    relay_release_s: float = 0.005  # flyback diode lengthens release; 10 ms design allowance
    trip_threshold_a: float = 2.7e-3
    trip_delay_s: float = 0.001
    trip_reset_min_pulse_s: float = 0.005  # the HAL sends 10 ms
    heartbeat_timeout_s: float = 0.100
    dac_zero_threshold_v: float = 0.001  # trip reset accepts "DAC = 0" below this

    @cached_property
    def vset_ratio(self) -> float:
        return self.vset_divider_bottom_ohm / (self.vset_divider_top_ohm
                                               + self.vset_divider_bottom_ohm)

    @cached_property
    def divider_bottom_effective_ohm(self) -> float:
        return _parallel(self.vout_divider_bottom_ohm, self.adc_input_impedance_ohm)

    @cached_property
    def vout_ratio(self) -> float:
        """What AIN1/AIN2 really see per volt (ADC loading included when modelled)."""
        bottom = self.divider_bottom_effective_ohm
        return bottom / (self.vout_divider_top_ohm + bottom)

    @cached_property
    def node_to_ground_ohm(self) -> float:
        return self.vout_divider_top_ohm + self.divider_bottom_effective_ohm

    @cached_property
    def shunt_filter_tau_s(self) -> float:
        return self.shunt_filter_ohm * self.shunt_filter_nf * 1e-9

    @cached_property
    def boost_fall_tau_s(self) -> float:
        bleed = _parallel(self.boost_bleeder_ohm, self.node_to_ground_ohm)
        return bleed * self.boost_capacitance_uf * 1e-6


class RelayEvent(NamedTuple):
    time_s: float
    relay: Relay
    part: Literal["coil", "contacts"]
    state: bool  # coil energised / contacts in the energised position


class InputChange(NamedTuple):
    time_s: float
    signal: InputSignal
    level: bool  # electrical level of the GPIO input (True = high)


@dataclass
class _Rail:
    """First-order boost rail: value(t) = target + (v0 - target) exp(-(t - t0) / tau)."""

    v0: float = 0.0
    t0_s: float = 0.0
    target_v: float = 0.0
    tau_s: float = 1.0

    def value(self, t_s: float) -> float:
        return self.target_v + (self.v0 - self.target_v) * math.exp(
            -max(t_s - self.t0_s, 0.0) / self.tau_s)

    def retarget(self, t_s: float, target_v: float, tau_s: float) -> None:
        self.v0 = self.value(t_s)
        self.t0_s, self.target_v, self.tau_s = t_s, target_v, tau_s

    def settled(self, t_s: float) -> bool:
        return abs(self.value(t_s) - self.target_v) < 1e-3


@dataclass(frozen=True)
class _Circuit:
    """The network in force for one sub-step (source frame) and its measurable outputs."""

    sign: float  # +1 normal polarity, -1 reversed (K2 contacts)
    e_pol_v: float  # source frame
    rp_ohm: float
    cp_f: float
    i_cmd_a: float  # math.inf when the stage has failed short (runaway)
    vmax_v: float
    skin_current: AffineOutput  # function of (u_node, vc) in source frame
    shunt_current: AffineOutput

    def needed_at_vmax(self, g_node: float, vc: float) -> float:
        """Current the stage must source to hold the node at Vmax."""
        return g_node * self.vmax_v + self.shunt_current.value(self.vmax_v, vc)


class _Step(NamedTuple):
    u: Trajectory
    vc: Trajectory
    skin_current: Trajectory
    shunt_current: Trajectory
    needed: Trajectory | None  # saturated mode: current needed to hold Vmax


class FrontEnd:
    """The board's analog world between the DAC pin, the GPIO lines, the skin and the ADC pins."""

    def __init__(self, params: FrontEndParams | None = None, skin: Skin | None = None, *,
                 start_s: float = 0.0, dac_output_v: float = 0.0) -> None:
        self.params = params or FrontEndParams()
        self.skin = skin or Skin()
        self._t = start_s
        # continuous states
        self._u = 0.0  # output node voltage
        self._vf = 0.0  # shunt filter capacitor (AIN0)
        self._rail = _Rail(t0_s=start_s, tau_s=self.params.boost_rise_tau_s)
        self._saturated = False
        self._over_since_s: float | None = None
        self._charge_c = 0.0  # source frame, through the skin
        # inputs
        self._dac_v = dac_output_v
        self._drive: dict[DriveSignal, bool] = {
            "k1": False, "k2": False, "boost_en": False, "heartbeat": False,
            "trip_reset": False, "trip_test": False}
        self._heartbeat_edge_s: float | None = None
        self._trip_reset_rise_s: float | None = None
        self._estop_pressed = False
        self._runaway = False
        # latched / delayed outputs
        self._tripped = False
        # hardware faults the service self-test must catch (kiosk.hal.sim.faults)
        self._stuck_contacts: dict[Relay, bool] = {}  # relay_stuck: welded / open contacts
        self._trip_fails = False  # trip_fails: the comparator never latches
        self._monostable_stuck = False  # monostable_stuck: holds K1 without heartbeat edges
        self._coil: dict[Relay, bool] = {"k1": False, "k2": False}
        self._contacts: dict[Relay, bool] = {"k1": False, "k2": False}
        self._pending: dict[Relay, float] = {}
        self._boost_effective = False
        # records
        self.relay_events: list[RelayEvent] = []
        self._dac_zero_times: list[float] = [start_s]
        self._dac_zero_states: list[bool] = [dac_output_v <= self.params.dac_zero_threshold_v]
        self._input_changes: list[InputChange] = []
        self._circuit_cache: tuple[float, _Circuit] | None = None

    # ------------------------------------------------------------------ inputs
    def set_dac_output_v(self, t_s: float, volts: float) -> None:
        self.advance_to(t_s)
        self._dac_v = volts
        is_zero = volts <= self.params.dac_zero_threshold_v
        if is_zero != self._dac_zero_states[-1]:
            self._dac_zero_times.append(self._t)
            self._dac_zero_states.append(is_zero)
        self._settle()

    def set_drive(self, t_s: float, signal: DriveSignal, level: bool) -> None:
        """A board output driven by a GPIO (after its pull-down when the pin floats)."""
        self.advance_to(t_s)
        if self._drive[signal] == level:
            return
        self._drive[signal] = level
        if signal == "heartbeat":
            self._heartbeat_edge_s = self._t
        elif signal == "trip_reset":
            self._on_trip_reset_edge(level)
        self._settle()

    def set_estop_pressed(self, t_s: float, pressed: bool) -> None:
        self.advance_to(t_s)
        if pressed != self._estop_pressed:
            self._estop_pressed = pressed
            self._input_changes.append(InputChange(self._t, "estop_loop", pressed))
        self._settle()

    def set_stage_runaway(self, t_s: float, failed: bool) -> None:
        """Fault: the V-to-I stage fails short; only the load, the rail and the trip limit it."""
        self.advance_to(t_s)
        self._runaway = failed
        self._settle()

    def set_relay_stuck(self, t_s: float, relay: Relay, closed: bool | None) -> None:
        """Fault: ``relay``'s contacts stay ``closed`` (welded) or open whatever the coil does;
        None repairs it (the contacts follow the coil again)."""
        self.advance_to(t_s)
        if closed is None:
            self._stuck_contacts.pop(relay, None)
            target = self._coil[relay]
        else:
            self._stuck_contacts[relay] = closed
            target = closed
        self._pending.pop(relay, None)
        if self._contacts[relay] != target:
            self._contacts[relay] = target
            self.relay_events.append(RelayEvent(self._t, relay, "contacts", target))
        self._settle()

    def set_trip_fails(self, t_s: float, fails: bool) -> None:
        """Fault: the over-current comparator never latches (the hardware trip is gone)."""
        self.advance_to(t_s)
        self._trip_fails = fails
        self._settle()

    def set_monostable_stuck(self, t_s: float, stuck: bool) -> None:
        """Fault: the heartbeat monostable's output stays high without heartbeat edges."""
        self.advance_to(t_s)
        self._monostable_stuck = stuck
        self._settle()

    def skin_changed(self, t_s: float) -> None:
        """Call after changing the skin's contact conditions at ``t_s`` (advance first!)."""
        self._settle()

    # ------------------------------------------------------------------ outputs
    @property
    def time_s(self) -> float:
        return self._t

    def analog_inputs(self, t_s: float) -> tuple[float, float, float, float]:
        """Voltages at AIN0..AIN3 at ``t_s`` (or now, if the model already moved past it)."""
        self.advance_to(t_s)
        p = self.params
        return (self._vf, self._u * p.vout_ratio, self._rail.value(self._t) * p.vout_ratio,
                self.vset_v)

    @property
    def vset_v(self) -> float:
        return min(max(self._dac_v, 0.0) * self.params.vset_ratio, self.params.vset_clamp_v)

    @property
    def commanded_current_a(self) -> float:
        return self.vset_v / self.params.rset_ohm

    @property
    def node_v(self) -> float:
        return self._u

    @property
    def rail_v(self) -> float:
        return self._rail.value(self._t)

    @property
    def saturated(self) -> bool:
        return self._saturated

    def skin_current_a(self) -> float:
        """Current through the skin, source frame (+ = the direction the polarity drives)."""
        circuit = self._circuit()
        return circuit.skin_current.value(self._u, circuit.sign * self.skin.vcp_ab_v)

    def shunt_current_a(self) -> float:
        circuit = self._circuit()
        return circuit.shunt_current.value(self._u, circuit.sign * self.skin.vcp_ab_v)

    def load_voltage_v(self) -> float:
        """Electrode voltage (source frame): node minus shunt drop while K1 is closed; with K1
        released, the voltage the skin keeps across the 10 k bleeder."""
        circuit = self._circuit()
        vc = circuit.sign * self.skin.vcp_ab_v
        i_skin = circuit.skin_current.value(self._u, vc)
        return i_skin * self.skin.rs_ohm() + vc + circuit.e_pol_v

    def charge_c(self) -> float:
        """Charge delivered through the skin so far (source frame, coulomb)."""
        return self._charge_c

    def contacts(self, relay: Relay) -> bool:
        return self._contacts[relay]

    def coil(self, relay: Relay) -> bool:
        return self._coil[relay]

    @property
    def tripped(self) -> bool:
        return self._tripped

    @property
    def estop_pressed(self) -> bool:
        return self._estop_pressed

    @property
    def boost_enabled(self) -> bool:
        """BOOST_EN as the converter sees it (after the monostable and the trip latch)."""
        return self._boost_effective

    def heartbeat_alive(self) -> bool:
        return self._heartbeat_alive(self._t)

    def dac_is_zero_at(self, t_s: float) -> bool:
        index = bisect.bisect_right(self._dac_zero_times, t_s) - 1
        return self._dac_zero_states[max(index, 0)]

    def dac_zero_change_times(self) -> list[float]:
        return list(self._dac_zero_times)

    def k1_contacts_closed_at(self, t_s: float) -> bool:
        state = False
        for event in self.relay_events:
            if event.time_s > t_s:
                break
            if event.relay == "k1" and event.part == "contacts":
                state = event.state
        return state

    def has_input_changes(self) -> bool:
        return bool(self._input_changes)

    def drain_input_changes(self) -> list[InputChange]:
        """GPIO input edges produced since the last call (the board drives the pins)."""
        changes, self._input_changes = self._input_changes, []
        return changes

    def next_event_s(self) -> float | None:
        """When the model next changes on its own (relay contacts, monostable, trip)."""
        candidates = list(self._pending.values())
        if (self._heartbeat_alive(self._t) and self._heartbeat_edge_s is not None
                and not self._monostable_stuck):
            candidates.append(self._heartbeat_edge_s + self.params.heartbeat_timeout_s)
        if self._trip_fails:
            pass  # a comparator that never latches has no deadline to wake for
        elif self._over_since_s is not None and not self._tripped:
            candidates.append(self._over_since_s + self.params.trip_delay_s)
        elif self._runaway and not self._tripped:
            # An over-current may start at any time during a runaway; look every millisecond
            # so the trip status pin changes on time even when nobody reads the board.
            candidates.append(self._t + self.params.trip_delay_s)
        return min(candidates) if candidates else None

    # ------------------------------------------------------------------ evolution
    def advance_to(self, t_s: float) -> None:
        """Bring every state from the last update to ``t_s`` (no-op for a past time)."""
        while self._t < t_s:
            horizon = min(t_s, self._t + self._max_substep_s())
            next_event = self._next_discrete_s()
            if next_event is not None and next_event < horizon:
                horizon = next_event  # strictly later than now: every step makes progress
            duration = horizon - self._t
            circuit = self._circuit()
            step = self._solve(circuit)
            cut = self._first_crossing(circuit, step, duration)
            used = duration if cut is None else cut
            self._commit(circuit, step, used)
            self._t = horizon if cut is None else self._t + used
            self._settle()

    def _max_substep_s(self) -> float:
        limit = _MAX_SUBSTEP_S
        if not self._rail.settled(self._t):
            limit = min(limit, self._rail.tau_s / 5.0)
        if not self.skin.partial_settled(self._t):
            limit = min(limit, max(self.skin.partial_transition_s() / 50.0, 1e-4))
        return limit

    def _next_discrete_s(self) -> float | None:
        """Next self-timed change strictly after now (what is due now was settled already)."""
        t = self._t
        candidates = [due for due in self._pending.values() if due > t]
        if self._heartbeat_edge_s is not None:
            expiry = self._heartbeat_edge_s + self.params.heartbeat_timeout_s
            if expiry > t:
                candidates.append(expiry)
        if self._over_since_s is not None and not self._tripped:
            deadline = self._over_since_s + self.params.trip_delay_s
            if deadline > t:
                candidates.append(deadline)
        return min(candidates) if candidates else None

    def _heartbeat_alive(self, t_s: float) -> bool:
        if self._monostable_stuck:
            return True
        edge = self._heartbeat_edge_s
        return edge is not None and t_s < edge + self.params.heartbeat_timeout_s

    def _circuit(self) -> _Circuit:
        """The network in force now. Cached between settles: every input change, every
        sub-step and every fault ends in ``_settle``, which rebuilds it."""
        cached = self._circuit_cache
        if cached is not None and cached[0] == self._t:
            return cached[1]
        return self._build_circuit()

    def _build_circuit(self) -> _Circuit:
        p = self.params
        sign = -1.0 if self._contacts["k2"] else 1.0
        elements = self.skin.elements(self._t, sign)
        e = sign * elements.e_pol_ab_v
        rail = self._rail.value(self._t)
        if self._runaway:
            i_cmd, vmax = math.inf, rail
        else:
            i_cmd, vmax = self.commanded_current_a, max(rail - p.stage_headroom_v, 0.0)
        if self._contacts["k1"]:
            gs = 1.0 / elements.rs_ohm
            gsh = 1.0 / p.rshunt_ohm
            gx = 0.0 if elements.short_ohm is None else 1.0 / elements.short_ohm
            d = gsh + gs + gx
            ks_u, ks_c = gs * gsh / d, -gs * (gsh + gx) / d
            kt_u, kt_c = gsh * (gs + gx) / d, -gsh * gs / d
            skin = AffineOutput(ks_u, ks_c, ks_c * e)
            shunt = AffineOutput(kt_u, kt_c, kt_c * e)
        else:
            loop = elements.rs_ohm + _parallel(p.output_bleeder_ohm, elements.short_ohm)
            skin = AffineOutput(0.0, -1.0 / loop, -e / loop)
            shunt = AffineOutput(0.0, 0.0, 0.0)
        return _Circuit(sign, e, elements.rp_ohm, elements.cp_f, i_cmd, vmax, skin, shunt)

    def _solve(self, c: _Circuit) -> _Step:
        p = self.params
        g_node = 1.0 / p.node_to_ground_ohm
        c_node = p.node_capacitance_nf * 1e-9
        vc0 = c.sign * self.skin.vcp_ab_v
        s, t = c.skin_current, c.shunt_current
        if self._saturated:
            rate = (s.c1 - 1.0 / c.rp_ohm) / c.cp_f
            forcing = (s.c0 * c.vmax_v + s.d) / c.cp_f
            vc = first_order(vc0, rate, forcing)
            u = Trajectory(c.vmax_v)

            def of_vc(out: AffineOutput, offset: float = 0.0) -> Trajectory:
                base = out.c0 * c.vmax_v + out.d + offset
                return Trajectory(base + out.c1 * vc.final,
                                  tuple((out.c1 * amp, r) for amp, r in vc.modes))

            return _Step(u, vc, of_vc(s), of_vc(t), of_vc(t, g_node * c.vmax_v))
        a = ((-(g_node + t.c0) / c_node, -t.c1 / c_node),
             (s.c0 / c.cp_f, (s.c1 - 1.0 / c.rp_ohm) / c.cp_f))
        b = ((c.i_cmd_a - t.d) / c_node, s.d / c.cp_f)
        solution = LinearSolution(a, b, (self._u, vc0))
        return _Step(solution.state(0), solution.state(1), solution.output(s),
                     solution.output(t), None)

    def _first_crossing(self, c: _Circuit, step: _Step, duration: float) -> float | None:
        """Earliest time inside the sub-step at which the regime changes."""
        cuts: list[float] = []
        if self._saturated:
            if step.needed is not None and not math.isinf(c.i_cmd_a):
                cut = step.needed.first_crossing(c.i_cmd_a, rising=True, t_max_s=duration,
                                                 tolerance=_CURRENT_TOLERANCE_A)
                if cut is not None:
                    cuts.append(cut)
        else:
            cut = step.u.first_crossing(c.vmax_v, rising=True, t_max_s=duration,
                                        tolerance=_MODE_TOLERANCE_V)
            if cut is not None:
                cuts.append(cut)
        threshold = self.params.trip_threshold_a
        cut = step.shunt_current.first_crossing(
            threshold, rising=self._over_since_s is None, t_max_s=duration)
        if cut is not None:
            cuts.append(cut)
        return min(cuts) if cuts else None

    def _commit(self, c: _Circuit, step: _Step, duration: float) -> None:
        p = self.params
        self._u = step.u.at(duration)
        self.skin.vcp_ab_v = c.sign * step.vc.at(duration)
        charge = step.skin_current.integral(duration)
        self._charge_c += charge
        e_before = self.skin.e_pol_ab_v()
        self.skin.drift(duration, c.sign * charge)
        if self._contacts["k1"] and not self._saturated:
            # E_pol really moves continuously and the node (11 us) follows it; updating it per
            # sub-step must not leave the node off its equilibrium by the step's increment.
            g_node = 1.0 / p.node_to_ground_ohm
            shunt = c.shunt_current
            delta_e = c.sign * (self.skin.e_pol_ab_v() - e_before)
            self._u -= shunt.c1 / (shunt.c0 + g_node) * delta_e
        shunt_v = Trajectory(step.shunt_current.final * p.rshunt_ohm,
                             tuple((amp * p.rshunt_ohm, r) for amp, r in
                                   step.shunt_current.modes))
        self._vf = shunt_v.lowpass_at(self._vf, p.shunt_filter_tau_s, duration)

    def _settle(self) -> None:
        """Apply everything due at the current time, then re-derive the regime."""
        p = self.params
        t = self._t
        for _ in range(8):  # a few rounds: a latch can drop a coil that schedules a relay
            changed = False
            for relay, due in list(self._pending.items()):
                if due <= t:
                    del self._pending[relay]
                    if relay in self._stuck_contacts:
                        continue  # welded or broken contacts do not follow the coil
                    self._contacts[relay] = self._coil[relay]
                    self.relay_events.append(RelayEvent(t, relay, "contacts",
                                                        self._coil[relay]))
                    changed = True
            if (self._over_since_s is not None and not self._tripped
                    and not self._trip_fails
                    and t >= self._over_since_s + p.trip_delay_s):
                self._tripped = True
                self._input_changes.append(InputChange(t, "hw_trip_n", False))
                changed = True
            alive = self._heartbeat_alive(t)
            coils: dict[Relay, bool] = {
                "k1": (self._drive["k1"] and not self._estop_pressed and alive
                       and not self._tripped),
                "k2": self._drive["k2"],
            }
            for relay, energised in coils.items():
                if energised != self._coil[relay]:
                    self._coil[relay] = energised
                    self.relay_events.append(RelayEvent(t, relay, "coil", energised))
                    if energised == self._contacts[relay]:
                        self._pending.pop(relay, None)  # coil back before the contacts moved
                    else:
                        delay = p.relay_operate_s if energised else p.relay_release_s
                        self._pending[relay] = t + delay
                    changed = True
            boost = self._drive["boost_en"] and alive and not self._tripped
            if boost != self._boost_effective:
                self._boost_effective = boost
                if boost:
                    self._rail.retarget(t, p.boost_v, p.boost_rise_tau_s)
                else:
                    self._rail.retarget(t, 0.0, p.boost_fall_tau_s)
                changed = True
            if not changed:
                break
        self._rederive_regime()

    def _rederive_regime(self) -> None:
        circuit = self._build_circuit()
        self._circuit_cache = (self._t, circuit)
        g_node = 1.0 / self.params.node_to_ground_ohm
        vc = circuit.sign * self.skin.vcp_ab_v
        if self._runaway:
            self._u, self._saturated = circuit.vmax_v, True
        elif self._saturated or self._u >= circuit.vmax_v - _MODE_TOLERANCE_V:
            # A saturated stage pins the node to rail minus headroom and follows the rail as
            # it moves; it regulates again once the load would take the commanded current.
            if circuit.needed_at_vmax(g_node, vc) < circuit.i_cmd_a:
                self._u, self._saturated = circuit.vmax_v, True
            else:
                self._u, self._saturated = min(self._u, circuit.vmax_v), False
        else:
            self._saturated = False
        over = circuit.shunt_current.value(self._u, vc) > self.params.trip_threshold_a \
            or self._drive["trip_test"]
        if over and self._over_since_s is None:
            self._over_since_s = self._t
        elif not over:
            self._over_since_s = None

    def _on_trip_reset_edge(self, level: bool) -> None:
        p = self.params
        if level:
            self._trip_reset_rise_s = self._t
            return
        rise = self._trip_reset_rise_s
        self._trip_reset_rise_s = None
        long_enough = rise is not None and self._t - rise >= p.trip_reset_min_pulse_s
        if (self._tripped and long_enough and self._dac_v <= p.dac_zero_threshold_v
                and not self._estop_pressed and self._over_since_s is None):
            self._tripped = False
            self._input_changes.append(InputChange(self._t, "hw_trip_n", True))
