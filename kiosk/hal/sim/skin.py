"""The client's skin between the two electrodes: Rs + (Rp || Cp) + E_pol (hardware.md 6).

Pure model, no clock: the front end passes time in and asks for the element values in force;
after each sub-step it reports the charge that went through the skin so the slow states (skin
hydration lowering Rp, electrode polarisation E_pol) can move.

Sign convention: the skin's own states (``vcp_ab_v``, the polarisation) live in the ELECTRODE
frame, positive from electrode A to electrode B, because the skin does not know about the
polarity relay. The front end converts to the source frame (positive = the direction the active
polarity drives) with the relay's sign. E_pol opposes the current that built it up, so its sign
follows the polarity that was driving: flip the relay and the old polarisation now pushes
current the other way, which is what a real electrode pair does.

Contact conditions (the fault scenarios of hardware.md 6) change the elements, not the states:
contact loss adds an open circuit (> 10 MOhm) in series, partial contact multiplies Rp over a
0.2-2 s transition, a short (wet bridge, electrodes touching) puts 10-100 Ohm across the
electrodes, a load step scales Rs and Rp.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

OPEN_CONTACT_OHM = 20e6  # a lifted electrode: > 10 MOhm (hardware.md 6)
UNDER_CURRENT_A = 10e-6  # below this the skin counts as "at rest" for the hydration drift


@dataclass(frozen=True)
class SkinParams:
    """Electrode-skin-electrode load; defaults are hardware.md 6 nominal values."""

    rs_ohm: float = 1_000.0  # 300 Ohm - 2 kOhm: tissue, gel/sponge, leads
    rp_ohm: float = 20_000.0  # 5-100 kOhm: stratum corneum at the start of a session
    cp_nf: float = 47.0  # 10-100 nF
    e_pol_v: float = 0.8  # saturation level of the electrode polarisation (0.5-1.5 V)
    rp_final_fraction: float = 0.3  # Rp_inf = 0.3 Rp0 after long current (hardware.md 6)
    hydration_tau_s: float = 120.0  # tau_h, 60-300 s
    recovery_tau_s: float = 900.0  # Rp creeps back without current, slower than it fell
    polarisation_tau_s: float = 20.0  # E_pol rise time at the reference current (10-60 s)
    polarisation_ref_current_ma: float = 1.0
    depolarisation_tau_s: float = 300.0  # polarisation leaks away at rest

    def __post_init__(self) -> None:
        for name in ("rs_ohm", "rp_ohm", "cp_nf", "hydration_tau_s", "recovery_tau_s",
                     "polarisation_tau_s", "polarisation_ref_current_ma",
                     "depolarisation_tau_s"):
            if not getattr(self, name) > 0.0:
                raise ValueError(f"SkinParams.{name} must be > 0, got {getattr(self, name)!r}")
        if not 0.0 <= self.e_pol_v <= 2.0:
            raise ValueError(f"SkinParams.e_pol_v must be within 0..2 V, got {self.e_pol_v!r}")
        if not 0.0 < self.rp_final_fraction <= 1.0:
            raise ValueError("SkinParams.rp_final_fraction must be within (0, 1]")

    @property
    def polarisation_saturation_c(self) -> float:
        """Charge scale of E_pol = E_max tanh(q / q_sat): tau at the reference current."""
        return self.polarisation_ref_current_ma * 1e-3 * self.polarisation_tau_s


@dataclass(frozen=True)
class SkinElements:
    """Element values in force for one sub-step (ohm, farad, volt in the electrode frame)."""

    rs_ohm: float  # includes the open-contact resistance when an electrode is lifted
    rp_ohm: float
    cp_f: float
    e_pol_ab_v: float
    short_ohm: float | None  # resistance bridging the electrodes, if any


@dataclass
class _Ramp:
    """A multiplier moving linearly from ``start`` to ``end`` between two times."""

    start: float
    end: float
    t0_s: float
    t1_s: float

    def at(self, t_s: float) -> float:
        if t_s >= self.t1_s or self.t1_s <= self.t0_s:
            return self.end
        if t_s <= self.t0_s:
            return self.start
        fraction = (t_s - self.t0_s) / (self.t1_s - self.t0_s)
        return self.start + (self.end - self.start) * fraction


class Skin:
    """State and contact conditions of the load; time is always passed in."""

    def __init__(self, params: SkinParams | None = None) -> None:
        self.params = params or SkinParams()
        self.vcp_ab_v = 0.0  # voltage on Cp, electrode frame
        self.hydration = 0.0  # 0 = as at session start, 1 = fully conditioned (Rp = Rp_inf)
        self.polarisation_ab_c = 0.0  # charge stored as electrode polarisation
        self.contact_lost = False
        self.short_ohm: float | None = None
        self.load_factor = 1.0
        self._partial = _Ramp(1.0, 1.0, 0.0, 0.0)

    # -- conditions (faults) ----------------------------------------------------------------
    def set_partial_contact(self, t_s: float, factor: float, transition_s: float) -> None:
        """Rp rises (or returns) to ``factor`` x its value over ``transition_s``."""
        if not factor > 0.0:
            raise ValueError(f"partial contact factor must be > 0, got {factor!r}")
        self._partial = _Ramp(self._partial.at(t_s), factor, t_s, t_s + max(transition_s, 0.0))

    def partial_factor(self, t_s: float) -> float:
        return self._partial.at(t_s)

    def partial_settled(self, t_s: float) -> bool:
        return t_s >= self._partial.t1_s

    def partial_transition_s(self) -> float:
        return self._partial.t1_s - self._partial.t0_s

    # -- element values ---------------------------------------------------------------------
    def rp_ohm(self, t_s: float) -> float:
        p = self.params
        conditioned = 1.0 - (1.0 - p.rp_final_fraction) * self.hydration
        return p.rp_ohm * conditioned * self.load_factor * self._partial.at(t_s)

    def rs_ohm(self) -> float:
        rs = self.params.rs_ohm * self.load_factor
        return rs + OPEN_CONTACT_OHM if self.contact_lost else rs

    def e_pol_ab_v(self) -> float:
        p = self.params
        return p.e_pol_v * math.tanh(self.polarisation_ab_c / p.polarisation_saturation_c)

    def elements(self, t_s: float, sign: float = 1.0) -> SkinElements:
        """The elements in force; ``sign`` is the polarity relay's (+1 normal, -1 reversed):
        skin is symmetric and ignores it, a reference load with a diode does not."""
        return SkinElements(rs_ohm=self.rs_ohm(), rp_ohm=self.rp_ohm(t_s),
                            cp_f=self.params.cp_nf * 1e-9, e_pol_ab_v=self.e_pol_ab_v(),
                            short_ohm=self.short_ohm)

    def dc_impedance_ohm(self, t_s: float) -> float:
        """What a slow DC measurement sees: Rs + Rp (Cp open), ignoring a short."""
        return self.rs_ohm() + self.rp_ohm(t_s)

    # -- slow drift -------------------------------------------------------------------------
    def drift(self, duration_s: float, charge_ab_c: float) -> None:
        """Let the slow states move after a sub-step that passed ``charge_ab_c`` (electrode
        frame) in ``duration_s``. The mean current stands for the whole sub-step, which is
        exact enough because the front end keeps sub-steps far shorter than these time
        constants (seconds to minutes)."""
        if duration_s <= 0.0:
            return
        p = self.params
        mean_current_a = charge_ab_c / duration_s
        if abs(mean_current_a) > UNDER_CURRENT_A:
            self.hydration = 1.0 - (1.0 - self.hydration) * math.exp(
                -duration_s / p.hydration_tau_s)
        else:
            self.hydration *= math.exp(-duration_s / p.recovery_tau_s)
        # dq/dt = i - q / tau_depol, i constant over the sub-step: exact.
        decay = math.exp(-duration_s / p.depolarisation_tau_s)
        self.polarisation_ab_c = (self.polarisation_ab_c * decay
                                  + mean_current_a * p.depolarisation_tau_s * (1.0 - decay))
