"""``watch``: rerun some steps (reformat by default) whenever project files change.

Each run is an ordinary run: it takes the project lock, is recorded in the
history, and honours the configuration. Changes the tool makes itself never
trigger a run: its own directories are filtered out, and a change only counts
if the file was modified after the previous run ended (anything written during
a run, by a step or by you, is treated as part of that run).
"""

from __future__ import annotations

import dataclasses
import os
import signal
import stat
import time
from collections.abc import Callable, Iterable, Sequence
from pathlib import Path
from types import FrameType
from typing import Any

from routine_workflow import logs
from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import Discovery
from routine_workflow.errors import (
    EXIT_SIGHUP,
    EXIT_SIGINT,
    EXIT_SIGTERM,
    LockBusy,
    RoutineError,
)
from routine_workflow.steps import Step
from routine_workflow.workflow.runner import RunReport
from routine_workflow.workflow.session import run_workflow
from routine_workflow.workflow.signals import HANGUP, STOPPING_EXTRA

DEFAULT_STEPS = ("reformat",)
DEFAULT_DEBOUNCE_MS = 300
# How long the watcher may block before it hands control back (and, the first
# time, says it is ready). Short enough to notice Ctrl-C promptly.
_TICK_MS = 500


class ProjectFilter:
    """A watchfiles filter: only files that belong to the project, as discovery decides.

    Also drops editor droppings (watchfiles' DefaultFilter: swap files, ``~``
    backups) and the tool's own files when they sit inside the tree.
    """

    def __init__(self, config: WorkflowConfig) -> None:
        from watchfiles import DefaultFilter

        self.config = config
        self.root = config.project_root
        self._default = DefaultFilter()
        # Resolved once: the filter sees every raw event (thousands during a pip install).
        self._own = tuple(str(d.resolve()) for d in (*config.own_dirs(), config.log_file.parent))
        self._own_files = (config.history_db.name, config.log_file.name)
        self.discovery = Discovery(config)

    def __call__(self, change: Any, path: str) -> bool:
        """True if a change to ``path`` should count."""
        if not self._default(change, path):
            return False
        target = Path(path)
        if any(path == own or path.startswith(own + os.sep) for own in self._own):
            return False
        if target.name.startswith(self._own_files):  # the history db with -wal/-shm, rotated logs
            return False
        rel = os.path.relpath(path, self.root)
        if rel == "." or rel.startswith(".." + os.sep) or rel == "..":
            return False
        if target.name == ".gitignore":
            self.discovery = Discovery(self.config)  # rules changed: decide afresh from now on
        return not self.discovery.excluded(rel.replace(os.sep, "/"))


def modified_since(paths: Iterable[str], since_ns: int) -> list[str]:
    """The paths that still exist as non-directories and changed after ``since_ns`` (wall clock).

    The change time counts too, so a file moved into place (``mv``, an
    editor's save-by-rename) or restored with an old mtime still counts.
    Deleted paths do not: removing a file gives a step nothing to do.
    """
    fresh = []
    for path in paths:
        try:
            info = os.lstat(path)
        except OSError:
            continue
        if not stat.S_ISDIR(info.st_mode) and max(info.st_mtime_ns, info.st_ctime_ns) > since_ns:
            fresh.append(path)
    return sorted(fresh)


class _StopSignal:
    """SIGTERM or SIGHUP while waiting stops the watcher like Ctrl-C, remembering which."""

    CODES = {signal.SIGTERM: EXIT_SIGTERM, HANGUP: EXIT_SIGHUP}

    def __init__(self) -> None:
        self.code = EXIT_SIGINT

    def handler(self, signum: int, _frame: FrameType | None) -> None:
        self.code = self.CODES.get(signum, EXIT_SIGINT)
        raise KeyboardInterrupt


def watch(
    config: WorkflowConfig,
    steps: Sequence[Step],
    *,
    debounce_ms: int = DEFAULT_DEBOUNCE_MS,
    wait: float = 0.0,
    on_report: Callable[[RunReport], None] = lambda _report: None,
    max_runs: int | None = None,
) -> int:
    """Run ``steps`` after each burst of changes; return the exit code (130 on Ctrl-C).

    A burst ends when no file has changed for ``debounce_ms``. With
    ``max_runs``, stop after that many runs and return the last run's code.
    """
    from watchfiles import watch as watch_changes

    config = for_watch(config)
    logger = logs.get_logger()
    stop = _StopSignal()
    sigs = (signal.SIGINT, signal.SIGTERM, *STOPPING_EXTRA)
    previous = {sig: signal.signal(sig, stop.handler) for sig in sigs}
    since = time.time_ns()
    runs, code, ready = 0, 0, False
    names = ", ".join(s.name for s in steps) or "no steps"
    try:
        for changes in watch_changes(
            config.project_root,
            watch_filter=ProjectFilter(config),
            step=debounce_ms,
            debounce=max(10 * debounce_ms, 2000),
            rust_timeout=_TICK_MS,
            yield_on_timeout=True,
        ):
            if not ready:
                ready = True
                logger.info(
                    "watching %s for changes (steps: %s); Ctrl-C to stop",
                    config.project_root,
                    names,
                    extra={"event": "watch_ready"},
                )
            fresh = modified_since((path for _change, path in changes), since)
            if not fresh:
                continue
            logger.info(
                "changed: %s",
                _describe(fresh, config.project_root),
                extra={"event": "watch_change", "paths": len(fresh)},
            )
            report = _run_once(config, steps, wait, logger)
            since = time.time_ns()  # anything modified up to now belongs to this run
            runs += 1
            if report is not None:
                code = report.exit_code
                on_report(report)
                if code in (EXIT_SIGINT, EXIT_SIGTERM, EXIT_SIGHUP):
                    return code
            if max_runs is not None and runs >= max_runs:
                return code
            logger.info("watching for changes again", extra={"event": "watch_ready"})
    except KeyboardInterrupt:
        logger.info("stopped watching %s", config.project_root, extra={"event": "watch_stop"})
        return stop.code
    except OSError as exc:  # e.g. the inotify watch limit; say so in one line
        raise RoutineError(f"cannot watch {config.project_root}: {exc}") from None
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    return code  # pragma: no cover (the watcher only ends by a signal or max_runs)


def for_watch(config: WorkflowConfig) -> WorkflowConfig:
    """The configuration of watch's runs: reformat keeps unused imports unless the user
    asked otherwise (``watch_remove_unused_imports``) — on a save, an import just typed
    is about to be used, and removing it fights the editor."""
    if config.watch_remove_unused_imports:
        return config
    return dataclasses.replace(config, keep_unused_imports=True)


def _run_once(
    config: WorkflowConfig, steps: Sequence[Step], wait: float, logger: Any
) -> RunReport | None:
    # run_workflow installs its own signal handlers for the run and restores ours after.
    try:
        return run_workflow(config, steps, wait)
    except LockBusy as exc:
        logger.warning("%s; changes so far were not processed", exc, extra={"event": "watch_busy"})
        return None


def _describe(paths: list[str], root: Path, limit: int = 5) -> str:
    shown = [os.path.relpath(p, root) for p in paths[:limit]]
    more = f" and {len(paths) - limit} more" if len(paths) > limit else ""
    return ", ".join(shown) + more
