"""The control socket: the protocol (shared by daemon and clients), the daemon's server and the
client the UI and ``kiosk-ctl`` use. See ``docs/control-socket.md``.

Layering: :mod:`kiosk.ipc.protocol` and :mod:`kiosk.ipc.client` import only the shared command
and snapshot types (``kiosk.control.commands``, ``kiosk.control.snapshot``,
``kiosk.control.codes``), never ``kiosk.hal`` or the control loop; the UI can import them
without the hardware layer.
"""
