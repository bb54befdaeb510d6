"""An emulated I2C bus that the real Adafruit drivers talk to as if it were ``busio.I2C``.

The drivers (``adafruit_mcp4725``, ``adafruit_ads1x15`` through ``adafruit_bus_device``) only
call five methods: ``try_lock``, ``unlock``, ``writeto``, ``readfrom_into`` and
``writeto_then_readfrom``. This bus offers exactly those, with busio's signatures, and routes
the bytes to register-level chip models attached by address.

Behaviour copied from Linux i2c-dev (what Blinka uses on the Pi):

- an address nobody answers (absent, or set to NACK by a fault) raises
  ``OSError(errno.EREMOTEIO)``, the errno the kernel reports for a NACKed address byte;
- a zero-length write is a probe: the address is ACKed or NACKed, no data reaches the chip;
- a write to address 0x00 is a general call, delivered to every attached chip.

Every transaction costs its wire time at the bus clock (9 bit-times per byte, address and ACK
included, plus start, repeated start and stop) through ``clock.elapse_s``: on the wall clock
that yields the GIL the way the ioctl does, on a virtual clock it advances simulated time.

Chips see a transaction's bytes at the end of its wire time. On the virtual clock, timer
callbacks fire on the thread that spends that time (the supervisor running inside the control
thread's transaction); if such a callback starts a transaction of its own, the pending one is
delivered first, so the callback finds it finished, exactly as a second master waiting for the
bus would on the real hardware. The callback is granted the bus lock for that (see
:meth:`EmulatedI2C.try_lock`), except while the bus is stalled.
"""

from __future__ import annotations

import errno
import threading
from collections import deque
from collections.abc import Callable
from typing import NamedTuple, Protocol

from kiosk.hal.clock import Clock

GENERAL_CALL_ADDRESS = 0x00
DEFAULT_BUS_HZ = 400_000
BITS_PER_BYTE = 9  # 8 data bits plus ACK/NACK
CONDITION_BITS = 1  # start, repeated start or stop, counted as one bit-time each


class I2CTarget(Protocol):
    """A chip on the bus, seen at register level.

    ``write`` receives the data bytes of one write (after the address byte), ``read`` returns
    the ``n`` bytes the chip clocks out in one read, ``general_call`` receives the bytes of a
    write to address 0x00.
    """

    def write(self, data: bytes) -> None: ...

    def read(self, n: int) -> bytes: ...

    def general_call(self, data: bytes) -> None: ...


class BusRecord(NamedTuple):
    """One entry of the transaction log."""

    time_s: float
    address: int
    kind: str  # "write", "read", "probe", "nack", "general_call"
    data: bytes


