"""The service reference load: the fixture a technician clips between the electrodes for the
self-test (docs/hardware-proposals.md, "Reference load").

Fixture: R1 = 10 kOhm 0.1 % in series with a silicon diode (anode on electrode A), the pair
bridged by R2 = 47 kOhm 0.1 %. Why a diode: the shunt and the V_OUT divider both measure in the
source frame (hardware.md 5), so a symmetric resistor reads the same in either polarity and
cannot show whether K2 switched. With the diode the fixture reads about 18 kOhm (apparent, at the
test current) in normal polarity and 47 kOhm reversed; an open K1 reads as an open circuit.
A client's skin conducts both ways, so it cannot pass for the fixture in both polarities.

Model: as long as the diode conducts (normal polarity, I x R2 above its drop) the fixture is its
Thevenin equivalent, R1 || R2 behind Vf x R2 / (R1 + R2); reversed it is R2 alone. No
capacitance worth modelling and no drift (metal-film resistors, not skin).
"""

from __future__ import annotations

from dataclasses import dataclass

from kiosk.hal.sim.skin import OPEN_CONTACT_OHM, Skin, SkinElements, SkinParams

_TINY_RP_OHM = 1.0  # the skin network's Rp || Cp reduced to (almost) nothing
_TINY_CP_NF = 1.0


@dataclass(frozen=True)
class ReferenceLoadParams:
    r1_ohm: float = 10_000.0  # in series with the diode
    r2_ohm: float = 47_000.0  # across the pair
    diode_drop_v: float = 0.6

    def __post_init__(self) -> None:
        if not (self.r1_ohm > 0 and self.r2_ohm > 0 and 0.0 <= self.diode_drop_v <= 1.0):
            raise ValueError(f"implausible reference load {self!r}")

    @property
    def forward_ohm(self) -> float:
        return self.r1_ohm * self.r2_ohm / (self.r1_ohm + self.r2_ohm)

    @property
    def forward_offset_v(self) -> float:
        return self.diode_drop_v * self.r2_ohm / (self.r1_ohm + self.r2_ohm)

    def apparent_ohm(self, current_a: float, *, reversed_polarity: bool) -> float:
        """What (V_load / I) reads at ``current_a`` (the self-test's expected value)."""
        if reversed_polarity:
            return self.r2_ohm
        return self.forward_ohm + self.forward_offset_v / current_a


class ReferenceLoad(Skin):
    """The fixture in place of the skin (same interface as :class:`Skin`)."""

    def __init__(self, params: ReferenceLoadParams | None = None) -> None:
        super().__init__(SkinParams(rs_ohm=1.0, rp_ohm=_TINY_RP_OHM, cp_nf=_TINY_CP_NF,
                                    e_pol_v=0.0))
        self.fixture = params or ReferenceLoadParams()
        self._sign = 1.0

    def _rs(self, sign: float) -> float:
        f = self.fixture
        rs = f.forward_ohm if sign > 0 else f.r2_ohm
        return rs + OPEN_CONTACT_OHM if self.contact_lost else rs

    def rs_ohm(self) -> float:
        return self._rs(self._sign)

    def rp_ohm(self, t_s: float) -> float:
        return _TINY_RP_OHM

    def e_pol_ab_v(self) -> float:
        return self.fixture.forward_offset_v if self._sign > 0 else 0.0

    def elements(self, t_s: float, sign: float = 1.0) -> SkinElements:
        self._sign = 1.0 if sign >= 0 else -1.0
        return SkinElements(rs_ohm=self._rs(self._sign), rp_ohm=_TINY_RP_OHM,
                            cp_f=_TINY_CP_NF * 1e-9, e_pol_ab_v=self.e_pol_ab_v(),
                            short_ohm=self.short_ohm)

    def dc_impedance_ohm(self, t_s: float) -> float:
        return self._rs(self._sign)

    def drift(self, duration_s: float, charge_ab_c: float) -> None:
        """Resistors and a diode: nothing hydrates or polarises."""
