"""The ``git_snapshot`` check: commit what this run changed, and only that.

The engine and its rules are ``checks.snapshot``: the files come from the run's undo
journal, and a file that held uncommitted work of the user's before the run refuses
the whole snapshot. It runs after every other check the run has (a snapshot of code
whose tests failed is not taken), and after reformat.
"""

from __future__ import annotations

import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routine_workflow.config import TABLE, WorkflowConfig
from routine_workflow.errors import ConfigError
from routine_workflow.output import plural
from routine_workflow.steps.base import Status, StepContext
from routine_workflow.steps.checks.base import CheckStep
from routine_workflow.steps.checks.options import Option
from routine_workflow.steps.command import Unavailable, Verdict

if TYPE_CHECKING:  # the engine is imported when a snapshot is taken, not when one is planned
    from routine_workflow.checks import snapshot

NAME = "git_snapshot"
OPTIONS = {
    "branch": Option("str", None),
    "push": Option("bool", False),
    "remote": Option("str", "origin"),
}
#: Steps a snapshot waits for when the run has them.
AFTER = ("reformat", "tests", "security", "audit")


def default_depends_on(before: Collection[str]) -> tuple[str, ...]:
    """After reformat and every other check of the run."""
    return tuple(name for name in AFTER if name in before)


@dataclass
class GitSnapshotStep(CheckStep):
    """Commit the files the run's journal lists; push only when asked."""

    branch: str | None = None
    push: bool = False
    remote: str = "origin"

    @property
    def action(self) -> str:
        """What the step does (``steps``, dry runs)."""
        where = f" on branch {self.branch}" if self.branch else ""
        then = f", then push to {self.remote}" if self.push else ""
        return f"commit the files this run changed{where} (git){then}"

    def command(self, ctx: StepContext) -> list[str]:
        """Only checks that git is there: the work is ``_attempt``'s."""
        if shutil.which("git", path=self.command_env(ctx).get("PATH")) is None:
            raise Unavailable(f"the {NAME} step needs git: install git")
        return ["git"]

    def _attempt(
        self, argv: list[str], cwd: Path, env: dict[str, str], ctx: StepContext
    ) -> Verdict:
        """One snapshot: vet the run's files, commit, push."""
        from routine_workflow.checks import snapshot
        from routine_workflow.checks.git import Git, GitError

        git = Git(cwd, self.timeout, self.env)
        try:
            changes = snapshot.run_changes(ctx.root, ctx.run_id)
            if not changes:
                return Verdict(None, "nothing to commit: this run changed no files")
            message = self.message(ctx, changes)
            taken = snapshot.take(git, changes, message, self.branch, self.push, self.remote)
        except snapshot.SnapshotRefused as exc:
            return Verdict(str(exc), details=exc.details)
        except GitError as exc:
            return Verdict(str(exc))
        return _verdict(taken)

    def message(self, ctx: StepContext, changes: list[snapshot.Change]) -> str:
        """The commit message: the run, the steps before the snapshot, the files."""
        steps = ", ".join(self.depends_on) or "routine-workflow"
        files = "\n".join(f"  {c.rel}" for c in changes[:50])
        more = f"\n  ... and {len(changes) - 50} more" if len(changes) > 50 else ""
        return (
            f"routine-workflow run {ctx.run_id}: {steps}\n\n"
            f"Files changed by the run ({len(changes)}):\n{files}{more}\n"
        )


def _pushed(taken: snapshot.Snapshot) -> str:
    return f", pushed {taken.branch} to {taken.pushed}" if taken.pushed else ""


def _verdict(taken: snapshot.Snapshot) -> Verdict:
    details = [f"committed {p}" for p in taken.committed]
    details += [f"already committed {p}" for p in taken.already]
    details += [f"left out {p}: ignored by git" for p in taken.ignored]
    counts = {
        "committed": len(taken.committed),
        "already": len(taken.already),
        "ignored": len(taken.ignored),
    }
    if not taken.committed:
        what = "nothing to commit: " + (
            "this run's changes are committed already"
            if taken.already
            else "every file it changed is ignored by git"
        )
        return Verdict(None, what + _pushed(taken), details, counts)
    summary = (
        f"committed {plural(len(taken.committed), 'file')} as {taken.commit[:12]} on {taken.branch}"
    )
    return Verdict(None, summary + _pushed(taken), details, counts, Status.CHANGED)


def make(config: WorkflowConfig, common: dict[str, Any], values: dict[str, Any]) -> GitSnapshotStep:
    """The git_snapshot step of a table; it needs the undo journal to know what a run changed."""
    if config.keep_undo <= 0:
        raise ConfigError(
            f"[{TABLE}.steps.{NAME}]: needs the undo journal to know which files a run "
            "changed, but keep_undo is 0; set keep_undo to 1 or more"
        )
    return GitSnapshotStep(**{**common, "argv": ("git", "commit")}, **values)


__all__ = ["NAME", "OPTIONS", "GitSnapshotStep", "default_depends_on", "make"]
