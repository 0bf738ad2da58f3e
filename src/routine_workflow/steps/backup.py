"""Step backup: archive the project into backup_dir, verified, before anything is rewritten.

The work lives in ``routine_workflow.backup`` (imported inside ``run`` so that
importing the step stays cheap).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import cast

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import Step, StepContext, StepResult
from routine_workflow.steps.script import ScriptStep

NAME = "backup"
DESCRIPTION = "Archive the project into backup_dir, verified."


@dataclass
class BackupStep:
    """The built-in backup (see docs/backup.md)."""

    name: str = NAME
    description: str = DESCRIPTION
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Back up the project, or skip when nothing changed since the last verified backup."""
        from routine_workflow.backup.take import take_backup

        return take_backup(ctx)


def make(config: WorkflowConfig) -> Step:
    """The backup step for this configuration; critical when ``fail_on_backup`` is set."""
    if config.backup_script is not None:
        # cast: ScriptStep's description is a read-only property, which mypy does not
        # accept for the protocol's plain attribute; it satisfies Step at run time.
        return cast(Step, ScriptStep(NAME, config.backup_script, critical=config.fail_on_backup))
    return BackupStep(critical=config.fail_on_backup)
