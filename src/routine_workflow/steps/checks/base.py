"""``CheckStep``: a command step whose output is read by a check's engine."""

from __future__ import annotations

import logging
from collections.abc import Collection
from dataclasses import dataclass
from typing import ClassVar

from routine_workflow.checks import Reading
from routine_workflow.procs.children import ScriptOutcome
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.command import CommandStep, Verdict


def after_reformat(before: Collection[str]) -> tuple[str, ...]:
    """The default ``depends_on`` of a check: reformat, when the run has it (a check of
    the code as it will be left, and no check racing the formatters)."""
    return ("reformat",) if "reformat" in before else ()


@dataclass
class CheckStep(CommandStep):
    """A command step with an engine to read its output (``read``) and its own words
    for what it does (``action``)."""

    @property
    def action(self) -> str:
        """What the step does, as a phrase ("run pytest ...")."""
        raise NotImplementedError  # pragma: no cover (every check overrides it)

    #: Whether the check's tool may write into the project (pytest runs any code); a
    #: scan that only reads needs no restore point and is described as reading.
    writes_files: ClassVar[bool] = True

    @property
    def description(self) -> str:
        """Shown by ``routine-workflow steps``: the action, as a sentence."""
        return self.action[0].upper() + self.action[1:] + "."

    def run(self, ctx: StepContext) -> StepResult:
        """As a command step; a dry run says what the check would do."""
        if ctx.dry_run and not self.skip_reason(ctx):
            return StepResult.skipped(f"dry run: would {self.action}")
        return super().run(ctx)

    def read(self, outcome: ScriptOutcome, ctx: StepContext) -> Reading:
        """What this check's tool said (each check writes its own)."""
        raise NotImplementedError  # pragma: no cover (every check overrides it)

    def judge(self, outcome: ScriptOutcome, ctx: StepContext) -> Verdict:
        """The tool's output, read into the step's verdict; a pass with a warning (an
        audit that could not reach its service) is reported skipped, and logged."""
        return verdict(self.name, self.read(outcome, ctx), ctx.logger)

    def failure_summary(self, attempts: list[str], last: Verdict) -> str:
        """The finding itself for a single attempt ("3 failed, 40 passed")."""
        if len(attempts) == 1 and last.failure:
            return last.failure
        return attempts[-1]


def verdict(name: str, reading: Reading, logger: logging.Logger) -> Verdict:
    """A check's ``Reading`` as a command step's ``Verdict``."""
    status = Status.OK
    if reading.failure is None and reading.warning:
        status = Status.SKIPPED
        logger.warning("%s", reading.summary, extra={"event": "check_warning", "step": name})
    return Verdict(reading.failure, reading.summary, reading.details, reading.counts, status)