class EmulatedI2C:
    """A ``busio.I2C`` stand-in carrying register-level chip models.

    Thread-safe: one lock serialises transactions, as the kernel's adapter lock does.
    """

    def __init__(self, clock: Clock, *, bus_hz: int = DEFAULT_BUS_HZ,
                 log_size: int = 2048) -> None:
        if bus_hz <= 0:
            raise ValueError(f"bus_hz must be positive, got {bus_hz}")
        self._clock = clock
        self._bit_s = 1.0 / bus_hz
        self._targets: dict[int, I2CTarget] = {}
        self._nacking: set[int] = set()
        self._transaction_lock = threading.RLock()
        self._state_lock = threading.Lock()
        # busio-style user lock (what try_lock/unlock manage), with a depth for the nested
        # grant described in try_lock.
        self._user_lock_owner: int | None = None
        self._user_lock_depth = 0
        # The thread currently spending a transaction's wire time, and whether it is stalled.
        self._wire_thread: int | None = None
        self._stalling = False
        self._pending_stall_s = 0.0
        self._pending: list[Callable[[], None]] = []
        self.log: deque[BusRecord] = deque(maxlen=log_size)

    # ------------------------------------------------------------------ wiring and faults

    def attach(self, address: int, device: I2CTarget) -> None:
        """Put ``device`` on the bus at 7-bit ``address`` (0x08-0x77)."""
        if not 0x08 <= address <= 0x77:
            raise ValueError(f"7-bit I2C address must be 0x08-0x77, got 0x{address:02x}")
        if address in self._targets:
            raise ValueError(f"address 0x{address:02x} is already taken")
        self._targets[address] = device

    def detach(self, address: int) -> None:
        """Remove the chip at ``address`` (it then NACKs like an absent part)."""
        self._targets.pop(address, None)

    def set_nack(self, address: int, nack: bool) -> None:
        """Make ``address`` NACK every transaction (a dead or unplugged chip), or stop doing so."""
        with self._state_lock:
            if nack:
                self._nacking.add(address)
            else:
                self._nacking.discard(address)

    def stall_next_transaction(self, duration_s: float) -> None:
        """Hold the bus for ``duration_s`` at the start of the next transaction.

        This is the ``loop_stall`` fault: the thread running that transaction (the control
        thread) blocks in ``clock.sleep_s``; everybody else waiting for the bus waits too.
        """
        if duration_s < 0:
            raise ValueError(f"stall duration must be >= 0, got {duration_s}")
        with self._state_lock:
            self._pending_stall_s = duration_s

    def general_call(self, command: int) -> None:
        """Send a one-byte general call (0x06 reset, 0x09 wake-up) as a service tool would."""
        self.writeto(GENERAL_CALL_ADDRESS, bytes([command]))

    # ------------------------------------------------------------------ busio interface

    def try_lock(self) -> bool:
        """Take the bus for a sequence of transactions, busio style (never blocks).

        Nested grant: a thread that holds the lock and is inside a transaction's wire time can
        only be calling from a virtual-clock timer callback fired by that very transaction; on
        the real device that callback would be another thread that waits a few microseconds for
        the bus, so it is granted the lock (not while the bus is stalled: then it must fail, as
        the waiting thread would).
        """
        me = threading.get_ident()
        with self._state_lock:
            if self._user_lock_owner is None:
                self._user_lock_owner = me
                self._user_lock_depth = 1
                return True
            if (self._user_lock_owner == me and self._wire_thread == me
                    and not self._stalling):
                self._user_lock_depth += 1
                return True
            return False

    def unlock(self) -> None:
        with self._state_lock:
            if self._user_lock_depth > 0:
                self._user_lock_depth -= 1
            if self._user_lock_depth == 0:
                self._user_lock_owner = None

    def writeto(self, address: int, buffer: bytes | bytearray | memoryview, *, start: int = 0,
                end: int | None = None, stop: bool = True) -> None:
        """Write ``buffer[start:end]`` to ``address`` in one transaction (zero length: probe)."""
        data = bytes(buffer[start:end])

        def deliver(target: I2CTarget | None) -> None:
            if address == GENERAL_CALL_ADDRESS:
                self._record(address, "general_call", data)
                for device in self._responsive_targets():
                    device.general_call(data)
            elif not data:
                self._record(address, "probe", b"")
            elif target is not None:
                self._record(address, "write", data)
                target.write(data)

        self._transact(address, 1 + len(data), 2, deliver)

    def readfrom_into(self, address: int, buffer: bytearray | memoryview, *, start: int = 0,
                      end: int | None = None, stop: bool = True) -> None:
        """Read ``len(buffer[start:end])`` bytes from ``address`` in one transaction."""
        stop_index = len(buffer) if end is None else end
        n = max(0, stop_index - start)
        self._refuse_general_call_read(address)

        def deliver(target: I2CTarget | None) -> None:
            data = target.read(n) if target is not None and n else b""
            buffer[start:stop_index] = data
            self._record(address, "read", data)

        self._transact(address, 1 + n, 2, deliver)

    def writeto_then_readfrom(self, address: int, buffer_out: bytes | bytearray | memoryview,
                              buffer_in: bytearray | memoryview, *, out_start: int = 0,
                              out_end: int | None = None, in_start: int = 0,
                              in_end: int | None = None, stop: bool = False) -> None:
        """Write then read with a repeated start: one combined transfer, no stop in between."""
        data_out = bytes(buffer_out[out_start:out_end])
        in_stop = len(buffer_in) if in_end is None else in_end
        n_in = max(0, in_stop - in_start)
        self._refuse_general_call_read(address)

        def deliver(target: I2CTarget | None) -> None:
            if target is None:
                return
            if data_out:
                self._record(address, "write", data_out)
                target.write(data_out)
            data_in = target.read(n_in) if n_in else b""
            buffer_in[in_start:in_stop] = data_in
            self._record(address, "read", data_in)

        self._transact(address, 1 + len(data_out) + 1 + n_in, 3, deliver)

    def scan(self) -> list[int]:
        """Addresses 0x08-0x77 that ACK a probe, as ``busio.I2C.scan`` returns them."""
        found: list[int] = []
        for address in range(0x08, 0x78):
            try:
                self.writeto(address, b"")
            except OSError:
                continue
            found.append(address)
        return found

    def deinit(self) -> None:
        """busio compatibility: nothing to release."""

    def __enter__(self) -> EmulatedI2C:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.deinit()

    # ------------------------------------------------------------------ timing helpers

    def transaction_time_s(self, n_bytes: int, n_conditions: int = 2) -> float:
        """Wire time of ``n_bytes`` (address bytes included) plus start/stop conditions."""
        return (n_bytes * BITS_PER_BYTE + n_conditions * CONDITION_BITS) * self._bit_s

    # ------------------------------------------------------------------ internals

    def _transact(self, address: int, n_bytes: int, n_conditions: int,
                  deliver: Callable[[I2CTarget | None], None]) -> None:
        """One transaction: stall if asked, check the ACK, spend the wire time, deliver.

        The chip sees the bytes at the end of the wire time (VOUT changes at the ACK of the
        last byte). If a timer callback fired during that time starts its own transaction, the
        pending delivery is made first, so the callback finds this transaction done, as a
        second master that had waited for the bus would. A NACKed address costs the address
        byte and raises OSError(EREMOTEIO).
        """
        me = threading.get_ident()
        if self._stalling and self._wire_thread == me:
            # A timer callback fired during our own stall: the bus is held, the waiting
            # "thread" cannot get it. Fail the way a timed-out ioctl would.
            raise OSError(errno.ETIMEDOUT, "I2C bus held by a stalled transaction")
        with self._transaction_lock:
            self._flush_pending()
            outer_wire_thread = self._wire_thread
            with self._state_lock:
                stall_s, self._pending_stall_s = self._pending_stall_s, 0.0
            if stall_s > 0:
                self._wire_thread = me
                self._stalling = True
                try:
                    self._clock.sleep_s(stall_s)
                finally:
                    self._stalling = False
                    self._wire_thread = outer_wire_thread
            if not self._acks(address):
                self._record(address, "nack", b"")
                self._spend_wire_time(self.transaction_time_s(1, 2), me, outer_wire_thread)
                raise self._nack_error(address)
            target = self._targets.get(address)
            self._pending.append(lambda: deliver(target))
            self._spend_wire_time(self.transaction_time_s(n_bytes, n_conditions), me,
                                  outer_wire_thread)
            self._flush_pending()

    def _flush_pending(self) -> None:
        while self._pending:
            self._pending.pop(0)()

    def _refuse_general_call_read(self, address: int) -> None:
        if address == GENERAL_CALL_ADDRESS:
            raise self._nack_error(address)

    def _spend_wire_time(self, wire_s: float, me: int, outer_wire_thread: int | None) -> None:
        self._wire_thread = me
        try:
            self._clock.elapse_s(wire_s)
        finally:
            self._wire_thread = outer_wire_thread

    def _acks(self, address: int) -> bool:
        with self._state_lock:
            if address == GENERAL_CALL_ADDRESS:
                return any(a not in self._nacking for a in self._targets)
            return address in self._targets and address not in self._nacking

    def _responsive_targets(self) -> list[I2CTarget]:
        with self._state_lock:
            return [d for a, d in self._targets.items() if a not in self._nacking]

    def _record(self, address: int, kind: str, data: bytes) -> None:
        self.log.append(BusRecord(self._clock.now_s(), address, kind, data))

    @staticmethod
    def _nack_error(address: int) -> OSError:
        return OSError(errno.EREMOTEIO, f"I2C address 0x{address:02x} not acknowledged")
