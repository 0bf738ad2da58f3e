"""Run steps in dependency order and report how the run went.

- ``order_steps``, ``select_steps``: the DAG in run order, and ``--steps``/``--skip``.
- ``StepRecord``, ``RunReport``: a finished step, and the whole run (``--json``).
- ``run_steps``: run the steps, ``runs_in_thread`` ones possibly side by side; a failure skips
  its dependents; the steps that may rewrite files wait for the backup and are held without a
  restore point (``workflow.gate``).

Signals and timeouts are ``workflow.signals``. The runner never calls
``sys.exit``: it returns a ``RunReport`` whose ``exit_code`` the CLI passes on
(nox's ``workflow.execute`` is the model).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from routine_workflow.config_rules import did_you_mean
from routine_workflow.errors import EXIT_FAILED, EXIT_OK, ConfigError, Interrupted, StepTimeout
from routine_workflow.procs.children import terminate_children
from routine_workflow.steps.base import RunRules, Status, Step, StepContext, StepResult
from routine_workflow.workflow.gate import (
    BACKUP,
    Gate,
    after_backup,
    held_reason,
    held_summary,
    no_restore_point,
)
from routine_workflow.workflow.signals import SignalGuard

if TYPE_CHECKING:
    from concurrent.futures import Future, ThreadPoolExecutor

    from routine_workflow.workflow import profile  # imported by --profile runs only


def order_steps(steps: Sequence[Step]) -> list[Step]:
    """Topological order; ties keep the declared order. Cycles and unknown names: ConfigError.

    A step that may rewrite the user's files comes after the backup unless the
    backup depends on it (``gate.after_backup``).
    """
    by_name: dict[str, Step] = {}
    for step in steps:
        if step.name in by_name:
            raise ConfigError(f"step {step.name!r} is defined twice")
        by_name[step.name] = step
    for step in steps:
        for dep in step.depends_on:
            if dep not in by_name:
                hint = did_you_mean(dep, by_name)
                raise ConfigError(f"step {step.name!r} depends on unknown step {dep!r}{hint}")
    ordered: list[Step] = []
    done: set[str] = set()
    pending = list(steps)
    waits = after_backup(steps)
    while pending:
        ready = next((s for s in pending if _deps(s, waits) <= done), None)
        if ready is None:
            raise ConfigError(f"steps depend on each other in a cycle: {_cycle(pending)}")
        ordered.append(ready)
        done.add(ready.name)
        pending.remove(ready)
    return ordered


def _deps(step: Step, waits: frozenset[str]) -> set[str]:
    """What ``step`` must come after: its own dependencies, and the backup if it waits."""
    return {*step.depends_on, BACKUP} if step.name in waits else set(step.depends_on)


def _cycle(pending: list[Step]) -> str:
    """Name one cycle among steps that can never become ready."""
    deps = {s.name: [d for d in s.depends_on if d in {p.name for p in pending}] for s in pending}
    path = [pending[0].name]
    while path[-1] not in path[:-1]:
        path.append(deps[path[-1]][0])
    start = path.index(path[-1])
    return " -> ".join(path[start:])


def select_steps(
    steps: Sequence[Step], only: Iterable[str] = (), skip: Iterable[str] = ()
) -> list[Step]:
    """Keep the steps named in ``only`` (all if empty) minus ``skip``; unknown names, or
    flags that leave nothing: ConfigError.

    A selected step whose dependency was not selected runs anyway: choosing
    ``--steps clean_caches`` means exactly that step.
    """
    only, skip = list(only), list(skip)
    known = [s.name for s in steps]
    for flag, names in (("--steps", only), ("--skip", skip)):
        for name in names:
            if name not in known:
                hint = did_you_mean(name, known)
                raise ConfigError(
                    f"{flag}: unknown step {name!r}{hint} (known: {', '.join(known)})"
                )
    selected = [s for s in steps if (not only or s.name in only) and s.name not in skip]
    if (only or skip) and not selected:
        # A selection of nothing is a mistake (exit 0 would tell cron all is well).
        given = " ".join(
            f"{flag} {','.join(names)}"
            for flag, names in (("--steps", only), ("--skip", skip))
            if names
        )
        raise ConfigError(f"no steps selected: {given} leaves none to run")
    return selected


@dataclass
class StepRecord:
    """A finished step, as reported and stored."""

    name: str
    status: str
    summary: str
    duration: float
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    allowed_failure: bool = False
    files: dict[str, list[str]] = field(default_factory=dict)  # StepResult.files
    profile: dict[str, Any] = field(default_factory=dict)  # --profile (workflow.profile)


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
    profile: dict[str, Any] | None = None  # --profile: workflow.profile.run_profile

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly form (``--json``); ``profile`` only with ``--profile``."""
        data = asdict(self)
        for step in data["steps"]:
            del step["profile"]  # gathered in the report's own profile
        if data["profile"] is None:
            del data["profile"]
        return data


