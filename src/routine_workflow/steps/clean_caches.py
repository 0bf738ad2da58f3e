"""Step clean_caches: remove caches such as ``__pycache__`` and ``.pytest_cache``.

The engine is ``routine_workflow.clean``: ``patterns`` (which names are caches),
``plan`` (the walk, git's tracked files, what goes and what stays) and ``remove``
(fd-verified removal). This module turns their outcomes into the step's result.

A target that cannot be removed (permissions, busy) is reported by path and the
step goes on; the step then ends ``failed``, because something that should have
gone is still there. Caches that git tracks are *kept* on purpose and do not fail it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routine_workflow.clean.patterns import Pattern, patterns_for
from routine_workflow.config import WorkflowConfig
from routine_workflow.fsutil import human_size
from routine_workflow.output import plural
from routine_workflow.steps.base import BuiltinStep, Status, Step, StepContext, StepResult
from routine_workflow.steps.script import ScriptStep

if TYPE_CHECKING:
    from routine_workflow.clean.plan import Plan, Target
    from routine_workflow.clean.remove import RemovalOutcome

NAME = "clean_caches"
DESCRIPTION = "Remove caches such as __pycache__ and .pytest_cache."
#: In ``cache_dir``: the last walk that found nothing to clean (``walkrecord``).
WALK_RECORD_NAME = "walk-clean.json"

#: How many paths a detail list shows before saying "... and N more".
MAX_LISTED = 50


def _limited(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"... and {len(lines) - MAX_LISTED} more"]


@dataclass
class CleanCachesStep(BuiltinStep):
    """The built-in clean_caches step."""

    patterns: list[Pattern]
    name: str = NAME
    description: str = DESCRIPTION

    def run(self, ctx: StepContext) -> StepResult:
        """Find caches, keep what git tracks, then remove the rest (or list it in a dry run)."""
        from routine_workflow.clean.gitfiles import GitError
        from routine_workflow.clean.plan import plan_clean
        from routine_workflow.walkrecord import WalkRecord

        # A tree unchanged since a walk that found nothing to clean is not walked again.
        record = WalkRecord(ctx.config.cache_dir / WALK_RECORD_NAME)
        try:
            plan = plan_clean(ctx.config, self.patterns, record)
        except GitError as exc:
            return StepResult.failed(f"nothing removed: {exc}")
        unreadable = [f"could not read {u}" for u in plan.unreadable]
        if not plan.candidates:
            counts = {"removed": 0, "listed": plan.listed}
            return StepResult(Status.OK, "nothing to clean", unreadable, counts)
        kept = [
            f"kept (git-tracked, or a repository/virtualenv inside a cache): {k}" for k in plan.kept
        ]
        if ctx.dry_run:
            result = _dry_run_result(plan, kept + unreadable)
            for line in result.details:  # the list is the point of a dry run: show it
                ctx.logger.info("%s", line, extra={"step": NAME})
            return result

        from routine_workflow.clean.remove import remove_targets  # only when there is work

        removed: list[str] = []

        def report(target: Target, freed: int, failure: str | None) -> None:
            if failure is None:
                removed.append(target.shown)
                ctx.logger.debug(
                    "removed %s (%s)", target.rel, human_size(freed), extra={"step": NAME}
                )
            else:
                ctx.logger.warning("%s", failure, extra={"step": NAME})

        outcome = remove_targets(ctx.root, plan.targets, ctx.config.max_workers, report)
        result = _result(outcome, plan, kept + unreadable)
        if removed:
            result.files["delete"] = sorted(removed)
        return result


def _entries(count: int) -> str:
    return plural(count, "cache entry", "cache entries")


def _dry_run_result(plan: Plan, notes: list[str]) -> StepResult:
    total = sum(t.size for t in plan.targets)
    details = [f"would remove {t.kind} {t.rel} ({human_size(t.size)})" for t in plan.targets]
    details += [f"{p}: {n} ({human_size(b)})" for p, (n, b) in plan.by_pattern().items()]
    return StepResult(
        Status.OK,
        f"dry run: would remove {_entries(len(plan.targets))}, {human_size(total)}",
        details + notes,
        {"would_remove": len(plan.targets), "bytes": total, "kept": len(plan.kept)},
        files={"delete": plan.paths()},
    )


def _result(outcome: RemovalOutcome, plan: Plan, notes: list[str]) -> StepResult:
    count, freed = outcome.count, outcome.freed
    details = [f"{p}: removed {n} ({human_size(b)})" for p, (n, b) in outcome.removed.items()]
    details += _limited(notes) + outcome.failures
    counts = {
        "removed": count,
        "bytes": freed,
        "failed": len(outcome.failures),
        "kept": len(plan.kept),
    }
    done = f"removed {_entries(count)}, {human_size(freed)}"
    if outcome.failures:
        first = outcome.failures[0]
        return StepResult(
            Status.FAILED,
            f"could not remove {len(outcome.failures)} of {len(plan.targets)} "
            f"({done}); {first}",
            details,
            counts,
        )
    if count == 0:
        return StepResult(Status.OK, "nothing to clean", details, counts)
    return StepResult(Status.CHANGED, done, details, counts)


def make(config: WorkflowConfig) -> Step:
    """The clean_caches step for this configuration (the user's script if one is set)."""
    if config.clean_script is not None:
        return ScriptStep(NAME, config.clean_script)
    # Patterns are checked here: a bad one is a configuration error (exit 2) before any step runs.
    return CleanCachesStep(patterns_for(config))
