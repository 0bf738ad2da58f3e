"""Step reformat: autoflake, isort and black on the project's Python files.

Placeholder until the step lands: it skips and says so, never reports success.
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import NotImplementedStep, Step

NAME = "reformat"
DESCRIPTION = "autoflake, isort and black on the project's Python files."


def make(config: WorkflowConfig) -> Step:
    """The reformat step for this configuration."""
    return NotImplementedStep(NAME, DESCRIPTION)
