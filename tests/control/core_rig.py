"""A test rig for the pure core: the core, a plant model and a virtual time line, one thread.

Each tick does what the shell will do: read the plant into Measurements (AIN2/AIN3 only when
the core asked for them the cycle before), call ``core.step``, apply the actuation to the plant
and let the plant run for one period. Faults are injected on the plant (open circuit, short,
load step, stuck sensor, DAC error) or on the readings.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from kiosk.control.catalogue import Catalogue, load_catalogue
from kiosk.control.codes import Reason
from kiosk.control.commands import Command, Heartbeat, ProgramRequest, StartTreatment
from kiosk.control.core import ControlCore, CycleResult, Measurements, SelfTestReadings
from kiosk.control.cycle import Actuation
from kiosk.control.limits import SafetyConfig
from kiosk.control.snapshot import TreatmentState
from tests.consent_version import CONSENT
from tests.control.plant_model import SkinPlant

PERIOD_S = 0.010
_CATALOGUE: Catalogue | None = None


def catalogue() -> Catalogue:
    global _CATALOGUE
    if _CATALOGUE is None:
        _CATALOGUE = load_catalogue()
    return _CATALOGUE


@dataclass
class Rig:
    core: ControlCore
    plant: SkinPlant = field(default_factory=SkinPlant)
    now_s: float = 0.0
    estop_intact: bool = True
    hw_trip_ok: bool = True
    boost_v_when_on: float = 30.0
    stuck_current_ma: float | None = None  # AIN0 stuck at a value
    stale: bool = False  # readings stop updating (sample time frozen)
    readback_offset_ma: float = 0.0  # DAC readback disagrees by this
    dac_gain: float = 1.0  # delivered / commanded, on top of the plant gain
    polarity_readback_inverted: bool = False  # K2 reads back the other way (wiring fault)
    auto_heartbeat: bool = True
    plant_substeps: int = 10  # fewer makes long property runs cheaper; still exact per step
    actuation: Actuation = field(
        default_factory=lambda: Actuation(0.0, False, False, False, False, False))
    results: list[CycleResult] = field(default_factory=list)
    _aux_next: bool = False
    _sample_time_s: float = 0.0
    _boost_on_at: float | None = None

    @classmethod
    def ready(cls, config: SafetyConfig | None = None, **kwargs: object) -> Rig:
        """A core that passed its self-test, on a nominal plant."""
        rig = cls(ControlCore(catalogue(), config), **kwargs)  # type: ignore[arg-type]
        result = rig.core.self_test(SelfTestReadings(True, True, 1, 0, True, True, 0.0, 0.0),
                                    rig.now_s)
        assert result.passed
        return rig

    # --- time ---------------------------------------------------------------------------------

    def measure(self) -> Measurements:
        if not self.stale:
            self._sample_time_s = self.now_s
        current = self.plant.current_ma if self.stuck_current_ma is None \
            else self.stuck_current_ma
        boost = readback = None
        if self._aux_next:
            on = self._boost_on_at is not None and self.now_s - self._boost_on_at >= 0.02
            boost = self.boost_v_when_on if on else 0.0
            readback = self.actuation.dac_ma + self.readback_offset_ma
        return Measurements(sample_time_s=self._sample_time_s, current_ma=current,
                            electrode_v=self.plant.electrode_v, estop_intact=self.estop_intact,
                            hw_trip_ok=self.hw_trip_ok, boost_v=boost,
                            setpoint_readback_ma=readback,
                            polarity_reversed_readback=self.actuation.polarity_reversed
                            != self.polarity_readback_inverted)

    def tick(self, commands: Sequence[Command] = ()) -> CycleResult:
        if self.auto_heartbeat and not commands:
            commands = (Heartbeat(),)
        result = self.core.step(self.now_s, self.measure(), commands)
        self.apply(result.actuation)
        self._aux_next = result.read_aux_next
        self.results.append(result)
        self.plant.apply(self.actuation.dac_ma * self.dac_gain if
                         self.actuation.output_relay_closed else 0.0, PERIOD_S,
                         self.plant_substeps)
        self.now_s = round(self.now_s + PERIOD_S, 9)
        return result

    def apply(self, actuation: Actuation) -> None:
        if actuation.boost_on and not self.actuation.boost_on:
            self._boost_on_at = self.now_s
        elif not actuation.boost_on:
            self._boost_on_at = None
        self.actuation = actuation
        self.plant.relay_closed = actuation.output_relay_closed

    def run(self, seconds: float, commands: Sequence[Command] = ()) -> CycleResult:
        result = self.tick(commands)
        for _ in range(round(seconds / PERIOD_S) - 1):
            result = self.tick()
        return result

    def run_until(self, predicate: object, limit_s: float = 2000.0) -> CycleResult:
        """Tick until ``predicate(result)`` is true; fails after ``limit_s``."""
        check = predicate  # a Callable[[CycleResult], bool]
        for _ in range(round(limit_s / PERIOD_S)):
            result = self.tick()
            if check(result):  # type: ignore[operator]
                return result
        raise AssertionError(f"condition not reached in {limit_s} s; state {self.core.state}")

    def run_until_state(self, state: TreatmentState, limit_s: float = 2000.0) -> CycleResult:
        return self.run_until(lambda r: r.snapshot.state is state, limit_s)

    # --- scenarios ----------------------------------------------------------------------------

    def start(self, session_id: str = "s1", **program: object) -> CycleResult:
        program.setdefault("area", "face")
        program.setdefault("indication", "pigmentation")
        request = ProgramRequest(**program)  # type: ignore[arg-type]
        return self.tick([StartTreatment(request, session_id, True, consent_version=CONSENT)])

    def start_and_hold(self, **program: object) -> CycleResult:
        self.start(**program)
        return self.run_until_state(TreatmentState.HOLD, 200.0)

    def events(self) -> list[Reason]:
        return [e for r in self.results for e in r.events]

    def codes(self) -> list[str]:
        return [e.code for e in self.events()]


@dataclass(frozen=True)
class FaultOutcome:
    """What an injected fault led to, timed on the virtual clock from the injection."""

    result: CycleResult  # the cycle that latched the fault
    detect_s: float  # injection -> the cycle whose actuation was the safe state


def inject_during_hold(rig: Rig, inject: object, limit_s: float = 5.0) -> FaultOutcome:
    """Call ``inject(rig)`` now and tick until the fault latches."""
    onset = rig.now_s
    inject(rig)  # type: ignore[operator]
    result = rig.run_until(lambda r: r.snapshot.fault is not None, limit_s)
    return FaultOutcome(result, round(result.snapshot.time_s - onset, 6))
