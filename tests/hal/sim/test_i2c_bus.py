"""The emulated I2C bus: busio semantics, Linux errnos, wire time, faults, thread safety."""

from __future__ import annotations

import errno
import threading
import time

import pytest

from kiosk.hal.clock import RealClock
from kiosk.hal.sim.clock import VirtualClock
from kiosk.hal.sim.i2c_bus import EmulatedI2C

BIT_S = 1 / 400_000


class RecordingChip:
    """A bus target that remembers what reached it and answers with a fixed byte pattern."""

    def __init__(self, answer: bytes = b"\xa5\x5a") -> None:
        self.writes: list[bytes] = []
        self.general_calls: list[bytes] = []
        self.reads: list[int] = []
        self.answer = answer
        self.inside = 0
        self.overlaps = 0

    def write(self, data: bytes) -> None:
        self.writes.append(data)

    def read(self, n: int) -> bytes:
        self.reads.append(n)
        return bytes(self.answer[i % len(self.answer)] for i in range(n))

    def general_call(self, data: bytes) -> None:
        self.general_calls.append(data)


def make_bus() -> tuple[VirtualClock, EmulatedI2C, RecordingChip]:
    clock = VirtualClock()
    bus = EmulatedI2C(clock)
    chip = RecordingChip()
    bus.attach(0x48, chip)
    return clock, bus, chip


def test_write_and_read_reach_the_chip_with_busio_slicing() -> None:
    _, bus, chip = make_bus()
    bus.writeto(0x48, bytearray(b"\x00\x01\x02\x03"), start=1, end=3)
    buffer = bytearray(4)
    bus.readfrom_into(0x48, buffer, start=1, end=3)
    assert chip.writes == [b"\x01\x02"]
    assert buffer == bytearray(b"\x00\xa5\x5a\x00")


def test_combined_transfer_writes_then_reads_in_one_transaction() -> None:
    _, bus, chip = make_bus()
    buffer = bytearray(3)
    bus.writeto_then_readfrom(0x48, b"\x01\xff", buffer, out_end=1, in_end=2)
    assert chip.writes == [b"\x01"]
    assert chip.reads == [2]
    assert buffer == bytearray(b"\xa5\x5a\x00")


def test_absent_address_raises_eremoteio_like_i2c_dev() -> None:
    _, bus, _ = make_bus()
    with pytest.raises(OSError) as raised:
        bus.writeto(0x49, b"\x01")
    assert raised.value.errno == errno.EREMOTEIO
    with pytest.raises(OSError):
        bus.readfrom_into(0x49, bytearray(2))
    with pytest.raises(OSError):
        bus.writeto_then_readfrom(0x49, b"\x00", bytearray(2))


def test_nack_fault_makes_a_present_chip_unreachable_until_cleared() -> None:
    _, bus, chip = make_bus()
    bus.set_nack(0x48, True)
    with pytest.raises(OSError) as raised:
        bus.writeto(0x48, b"\x01")
    assert raised.value.errno == errno.EREMOTEIO
    assert chip.writes == []
    bus.set_nack(0x48, False)
    bus.writeto(0x48, b"\x01")
    assert chip.writes == [b"\x01"]


def test_zero_length_write_is_a_probe_that_does_not_reach_the_chip() -> None:
    _, bus, chip = make_bus()
    bus.writeto(0x48, b"")
    assert chip.writes == []
    assert bus.log[-1].kind == "probe"
    with pytest.raises(OSError):
        bus.writeto(0x50, b"")


def test_general_call_reaches_every_answering_chip() -> None:
    _, bus, first = make_bus()
    second = RecordingChip()
    silent = RecordingChip()
    bus.attach(0x62, second)
    bus.attach(0x63, silent)
    bus.set_nack(0x63, True)
    bus.general_call(0x06)
    assert first.general_calls == [b"\x06"]
    assert second.general_calls == [b"\x06"]
    assert silent.general_calls == []
    assert first.writes == []


def test_general_call_with_nobody_on_the_bus_is_not_acknowledged() -> None:
    bus = EmulatedI2C(VirtualClock())
    with pytest.raises(OSError):
        bus.general_call(0x06)


def test_a_write_costs_its_wire_time_at_400_khz() -> None:
    clock, bus, _ = make_bus()
    bus.writeto(0x48, b"\x01\xc9\xe3")  # address + 3 bytes, start + stop
    assert clock.now_s() == pytest.approx((4 * 9 + 2) * BIT_S)  # 95 us


def test_a_combined_transfer_costs_both_address_bytes_and_a_repeated_start() -> None:
    clock, bus, _ = make_bus()
    bus.writeto_then_readfrom(0x48, b"\x01", bytearray(2))  # 2 + 3 bytes, 3 conditions
    assert clock.now_s() == pytest.approx((5 * 9 + 3) * BIT_S)  # 120 us


