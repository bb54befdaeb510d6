"""The technician's self-test (issue 13): step by step, re-runnable, on the control thread.

- :mod:`.report`: what a step found (pass/fail, its figure, a stable cause) and the published
  report the UI reads through the ``selftest_report`` query;
- :mod:`.steps`: one small monitor per step, each with one job (Klipper's ``verify_heater`` is
  the model: a check with its thresholds and a plain cause), written as a generator the cycle
  drives (it yields how long to wait, the runner resumes it on a later cycle);
- :mod:`.runner`: the state machine the control loop drives once per cycle while a run is on:
  safe state after every step and at any failure, STOP or E-stop;
- :mod:`.admission`: when a ``RunSelfTest`` / ``ProgramDacEeprom`` command may start (the
  core asks it; a refusal carries a stable code);
- :mod:`.queries`: the ``selftest_report`` query.
"""