def utc_now() -> str:
    """An ISO-8601 UTC timestamp."""
    return datetime.now(timezone.utc).isoformat(timespec="seconds")


# --- execution -------------------------------------------------------------------------------

StepHook = Callable[[int, StepRecord], None]


def runs_in_thread(step: Step) -> bool:
    """A step that only waits on child processes may run in a worker thread beside others."""
    return RunRules.of(step).runs_in_thread


@dataclass
class _Run:
    """The bookkeeping of one run_steps call."""

    ctx: StepContext
    report: RunReport
    on_step: StepHook | None
    guard: SignalGuard | None
    names: set[str]
    gate: Gate | None = None
    outcome: dict[str, bool] = field(default_factory=dict)  # name -> may dependents run
    stop_reason: str = ""
    skipped: set[str] = field(default_factory=set)  # skipped by the runner, never started
    held: list[str] = field(default_factory=list)  # held for want of a restore point
    hold_cause: str = ""  # why the backup left none ("backup failed: ...")
    began: dict[str, float] = field(default_factory=dict)  # name -> when it started
    usage: dict[str, _Usage] | None = None  # --profile: name -> CPU around it

    def ran_for(self, name: str) -> float:
        """Seconds since ``name`` started: the real time of a step an interruption ends."""
        return round(time.monotonic() - self.began.get(name, time.monotonic()), 3)

    def blocked_by(self, step: Step) -> list[str]:
        return [d for d in step.depends_on if d in self.names and self.outcome.get(d) is False]

    def blocked_reason(self, blocked: list[str]) -> str:
        """``skipped: a failed`` or ``skipped: reformat held``, for a step whose dependency
        did not succeed."""
        failed = [d for d in blocked if d not in self.held]
        held = [d for d in blocked if d in self.held]
        parts = [f"{', '.join(failed)} failed"] if failed else []
        parts += [f"{', '.join(held)} held"] if held else []
        return "skipped: " + "; ".join(parts)

    def ready(self, step: Step) -> bool:
        if self.gate is not None and self.gate.guards(step) and BACKUP not in self.outcome:
            return False  # a step that may change the user's files waits for the backup
        return all(d in self.outcome for d in step.depends_on if d in self.names)

    def missing_restore_point(self, step: Step) -> str | None:
        """Why ``step`` (ready) must be held: no restore point, and one is required."""
        if self.gate is None or not self.gate.required or not self.gate.guards(step):
            return None
        backup = next(r for r in self.report.steps if r.name == BACKUP)
        ran = BACKUP not in self.skipped
        return no_restore_point(backup.status, backup.summary, ran, self.ctx.dry_run)

    def finish(self, step: Step, record: StepRecord) -> None:
        """Record a step that ran; its dependents may run unless it failed (and may not)."""
        record.allowed_failure = (
            record.status == Status.FAILED.value and RunRules.of(step).allow_failure
        )
        failed = record.status == Status.FAILED.value and not record.allowed_failure
        self.outcome[step.name] = not failed
        if failed and step.critical:
            self.stop_reason = f"skipped: run stopped because {step.name} failed"
        _finish(self.report, record, self.on_step, self.ctx.logger)

    def skip(self, step: Step, why: str) -> None:
        """Record a step that cannot run because something before it failed."""
        self.outcome[step.name] = False
        self.skipped.add(step.name)
        _finish(
            self.report,
            StepRecord(step.name, Status.SKIPPED.value, why, 0.0),
            self.on_step,
            self.ctx.logger,
        )

    def hold(self, step: Step, cause: str) -> None:
        """Record a step held because the backup before it left no restore point."""
        self.outcome[step.name] = False
        self.held.append(step.name)
        self.hold_cause = cause
        record = StepRecord(step.name, Status.SKIPPED.value, held_summary(cause), 0.0)
        _finish(self.report, record, self.on_step, self.ctx.logger, logging.WARNING)


