"""Skin load model: element values, drift under current, contact conditions (hardware.md 6)."""

from __future__ import annotations

import math

import pytest

from kiosk.hal.sim.skin import OPEN_CONTACT_OHM, Skin, SkinParams


def test_nominal_elements_are_the_hardware_md_values() -> None:
    skin = Skin()
    elements = skin.elements(0.0)
    assert elements.rs_ohm == 1_000.0
    assert elements.rp_ohm == 20_000.0
    assert elements.cp_f == pytest.approx(47e-9)
    assert elements.e_pol_ab_v == 0.0  # polarisation builds up with charge, from zero
    assert elements.short_ohm is None
    assert skin.dc_impedance_ohm(0.0) == 21_000.0


def test_rp_falls_towards_thirty_percent_with_tau_h_under_current() -> None:
    params = SkinParams(hydration_tau_s=100.0)
    skin = Skin(params)
    for _ in range(1000):  # 100 s at 1 mA in 0.1 s steps
        skin.drift(0.1, 1e-3 * 0.1)
    expected = 20_000.0 * (0.3 + 0.7 * math.exp(-1.0))
    assert skin.rp_ohm(100.0) == pytest.approx(expected, rel=1e-6)
    for _ in range(100):  # another 20 tau
        skin.drift(20.0, 1e-3 * 20.0)
    assert skin.rp_ohm(0.0) == pytest.approx(6_000.0, rel=1e-6)


def test_rp_recovers_only_slowly_without_current() -> None:
    skin = Skin(SkinParams(hydration_tau_s=60.0, recovery_tau_s=900.0))
    skin.drift(300.0, 1e-3 * 300.0)
    conditioned = skin.rp_ohm(0.0)
    skin.drift(60.0, 0.0)
    assert conditioned < skin.rp_ohm(0.0) < 20_000.0
    assert skin.rp_ohm(0.0) - conditioned < 0.1 * (20_000.0 - conditioned)


def test_polarisation_rises_with_charge_and_saturates_at_e_pol() -> None:
    skin = Skin(SkinParams(e_pol_v=0.8, polarisation_tau_s=20.0))
    skin.drift(20.0, 1e-3 * 20.0)  # one tau of charge at the reference current
    assert skin.e_pol_ab_v() == pytest.approx(0.8 * math.tanh(1.0), rel=0.02)
    for _ in range(20):
        skin.drift(20.0, 1e-3 * 20.0)
    assert skin.e_pol_ab_v() == pytest.approx(0.8, abs=1e-3)


def test_polarisation_sign_follows_the_direction_of_the_charge() -> None:
    skin = Skin()
    skin.drift(10.0, -1e-3 * 10.0)  # current from B to A: reversed polarity
    assert skin.e_pol_ab_v() < -0.1


def test_contact_loss_puts_more_than_ten_megaohm_in_series() -> None:
    skin = Skin()
    skin.contact_lost = True
    assert skin.rs_ohm() > 10e6
    assert skin.rs_ohm() == 1_000.0 + OPEN_CONTACT_OHM


def test_partial_contact_multiplies_rp_over_its_transition() -> None:
    skin = Skin()
    skin.set_partial_contact(10.0, factor=4.0, transition_s=1.0)
    assert skin.rp_ohm(10.0) == pytest.approx(20_000.0)
    assert skin.rp_ohm(10.5) == pytest.approx(50_000.0)
    assert skin.rp_ohm(11.0) == pytest.approx(80_000.0)
    assert skin.partial_settled(11.0)
    skin.set_partial_contact(12.0, factor=1.0, transition_s=0.5)  # pressed back on
    assert skin.rp_ohm(12.5) == pytest.approx(20_000.0)


def test_load_step_scales_rs_and_rp() -> None:
    skin = Skin()
    skin.load_factor = 0.5
    assert skin.rs_ohm() == 500.0
    assert skin.rp_ohm(0.0) == 10_000.0


@pytest.mark.parametrize("field", ["rs_ohm", "rp_ohm", "cp_nf", "hydration_tau_s"])
def test_non_positive_parameters_are_refused(field: str) -> None:
    with pytest.raises(ValueError, match=field):
        SkinParams(**{field: 0.0})


def test_partial_contact_factor_must_be_positive() -> None:
    with pytest.raises(ValueError, match="factor"):
        Skin().set_partial_contact(0.0, factor=0.0, transition_s=1.0)