def test_a_nacked_address_costs_only_the_address_byte() -> None:
    clock, bus, _ = make_bus()
    with pytest.raises(OSError):
        bus.writeto(0x49, b"\x01\x02\x03\x04")
    assert clock.now_s() == pytest.approx((9 + 2) * BIT_S)


def test_a_stall_blocks_the_next_transaction_for_its_duration_only() -> None:
    clock, bus, chip = make_bus()
    bus.stall_next_transaction(0.5)
    bus.writeto(0x48, b"\x01")
    first_s = clock.now_s()
    bus.writeto(0x48, b"\x01")
    assert first_s == pytest.approx(0.5 + (2 * 9 + 2) * BIT_S)
    assert clock.now_s() - first_s == pytest.approx((2 * 9 + 2) * BIT_S)
    assert chip.writes == [b"\x01", b"\x01"]


def test_a_timer_callback_during_wire_time_can_lock_and_use_the_bus() -> None:
    clock, bus, chip = make_bus()
    outcome: list[bool] = []

    def supervisor(_now_s: float) -> None:
        locked = bus.try_lock()
        outcome.append(locked)
        if locked:
            try:
                bus.writeto(0x48, b"\x02")
            finally:
                bus.unlock()

    clock.call_at(30e-6, supervisor, "supervisor")
    assert bus.try_lock()
    bus.writeto(0x48, b"\x01\x00\x00")
    bus.unlock()
    assert outcome == [True]
    assert chip.writes == [b"\x01\x00\x00", b"\x02"]  # the running transaction went first
    assert bus.try_lock()  # the nested grant was given back
    bus.unlock()


def test_a_timer_callback_during_a_stall_cannot_get_the_bus() -> None:
    clock, bus, chip = make_bus()
    outcome: list[object] = []

    def supervisor(_now_s: float) -> None:
        outcome.append(bus.try_lock())
        try:
            bus.writeto(0x48, b"\x02")
        except OSError as error:
            outcome.append(error.errno)

    clock.call_at(0.01, supervisor, "supervisor")
    bus.stall_next_transaction(0.1)
    assert bus.try_lock()
    bus.writeto(0x48, b"\x01")
    bus.unlock()
    assert outcome == [False, errno.ETIMEDOUT]
    assert chip.writes == [b"\x01"]


def test_try_lock_is_exclusive_between_threads() -> None:
    _, bus, _ = make_bus()
    assert bus.try_lock()
    other: list[bool] = []
    thread = threading.Thread(target=lambda: other.append(bus.try_lock()))
    thread.start()
    thread.join()
    assert other == [False]
    bus.unlock()
    assert bus.try_lock()
    bus.unlock()


class OverlapDetector(RecordingChip):
    """Counts transactions that entered the chip while another one was inside it."""

    def __init__(self) -> None:
        super().__init__()
        self._guard = threading.Lock()

    def write(self, data: bytes) -> None:
        with self._guard:
            self.inside += 1
            if self.inside > 1:
                self.overlaps += 1
        time.sleep(0)  # yield the GIL: the other thread would barge in here if it could
        with self._guard:
            self.inside -= 1


def test_transactions_from_two_threads_never_overlap_on_the_wall_clock() -> None:
    bus = EmulatedI2C(RealClock())
    chip = OverlapDetector()
    bus.attach(0x48, chip)

    def hammer() -> None:
        for _ in range(200):
            bus.writeto(0x48, b"\x01\x02")

    threads = [threading.Thread(target=hammer) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert chip.overlaps == 0


def test_the_log_records_kind_address_time_and_bytes_and_stays_bounded() -> None:
    clock = VirtualClock()
    bus = EmulatedI2C(clock, log_size=3)
    bus.attach(0x48, RecordingChip())
    bus.writeto(0x48, b"\x01")
    bus.readfrom_into(0x48, bytearray(2))
    with pytest.raises(OSError):
        bus.writeto(0x10, b"\x00")
    bus.writeto(0x48, b"")
    assert [(r.address, r.kind, r.data) for r in bus.log] == [
        (0x48, "read", b"\xa5\x5a"), (0x10, "nack", b""), (0x48, "probe", b"")]
    assert bus.log[0].time_s == pytest.approx((2 * 9 + 2 + 3 * 9 + 2) * BIT_S)  # at its end


def test_scan_lists_the_answering_addresses() -> None:
    _, bus, _ = make_bus()
    bus.attach(0x62, RecordingChip())
    bus.attach(0x63, RecordingChip())
    bus.set_nack(0x63, True)
    assert bus.scan() == [0x48, 0x62]


def test_attach_refuses_reserved_and_taken_addresses() -> None:
    _, bus, _ = make_bus()
    with pytest.raises(ValueError, match="already taken"):
        bus.attach(0x48, RecordingChip())
    with pytest.raises(ValueError, match="0x08-0x77"):
        bus.attach(0x00, RecordingChip())