def run_steps(
    steps: Sequence[Step],
    ctx: StepContext,
    report: RunReport,
    on_step: StepHook | None = None,
    *,
    parallel: int = 1,
    guard: SignalGuard | None = None,
) -> RunReport:
    """Run ``steps`` (already ordered) and fill ``report``.

    A failed step marks its dependents skipped; independent steps still run. A
    failed *critical* step skips everything after it. A step that may rewrite
    the user's files and comes after the backup waits for it, and is held
    (skipped; the run fails) if it left no restore point (``workflow.gate``). With ``parallel`` > 1,
    up to that many ready ``runs_in_thread`` steps (command steps) run at once
    beside the in-process steps, which always run one at a time in the main
    thread (where signals and timeouts arrive). ``Interrupted`` marks the running steps failed and
    the rest skipped, then propagates.
    """
    gate = Gate.plan(steps, ctx.config.require_restore_point)
    run = _Run(ctx, report, on_step, guard, {s.name for s in steps}, gate)
    run.usage = {} if ctx.config.profile else None
    pending = list(steps)
    running: dict[Future[StepResult], Step] = {}
    current: Step | None = None
    start = time.monotonic()
    pool = _pool(parallel) if parallel > 1 and any(map(runs_in_thread, steps)) else None
    try:
        while pending or running:
            current = _next_inline(run, pending, running, pool, parallel)
            if current is not None:
                # Reaping every child is only safe when no step runs beside it in a thread.
                run.began[current.name] = time.monotonic()
                result = _run_one(current, ctx, guard, not running, run.usage)
                run.finish(current, _record(current, result, run.usage))
                current = None
            elif running:
                finished = _wait_first(running)
                for future in finished:
                    step = running.pop(future)
                    run.finish(step, _record(step, future.result(), run.usage))
            elif pending:  # pragma: no cover (order_steps guarantees progress)
                raise AssertionError("no step can start")
    except Interrupted as exc:
        for step in [s for s in (current, *running.values()) if s is not None]:
            if step.name not in {r.name for r in report.steps}:
                _finish(
                    report,
                    StepRecord(step.name, Status.FAILED.value, exc.reason, run.ran_for(step.name)),
                    on_step,
                    ctx.logger,
                )
        for rest in pending:
            _finish(
                report,
                StepRecord(rest.name, Status.SKIPPED.value, "not started: " + exc.reason, 0.0),
                on_step,
                ctx.logger,
            )
        report.duration = time.monotonic() - start
        raise
    finally:
        if pool is not None:
            # Command steps' processes are killed by the caller (terminate_children);
            # their threads then return at once, so not waiting here loses nothing.
            pool.shutdown(wait=False, cancel_futures=True)
        if run.usage is not None:
            from routine_workflow.workflow.profile import run_profile

            report.profile = run_profile((r.name, r.profile) for r in report.steps)
    order = {s.name: i for i, s in enumerate(steps)}
    report.steps.sort(key=lambda r: order.get(r.name, len(order)))
    report.duration = time.monotonic() - start
    failed = any(r.status == Status.FAILED.value and not r.allowed_failure for r in report.steps)
    if run.held:
        failed = True
        report.reason = held_reason(run.held, run.hold_cause)
        ctx.logger.warning("%s", report.reason, extra={"event": "run_held"})
    report.exit_code = EXIT_FAILED if failed else EXIT_OK
    report.status = "failed" if failed else "ok"
    return report


def _pool(parallel: int) -> ThreadPoolExecutor:
    # concurrent.futures is imported only for runs that have steps to overlap.
    from concurrent.futures import ThreadPoolExecutor

    return ThreadPoolExecutor(max_workers=parallel, thread_name_prefix="step")


def _wait_first(running: dict[Future[StepResult], Step]) -> set[Future[StepResult]]:
    """The steps running in threads that have finished (waits for at least one)."""
    from concurrent.futures import FIRST_COMPLETED, wait

    return wait(list(running), return_when=FIRST_COMPLETED).done


