"""``reformat [PATHS] [--check] [--diff]``: the reformat step on its own, for CI and by hand."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from routine_workflow import logs
from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import EXIT_FAILED, EXIT_OK
from routine_workflow.lock import RunLock
from routine_workflow.reformat.run import ReformatReport, reformat
from routine_workflow.undo.journal import recording
from routine_workflow.undo.layout import new_journal_id


def run_reformat(
    config: WorkflowConfig, paths: Sequence[Path], check: bool, diff: bool, wait: float = 0.0
) -> ReformatReport:
    """Run one reformat pass. Writing takes the project lock (waiting up to ``wait`` seconds
    for a run that holds it), so it never races a workflow run; ``--check`` and ``--diff``
    write nothing and need no lock."""
    logger = logs.get_logger()
    if check or diff or config.dry_run:
        return reformat(config, paths=paths, check=True, diff=diff, logger=logger)
    lock = RunLock(config.lock_dir, config.project_root)
    lock.acquire(wait)
    try:
        with recording(config, new_journal_id()):
            return reformat(config, paths=paths, check=False, diff=False, logger=logger)
    finally:
        lock.release()


def exit_code(report: ReformatReport, check: bool) -> int:
    """1 if a file failed, or (with ``--check``) if a file would change; else 0."""
    if report.failed or (check and report.changed):
        return EXIT_FAILED
    return EXIT_OK
