"""Run steps in dependency order, with dry-run, a workflow timeout and signal handling.

The runner never calls ``sys.exit``: it returns a ``RunReport`` whose
``exit_code`` the CLI passes on (nox's ``workflow.execute`` is the model).
"""

from __future__ import annotations

import contextlib
import logging
import signal
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from types import FrameType
from typing import Any

from routine_workflow.errors import (
    EXIT_FAILED,
    EXIT_OK,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    EXIT_TIMEOUT,
    ConfigError,
    Interrupted,
)
from routine_workflow.steps.base import Status, Step, StepContext, StepResult


def order_steps(steps: Sequence[Step]) -> list[Step]:
    """Topological order; ties keep the declared order. Cycles and unknown names: ConfigError."""
    by_name: dict[str, Step] = {}
    for step in steps:
        if step.name in by_name:
            raise ConfigError(f"step {step.name!r} is defined twice")
        by_name[step.name] = step
    for step in steps:
        for dep in step.depends_on:
            if dep not in by_name:
                raise ConfigError(f"step {step.name!r} depends on unknown step {dep!r}")
    ordered: list[Step] = []
    done: set[str] = set()
    pending = list(steps)
    while pending:
        ready = next((s for s in pending if set(s.depends_on) <= done), None)
        if ready is None:
            raise ConfigError(f"steps depend on each other in a cycle: {_cycle(pending)}")
        ordered.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return ordered


def _cycle(pending: list[Step]) -> str:
    """Name one cycle among steps that can never become ready."""
    deps = {s.name: [d for d in s.depends_on if d in {p.name for p in pending}] for s in pending}
    path = [pending[0].name]
    while path[-1] not in path[:-1]:
        path.append(deps[path[-1]][0])
    start = path.index(path[-1])
    return " -> ".join(path[start:])


def select_steps(steps: Sequence[Step], only: Iterable[str] = (), skip: Iterable[str] = ()) -> list[Step]:
    """Keep the steps named in ``only`` (all if empty) minus ``skip``; unknown names: ConfigError.

    A selected step whose dependency was not selected runs anyway: choosing
    ``--steps clean_caches`` means exactly that step.
    """
    only, skip = list(only), list(skip)
    known = [s.name for s in steps]
    for flag, names in (("--steps", only), ("--skip", skip)):
        for name in names:
            if name not in known:
                raise ConfigError(f"{flag}: unknown step {name!r} (known: {', '.join(known)})")
    return [s for s in steps if (not only or s.name in only) and s.name not in skip]


@dataclass
class StepRecord:
    """A finished step, as reported and stored."""

    name: str
    status: str
    summary: str
    duration: float
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


@dataclass
class RunReport:
    """The outcome of a run: exit code, why, and every step."""

    run_id: str
    project_root: str
    started: str
    dry_run: bool
    steps: list[StepRecord] = field(default_factory=list)
    status: str = "running"
    exit_code: int = EXIT_OK
    reason: str = ""
    duration: float = 0.0
    finished: str = ""

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``)."""
        return asdict(self)


def utc_now() -> str:
    """An ISO-8601 UTC timestamp."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- signals and timeout ---------------------------------------------------------------------


class SignalGuard:
    """Turns SIGINT, SIGTERM and the workflow timeout into ``Interrupted`` in the main thread.

    Only the first one raises: once the run is stopping, later signals are
    ignored so the clean-up (killing workers, releasing the lock, recording
    the run) cannot itself be interrupted halfway.
    """

    def __init__(self, timeout: float) -> None:
        self.timeout = timeout
        self.stopping = False

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        """Raise ``Interrupted`` with the exit code that belongs to the signal."""
        if self.stopping:
            return
        self.stopping = True
        if signum == signal.SIGALRM:
            raise Interrupted(f"workflow timeout of {self.timeout:g}s reached", EXIT_TIMEOUT)
        if signum == signal.SIGINT:
            raise Interrupted("interrupted (SIGINT)", EXIT_SIGINT)
        raise Interrupted("terminated (SIGTERM)", EXIT_SIGTERM)

    def arm(self) -> None:
        """Start the workflow timeout (after the lock is taken: waiting is not working)."""
        if self.timeout > 0:
            signal.setitimer(signal.ITIMER_REAL, self.timeout)

    def disarm(self) -> None:
        """Stop raising: from here on the run is cleaning up."""
        signal.setitimer(signal.ITIMER_REAL, 0)
        self.stopping = True


