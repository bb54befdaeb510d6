"""Current and safety: pure logic (regulator, ramp, limits, state machine, dose) and the shell
that does I/O (control thread, shutdown path, supervisor, systemd watchdog, scenario runner).

Imports nothing of Kivy; the UI talks to it only through :mod:`kiosk.control.commands` and reads
:mod:`kiosk.control.snapshot`.
"""
