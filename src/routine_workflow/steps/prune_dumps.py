"""Step prune_dumps: delete old code dumps, keeping the newest ``keep_dumps``.

The engine is ``routine_workflow.dumps.prune`` (which names are this project's dumps,
what goes); this module turns its outcome into the step's result, naming the files it
left alone because their names do not tell which project they belong to.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routine_workflow.config import WorkflowConfig
from routine_workflow.output import plural
from routine_workflow.steps.base import BuiltinStep, Status, Step, StepContext, StepResult

if TYPE_CHECKING:  # the engine is imported when the step runs, not by every plan
    from routine_workflow.dumps.prune import Dump, PrunePlan

NAME = "prune_dumps"
DESCRIPTION = "Delete old code dumps, keeping the newest keep_dumps."
#: How many left-alone files the result names before summarising the rest.
MAX_LEFT_ALONE = 10


@dataclass
class PruneDumpsStep(BuiltinStep):
    """The built-in prune_dumps step."""

    name: str = NAME
    description: str = DESCRIPTION

    def run(self, ctx: StepContext) -> StepResult:
        """Delete all but the newest ``keep_dumps`` dumps (or list them, in a dry run)."""
        from routine_workflow.dumps.external import create_dump_in_use
        from routine_workflow.dumps.prune import plan_prune

        config = ctx.config
        try:
            plan = plan_prune(
                config.dump_dir, ctx.root, config.keep_dumps, create_dump_in_use(config)
            )
        except NotADirectoryError:
            return StepResult.failed(f"dump_dir {config.dump_dir} is not a directory")
        if plan is None:
            return StepResult.skipped("no dumps yet")
        if not plan.old:
            result = StepResult(
                Status.OK,
                f"{plural(plan.kept, 'dump')}, keeping up to {config.keep_dumps}",
                counts={"kept": plan.kept, "removed": 0},
            )
        elif ctx.dry_run:
            result = _dry_run(ctx, plan)
        else:
            result = _delete(ctx, plan)
        return _with_left_alone(result, plan)


def _with_left_alone(result: StepResult, plan: PrunePlan) -> StepResult:
    """Name the dumps that might be another project's, which were neither counted nor deleted."""
    if not plan.left_alone:
        return result
    names = [p.name for p in plan.left_alone]
    result.details.append(
        f"left alone {plural(len(names), 'dump')} named like this project's, which another project "
        "in a folder of the same name would also write (dump_dir is not this project's own; "
        "delete them by hand if they are yours): "
        + ", ".join(names[:MAX_LEFT_ALONE])
        + (f" and {len(names) - MAX_LEFT_ALONE} more" if len(names) > MAX_LEFT_ALONE else "")
    )
    result.counts["left_alone"] = len(names)
    return result


def _dry_run(ctx: StepContext, plan: PrunePlan) -> StepResult:
    names = [p.name for p in plan.files]
    for name in names:
        ctx.logger.info("would delete %s", name, extra={"step": NAME})
    return StepResult(
        Status.OK,
        f"dry run: would delete {plural(len(plan.old), 'old dump')}, keep {plan.kept}",
        [f"would delete {n}" for n in names],
        {"kept": plan.kept, "would_remove": len(plan.old)},
        files={"delete": [str(p) for p in plan.files]},
    )


def _delete(ctx: StepContext, plan: PrunePlan) -> StepResult:
    from routine_workflow.dumps.prune import delete_dumps

    gone: list[str] = []

    def deleted(dump: Dump) -> None:
        gone.extend(str(p) for p in dump.files)
        ctx.logger.debug("deleted dump %s", dump.path.name)

    outcome = delete_dumps(plan.old, ctx.allowed_roots(), deleted)
    counts = {
        "kept": plan.kept,
        "removed": outcome.removed,
        "bytes": outcome.freed,
        "failed": len(outcome.failures),
    }
    files = {"delete": gone} if gone else {}
    if outcome.failures:
        return StepResult(Status.FAILED, outcome.failures[0], outcome.failures, counts, files=files)
    return StepResult(
        Status.CHANGED,
        f"deleted {plural(outcome.removed, 'old dump')}, kept {plan.kept}",
        [f"deleted {p.name}" for p in plan.files],
        counts,
        files=files,
    )


def make(config: WorkflowConfig) -> Step:
    """The prune_dumps step for this configuration."""
    return PruneDumpsStep()
