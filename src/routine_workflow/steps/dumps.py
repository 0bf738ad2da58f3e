"""Step dumps: Write a fresh code dump of the project.

Placeholder until the step lands: it skips and says so, never reports success.
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import NotImplementedStep, Step

NAME = "dumps"
DESCRIPTION = "Write a fresh code dump of the project."


def make(config: WorkflowConfig) -> Step:
    """The dumps step for this configuration."""
    return NotImplementedStep(NAME, DESCRIPTION)
