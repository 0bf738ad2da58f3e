"""No rewriting without a restore point: which steps wait for the backup, and when they are held.

When a run's plan has a backup, every later step that may rewrite or delete
the user's files waits for it, and runs only if the backup produced a
verified archive or confirmed that the newest one still matches the project
(issue 14: a failed backup used to be followed by reformat rewriting files
anyway). Otherwise the step is *held*: recorded as skipped, and the run
exits 1 naming why. ``require_restore_point = false`` is the explicit
opt-out: the steps still wait for the backup (the prompt promises "a backup
is taken first"), then run whatever it did.

Which steps need a restore point (``needs_restore_point``):

- ``reformat``: yes, it rewrites the user's files.
- ``clean_caches``, ``dumps``, ``prune_dumps``: no. Caches are regenerable,
  and dumps are written outside the project. A ``--clean-script`` takes
  ``clean_caches``' place and so its rule.
- a command step: yes, unless its table says ``needs_restore_point = false``
  (what a command does is unknown, so the safe guess is that it edits files).
- a plugin step: yes, unless it has an attribute ``needs_restore_point = False``.

``fail_on_backup`` is stronger and unchanged: a failed backup stops the run.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from routine_workflow.steps import BUILTIN_ORDER
from routine_workflow.steps.base import Status, Step
from routine_workflow.workflow.plan import Configured

BACKUP = "backup"
#: The built-in steps (or the scripts in their place) that rewrite the user's files.
REWRITING_BUILTINS = frozenset({"reformat"})
OPT_OUT = "to run without one: --no-require-restore-point (require_restore_point = false)"


def needs_restore_point(step: Step) -> bool:
    """True if ``step`` may rewrite or delete the user's files, so must follow a restore point."""
    inner = step.inner if isinstance(step, Configured) else step
    declared = getattr(inner, "needs_restore_point", None)
    if isinstance(declared, bool):
        return declared
    # A built-in's name always means the built-in or the user's script in its place
    # (plan.all_steps never lets a command or plugin step take one).
    if step.name in BUILTIN_ORDER:
        return step.name in REWRITING_BUILTINS
    return True


def after_backup(steps: Sequence[Step]) -> frozenset[str]:
    """The steps ordered after the backup although they do not depend on it.

    Every step that needs a restore point, except those the backup itself
    depends on (directly or not: they must run first, and waiting for the
    backup would be a cycle). Without this, a backup that depends on a later
    declared step would let reformat jump ahead of it in the order.
    """
    by_name = {s.name: s for s in steps}
    if BACKUP not in by_name:
        return frozenset()
    before: set[str] = set()
    todo = list(by_name[BACKUP].depends_on)
    while todo:
        name = todo.pop()
        if name in by_name and name not in before:
            before.add(name)
            todo.extend(by_name[name].depends_on)
    return frozenset(
        s.name
        for s in steps
        if s.name != BACKUP and s.name not in before and needs_restore_point(s)
    )


@dataclass(frozen=True)
class Gate:
    """The steps of one run that come after its backup and may change the user's files."""

    guarded: frozenset[str]
    required: bool  # False: require_restore_point = false, the steps only wait

    @classmethod
    def plan(cls, steps: Sequence[Step], required: bool) -> Gate | None:
        """The gate for ``steps`` (in run order); None when the run has no backup."""
        names = [s.name for s in steps]
        if BACKUP not in names:
            return None
        after = steps[names.index(BACKUP) + 1 :]
        return cls(frozenset(s.name for s in after if needs_restore_point(s)), required)

    def guards(self, step: Step) -> bool:
        """True if ``step`` must wait for the backup's outcome."""
        return step.name in self.guarded


def no_restore_point(status: str, summary: str, ran: bool, dry_run: bool) -> str | None:
    """Why the backup (which ended with ``status``) left no restore point, or None if it did.

    ``ran`` is False when the runner skipped the backup (a step before it
    failed). A dry run's backup only says what it would do: that counts.
    """
    if ran and status in (Status.OK.value, Status.CHANGED.value):
        return None
    if ran and dry_run and status == Status.SKIPPED.value:
        return None
    if summary.startswith(f"{status}:"):  # "skipped: prune_dumps failed"
        return f"{BACKUP} {summary}"
    return f"{BACKUP} {status}: {summary}" if summary else f"{BACKUP} {status}"


def held_summary(cause: str) -> str:
    """The held step's own summary: short, the run's reason has the whole cause."""
    return f"held: no restore point ({cause.split(':', 1)[0]})"


def held_reason(held: Sequence[str], cause: str) -> str:
    """The run's one-line reason: which steps were held, why, and how to opt out."""
    return f"{', '.join(held)} held: no restore point ({cause}); {OPT_OUT}"
