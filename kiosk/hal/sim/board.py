"""The simulated board: chips on an emulated bus, the analog front end, the skin and the GPIO.

``SimBoard`` is the wiring diagram of hardware.md 1 in code. The HAL talks to it exactly as to
the real board (the same ``SetpointDac``/``FrontEndAdc`` drivers on ``bus``, the same gpiozero
devices on ``pin_factory``); tests and the scenario runner additionally read the truth (what
current really flowed, when the relay contacts really opened) and inject faults by name.

Time: everything is stamped with the board clock. The front end only moves when asked
(``FrontEnd.advance_to``); so that hardware-timed events (heartbeat monostable expiry, relay
contacts moving, the trip latch) also reach the GPIO inputs on time when nobody is reading the
board, the board asks the clock to wake it at the model's next event time: a one-shot
``call_at`` on a ``VirtualClock``, a small waiting thread on the wall clock (it sleeps until
the next event; it does not tick).

Locking: one re-entrant lock around the front end. GPIO input edges (E-stop, HW_TRIP_N,
ALERT/RDY) are driven AFTER that lock is released, because they run gpiozero callbacks (the
control layer's shutdown path) that may write GPIO or the bus from this same thread.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

from kiosk.hal.clock import Clock
from kiosk.hal.config import BoardConfig
from kiosk.hal.sim.ads1115 import Ads1115Model
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.faults import FAULT_NAMES, FaultInjector
from kiosk.hal.sim.frontend import DriveSignal, FrontEnd, FrontEndParams, RelayEvent
from kiosk.hal.sim.gpio import SimPinFactory
from kiosk.hal.sim.i2c_bus import EmulatedI2C
from kiosk.hal.sim.mcp4725 import Mcp4725Model
from kiosk.hal.sim.meter import SimMeter
from kiosk.hal.sim.skin import Skin, SkinParams

__all__ = ["FAULT_NAMES", "SimBoard", "frontend_params_from_config"]

FACTORY_FRESH_EEPROM = (0x800, 0)  # code, PD: mid-scale, output on (MCP4725 datasheet)
PRODUCTION_EEPROM = (0x000, 1)  # code 0, PD = 01 (1 kOhm to GND): hardware.md 3


def frontend_params_from_config(config: BoardConfig) -> FrontEndParams:
    f, timing = config.frontend, config.timing
    return FrontEndParams(
        vset_divider_top_ohm=f.vset_divider_top_kohm * 1e3,
        vset_divider_bottom_ohm=f.vset_divider_bottom_kohm * 1e3,
        vset_clamp_v=f.vset_clamp_v,
        rset_ohm=f.rset_ohm,
        rshunt_ohm=f.rshunt_ohm,
        vout_divider_top_ohm=f.vout_divider_top_kohm * 1e3,
        vout_divider_bottom_ohm=f.vout_divider_bottom_kohm * 1e3,
        adc_vdd_v=f.dac_vdd_v,
        boost_v=f.boost_v,
        stage_headroom_v=f.boost_v - f.compliance_v,
        trip_threshold_a=f.hw_trip_ma * 1e-3,
        heartbeat_timeout_s=timing.heartbeat_timeout_ms * 1e-3,
        trip_reset_min_pulse_s=timing.trip_reset_pulse_ms * 1e-3 / 2.0,
    )


class _WallWaker:
    """Calls ``callback(now_s)`` at requested wall-clock times from one waiting thread."""

    def __init__(self, clock: Clock, callback: Callable[[float], None]) -> None:
        self._clock = clock
        self._callback = callback
        self._condition = threading.Condition()
        self._due_s: float | None = None
        self._stopped = False
        self._thread = threading.Thread(target=self._run, name="sim-board-events", daemon=True)
        self._thread.start()

    def request(self, due_s: float) -> None:
        with self._condition:
            if self._due_s is None or due_s < self._due_s:
                self._due_s = due_s
                self._condition.notify()

    def stop(self) -> None:
        with self._condition:
            self._stopped = True
            self._condition.notify()
        if threading.current_thread() is not self._thread:
            self._thread.join(timeout=1.0)

    def _run(self) -> None:
        while True:
            with self._condition:
                while not self._stopped:
                    if self._due_s is not None:
                        delay_s = self._due_s - self._clock.now_s()
                        if delay_s <= 0:
                            break
                        self._condition.wait(delay_s)
                    else:
                        self._condition.wait()
                if self._stopped:
                    return
                self._due_s = None
            self._callback(self._clock.now_s())


class SimBoard:
    """Clock, bus, chip models, front end, skin and mock pins of one simulated board."""

    def __init__(self, config: BoardConfig, clock: Clock, *, seed: int = 0,
                 load: SkinParams | None = None, fresh_dac: bool = False) -> None:
        self.config = config
        self.clock = clock
        self._lock = threading.RLock()
        self.frontend = FrontEnd(frontend_params_from_config(config), Skin(load),
                                 start_s=clock.now_s())
        code, pd = FACTORY_FRESH_EEPROM if fresh_dac else PRODUCTION_EEPROM
        self.dac_model = Mcp4725Model(clock, vdd_v=config.frontend.dac_vdd_v, eeprom_code=code,
                                      eeprom_pd=pd)
        self.dac_model.on_output_change = self._on_dac_output
        self._on_dac_output(clock.now_s())
        self.adc_model = Ads1115Model(clock, self._analog_inputs,
                                      vdd_v=config.frontend.dac_vdd_v, seed=seed,
                                      on_alert_change=self._on_alert_change)
        self.bus = EmulatedI2C(clock)
        self.bus.attach(config.i2c.dac_address, self.dac_model)
        self.bus.attach(config.i2c.adc_address, self.adc_model)

        g = config.gpio
        self._drives: dict[int, DriveSignal] = {
            g.k1_output_en: "k1", g.k2_polarity: "k2", g.boost_en: "boost_en",
            g.wdt_heartbeat: "heartbeat", g.hw_trip_reset: "trip_reset",
            g.trip_test: "trip_test"}
        outputs = set(self._drives) | {g.status_led, g.buzzer}
        self.pin_factory = SimPinFactory(clock, external_pull_downs=outputs,
                                         external_pull_ups={g.ads_alert_rdy, g.estop_loop})
        self.pin_factory.drive(g.estop_loop, False)  # loop intact: shorted to GND
        self.pin_factory.drive(g.hw_trip_n, True)  # latch clear at power-up
        self.pin_factory.drive(g.ads_alert_rdy, None)  # open drain, released
        self.pin_factory.add_listener(self._on_pin_change)

        self.faults = FaultInjector(self)
        self.meter = SimMeter(self)  # the technician's meter and reference resistor
        self._waker: _WallWaker | None = None
        self._wake_due_s: float | None = None
        self._wake_lock = threading.Lock()
        self._closed = False
        if not isinstance(clock, VirtualClock):
            self._waker = _WallWaker(clock, self._on_wake)

    # ------------------------------------------------------------------ faults
    def inject(self, name: str, **params: Any) -> None:
        """Inject fault ``name`` now (see ``faults.FAULT_NAMES``); ValueError if unknown."""
        self.faults.inject(name, **params)

    def clear(self, name: str) -> None:
        self.faults.clear(name)

    # ------------------------------------------------------------------ truth
    @property
    def skin(self) -> Skin:
        return self.frontend.skin

    def update(self) -> None:
        """Bring the model to the clock's now and deliver any input edges that came due."""
        with self._lock:
            self.frontend.advance_to(self.clock.now_s())
        self._deliver()

    def true_current_ma(self) -> float:
        """Current through the skin now, + in the direction the active polarity drives."""
        self.update()
        with self._lock:
            return self.frontend.skin_current_a() * 1e3

    def true_load_voltage_v(self) -> float:
        """Voltage across the electrodes now (source frame)."""
        self.update()
        with self._lock:
            return self.frontend.load_voltage_v()

    def true_charge_mc(self) -> float:
        """Charge through the skin since start-up (millicoulomb = mA x s; /60 for mA x min)."""
        self.update()
        with self._lock:
            return self.frontend.charge_c() * 1e3

    def node_v(self) -> float:
        self.update()
        with self._lock:
            return self.frontend.node_v

    def boost_rail_v(self) -> float:
        self.update()
        with self._lock:
            return self.frontend.rail_v

    def k1_closed(self) -> bool:
        """K1 contacts (not the coil): connected after operate, open after release time."""
        self.update()
        with self._lock:
            return self.frontend.contacts("k1")

    def k2_reversed(self) -> bool:
        self.update()
        with self._lock:
            return self.frontend.contacts("k2")

    def hw_tripped(self) -> bool:
        self.update()
        with self._lock:
            return self.frontend.tripped

    def heartbeat_alive(self) -> bool:
        self.update()
        with self._lock:
            return self.frontend.heartbeat_alive()

    def dac_output_v(self) -> float:
        return self.dac_model.output_v()

    @property
    def relay_history(self) -> list[RelayEvent]:
        """Coil and contact changes of K1 and K2, in time order."""
        self.update()
        with self._lock:
            return list(self.frontend.relay_events)

    def safe_state_reached_at_s(self, since_s: float) -> float | None:
        """First time >= ``since_s`` at which the K1 contacts are open AND the DAC output is
        zero (None if that has not happened yet)."""
        self.update()
        with self._lock:
            fe = self.frontend
            candidates = {since_s}
            candidates.update(e.time_s for e in fe.relay_events
                              if e.relay == "k1" and e.part == "contacts" and e.time_s >= since_s)
            candidates.update(t for t in fe.dac_zero_change_times() if t >= since_s)
            for t_s in sorted(candidates):
                if t_s > fe.time_s:
                    break
                if not fe.k1_contacts_closed_at(t_s) and fe.dac_is_zero_at(t_s):
                    return t_s
        return None

    # ------------------------------------------------------------------ life cycle
    def close(self) -> None:
        self._closed = True
        if self._waker is not None:
            self._waker.stop()

    # ------------------------------------------------------------------ wiring callbacks
    def _on_dac_output(self, time_s: float) -> None:
        with self._lock:
            self.frontend.set_dac_output_v(max(time_s, self.frontend.time_s),
                                           self.dac_model.output_v())
        self._request_wake_if_needed()

    def _analog_inputs(self, time_s: float) -> tuple[float, float, float, float]:
        # Called by the ADC model inside a bus transaction: compute, do not run GPIO callbacks
        # here; a wake at "now" delivers any edge the advance produced.
        with self._lock:
            inputs = self.frontend.analog_inputs(time_s)
        self._request_wake_if_needed()
        return inputs

    def _on_alert_change(self, pin_low: bool, time_s: float) -> None:
        self.pin_factory.drive(self.config.gpio.ads_alert_rdy, False if pin_low else None,
                               time_s)

    def _on_pin_change(self, bcm: int, level: bool, time_s: float) -> None:
        signal = self._drives.get(bcm)
        if signal is None:
            return
        with self._lock:
            self.frontend.set_drive(max(time_s, self.frontend.time_s), signal, level)
        self._deliver()

    def _deliver(self) -> None:
        with self._lock:
            changes = self.frontend.drain_input_changes()
            next_event = self.frontend.next_event_s()
        g = self.config.gpio
        for change in changes:
            bcm = g.estop_loop if change.signal == "estop_loop" else g.hw_trip_n
            self.pin_factory.drive(bcm, change.level, change.time_s)
        if next_event is not None:
            self._request_wake(next_event)

    def _request_wake_if_needed(self) -> None:
        with self._lock:
            pending = self.frontend.has_input_changes()
            next_event = self.frontend.next_event_s()
        if pending:
            self._request_wake(self.clock.now_s())
        elif next_event is not None:
            self._request_wake(next_event)

    def _request_wake(self, due_s: float) -> None:
        if self._closed:
            return
        if self._waker is not None:
            self._waker.request(due_s)
            return
        assert isinstance(self.clock, VirtualClock)
        with self._wake_lock:
            outstanding = self._wake_due_s
            if outstanding is not None and outstanding <= due_s:
                return  # an earlier wake will reschedule from there
            self._wake_due_s = due_s
        self.clock.call_at(due_s, self._on_wake, "sim-board-event")

    def _on_wake(self, now_s: float) -> None:
        with self._wake_lock:
            if self._wake_due_s is not None and self._wake_due_s <= now_s:
                self._wake_due_s = None
        if not self._closed:
            self.update()
