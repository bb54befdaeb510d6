"""The records export onto a USB stick (issue 13, "Export to USB").

- ``udisks``: pure: which mounted file systems in udisks2's answer are removable drives
- ``sources``: where drives come from (udisks2 over D-Bus on the device, a folder under --sim
  and in tests), swappable like gpiozero's pin factories
- ``export_job``: one export onto a drive: temporary folder, verified, renamed last, synced;
  stable failure codes (stick full, read-only, pulled)

Imports nothing above records: no Kivy, no control, no HAL (the screen
``kiosk.screens.service_export`` drives it).
"""
