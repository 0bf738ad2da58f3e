"""The workflow run: confirm, lock, run the steps, record, report."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import datetime, timezone

from routine_workflow import logs
from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import EXIT_TIMEOUT, ConfigError, Interrupted
from routine_workflow.lock import RunLock
from routine_workflow.output import plural
from routine_workflow.procs import orphans
from routine_workflow.procs.children import terminate_children
from routine_workflow.progress import progress_for
from routine_workflow.steps import Step, StepContext
from routine_workflow.undo import journal as undo_journal
from routine_workflow.workflow.history import History, HistoryError
from routine_workflow.workflow.hooks import run_hooks
from routine_workflow.workflow.plan import all_steps, step_selection
from routine_workflow.workflow.runner import (
    RunReport,
    StepRecord,
    order_steps,
    run_steps,
    select_steps,
    utc_now,
)
from routine_workflow.workflow.signals import interruptible


def new_run_id() -> str:
    """Sortable and unique: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()


def planned_steps(
    config: WorkflowConfig, only: Sequence[str] = (), skip: Sequence[str] = ()
) -> list[Step]:
    """The steps this run would execute, in order (validates names and dependencies)."""
    only, skip = step_selection(config, only), step_selection(config, skip)
    return select_steps(order_steps(all_steps(config, only)), only, skip)


def resume_plan(config: WorkflowConfig) -> tuple[str, list[str]] | None:
    """``--resume``: the last failed or interrupted run and the steps it still owes."""
    if not config.history_db.exists():
        return None
    with History(config.history_db) as history:
        return history.resumable(config.project_root)


def check_confirmation(
    config: WorkflowConfig,
    steps: Sequence[Step],
    ask: Callable[[str], bool] | None,
    *,
    watch: bool = False,
) -> bool:
    """True to go ahead. Never waits for input unless stdin is a terminal.

    ``ask`` is the CLI's prompt; None means stdin is not a terminal, and then a
    run that would change files needs ``--yes``. The question names what this
    plan does, step by step, and whether a backup comes first (``workflow.effects``).
    """
    if config.dry_run or config.auto_yes or not steps:
        return True
    names = ", ".join(s.name for s in steps)
    if ask is None:
        raise ConfigError(
            f"refusing to run {names} on {config.project_root} without confirmation: "
            "stdin is not a terminal; pass --yes (or --dry-run to only look)"
        )
    # Here: only a run that asks needs the text (a dry run, --yes, cron never do).
    from routine_workflow.workflow.effects import confirmation_text

    return ask(confirmation_text(config, steps, watch=watch))


def run_workflow(
    config: WorkflowConfig, steps: Sequence[Step], wait: float = 0.0, show_progress: bool = False
) -> RunReport:
    """Take the project lock and run ``steps``; always release the lock and record the run.

    Raises LockBusy when another live run holds the lock.
    """
    run_id = new_run_id()
    rotation = (config.log_max_bytes, config.log_backup_count)
    logger = logs.setup_file(config.log_file, config.log_format, run_id, rotation)
    for warning in config.warnings:  # the console had them before the log file was open
        logs.warn_in_file(logger, warning, "config_warning")
    report = RunReport(run_id, str(config.project_root), utc_now(), config.dry_run)
    lock = RunLock(config.lock_dir, config.project_root)
    history: History | None = None
    # The history stays open until the run is on record, after the lock is released.
    with interruptible(config.workflow_timeout) as guard, contextlib.ExitStack() as closing:
        try:
            lock.acquire(wait)
            _report_recovery(lock, logger)
            logger.info(
                "run %s started on %s%s",
                run_id,
                config.project_root,
                " (dry run)" if config.dry_run else "",
                extra={"event": "run_start"},
            )
            plan = [s.name for s in steps]
            history = _open_history(config, report, plan, logger, closing)
            # The clock starts once the run is on record: a timeout that fired while the
            # history was being opened would leave a run that held the lock unrecorded.
            guard.arm()
            ctx = StepContext(
                config,
                logger,
                run_id,
                last_success=_last_successes(history, config, logger).get,
                progress=progress_for(show_progress),
            )
            with orphans.recording_in(*lock.paths), undo_journal.recording(config, run_id):
                run_steps(
                    steps,
                    ctx,
                    report,
                    on_step=_step_recorder(history, run_id, logger),
                    parallel=config.parallel_steps,
                    guard=guard,
                )
        except Interrupted as exc:
            report.exit_code = exc.exit_code
            report.status = "timeout" if exc.exit_code == EXIT_TIMEOUT else "interrupted"
            report.reason = exc.reason
            logger.error("%s", exc.reason, extra={"event": "run_interrupted"})
        finally:
            guard.disarm()
            killed = terminate_children()
            if killed:
                logger.warning(
                    "stopped %s",
                    plural(killed, "leftover worker process", "leftover worker processes"),
                )
            lock.release()
            report.finished = utc_now()
            _finish_history(history, report, logger)
    logger.info(
        "run %s finished: %s (exit %d)",
        run_id,
        report.status,
        report.exit_code,
        extra={"event": "run_end", "exit_code": report.exit_code},
    )
    if not config.dry_run:
        run_hooks(config, report.as_dict(), logger)
    return report