@contextlib.contextmanager
def interruptible(timeout: float) -> Iterator[SignalGuard]:
    """Install a ``SignalGuard`` for the duration of the block; restore handlers after."""
    guard = SignalGuard(timeout)
    sigs = (signal.SIGINT, signal.SIGTERM, signal.SIGALRM)
    previous = {sig: signal.signal(sig, guard.handler) for sig in sigs}
    try:
        yield guard
    finally:
        guard.disarm()
        for sig, old in previous.items():
            signal.signal(sig, old)


# --- execution -------------------------------------------------------------------------------

StepHook = Callable[[int, StepRecord], None]


def run_steps(
    steps: Sequence[Step],
    ctx: StepContext,
    report: RunReport,
    on_step: StepHook | None = None,
) -> RunReport:
    """Run ``steps`` (already ordered) and fill ``report``.

    A failed step marks its dependents skipped; independent steps still run. A
    failed *critical* step skips everything after it. ``Interrupted`` marks the
    running step failed and the rest skipped, then propagates.
    """
    log = ctx.logger
    failed: set[str] = set()
    stop_reason = ""
    start = time.monotonic()
    pending = list(steps)
    step: Step | None = None
    try:
        while pending:
            step = pending.pop(0)
            blocked = [d for d in step.depends_on if d in failed]
            if stop_reason or blocked:
                why = stop_reason or f"skipped: {', '.join(blocked)} failed"
                failed.add(step.name)
                _finish(report, StepRecord(step.name, Status.SKIPPED.value, why, 0.0), on_step, log)
                continue
            result = _run_one(step, ctx)
            _finish(report, _record(step, result), on_step, log)
            if result.status is Status.FAILED:
                failed.add(step.name)
                if step.critical:
                    stop_reason = f"skipped: run stopped because {step.name} failed"
    except Interrupted as exc:
        if step is not None and step.name not in {r.name for r in report.steps}:
            _finish(report, StepRecord(step.name, Status.FAILED.value, exc.reason, 0.0), on_step, log)
        for rest in pending:
            _finish(report, StepRecord(rest.name, Status.SKIPPED.value, "not started: " + exc.reason, 0.0), on_step, log)
        report.duration = time.monotonic() - start
        raise
    report.duration = time.monotonic() - start
    report.exit_code = EXIT_FAILED if any(r.status == Status.FAILED.value for r in report.steps) else EXIT_OK
    report.status = "failed" if report.exit_code else "ok"
    return report


def _run_one(step: Step, ctx: StepContext) -> StepResult:
    log = ctx.logger
    log.debug("started", extra={"event": "step_start", "step": step.name})
    began = time.monotonic()
    try:
        result = step.run(ctx)
    except Exception as exc:  # a step's bug must not take the lock and history down with it
        log.exception("crashed", extra={"event": "step_crash", "step": step.name})
        result = StepResult.failed(f"internal error: {type(exc).__name__}: {exc}")
    result.duration = time.monotonic() - began
    return result


def _record(step: Step, result: StepResult) -> StepRecord:
    return StepRecord(
        name=step.name,
        status=result.status.value,
        summary=result.summary,
        duration=round(result.duration, 3),
        details=list(result.details),
        counts=dict(result.counts),
    )


def _finish(report: RunReport, record: StepRecord, on_step: StepHook | None, log: logging.Logger) -> None:
    report.steps.append(record)
    level = logging.WARNING if record.status == Status.FAILED.value else logging.INFO
    log.log(
        level,
        "%s%s",
        record.status,
        f" - {record.summary}" if record.summary else "",
        extra={"event": "step_end", "step": record.name, "status": record.status,
               "duration": record.duration},
    )
    if on_step is not None:
        on_step(len(report.steps) - 1, record)
