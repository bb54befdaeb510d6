"""The supervisor: an independent watcher of the control thread's liveness.

Why: the control thread can get stuck where no exception will ever come, for example inside the
ADS1115 driver's busy-poll when a conversion never completes (``adc_never_ready``; the driver
has no timeout, see ``kiosk.hal.adc``), or in a hung I2C transaction. Then nothing in that
thread can cut the current. The supervisor runs elsewhere (its own thread on the wall clock, a
clock timer on the virtual clock) and checks every ``check_period_s`` when the control loop last
completed a cycle. When that is more than ``stall_timeout_s`` (50 ms) ago it trips the one
shutdown path with ``loop_stall``: K1 opens by GPIO, the heartbeat STOPS (so the hardware
monostable drops K1 and BOOST_EN as well, even if software does something silly next), DAC zero
is attempted, the fault is latched for the core.

Time to safe state for a stall: at most ``stall_timeout_s + check_period_s`` from the last
completed cycle, plus the relay's release; the stall itself begins after that last cycle, so the
figure from the stall's start is smaller.

The supervisor writes no snapshot: its trip reaches the core as an input through the shutdown
path, and until the core's own snapshot shows it the loop's snapshot reader shows the pending
trip over the last snapshot (``ShutdownPath.first_trip_after``), so the screen sees a stuck
loop's fault at once while the core stays the one writer of the fault state.

One trip per stall: after a trip the supervisor waits for the next completed cycle before it can
trip again (the core then holds the latched fault anyway). While the loop stays stuck, each check
retries the DAC step until it got through: a control thread stuck in a busy-poll takes the bus
again right after every transaction, so one bounded attempt from another thread may miss.
"""

from __future__ import annotations

import os
import threading

from kiosk.control.reasons import Code, make
from kiosk.control.shutdown import ShutdownPath
from kiosk.hal.clock import Clock, TimerHandle

STALL_TIMEOUT_S = 0.050  # the issue: no completed cycle for 50 ms
CHECK_PERIOD_S = 0.002  # detection granularity; keeps the stalled-loop figure under 60 ms
SUPERVISOR_FIFO_PRIORITY = 60  # above the control thread (50): a control thread spinning in a
#                                busy-poll at real-time priority must not starve its watcher


def raise_thread_priority(fifo_priority: int) -> str | None:
    """SCHED_FIFO for the CALLING thread if the OS lets us (Linux: pid 0 = this thread), else a
    lower nice value; None when neither is permitted (the process's Nice= then applies)."""
    try:
        os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(fifo_priority))
        return f"SCHED_FIFO {fifo_priority}"
    except (AttributeError, OSError):
        pass
    try:
        os.setpriority(os.PRIO_PROCESS, threading.get_native_id(), -10)
        return "nice -10"
    except (AttributeError, OSError):
        return None


class Supervisor:
    """Trips the shutdown path when the control loop stops completing cycles."""

    def __init__(self, clock: Clock, shutdown: ShutdownPath, *,
                 stall_timeout_s: float = STALL_TIMEOUT_S,
                 check_period_s: float = CHECK_PERIOD_S) -> None:
        if not 0 < check_period_s < stall_timeout_s:
            raise ValueError(f"need 0 < check_period_s < stall_timeout_s, got "
                             f"{check_period_s} and {stall_timeout_s}")
        self._clock = clock
        self._shutdown = shutdown
        self.stall_timeout_s = stall_timeout_s
        self.check_period_s = check_period_s
        # Written by the control thread, read here: single float/None assignments, atomic.
        self._last_cycle_s: float | None = None
        self._tripped_for_cycle_s: float | None = None
        self._timer: TimerHandle | None = None
        self.trips = 0
        self._dac_zeroed = True
        self._priority_tried = False
        self.priority_raised: str | None = None
        #: Longest gap between completed cycles seen by a check (for the bench).
        self.worst_gap_s = 0.0

    # ------------------------------------------------------------------ control thread side

    def cycle_completed(self, now_s: float) -> None:
        """The control loop finished a cycle at ``now_s`` (its liveness stamp)."""
        self._last_cycle_s = now_s

    def disarm(self) -> None:
        """No loop to watch (stopped on purpose): forget the stamp, so no trip follows."""
        self._last_cycle_s = None

    # ------------------------------------------------------------------ the watcher

    def start(self) -> None:
        """Check every ``check_period_s`` on the clock (own thread on the wall clock)."""
        if self._timer is None:
            self._timer = self._clock.call_every(self.check_period_s, self._on_timer,
                                                 "control-supervisor")

    def stop(self) -> None:
        timer, self._timer = self._timer, None
        if timer is not None:
            timer.cancel()

    def _on_timer(self, now_s: float) -> None:
        if not self._priority_tried and not self._clock.is_virtual:
            self._priority_tried = True  # first call, on the timer's own thread
            self.priority_raised = raise_thread_priority(SUPERVISOR_FIFO_PRIORITY)
        self.check(now_s)

    def check(self, now_s: float) -> bool:
        """One check; True when it tripped the shutdown path just now."""
        try:
            last_s = self._last_cycle_s
            if last_s is None:
                return False
            gap_s = now_s - last_s
            self.worst_gap_s = max(self.worst_gap_s, gap_s)
            if gap_s <= self.stall_timeout_s:
                return False
            if self._tripped_for_cycle_s == last_s:
                if not self._dac_zeroed:  # still stuck: keep trying the DAC step
                    self._dac_zeroed = self._shutdown.retry_dac_zero()
                return False
            self._tripped_for_cycle_s = last_s
            self.trips += 1
            reason = make(Code.LOOP_STALL)
            run = self._shutdown.trip(reason, "supervisor", stop_heartbeat=True)
            self._dac_zeroed = all(f.step != "dac_zero" for f in run.failures)
            return True
        except Exception as error:  # the watcher itself failed: that is a reason to cut too
            self._shutdown.trip(make(Code.INTERNAL_ERROR, what=f"supervisor: {error}"),
                                "supervisor", stop_heartbeat=True)
            return True
