"""Step prune_dumps: Delete old code dumps, keeping the newest keep_dumps.

Placeholder until the step lands: it skips and says so, never reports success.
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import NotImplementedStep, Step

NAME = "prune_dumps"
DESCRIPTION = "Delete old code dumps, keeping the newest keep_dumps."


def make(config: WorkflowConfig) -> Step:
    """The prune_dumps step for this configuration."""
    return NotImplementedStep(NAME, DESCRIPTION)
