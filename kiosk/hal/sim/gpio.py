"""gpiozero pins for the simulated board: MockFactory on the SIMULATION clock, wired to a model.

gpiozero's own ``MockFactory`` stamps changes with ``time.monotonic`` and leaves inputs where
their pull puts them. Here:

- every level change is stamped with the board's clock (virtual in tests and scenarios), kept in
  a bounded history and reported to listeners (the front end sees K1, K2, BOOST_EN, heartbeat
  and trip-reset edges at simulated time);
- inputs the board drives (E-stop loop, HW_TRIP_N, ALERT/RDY) follow ``drive(bcm, level)``:
  a level forces the line (a closed contact to GND, a push-pull latch output), ``None`` lets the
  pull decide (open drain released). A change fires gpiozero's ``when_changed`` machinery exactly
  as ``MockPin.drive_high/low`` do, so ``when_activated`` / ``when_deactivated`` callbacks run;
- outputs that the board pulls down externally (hardware.md 7: every output that can energise
  something) fall low when gpiozero releases them (``close()`` turns a pin back into a floating
  input): a closed device must leave K1 released, as on the real board; lines with an external
  pull-up (ALERT/RDY, the E-stop loop) read high when nothing drives them.

Devices get this factory through ``pin_factory=``; the global ``Device.pin_factory`` is never
touched.
"""

from __future__ import annotations

from collections import deque
from collections.abc import Callable, Iterable
from typing import Any, NamedTuple

from gpiozero.exc import PinFixedPull, PinInvalidPull
from gpiozero.pins.mock import MockFactory, MockPin, PinState

from kiosk.hal.clock import Clock

PI4_REVISION = "c03114"  # Raspberry Pi 4B 4 GB rev 1.4 (the kiosk's board)
HISTORY_LENGTH = 100_000
PIN_STATES_LENGTH = 1_000  # MockPin.states, bounded: the heartbeat toggles 100 times a second

PinListener = Callable[[int, bool, float], None]  # (bcm, level, time_s)


class PinEvent(NamedTuple):
    time_s: float
    bcm: int
    level: bool
    function: str  # "input" or "output" at the time of the change


class SimPin(MockPin):  # type: ignore[misc]  # gpiozero is untyped
    """A mock pin whose time is the board clock and whose input level the model can force."""

    def __init__(self, factory: SimPinFactory, info: Any) -> None:
        self._sim: SimPinFactory = factory
        self._bcm = int(info.name[4:])
        self._edge_time_s: float | None = None  # when the model reports an edge late
        super().__init__(factory, info)
        self._state = self._resting_level()
        self.clear_states()

    @property
    def bcm(self) -> int:
        return self._bcm

    def clear_states(self) -> None:
        self._last_change = self._sim.clock.now_s()
        self.states = deque([PinState(0.0, self._state)], maxlen=PIN_STATES_LENGTH)

    def _change_state(self, value: bool) -> bool:
        value = bool(value)
        if self._state == value:
            return False
        now_s = self._sim.clock.now_s()
        if self._edge_time_s is not None:
            now_s = max(min(self._edge_time_s, now_s), self._last_change)
        self._state = value
        self.states.append(PinState(now_s - self._last_change, value))
        self._last_change = now_s
        self._sim._pin_changed(self, value, now_s)
        return True

    def _set_pull(self, value: str) -> None:
        if self._function != "input":
            raise PinFixedPull(f"cannot set pull on non-input pin {self!r}")
        if self.info.pull and value != self.info.pull:
            raise PinFixedPull(f"{self!r} has a fixed pull resistor")
        if value not in ("floating", "up", "down"):
            raise PinInvalidPull("pull must be floating, up, or down")
        self._pull = value
        self._settle_input()

    def _resting_level(self) -> bool:
        """Level of the line when the SoC does not drive it."""
        forced = self._sim.forced_level(self._bcm)
        if forced is not None:
            return forced
        if self._pull == "up":
            return True
        if self._pull == "down":
            return False
        if self._bcm in self._sim.external_pull_downs:
            return False
        if self._bcm in self._sim.external_pull_ups:
            return True
        return bool(self._state)  # floating: stays where it was

    def _settle_input(self, edge_time_s: float | None = None) -> None:
        if self._function != "input":
            return
        self._edge_time_s = edge_time_s
        try:
            if self._resting_level():
                self.drive_high()
            else:
                self.drive_low()
        finally:
            self._edge_time_s = None


class SimPinFactory(MockFactory):  # type: ignore[misc]  # gpiozero is untyped
    """A MockFactory on the board clock with model-driven inputs and a pin-change history."""

    def __init__(self, clock: Clock, *, external_pull_downs: Iterable[int] = (),
                 external_pull_ups: Iterable[int] = (), revision: str = PI4_REVISION) -> None:
        self.clock = clock
        self.external_pull_downs = frozenset(external_pull_downs)
        self.external_pull_ups = frozenset(external_pull_ups)
        super().__init__(revision=revision, pin_class=SimPin)
        self.history: deque[PinEvent] = deque(maxlen=HISTORY_LENGTH)
        self._forced: dict[int, bool | None] = {}
        self._listeners: list[PinListener] = []

    def ticks(self) -> float:
        """gpiozero's event timestamps (``active_time``, held time) on the board clock."""
        return self.clock.now_s()

    def add_listener(self, listener: PinListener) -> None:
        self._listeners.append(listener)

    def forced_level(self, bcm: int) -> bool | None:
        return self._forced.get(bcm)

    def drive(self, bcm: int, level: bool | None, at_s: float | None = None) -> None:
        """The board drives input ``bcm`` to ``level`` (None: released to its pull).

        ``at_s``: when the edge physically happened, if the model reports it after the fact
        (lazy evaluation); the history and gpiozero's event ticks carry that time.
        """
        self._forced[bcm] = level
        pin: SimPin = self.pin(bcm)
        pin._settle_input(at_s)

    def level(self, bcm: int) -> bool:
        """Electrical level of the line now (output or input)."""
        pin: SimPin = self.pin(bcm)
        return bool(pin.state)

    def _pin_changed(self, pin: SimPin, level: bool, time_s: float) -> None:
        self.history.append(PinEvent(time_s, pin.bcm, level, pin.function))
        for listener in self._listeners:
            listener(pin.bcm, level, time_s)
