"""The built-in steps, in their default order.

Each module owns one step and exposes ``make(config) -> Step``; importing a
module must stay cheap (heavy tools are imported inside ``run``).
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps import backup, clean_caches, dumps, prune_dumps, reformat
from routine_workflow.steps.base import Status, Step, StepContext, StepResult

# DESIGN.md: the backup precedes reformatting so every run has a restore point.
BUILTIN_ORDER = (prune_dumps, backup, reformat, clean_caches, dumps)


def builtin_steps(config: WorkflowConfig) -> list[Step]:
    """The built-in steps configured for this run, in declared order."""
    return [module.make(config) for module in BUILTIN_ORDER]


__all__ = ["Status", "Step", "StepContext", "StepResult", "builtin_steps"]
