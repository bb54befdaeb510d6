"""Plain words for the control layer's codes: what happened, and what to do (ui-guide "Colour").

The control layer names every decision, refusal and fault with a stable code and an English
sentence; the screen translates by code. A code missing here falls back to the control layer's own
sentence, so a new code is never shown blank.
"""

from __future__ import annotations

from kiosk.control.codes import Reason
from kiosk.control.snapshot import TreatmentState
from kiosk.i18n import N_, _, numbers

# code -> (what happened, what to do)
FAULT_TEXTS: dict[str, tuple[str, str]] = {
    "contact_lost": (N_("Contact lost: the current was cut."),
                     N_("Wet the sponges, put the electrodes back on the skin, then check "
                        "contact and start again from zero.")),
    "over_current": (N_("Current too high: the current was cut."),
                     N_("Check the electrodes and the cable. If it happens again, call "
                        "service.")),
    "regulation": (N_("The current could not be held at its value: the current was cut."),
                   N_("Check the electrode contact. If it happens again, call service.")),
    "unintended_output": (N_("Current flowed while the output was off."),
                          N_("Remove the electrodes from the client and call service.")),
    "sensor_stale": (N_("The current measurement stopped: the current was cut."),
                     N_("Remove the electrodes and call service.")),
    "sensor_range": (N_("The current measurement is out of range: the current was cut."),
                     N_("Remove the electrodes and call service.")),
    "sensor_sign": (N_("The measured current has the wrong direction: the current was cut."),
                    N_("Remove the electrodes and call service.")),
    "dac_readback": (N_("The current setting did not take effect: the current was cut."),
                     N_("Remove the electrodes and call service.")),
    "short_circuit": (N_("Short circuit between the electrodes: the current was cut."),
                      N_("Make sure the electrodes do not touch each other and the sponges are "
                         "not dripping, then start again.")),
    "compliance_saturation": (N_("The skin resistance is too high to hold the current."),
                              N_("Wet the sponges and check contact, then start again.")),
    "polarity_mismatch": (N_("The electrode polarity could not be confirmed: the current was "
                             "cut."),
                          N_("Remove the electrodes and call service.")),
    "estop": (N_("Emergency stop pressed: the current was cut."),
              N_("Release the emergency stop button when it is safe, then acknowledge.")),
    "hw_trip": (N_("The hardware safety trip cut the current."),
                N_("Remove the electrodes and call service.")),
    "i2c_error": (N_("The device lost contact with its current board: the current was cut."),
                  N_("Remove the electrodes and call service.")),
    "loop_overrun": (N_("The current control ran late: the current was cut."),
                     N_("Acknowledge and start again. If it happens again, call service.")),
    "loop_stall": (N_("The current control stopped responding: the current was cut."),
                   N_("Remove the electrodes and call service.")),
    "ui_heartbeat_lost": (N_("The screen stopped responding: the current was cut."),
                          N_("Acknowledge and start again. If it happens again, call service.")),
    "internal_error": (N_("Internal error: the current was cut."),
                       N_("Remove the electrodes and call service.")),
    "selftest_failed": (N_("The device self-test failed."),
                        N_("Do not treat. Call service.")),
    "boost_out_of_range": (N_("The electrode supply voltage is wrong: the current was cut."),
                           N_("Remove the electrodes and call service.")),
    "supervisor_trip": (N_("The safety supervisor opened the output: the current was cut."),
                        N_("Acknowledge and start again. If it happens again, call service.")),
    "ui_connection_lost": (N_("The screen lost its connection to the current control: the "
                              "current was cut."),
                           N_("Acknowledge and start again. If it happens again, call service.")),
    "storage_fault": (N_("Records cannot be saved."),
                      N_("No new treatment can start. Call service.")),
}

STATE_WORDS: dict[TreatmentState, str] = {
    TreatmentState.IDLE: N_("Ready"),
    TreatmentState.CONTACT_CHECK: N_("Checking contact"),
    TreatmentState.RAMP_UP: N_("Ramping up"),
    TreatmentState.HOLD: N_("Holding"),
    TreatmentState.PAUSED: N_("Paused"),
    TreatmentState.RAMP_DOWN: N_("Ramping down"),
    TreatmentState.DONE: N_("Done"),
    TreatmentState.FAULT: N_("Fault: current cut"),
}


