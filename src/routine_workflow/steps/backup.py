"""Step backup: archive the project into backup_dir, verified, before anything is rewritten.

The work is ``routine_workflow.backup.take.back_up`` (imported when the step
runs, so that importing the step stays cheap); this module turns its outcome
into the step's result.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import BuiltinStep, Status, Step, StepContext, StepResult
from routine_workflow.steps.script import ScriptStep

NAME = "backup"
DESCRIPTION = "Archive the project into backup_dir, verified."


@dataclass
class BackupStep(BuiltinStep):
    """The built-in backup (see docs/backup.md)."""

    name: str = NAME
    description: str = DESCRIPTION
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Back up the project, or skip when nothing changed since the last verified backup."""
        from routine_workflow.backup.manifest import BackupError
        from routine_workflow.backup.take import Action, back_up

        try:
            outcome = back_up(ctx.config, ctx.run_id)
        except BackupError as exc:
            return StepResult.failed(str(exc))
        for level, lines in ((logging.WARNING, outcome.warnings), (logging.INFO, outcome.notes)):
            for line in lines:
                self.log(ctx, level, "%s", line, event="backup_detail")
        status = {
            Action.UNCHANGED: Status.OK,
            Action.WRITTEN: Status.CHANGED,
            Action.DRY_RUN: Status.SKIPPED,
        }[outcome.action]
        return StepResult(
            status, outcome.summary, [*outcome.warnings, *outcome.notes], outcome.counts
        )


def take_backup(ctx: StepContext) -> StepResult:
    """Take one backup as the step does, for a caller that has a context but no step."""
    return BackupStep().run(ctx)


def make(config: WorkflowConfig) -> Step:
    """The backup step for this configuration; critical when ``fail_on_backup`` is set."""
    if config.backup_script is not None:
        return ScriptStep(NAME, config.backup_script, critical=config.fail_on_backup)
    return BackupStep(critical=config.fail_on_backup)
