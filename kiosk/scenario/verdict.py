"""Check a run against its scenario's ``[expect]`` table: one plain sentence per miss.

Every key present must hold. Beyond them, one rule holds for every scenario: a latched fault
that the table does not name (neither ``fault`` nor ``faults``) is a miss, so a scenario without
``[expect]`` passes only when the run latched no fault."""

from __future__ import annotations

from kiosk.scenario.runner import RunResult
from kiosk.scenario.spec import Expectation


def _ms(value: float | None) -> str:
    return "never" if value is None else f"{value:.1f} ms"


def failed_expectations(expect: Expectation, result: RunResult) -> list[str]:
    """Every expectation that does not hold, as a sentence; empty when all hold."""
    misses: list[str] = []
    codes = [fault.code for fault in result.faults]
    if expect.final_state is not None and result.final_state != expect.final_state:
        misses.append(f"final_state is {result.final_state!r}, expected "
                      f"{expect.final_state!r}")
    if expect.fault is not None:
        first = codes[0] if codes else "none"
        if first != expect.fault:
            misses.append(f"first fault is {first!r}, expected {expect.fault!r}")
    if expect.faults is not None and tuple(codes) != expect.faults:
        misses.append(f"faults are {codes}, expected {list(expect.faults)}")
    if expect.fault is None and expect.faults is None:
        # A fault nobody expected is a failure, [expect] or not: a scenario that latched one
        # must say so (fault = "...") to pass, or a broken run would look like a clean one.
        for fault in result.faults:
            misses.append(f"unexpected fault {fault.code!r} latched at {fault.at_s:.3f} s "
                          f"(the [expect] table names no fault; add fault = {fault.code!r} "
                          f"if it is meant)")
    if expect.max_safe_after_ms is not None:
        for fault in result.faults:
            value = fault.safe_after_ms
            if value is None or value > expect.max_safe_after_ms:
                misses.append(f"{fault.code}: safe state after {_ms(value)}, expected at most "
                              f"{expect.max_safe_after_ms:g} ms")
    if expect.max_relay_open_after_ms is not None:
        for fault in result.faults:
            value = fault.relay_open_after_ms
            if value is None or value > expect.max_relay_open_after_ms:
                misses.append(f"{fault.code}: relay open after {_ms(value)}, expected at most "
                              f"{expect.max_relay_open_after_ms:g} ms")
    _at_most(misses, "peak_current_ma", result.peak_current_ma, expect.max_peak_current_ma)
    _at_most(misses, "true_peak_current_ma", result.true_peak_current_ma,
             expect.max_true_peak_current_ma)
    _at_most(misses, "dose_ma_min", result.dose_ma_min, expect.max_dose_ma_min)
    if expect.min_dose_ma_min is not None and result.dose_ma_min < expect.min_dose_ma_min:
        misses.append(f"dose_ma_min is {result.dose_ma_min:.3f}, expected at least "
                      f"{expect.min_dose_ma_min:g}")
    if expect.max_regulation_error_ma is not None:
        error = result.max_regulation_error_ma
        if error is None:
            misses.append("max_regulation_error_ma: the treatment never reached hold")
        else:
            _at_most(misses, "max_regulation_error_ma", error, expect.max_regulation_error_ma)
    if expect.min_hold_s is not None and result.hold_s < expect.min_hold_s:
        misses.append(f"hold lasted {result.hold_s:.1f} s, expected at least "
                      f"{expect.min_hold_s:g} s")
    if expect.refusal is not None and expect.refusal not in result.refusals:
        misses.append(f"no refusal {expect.refusal!r} (refusals: {result.refusals})")
    if expect.max_overruns is not None:
        overruns = int(result.loop.get("overruns", 0))
        if overruns > expect.max_overruns:
            misses.append(f"{overruns} loop overruns, expected at most {expect.max_overruns}")
    return misses


def _at_most(misses: list[str], name: str, value: float, limit: float | None) -> None:
    if limit is not None and value > limit:
        misses.append(f"{name} is {value:.4f}, expected at most {limit:g}")
