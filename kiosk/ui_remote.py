"""``kiosk`` as a client of the control daemon (the default; ``kiosk --in-process`` keeps the
loop inside the UI process for development).

The UI process has no way to the hardware but the control socket: it connects with a
:class:`kiosk.ipc.client.RemoteController`, waits a little for the daemon (``./run-sim`` starts
both at once), and runs the same app either way; without a daemon the screen says "control unit
not answering" and the link keeps trying. Closing the window sends ``Stop(SHUTDOWN)`` and waits
for the current to reach zero before it disconnects.
"""

from __future__ import annotations

import argparse
import os
import signal

from kiosk.ipc.client import RemoteController

CONNECT_WAIT_S = 5.0


def run_remote_ui(args: argparse.Namespace) -> int:
    """The kiosk window as a client. The state folder is the daemon's (it holds the folder's
    lock): the UI opens only the records database in it (``--state-dir``, as given to the
    daemon; under ``--sim`` without it, a fresh folder of its own). The control layer's dose
    figures come from the daemon (``session_progress``) whichever database that is."""
    from kiosk.access.provision import provision_for_sim
    from kiosk.cli import configure_kivy

    configure_kivy(fullscreen=args.fullscreen)
    from kiosk.app import KioskApp
    from kiosk.control.catalogue import load_catalogue
    from kiosk.entry.state_dir import choose_state_dir
    from kiosk.records import records_path
    from kiosk.screens.records_view import ControlProgress, RecordsView

    remote = RemoteController(getattr(args, "socket", None), name=f"kiosk-ui {os.getpid()}")
    remote.start()
    remote.wait_connected(CONNECT_WAIT_S)
    state_dir = choose_state_dir(args.state_dir, sim=args.sim).path
    # The dose the control layer logs is in the daemon's records, which need not be these
    # (SR-180): the day's budget and interrupted sessions ask the daemon (opened after the
    # wait for the link, so interrupted sessions get their dose at once).
    records_view = RecordsView.open(records_path(state_dir),
                                    progress_source=ControlProgress(remote))
    if args.sim:  # the service PIN vault is the UI's, in its state folder
        provision_for_sim(state_dir)
    try:
        app = KioskApp(controller=remote, catalogue=load_catalogue(), records_view=records_view,
                       inject=remote.inject if remote.sim else None,
                       fault_names=remote.fault_names, language=args.language,
                       state_dir=state_dir)
        signal.signal(signal.SIGTERM, lambda *_a: app.stop())
        app.run()
    finally:
        remote.close()  # waits for Stop(SHUTDOWN) to bring the current down, then leaves
        if isinstance(records_view, RecordsView):
            records_view.close_store()
    return 0
