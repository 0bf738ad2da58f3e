"""Signals and timeouts during a run: SIGINT, SIGTERM, SIGHUP and SIGALRM become exceptions.

- ``interruptible(timeout)``: install a ``SignalGuard`` for a block, restore the handlers after.
- ``SignalGuard``: the workflow timeout, SIGINT, SIGTERM and SIGHUP raise ``Interrupted`` (once);
  a step's own limit (``step_timeout``) raises ``StepTimeout``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import signal
import time
from collections.abc import Iterator
from types import FrameType

from routine_workflow.errors import (
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_TIMEOUT,
    Interrupted,
    StepTimeout,
)

#: SIGHUP where the platform has it (not on Windows).
HANGUP: int | None = getattr(signal, "SIGHUP", None)
#: Signals that stop a run besides SIGINT and SIGTERM.
STOPPING_EXTRA: tuple[int, ...] = (HANGUP,) if HANGUP is not None else ()


class SignalGuard:
    """Turns SIGINT, SIGTERM, SIGHUP and the timeouts into exceptions in the main thread.

    The workflow timeout, SIGINT, SIGTERM and SIGHUP (a closed terminal or ssh session:
    stopped like SIGTERM, with its own exit code) raise ``Interrupted``; only the first
    one raises: once the run is stopping, later signals are ignored so the
    clean-up (killing workers, releasing the lock, recording the run) cannot
    itself be interrupted halfway. A step's own timeout raises ``StepTimeout``.
    """

    #: How soon to try again when a signal arrives where raising is unsafe.
    RETRY = 0.005

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.stopping = False
        self.deadline: float | None = None
        self.step_deadline: float | None = None
        self.pending: int | None = None  # a SIGINT/SIGTERM put off for a moment

    def handler(self, signum: int, frame: FrameType | None) -> None:
        """Raise the exception that belongs to the signal."""
        if self.stopping:
            return
        if signum == signal.SIGALRM and self.pending is not None:
            signum, self.pending = self.pending, None
        if _unsafe_to_raise_in(frame):
            # An exception raised here would leave a lock held that nothing releases (a
            # coverage tracer's data lock, logging's handler lock), and the run would then
            # wait for it forever (seen in CI). Raise a few milliseconds later instead.
            if signum != signal.SIGALRM:
                self.pending = signum
            signal.setitimer(signal.ITIMER_REAL, self.RETRY)
            return
        now = time.monotonic()
        if signum == signal.SIGALRM and (self.deadline is None or now < self.deadline - 0.001):
            if self.step_deadline is not None:
                self.step_deadline = None
                raise StepTimeout()
            return  # a stray alarm: nothing of ours is due
        self.stopping = True
        if signum == signal.SIGALRM:
            raise Interrupted(f"workflow timeout of {self.timeout:g}s reached", EXIT_TIMEOUT)
        if signum == signal.SIGINT:
            raise Interrupted("interrupted (SIGINT)", EXIT_SIGINT)
        if signum == HANGUP:
            raise Interrupted("hung up (SIGHUP: the terminal or session closed)", EXIT_SIGHUP)
        raise Interrupted("terminated (SIGTERM)", EXIT_SIGTERM)

    def arm(self) -> None:
        """Start the workflow timeout (after the lock is taken: waiting is not working)."""
        if self.timeout > 0:
            self.deadline = time.monotonic() + self.timeout
        self._set_timer()

    def _set_timer(self) -> None:
        due = [d for d in (self.deadline, self.step_deadline) if d is not None]
        if due:
            signal.setitimer(signal.ITIMER_REAL, max(0.001, min(due) - time.monotonic()))
        else:
            signal.setitimer(signal.ITIMER_REAL, 0)

    @contextlib.contextmanager
    def step_timeout(self, seconds: float) -> Iterator[None]:
        """Limit one in-process step to ``seconds`` (0: no limit of its own)."""
        if seconds <= 0:
            yield
            return
        self.step_deadline = time.monotonic() + seconds
        self._set_timer()
        try:
            yield
        finally:
            self.step_deadline = None
            if not self.stopping:
                self._set_timer()

    def disarm(self) -> None:
        """Stop raising: from here on the run is cleaning up."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.stopping = True


#: Code that takes a lock and releases it without a ``try`` around the gap: an exception
#: raised from a signal handler in between leaks the lock.
_LOCK_BOOKKEEPING = (os.path.dirname(logging.__file__) + os.sep, f"{os.sep}coverage{os.sep}")


def _unsafe_to_raise_in(frame: FrameType | None) -> bool:
    return frame is not None and any(part in frame.f_code.co_filename for part in _LOCK_BOOKKEEPING)


@contextlib.contextmanager
def interruptible(timeout: float) -> Iterator[SignalGuard]:
    """Install a ``SignalGuard`` for the duration of the block; restore handlers after."""
    guard = SignalGuard(timeout)
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM, *STOPPING_EXTRA)
    previous = {sig: signal.signal(sig, guard.handler) for sig in sigs}
    try:
        yield guard
    finally:
        guard.disarm()
        for sig, old in previous.items():
            signal.signal(sig, old)