def fault_texts(reason: Reason) -> tuple[str, str]:
    """(what happened, what to do) in the current language."""
    known = FAULT_TEXTS.get(reason.code)
    if known is None:
        return reason.text, _("Remove the electrodes and call service.")
    return _(known[0]), _(known[1])


def state_word(state: TreatmentState) -> str:
    return _(STATE_WORDS[state])


def reason_text(reason: Reason) -> str:
    """One sentence for a refusal or decision, translated when the UI knows the code.

    The templates name the same values as the control layer's (``Reason.details``); when a value
    is missing the control layer's own English sentence is shown rather than a sentence with a hole.
    """
    known = REASON_TEXTS.get(reason.code)
    if known is None:
        return reason.text
    try:
        return numbers.format_template(_(known), **dict(reason.details))
    except (KeyError, ValueError, IndexError):
        return reason.text


# Refusals and decisions a screen shows in its banner (code -> sentence with named values).
REASON_TEXTS: dict[str, str] = {
    # issue 13, service mode: calibration and salon limits
    "calibration_missing": N_("The device has no calibration: no treatment can start until a "
                              "technician calibrates it in service mode."),
    "calibration_invalid": N_("The stored calibration is refused ({problem}): no treatment can "
                              "start until a technician calibrates the device in service "
                              "mode."),
    "calibration_refused": N_("Calibration refused: {field} = {value} is implausible (allowed "
                              "{allowed}); the calibration in force is kept. Check the "
                              "connections and the figures typed."),
    "calibration_load_wrong": N_("The load reads {load_kohm} kΩ, not the {reference_kohm:.0f} "
                                 "kΩ reference resistor: connect the reference resistor (never "
                                 "a client) and try again."),
    "service_not_now": N_("Service work needs the device idle with no session open and no "
                          "fault; nothing changed."),
    "salon_limits_refused": N_("Salon limit refused: {field} = {value} is outside its hard "
                               "bounds {allowed}; the limits in force are kept."),
    "salon_limits_invalid": N_("The stored salon limits are refused ({problem}): no treatment "
                               "can start until the limits are set again in service mode."),
    "settings_not_stored": N_("The {what} could not be written ({problem}); the values in force "
                              "are kept."),
    "screening_not_cleared": N_("The contraindication screening is not cleared: no current "
                                "stage can start in this session."),
    "selftest_required": N_("The device self-test has not passed yet: no treatment can start."),
    "fault_latched": N_("A fault is active: acknowledge it first."),
    "current_above_cap": N_("{requested_ma:.2f} mA is above the cap of {cap_ma:.2f} mA: choose "
                            "{cap_ma:.2f} mA or less."),
    "caution_not_acknowledged": N_("A caution item applies: acknowledge the warning first."),
    "dose_cap_already_reached": N_("Today's dose cap for this client and area is reached "
                                   "({dose_ma_min:.2f} of {cap_ma_min:.2f} mA·min, earlier "
                                   "programs today included)."),
    "stage_time_used_up": N_("The current-stage time is used up in this session."),
    "estop_pressed": N_("The emergency stop is pressed: release it first."),
    "current_at_cap": N_("The current is already at its cap of {cap_ma:.2f} mA."),
    "current_at_minimum": N_("The current is already at its minimum of {minimum_ma:.2f} mA: use "
                             "Pause or STOP to end it."),
    "compliance_limit": N_("The electrode voltage is high ({electrode_v:.1f} V): the current "
                           "cannot be raised now. Check and wet the electrodes."),
    "ack_condition_present": N_("The cause is still present: remove it, then acknowledge."),
    "ack_too_early": N_("The fault has only just occurred: look at it, then acknowledge."),
    "contact_check_failed": N_("Check electrodes: the skin contact is too poor to start "
                               "({load_kohm:.0f} kΩ, at most {limit_kohm:.0f} kΩ). Wet the pads "
                               "and press them on."),
    "contact_check_open": N_("Check electrodes: no current flows between them. Connect both "
                             "electrodes and put them on the skin."),
    "contact_check_short": N_("Check electrodes: they seem to touch each other or a wet bridge "
                              "joins them."),
    "contact_check_passed": N_("Contact good ({load_kohm:.1f} kΩ): ramping up."),
    "compliance_warning": N_("The electrode voltage is high ({electrode_v:.1f} V): the ramp is "
                             "held. Check and wet the electrodes."),
    "contact_poor": N_("Contact is getting poor ({load_kohm:.0f} kΩ): check the electrodes."),
    "adjust_capped": N_("Target current held at its cap of {cap_ma:.2f} mA."),
    "stage_time_reached": N_("The current-stage time is reached: ramping down."),
    "dose_cap_reached": N_("The dose cap of {cap_ma_min:.2f} mA·min is reached: ramping down."),
    "paused": N_("Paused: the current is at zero and the output is open."),
    "resumed": N_("Resuming: new contact check, then a fresh ramp."),
    "stopped": N_("Stopped: the current goes to zero within 2 s."),
    "treatment_done": N_("Current stage finished: {dose_ma_min:.2f} mA·min in {elapsed_min:.1f} "
                         "min."),
    "consent_missing": N_("The client's consent is not recorded: no current can start. Ask the "
                          "client to read and sign the consent first."),
    "consent_stale": N_("The client's consent is not for the consent text in force: no current "
                        "can start. Ask the client to read and sign it again."),
}