def _next_inline(
    run: _Run,
    pending: list[Step],
    running: dict[Future[StepResult], Step],
    pool: ThreadPoolExecutor | None,
    parallel: int,
) -> Step | None:
    """Skip what cannot run, start ready thread steps, and return an in-process step to run now."""
    for step in list(pending):
        blocked = run.blocked_by(step)
        if run.stop_reason or blocked:
            pending.remove(step)
            run.skip(step, run.stop_reason or run.blocked_reason(blocked))
            continue
        if not run.ready(step):
            continue
        cause = run.missing_restore_point(step)
        if cause is not None:
            pending.remove(step)
            run.hold(step, cause)
            continue
        if pool is not None and runs_in_thread(step):
            if len(running) < parallel:
                pending.remove(step)
                run.began[step.name] = time.monotonic()
                running[pool.submit(_run_one, step, run.ctx, None, False, run.usage)] = step
            continue
        pending.remove(step)
        return step
    return None


@dataclass(frozen=True)
class _Usage:
    """CPU counters before and after one step; ``shared`` if other steps ran meanwhile."""

    before: profile.Usage
    after: profile.Usage
    shared: bool


def _run_one(
    step: Step,
    ctx: StepContext,
    guard: SignalGuard | None,
    reap: bool,
    usage: dict[str, _Usage] | None = None,
) -> StepResult:
    """Run one step, never raising but for Interrupted; with ``usage`` (``--profile``),
    record its CPU counters there. ``reap``: nothing else runs meanwhile."""
    log = ctx.logger
    log.debug("started", extra={"event": "step_start", "step": step.name})
    before = None
    if usage is not None:  # --profile: the only runs that import workflow.profile
        from routine_workflow.workflow.profile import Usage

        before = Usage.now()
    began = time.monotonic()
    rules = RunRules.of(step)
    timeout = 0.0 if rules.runs_in_thread else rules.timeout  # such a step keeps its own time
    try:
        if guard is not None:
            with guard.step_timeout(timeout):
                result = step.run(ctx)
        else:
            result = step.run(ctx)
    except StepTimeout:
        if reap:  # worker processes the timed-out step left behind
            terminate_children()
        result = StepResult.failed(f"timed out after {timeout:g}s")
    except Exception as exc:  # a step's bug must not take the lock and history down with it
        log.exception("crashed", extra={"event": "step_crash", "step": step.name})
        result = StepResult.failed(f"internal error: {type(exc).__name__}: {exc}")
    result.duration = time.monotonic() - began
    if usage is not None and before is not None:
        # A step in a thread (reap False) shares the process's counters with whatever
        # else runs; so does an in-process step started while thread steps still run.
        usage[step.name] = _Usage(before, type(before).now(), shared=not reap)
    return result


def _record(step: Step, result: StepResult, usage: dict[str, _Usage] | None) -> StepRecord:
    measured = usage.pop(step.name, None) if usage is not None else None
    figures: dict[str, Any] = {}
    if measured is not None:
        from routine_workflow.workflow.profile import step_profile

        figures = step_profile(
            step.name,
            result.duration,
            measured.before,
            measured.after,
            shared=measured.shared,
            counts=result.counts,
            slowest=result.slowest,
        )
    return StepRecord(
        name=step.name,
        status=result.status.value,
        summary=result.summary,
        duration=round(result.duration, 3),
        details=list(result.details),
        counts=dict(result.counts),
        files={action: list(paths) for action, paths in result.files.items()},
        profile=figures,
    )


def _finish(
    report: RunReport,
    record: StepRecord,
    on_step: StepHook | None,
    log: logging.Logger,
    level: int | None = None,
) -> None:
    report.steps.append(record)
    if level is None:
        level = logging.WARNING if record.status == Status.FAILED.value else logging.INFO
    allowed = " (failure allowed)" if record.allowed_failure else ""
    log.log(
        level,
        "%s%s%s",
        record.status,
        allowed,
        f" - {record.summary}" if record.summary else "",
        extra={
            "event": "step_end",
            "step": record.name,
            "status": record.status,
            "duration": record.duration,
        },
    )
    if on_step is not None:
        on_step(len(report.steps) - 1, record)
