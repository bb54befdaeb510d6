"""A pure electrical model of the output stage and the skin, for the control tests only.

hardware.md 6: current source (gain error of the DAC path, a finite output impedance, the
compliance rail) into Rs + (Rp || Cp) + E_pol, shunt in the return. Stepped exactly (sub-steps
with the exponential solution), no clock: the test advances it by the loop period.
Units: kΩ, mA, V, µF (µF x kΩ = ms).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

SHUNT_KOHM = 0.1


@dataclass
class SkinPlant:
    gain: float = 1.0  # delivered / commanded (DAC + divider + rail tolerance)
    rs_kohm: float = 1.0
    rp_kohm: float = 20.0
    cp_uf: float = 0.047
    e_pol_v: float = 0.8
    rail_v: float = 28.0
    r_out_kohm: float = 2000.0  # V-to-I stage output impedance: the load leaks a little current
    open_circuit: bool = False
    short_circuit: bool = False
    relay_closed: bool = True
    v_cp: float = 0.0
    current_ma: float = 0.0
    electrode_v: float = 0.0

    def apply(self, command_ma: float, dt_s: float, substeps: int = 10) -> None:
        """Hold ``command_ma`` for ``dt_s``; afterwards ``current_ma``/``electrode_v`` are the
        readings at the end of the interval."""
        h_ms = dt_s * 1000.0 / substeps
        for _ in range(substeps):
            self._substep(max(0.0, command_ma), h_ms)

    def _substep(self, command_ma: float, h_ms: float) -> None:
        if not self.relay_closed:
            self.current_ma = 0.0
            self.electrode_v = min(self.rail_v, command_ma * 1e9)  # open node charges to rail
            self.v_cp *= math.exp(-h_ms / (self.cp_uf * 10.0))  # 10 kΩ bleeder
            return
        if self.open_circuit:
            self.current_ma = 0.0
            self.electrode_v = self.rail_v if command_ma > 0 else 0.0
            return
        if self.short_circuit:
            rs, rp, e_pol = 0.05, 0.0, 0.0
        else:
            rs, rp, e_pol = self.rs_kohm, self.rp_kohm, self.e_pol_v
        if command_ma <= 0:
            current = 0.0
            if rp > 0:
                self.v_cp *= math.exp(-h_ms / (self.cp_uf * rp))
        else:
            current = self._current(command_ma, rs, rp, e_pol, h_ms)
        self.current_ma = current
        v_cp = self.v_cp if rp > 0 else 0.0
        self.electrode_v = current * (rs + SHUNT_KOHM) + v_cp + (e_pol if current > 0 else 0.0)

    def _current(self, command_ma: float, rs: float, rp: float, e_pol: float, h_ms: float
                 ) -> float:
        """Advance V_cp by ``h_ms`` (exact for a constant mode) and return the current."""
        rs_total = rs + SHUNT_KOHM
        v_cp = self.v_cp if rp > 0 else 0.0
        wanted = (self.gain * command_ma - (v_cp + e_pol) / self.r_out_kohm) \
            / (1 + rs / self.r_out_kohm)
        limit = (self.rail_v - v_cp - e_pol) / rs_total
        if wanted <= limit:
            current = max(0.0, wanted)
            if rp > 0:
                v_inf = current * rp
                self.v_cp = v_inf + (self.v_cp - v_inf) * math.exp(-h_ms / (self.cp_uf * rp))
            return current
        # Saturated: I = (rail - V_cp - E_pol) / Rs', so V_cp follows its own linear ODE.
        if rp <= 0:
            return max(0.0, limit)
        conductance = 1.0 / rs_total + 1.0 / rp
        v_inf = ((self.rail_v - e_pol) / rs_total) / conductance
        tau_ms = self.cp_uf / conductance
        self.v_cp = v_inf + (self.v_cp - v_inf) * math.exp(-h_ms / tau_ms)
        return max(0.0, (self.rail_v - self.v_cp - e_pol) / rs_total)
