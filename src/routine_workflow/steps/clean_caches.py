"""Step clean_caches: Remove caches such as __pycache__ and .pytest_cache.

Placeholder until the step lands: it skips and says so, never reports success.
"""

from __future__ import annotations

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps.base import NotImplementedStep, Step
from routine_workflow.steps.script import ScriptStep

NAME = "clean_caches"
DESCRIPTION = "Remove caches such as __pycache__ and .pytest_cache."


def make(config: WorkflowConfig) -> Step:
    """The clean_caches step for this configuration (the user's script if one is set)."""
    if config.clean_script is not None:
        return ScriptStep(NAME, config.clean_script)
    return NotImplementedStep(NAME, DESCRIPTION)
