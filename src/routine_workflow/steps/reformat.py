"""Step reformat: autoflake, isort and black (or ruff) on the project's Python files.

The pass itself is ``routine_workflow.reformat.run``, imported when the step runs.
In a dry run it writes nothing and reports the files that would change.
"""

from __future__ import annotations

from dataclasses import dataclass

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import RoutineError
from routine_workflow.steps.base import BuiltinStep, Status, Step, StepContext, StepResult

NAME = "reformat"
DESCRIPTION = "autoflake, isort and black on the project's Python files."


@dataclass
class ReformatStep(BuiltinStep):
    """The built-in reformat step."""

    name: str = NAME
    description: str = DESCRIPTION

    def run(self, ctx: StepContext) -> StepResult:
        """Reformat (or, in a dry run, report what would change)."""
        from routine_workflow.reformat.run import reformat

        check = ctx.dry_run
        try:
            report = reformat(ctx.config, check=check, logger=ctx.logger, progress=ctx.progress)
        except RoutineError as exc:
            return StepResult.failed(str(exc))
        if report.failed:
            status = Status.FAILED
        elif report.changed and not check:
            status = Status.CHANGED
        else:
            status = Status.OK
        result = StepResult(status, report.summary(), report.detail_lines(), report.counts())
        if report.changed:
            result.files["rewrite"] = sorted(report.changed)
        for line in result.details:
            if not line.startswith(("reformatted", "would reformat")):
                ctx.logger.warning("%s", line, extra={"event": "reformat_problem", "step": NAME})
        result.duration = report.duration
        result.slowest = report.slowest()
        return result


RUFF_DESCRIPTION = "ruff check --fix (unused imports, import order) and ruff format."


def make(config: WorkflowConfig) -> Step:
    """The reformat step for this configuration."""
    if config.reformat_engine == "ruff":
        return ReformatStep(description=RUFF_DESCRIPTION)
    return ReformatStep()
