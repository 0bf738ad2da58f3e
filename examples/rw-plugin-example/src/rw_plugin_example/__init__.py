"""A routine-workflow step plugin: report how many TODO comments the project has.

Enable it in a project with::

    [tool.routine-workflow.steps.todo_count]
    enabled = true
"""

from __future__ import annotations

import time
from dataclasses import dataclass

from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import Discovery
from routine_workflow.steps.base import Status, StepContext, StepResult


@dataclass
class TodoCount:
    """Counts ``TODO`` in the project's Python files; never changes anything."""

    config: WorkflowConfig
    name: str = "todo_count"
    description: str = "Count TODO comments in Python files."
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Count, and report the count; ``TODO_COUNT_SLEEP`` in the env makes it slow (tests)."""
        import os

        time.sleep(float(os.environ.get("TODO_COUNT_SLEEP", "0")))
        total = 0
        for entry in Discovery(ctx.config).files((".py",)):
            total += entry.path.read_text(encoding="utf-8", errors="replace").count("TODO")
        return StepResult(Status.OK, f"{total} TODO comment(s)", counts={"todos": total})
