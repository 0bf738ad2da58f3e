"""A step that runs the user's own script in place of a built-in (``--clean-script`` etc.)."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from routine_workflow.procs.children import run_command, script_argv, start_failure
from routine_workflow.steps.base import Status, StepBase, StepContext, StepResult


@dataclass
class ScriptStep(StepBase):
    """Run ``script`` from the project root with the configured timeout."""

    name: str
    script: Path
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    @property
    def description(self) -> str:
        """Shown by ``routine-workflow steps``."""
        return f"run {self.script}"

    def run(self, ctx: StepContext) -> StepResult:
        """Run the script (or say it would, in a dry run)."""
        argv = script_argv(self.script)
        if ctx.dry_run:
            return StepResult.skipped(f"dry run: would run {' '.join(argv)}")
        timeout = ctx.config.script_timeout
        try:
            outcome = run_command(argv, ctx.root, timeout, ctx.logger)
        except OSError as exc:  # e.g. a #! line naming an interpreter that is not installed
            return StepResult.failed(f"{self.script}: {start_failure(argv, ctx.root, exc)}")
        if outcome.timed_out:
            return StepResult.failed(f"{self.script} timed out after {timeout:g}s")
        if outcome.returncode != 0:
            tail = outcome.tail()
            return StepResult.failed(
                f"{self.script} exited with {outcome.returncode}" + (f": {tail}" if tail else "")
            )
        return StepResult(Status.OK, f"{self.script} succeeded")
