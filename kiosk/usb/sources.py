"""Where the export's drives come from: a swappable source, as gpiozero swaps its pin factories.

- :class:`UDisks2Source` (the device): asks udisks2 on the system D-Bus for its objects
  (``GetManagedObjects``) and reads the answer with :func:`kiosk.usb.udisks.parse_managed_objects`;
  releasing a drive unmounts it through udisks2 (``Filesystem.Unmount``), so the stick's LED
  stops and nothing is cached for it any more.
- :class:`FolderSource` (``--sim``, tests): one folder stands for the mount point of one stick:
  present means inserted, absent means no stick.

:func:`source_from_environment` picks one: ``$KIOSK_USB_SOURCE`` = ``udisks2`` or
``folder:/path``; without it the simulator gets a folder (``$KIOSK_USB_FOLDER``, else
``<tmp>/kiosk-usb-stick``) and the device udisks2. The app may also carry its own source
(``app.usb_source``: the UI tests set a folder).

D-Bus library: jeepney (pure Python, no compiled part, no event loop of its own, maintained
for years as the D-Bus layer of ``secretstorage``/``keyring``): a blocking call with a timeout
from the export's worker thread is all this needs, and the wheel is the same on the Pi.
"""

from __future__ import annotations

import contextlib
import os
import tempfile
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

from kiosk.usb.udisks import BLOCK, FILESYSTEM, Drive, parse_managed_objects

UDISKS2_BUS_NAME = "org.freedesktop.UDisks2"
UDISKS2_ROOT = "/org/freedesktop/UDisks2"
DBUS_TIMEOUT_S = 3.0
SOURCE_VARIABLE = "KIOSK_USB_SOURCE"
FOLDER_VARIABLE = "KIOSK_USB_FOLDER"


class DriveLookupError(Exception):
    """The drives cannot be listed (no system bus, udisks2 not running, no answer in time)."""

    def __init__(self, code: str, text: str) -> None:
        super().__init__(f"{code}: {text}")
        self.code = code
        self.text = text


class DriveSource(Protocol):
    """What the export needs of a source."""

    name: str

    def drives(self) -> list[Drive]:
        """The mounted removable drives now (DriveLookupError when they cannot be asked)."""
        ...

    def release(self, drive: Drive) -> str | None:
        """Let the drive go (unmount); None when done, else a plain reason why not."""
        ...


@dataclass
class FolderSource:
    """One folder as the mount point of one stick (the simulator, tests)."""

    folder: Path
    name: str = "folder"

    def drives(self) -> list[Drive]:
        if not self.folder.is_dir():
            return []
        return [Drive(mount_point=self.folder, label=self.folder.name, device="",
                      object_path="", size_bytes=None, read_only=False)]

    def release(self, drive: Drive) -> str | None:
        return None  # nothing is mounted: a folder is always safe to take away once synced


Connect = Callable[[], Any]
"""Opens a jeepney blocking connection (``send_and_get_reply(msg, timeout=...)``, ``close()``)."""


def _system_bus() -> Any:
    from jeepney.io.blocking import open_dbus_connection

    return open_dbus_connection(bus="SYSTEM")


class UDisks2Source:
    """udisks2 over the system D-Bus (jeepney, blocking, with a timeout; one connection per
    question, so a restarted udisks2 or bus is simply asked again)."""

    name = "udisks2"

    def __init__(self, connect: Connect = _system_bus, timeout_s: float = DBUS_TIMEOUT_S,
                 bus_name: str = UDISKS2_BUS_NAME) -> None:
        self._connect = connect
        self._timeout_s = timeout_s
        self._bus_name = bus_name

    def _call(self, path: str, interface: str, method: str, signature: str | None = None,
              body: tuple[Any, ...] = ()) -> tuple[Any, ...]:
        from jeepney import DBusAddress, new_method_call
        from jeepney.wrappers import DBusErrorResponse, unwrap_msg

        try:
            connection = self._connect()
        except (OSError, KeyError, ValueError, TimeoutError) as exc:
            raise DriveLookupError("usb.no_bus", f"the system D-Bus cannot be reached ({exc})"
                                   ) from exc
        try:
            address = DBusAddress(path, bus_name=self._bus_name, interface=interface)
            reply = connection.send_and_get_reply(
                new_method_call(address, method, signature, body), timeout=self._timeout_s)
            result = unwrap_msg(reply)
        except DBusErrorResponse as exc:
            raise DriveLookupError("usb.udisks_error", f"udisks2 answered {exc.name}: "
                                   f"{' '.join(str(d) for d in exc.data)}") from exc
        except (OSError, TimeoutError, ValueError) as exc:
            raise DriveLookupError("usb.no_answer",
                                   f"udisks2 did not answer ({exc or type(exc).__name__})"
                                   ) from exc
        finally:
            with contextlib.suppress(OSError):
                connection.close()
        return tuple(result) if isinstance(result, tuple | list) else (result,)

    def managed_objects(self) -> Any:
        """The raw answer of ``GetManagedObjects`` (what :func:`parse_managed_objects` reads)."""
        body = self._call(UDISKS2_ROOT, "org.freedesktop.DBus.ObjectManager",
                          "GetManagedObjects")
        return body[0] if body else {}

    def drives(self) -> list[Drive]:
        return parse_managed_objects(self.managed_objects())

    def release(self, drive: Drive) -> str | None:
        if not drive.object_path:
            return None
        try:
            self._call(drive.object_path, FILESYSTEM, "Unmount", "a{sv}", ({},))
        except DriveLookupError as exc:
            return exc.text
        return None


def default_sim_folder(env: Mapping[str, str] | None = None) -> Path:
    env = os.environ if env is None else env
    given = env.get(FOLDER_VARIABLE, "").strip()
    return Path(given) if given else Path(tempfile.gettempdir()) / "kiosk-usb-stick"


def source_from_environment(*, sim: bool, env: Mapping[str, str] | None = None) -> DriveSource:
    """``$KIOSK_USB_SOURCE`` (``udisks2`` or ``folder:/path``), else by ``sim`` (see module).
    An unknown value raises ValueError naming what is allowed."""
    env = os.environ if env is None else env
    chosen = env.get(SOURCE_VARIABLE, "").strip()
    if chosen == "udisks2":
        return UDisks2Source()
    if chosen.startswith("folder:") and len(chosen) > len("folder:"):
        return FolderSource(Path(chosen[len("folder:"):]))
    if chosen:
        raise ValueError(f"${SOURCE_VARIABLE} = {chosen!r}: allowed are 'udisks2' and "
                         "'folder:/path'")
    return FolderSource(default_sim_folder(env)) if sim else UDisks2Source()


__all__ = ["BLOCK", "DriveLookupError", "DriveSource", "FolderSource", "UDisks2Source",
           "default_sim_folder", "source_from_environment"]