SENSATION_WORDS: dict[str, str] = {
    "none": N_("nothing special"),
    "tingling": N_("tingling"),
    "warm": N_("warm"),
    "burning": N_("burning"),
}

# What happened during a treatment, as the summary lists it (flow event code -> words).
EVENT_WORDS: dict[str, str] = {
    "caution_acknowledged": N_("Caution acknowledged: caps halved"),
    "peel_done": N_("Peel finished"),
    "peel_ended_early": N_("Peel ended before its timer"),
    "peel_timer_not_used": N_("Peel without the timer"),
    "active_applied": N_("Product applied"),
    "start_requested": N_("Current started"),
    "restart_requested": N_("Started again after a new contact check"),
    "pause": N_("Paused"),
    "resume": N_("Resumed"),
    "adjust": N_("Current changed"),
    "stop_operator": N_("STOP pressed"),
    "client_discomfort": N_("Client felt burning: stopped"),
    "tonic_done": N_("Tonic lotion finished"),
    "tonic_ended_early": N_("Tonic lotion ended before its timer"),
    "tonic_timer_not_used": N_("Tonic lotion without the timer"),
    "area_screening_reset": N_("Another area chosen: its questions asked again"),
    "second_phase_chosen": N_("Second phase chosen"),
    "second_phase_declined": N_("Second phase declined"),
    "without_current_chosen": N_("Session without current chosen"),
}


def sensation_word(code: str) -> str:
    return _(SENSATION_WORDS.get(code, code))


def event_words(code: str, detail: str = "") -> str:
    """One line for the summary's event list."""
    kind, _sep, subject = code.partition(":")
    if kind == "fault":
        return _("Fault: {what}").format(what=fault_texts(Reason(subject, subject))[0])
    if kind == "acknowledged":
        return _("Fault acknowledged")
    words = _(EVENT_WORDS[code]) if code in EVENT_WORDS else code
    return f"{words} ({detail})" if detail else words


# How a session ended, as the history lists it (the record's stop_reason -> words).
OUTCOME_WORDS: dict[str, str] = {
    "completed": N_("finished normally"),
    "operator": N_("ended with STOP"),
    "ended_early": N_("ended early"),
    "client_discomfort": N_("stopped: the client felt burning"),
    "screening_blocked": N_("screening: not possible"),
    "screening_blocked_without_current": N_("screening: without current (peel, product, "
                                            "tonic)"),
    "no_current_stage": N_("no current stage"),
    "interrupted": N_("interrupted (power loss or crash)"),
}


def outcome_words(stop_reason: str | None) -> str:
    """How a session ended, in words: a fault code names the fault (an E-stop included)."""
    if stop_reason is None:
        return _("still open")
    if stop_reason in OUTCOME_WORDS:
        return _(OUTCOME_WORDS[stop_reason])
    return _("Fault: {what}").format(what=fault_texts(Reason(stop_reason, stop_reason))[0])
