"""The built-in steps, in their default order.

Each module owns one step and exposes ``make(config) -> Step``; importing a
module must stay cheap (heavy tools are imported inside ``run``).
"""

from __future__ import annotations

import importlib

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import Status, Step, StepContext, StepResult

# DESIGN.md: the backup precedes reformatting so every run has a restore point.
BUILTIN_ORDER = ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")


def builtin_steps(config: WorkflowConfig) -> list[Step]:
    """The built-in steps configured for this run, in declared order."""
    # Imported here, not with the package: ``routine_workflow.steps.base`` is imported by
    # every command, and most never run a step.
    modules = [importlib.import_module(f"{__name__}.{name}") for name in BUILTIN_ORDER]
    return [module.make(config) for module in modules]


__all__ = ["Status", "Step", "StepContext", "StepResult", "builtin_steps"]
