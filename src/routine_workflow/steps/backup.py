"""Step backup: Archive the project into backup_dir, verified.

Placeholder until the step lands: it skips and says so, never reports success.
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import NotImplementedStep, Step
from routine_workflow.steps.script import ScriptStep

NAME = "backup"
DESCRIPTION = "Archive the project into backup_dir, verified."


def make(config: WorkflowConfig) -> Step:
    """The backup step for this configuration; critical when ``fail_on_backup`` is set."""
    if config.backup_script is not None:
        return ScriptStep(NAME, config.backup_script, critical=config.fail_on_backup)
    return NotImplementedStep(NAME, DESCRIPTION, critical=config.fail_on_backup)