def _report_recovery(lock: RunLock, logger: logging.Logger) -> None:
    """Say what taking the lock had to clean up after a run that died holding it."""
    for owner, verdict in lock.recovered:
        who = f"pid {owner.pid}" if owner else "an unknown process"
        logger.warning(
            "recovered a stale lock left by %s (%s)",
            who,
            verdict.reason,
            extra={"event": "lock_recovered"},
        )
    for leftover in lock.stopped:
        logger.warning(
            "stopped %s, left running by the run that held the lock",
            leftover,
            extra={"event": "leftover_stopped"},
        )


def _last_successes(
    history: History | None, config: WorkflowConfig, logger: logging.Logger
) -> dict[str, str]:
    """When each step of the project last succeeded, read now, in the main thread.

    Read before any step starts: command steps may run in worker threads, and a
    sqlite3 connection refuses to be used from a thread other than its own. An
    unreadable history is said in the log; the ``when.changed`` steps then run.
    """
    if history is None:  # already reported by _open_history
        return {}
    try:
        return history.last_successes(config.project_root)
    except HistoryError as exc:
        logger.warning(
            "%s; cannot tell what changed since steps last succeeded, "
            "so steps with when.changed run",
            exc,
            extra={"event": "history_unreadable"},
        )
        return {}


def _open_history(
    config: WorkflowConfig,
    report: RunReport,
    plan: list[str],
    logger: logging.Logger,
    stack: contextlib.ExitStack,
) -> History | None:
    """The history with this run's row started (``stack`` closes it), or None if it is broken."""
    # The history is a record, not a safety net: a broken database is reported, never fatal.
    try:
        history = stack.enter_context(History(config.history_db))
        history.start_run(
            report.run_id, config.project_root, report.started, config.dry_run, sys.argv, plan
        )
    except HistoryError as exc:
        logger.warning(
            "%s; this run will not be recorded (and steps with when.changed run)",
            exc,
            extra={"event": "history_unreadable"},
        )
        return None
    return history


def _step_recorder(
    history: History | None, run_id: str, logger: logging.Logger
) -> Callable[[int, StepRecord], None]:
    def record(position: int, step: StepRecord) -> None:
        if history is None:
            return
        try:
            history.record_step(run_id, position, step.__dict__)
        except HistoryError as exc:
            logger.warning("%s", exc)

    return record


def _finish_history(history: History | None, report: RunReport, logger: logging.Logger) -> None:
    if history is None:
        return
    try:
        history.finish_run(
            report.run_id,
            report.finished,
            report.duration,
            report.status,
            report.exit_code,
            report.reason,
        )
    except HistoryError as exc:
        logger.warning("%s", exc)
