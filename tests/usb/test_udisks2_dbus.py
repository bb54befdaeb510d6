"""The udisks2 source over a real D-Bus: a private ``dbus-daemon`` and a stand-in udisks2 that
answers ``GetManagedObjects`` and ``Filesystem.Unmount`` as udisks2 does (jeepney on both
sides). Proves the wire: the call, the variant-typed answer, the unmount's object and
interface, and each way the bus can fail (no bus, no udisks2, no answer in time). Skipped, with
the reason, where no ``dbus-daemon`` is installed.
"""

from __future__ import annotations

import shutil
import subprocess
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from kiosk.usb.sources import DriveLookupError, UDisks2Source
from tests.usb.test_udisks import stick_answer

pytestmark = [pytest.mark.requirement("SR-103"),
              pytest.mark.skipif(shutil.which("dbus-daemon") is None,
                                 reason="dbus-daemon is not installed")]


@pytest.fixture
def bus(tmp_path: Path) -> Iterator[str]:
    socket = tmp_path / "bus"
    config = tmp_path / "bus.conf"
    config.write_text(f"""<busconfig><type>session</type><listen>unix:path={socket}</listen>
<auth>EXTERNAL</auth>
<policy context="default"><allow send_destination="*" eavesdrop="true"/>
<allow eavesdrop="true"/><allow own="*"/></policy></busconfig>
""")
    daemon = subprocess.Popen(["dbus-daemon", "--config-file", str(config), "--nofork",
                               "--print-address"], stdout=subprocess.PIPE, text=True)
    assert daemon.stdout is not None
    address = daemon.stdout.readline().strip()
    try:
        yield address
    finally:
        daemon.terminate()
        daemon.wait(5)


class StandIn:
    """udisks2's name on the bus, answering from its own thread."""

    def __init__(self, address: str, objects: Any, *, answer: bool = True) -> None:
        from jeepney.bus_messages import message_bus
        from jeepney.io.blocking import open_dbus_connection

        self.conn = open_dbus_connection(bus=address)
        self.conn.send_and_get_reply(message_bus.RequestName("org.freedesktop.UDisks2"),
                                     timeout=5)
        self.objects = objects
        self.answer = answer
        self.calls: list[tuple[str, str, str, Any]] = []
        self.stop = threading.Event()
        self.thread = threading.Thread(target=self.serve, daemon=True)
        self.thread.start()

    def serve(self) -> None:
        from jeepney import HeaderFields, MessageType, new_error, new_method_return

        while not self.stop.is_set():
            try:
                msg = self.conn.receive(timeout=0.1)
            except TimeoutError:
                continue
            except OSError:
                return
            if msg.header.message_type is not MessageType.method_call:
                continue
            fields = msg.header.fields
            call = (str(fields.get(HeaderFields.path)), str(fields.get(HeaderFields.interface)),
                    str(fields.get(HeaderFields.member)), msg.body)
            self.calls.append(call)
            if not self.answer:
                continue
            if call[2] == "GetManagedObjects":
                self.conn.send(new_method_return(msg, "a{oa{sa{sv}}}", (self.objects,)))
            elif call[2] == "Unmount" and call[0].endswith("/sda1"):
                self.conn.send(new_method_return(msg))
            else:
                self.conn.send(new_error(msg, "org.freedesktop.UDisks2.Error.Failed", "s",
                                         ("target is busy",)))

    def close(self) -> None:
        self.stop.set()
        self.thread.join(2)
        self.conn.close()


def source(address: str, timeout_s: float = 3.0) -> UDisks2Source:
    from jeepney.io.blocking import open_dbus_connection

    return UDisks2Source(connect=lambda: open_dbus_connection(bus=address), timeout_s=timeout_s)


def test_the_stick_is_found_over_the_bus_and_unmounted_there(bus: str) -> None:
    stand_in = StandIn(bus, stick_answer())
    try:
        usb = source(bus)
        drives = usb.drives()
        assert [str(d.mount_point) for d in drives] == ["/media/kiosk/SALON"]
        assert drives[0].label == "SALON" and drives[0].size_bytes == 15_376_000_000
        assert usb.release(drives[0]) is None
        assert stand_in.calls[0][:3] == ("/org/freedesktop/UDisks2",
                                         "org.freedesktop.DBus.ObjectManager",
                                         "GetManagedObjects")
        assert stand_in.calls[1] == ("/org/freedesktop/UDisks2/block_devices/sda1",
                                     "org.freedesktop.UDisks2.Filesystem", "Unmount", ({},))
    finally:
        stand_in.close()


def test_a_refused_unmount_is_said_not_raised(bus: str) -> None:
    from kiosk.usb.udisks import Drive

    stand_in = StandIn(bus, stick_answer())
    try:
        other = Drive(Path("/media/x"), "X", "/dev/sdb1",
                      "/org/freedesktop/UDisks2/block_devices/sdb1", None, False)
        problem = source(bus).release(other)
        assert problem is not None and "target is busy" in problem
    finally:
        stand_in.close()


def test_no_udisks2_on_the_bus_is_a_lookup_error(bus: str) -> None:
    with pytest.raises(DriveLookupError) as caught:
        source(bus).drives()
    assert caught.value.code == "usb.udisks_error"
    assert "ServiceUnknown" in caught.value.text or "NameHasNoOwner" in caught.value.text


def test_udisks2_that_never_answers_times_out(bus: str) -> None:
    stand_in = StandIn(bus, stick_answer(), answer=False)
    try:
        with pytest.raises(DriveLookupError) as caught:
            source(bus, timeout_s=0.3).drives()
        assert caught.value.code == "usb.no_answer"
    finally:
        stand_in.close()


def test_no_bus_at_all_is_a_lookup_error(tmp_path: Path) -> None:
    with pytest.raises(DriveLookupError) as caught:
        source(f"unix:path={tmp_path / 'nothing'}").drives()
    assert caught.value.code == "usb.no_bus"
