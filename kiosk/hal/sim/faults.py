"""Fault injection by name, so scenario files can schedule faults as data.

``inject(name, **params)`` acts at the board clock's "now"; ``clear(name)`` undoes what can be
undone. Every name maps onto one physical cause on the simulated board (a chip, the bus, the
output stage, the E-stop loop, the electrodes); what the device then does about it is the
control layer's business, which is exactly what the fault tests check.

| name | params | cause |
|---|---|---|
| ``i2c_nack`` | ``device`` = "dac" or "adc" | that chip NACKs every transaction |
| ``adc_never_ready`` | - | ADS1115 OS bit stays 0: the driver's busy-poll never returns |
| ``adc_stuck`` | ``value_v`` | every ADS1115 result is that pin voltage |
| ``dac_ignores_writes`` | - | MCP4725 ACKs but its output no longer changes |
| ``stage_runaway`` | - | V-to-I stage fails short: only load, rail and the HW trip limit it |
| ``estop_press`` / ``estop_release`` | - | the E-stop loop opens / closes again |
| ``contact_loss`` / ``contact_restore`` | - | an electrode lifts (> 10 MOhm) / touches again |
| ``partial_contact`` | ``factor`` 1-10 (3), ``transition_s`` 0.2-2 (1) | Rp rises x factor |
| ``short_circuit`` | ``ohm`` 10-100 (47) | electrodes bridged (wet bridge, touching) |
| ``load_step`` | ``factor`` 0.1-10 | Rs and Rp scaled at once |
| ``loop_stall`` | ``ms`` > 0 | the next bus transaction blocks that long (control thread stuck) |
| ``relay_stuck`` | ``relay`` "k1"/"k2", ``position`` "closed"/"open" | contacts welded closed or
  burnt open: they no longer follow the coil (the service self-test must catch it) |
| ``adc_channel_dead`` | ``channel`` 0-3 | that ADS1115 input reads 0 V (broken trace or input) |
| ``trip_fails`` | - | the over-current comparator never latches (no hardware trip) |
| ``monostable_stuck`` | - | the heartbeat monostable holds K1 and BOOST_EN without toggles |
| ``reference_load`` | - | not a fault: the technician clips the self-test's reference load
  (``sim.reference_load``) between the electrodes; clearing it puts the skin back |
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from kiosk.hal.sim.reference_load import ReferenceLoad
from kiosk.hal.sim.skin import Skin

if TYPE_CHECKING:
    from kiosk.hal.sim.board import SimBoard
    from kiosk.hal.sim.frontend import Relay


@dataclass(frozen=True)
class FaultParam:
    name: str
    minimum: float | None = None
    maximum: float | None = None
    choices: tuple[str, ...] = ()
    default: float | str | None = None  # None: required

    def describe(self) -> str:
        if self.choices:
            text = " | ".join(repr(c) for c in self.choices)
        else:
            text = f"{self.minimum:g}..{self.maximum:g}"
        return f"{self.name}={text}" + ("" if self.default is None
                                        else f" (default {self.default!r})")

    def check(self, fault: str, value: Any) -> float | str:
        if self.choices:
            if value not in self.choices:
                raise ValueError(f"fault {fault!r}: {self.name}={value!r} is not one of "
                                 f"{', '.join(repr(c) for c in self.choices)}")
            return str(value)
        if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(
                value):
            raise ValueError(f"fault {fault!r}: {self.name}={value!r} must be a number "
                             f"({self.describe()})")
        assert self.minimum is not None and self.maximum is not None
        if not self.minimum <= value <= self.maximum:
            raise ValueError(f"fault {fault!r}: {self.name}={value!r} is out of range "
                             f"({self.describe()})")
        return float(value)


FAULT_PARAMS: dict[str, tuple[FaultParam, ...]] = {
    "i2c_nack": (FaultParam("device", choices=("dac", "adc")),),
    "adc_never_ready": (),
    "adc_stuck": (FaultParam("value_v", -0.3, 3.6),),
    "dac_ignores_writes": (),
    "stage_runaway": (),
    "estop_press": (),
    "estop_release": (),
    "contact_loss": (),
    "contact_restore": (),
    "partial_contact": (FaultParam("factor", 1.0, 10.0, default=3.0),
                        FaultParam("transition_s", 0.2, 2.0, default=1.0)),
    "short_circuit": (FaultParam("ohm", 10.0, 100.0, default=47.0),),
    "load_step": (FaultParam("factor", 0.1, 10.0),),
    "loop_stall": (FaultParam("ms", 0.001, 600_000.0),),
    "relay_stuck": (FaultParam("relay", choices=("k1", "k2")),
                    FaultParam("position", choices=("closed", "open"))),
    "adc_channel_dead": (FaultParam("channel", 0.0, 3.0),),
    "trip_fails": (),
    "monostable_stuck": (),
    "reference_load": (),
}
FAULT_NAMES: tuple[str, ...] = tuple(FAULT_PARAMS)

# Actions that are their own undo (the pair's other half clears them).
_ONE_SHOT = {"estop_release": "estop_press", "contact_restore": "contact_loss"}


def describe_faults() -> str:
    parts = []
    for name, params in FAULT_PARAMS.items():
        parts.append(name if not params else
                     f"{name}({', '.join(p.describe() for p in params)})")
    return "; ".join(parts)


class FaultInjector:
    """Maps fault names onto the board's chips, bus, output stage and electrodes."""

    def __init__(self, board: SimBoard) -> None:
        self._board = board
        self.active: dict[str, dict[str, float | str]] = {}
        self.log: list[tuple[float, str, str, dict[str, float | str]]] = []
        self._saved_skin: Skin | None = None  # the skin while the reference load is clipped on

    def inject(self, name: str, **params: Any) -> None:
        checked = self._validated(name, params)
        self._apply(name, checked)
        if name in _ONE_SHOT:
            self.active.pop(_ONE_SHOT[name], None)
        elif name != "loop_stall":
            self.active[name] = checked
        self.log.append((self._board.clock.now_s(), "inject", name, checked))

    def clear(self, name: str) -> None:
        self._known(name)
        if name in _ONE_SHOT:
            raise ValueError(f"fault {name!r} is an action with nothing to clear; "
                             f"it is itself the clearing of {_ONE_SHOT[name]!r}")
        self._undo(name)
        self.active.pop(name, None)
        self.log.append((self._board.clock.now_s(), "clear", name, {}))

    # ------------------------------------------------------------------ internals
    @staticmethod
    def _known(name: str) -> tuple[FaultParam, ...]:
        if name not in FAULT_PARAMS:
            raise ValueError(f"unknown fault {name!r}; valid faults: {describe_faults()}")
        return FAULT_PARAMS[name]

    def _validated(self, name: str, params: dict[str, Any]) -> dict[str, float | str]:
        spec = self._known(name)
        allowed = {p.name: p for p in spec}
        unknown = sorted(set(params) - set(allowed))
        if unknown:
            valid = ", ".join(p.describe() for p in spec) or "none"
            raise ValueError(f"fault {name!r} does not take {', '.join(unknown)}; "
                             f"valid parameters: {valid}")
        checked: dict[str, float | str] = {}
        for param in spec:
            if param.name in params:
                checked[param.name] = param.check(name, params[param.name])
            elif param.default is None:
                raise ValueError(f"fault {name!r} needs {param.describe()}")
            else:
                checked[param.name] = param.default
        return checked

    def _address(self, device: str) -> int:
        i2c = self._board.config.i2c
        return i2c.dac_address if device == "dac" else i2c.adc_address

    def _apply(self, name: str, p: dict[str, float | str]) -> None:
        board = self._board
        if name == "i2c_nack":
            board.bus.set_nack(self._address(str(p["device"])), True)
        elif name == "adc_never_ready":
            board.adc_model.never_ready = True
        elif name == "adc_stuck":
            board.adc_model.stuck_value_v = float(p["value_v"])
        elif name == "dac_ignores_writes":
            board.dac_model.ignore_writes = True
        elif name == "loop_stall":
            board.bus.stall_next_transaction(float(p["ms"]) / 1000.0)
        elif name == "adc_channel_dead":
            channel = float(p["channel"])
            if channel != int(channel):
                raise ValueError(f"fault 'adc_channel_dead': channel={channel:g} must be a "
                                 f"whole number 0..3")
            board.adc_model.dead_channels.add(int(channel))
        else:
            self._apply_analog(name, p)

    def _apply_analog(self, name: str, p: dict[str, float | str]) -> None:
        board = self._board
        with board._lock:
            fe = board.frontend
            fe.advance_to(board.clock.now_s())
            now_s = fe.time_s
            skin = fe.skin
            if name == "stage_runaway":
                fe.set_stage_runaway(now_s, True)
            elif name in ("estop_press", "estop_release"):
                fe.set_estop_pressed(now_s, name == "estop_press")
            elif name in ("contact_loss", "contact_restore"):
                skin.contact_lost = name == "contact_loss"
            elif name == "partial_contact":
                skin.set_partial_contact(now_s, float(p["factor"]), float(p["transition_s"]))
            elif name == "short_circuit":
                skin.short_ohm = float(p["ohm"])
            elif name == "load_step":
                skin.load_factor = float(p["factor"])
            elif name == "relay_stuck":
                relay: Relay = "k1" if p["relay"] == "k1" else "k2"
                fe.set_relay_stuck(now_s, relay, p["position"] == "closed")
            elif name == "trip_fails":
                fe.set_trip_fails(now_s, True)
            elif name == "monostable_stuck":
                fe.set_monostable_stuck(now_s, True)
            elif name == "reference_load":
                if not isinstance(fe.skin, ReferenceLoad):
                    self._saved_skin = fe.skin
                    fe.skin = ReferenceLoad()
            else:  # pragma: no cover - FAULT_PARAMS and this dispatch are kept together
                raise AssertionError(name)
            fe.skin_changed(now_s)
        board.update()

    def _undo(self, name: str) -> None:
        board = self._board
        if name == "i2c_nack":
            board.bus.set_nack(self._address("dac"), False)
            board.bus.set_nack(self._address("adc"), False)
        elif name == "adc_never_ready":
            board.adc_model.never_ready = False
        elif name == "adc_stuck":
            board.adc_model.stuck_value_v = None
        elif name == "dac_ignores_writes":
            board.dac_model.ignore_writes = False
        elif name == "loop_stall":
            board.bus.stall_next_transaction(0.0)
        elif name == "stage_runaway":
            self._analog_undo(lambda fe, t: fe.set_stage_runaway(t, False))
        elif name == "estop_press":
            self._analog_undo(lambda fe, t: fe.set_estop_pressed(t, False))
        elif name == "contact_loss":
            self._analog_undo(lambda fe, t: setattr(fe.skin, "contact_lost", False))
        elif name == "partial_contact":
            transition = float(self.active.get(name, {}).get("transition_s", 1.0))
            self._analog_undo(lambda fe, t: fe.skin.set_partial_contact(t, 1.0, transition))
        elif name == "short_circuit":
            self._analog_undo(lambda fe, t: setattr(fe.skin, "short_ohm", None))
        elif name == "load_step":
            self._analog_undo(lambda fe, t: setattr(fe.skin, "load_factor", 1.0))
        elif name == "relay_stuck":
            # one entry per name: clearing repairs both relays
            self._analog_undo(lambda fe, t: (fe.set_relay_stuck(t, "k1", None),
                                             fe.set_relay_stuck(t, "k2", None)))
        elif name == "adc_channel_dead":
            board.adc_model.dead_channels.clear()
        elif name == "trip_fails":
            self._analog_undo(lambda fe, t: fe.set_trip_fails(t, False))
        elif name == "monostable_stuck":
            self._analog_undo(lambda fe, t: fe.set_monostable_stuck(t, False))
        elif name == "reference_load":
            saved = self._saved_skin
            if saved is not None:
                self._saved_skin = None
                self._analog_undo(lambda fe, t: setattr(fe, "skin", saved))

    def _analog_undo(self, action: Any) -> None:
        board = self._board
        with board._lock:
            fe = board.frontend
            fe.advance_to(board.clock.now_s())
            action(fe, fe.time_s)
            fe.skin_changed(fe.time_s)
        board.update()
