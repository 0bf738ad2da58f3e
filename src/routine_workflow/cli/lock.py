"""``lock status`` and ``lock break``: who holds the project's lock, and breaking a stale one.

- ``lock_state(config)``, ``break_lock(config, force=...)``: the answers, as data.
- ``lock_group``: the click commands that print them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.config import WorkflowConfig
from routine_workflow.lock import ProjectLock
from routine_workflow.treelock import tree_lock_path


def lock_state(config: WorkflowConfig) -> dict[str, Any]:
    """The project lock's path, holder and verdict, JSON-friendly.

    ``work_tree`` is the same for the work tree's lock (absent outside git): a run
    started from another home holds only that one, and a run here would still be busy.
    """
    state = _one_lock_state(config.lock_dir)
    tree = tree_lock_path(config.project_root)
    if tree is not None:
        state["work_tree"] = _one_lock_state(tree)
    return state


def _one_lock_state(path: Path) -> dict[str, Any]:
    return ProjectLock(path).state()


def break_lock(config: WorkflowConfig, *, force: bool) -> str:
    """Break a stale lock and say what was removed. Raises LockError for a live holder."""
    lock = ProjectLock(config.lock_dir)
    broken = lock.break_lock(force=force)
    if broken is None:
        return f"lock {lock.path} is not held; nothing to break"
    owner, verdict = broken
    who = owner.describe() if owner else "an unknown process"
    stopped = f"; stopped what it left running: {', '.join(lock.stopped)}" if lock.stopped else ""
    return f"broke lock {lock.path} held by {who} ({verdict.reason}){stopped}"


@click.group("lock")
def lock_group() -> None:
    """Inspect or break the project's lock."""


@lock_group.command("status")
@project_root_option
@json_option
@click.pass_context
def lock_status(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """Show whether a run holds the lock, and whether that holder is alive."""
    state = lock_state(workflow_config(ctx, project_root=project_root))
    if as_json:
        output.write_json(state)
        return 0
    _print_lock("lock", state)
    if "work_tree" in state:
        _print_lock("work tree lock", state["work_tree"])
    return 0


def _print_lock(label: str, state: dict[str, Any]) -> None:
    if not state["held"]:
        output.write_line(f"{PROG}: {label} {state['path']} is free")
        return
    output.write_line(
        f"{PROG}: {label} {state['path']} is held by {state['holder']} "
        f"({'stale' if state['stale'] else 'live'}: {state['reason']})"
    )
    for command in state["commands"]:
        output.write_line(f"  running pid {command['pid']}: {' '.join(command['argv'])}")


@lock_group.command("break")
@project_root_option
@click.option(
    "--force", is_flag=True, help="Also break a lock whose holder cannot be checked (another host)."
)
@click.pass_context
def lock_break(ctx: click.Context, project_root: Path | None, force: bool) -> int:
    """Remove a stale lock. A holder that is verifiably running is never evicted."""
    message = break_lock(workflow_config(ctx, project_root=project_root), force=force)
    output.write_line(f"{PROG}: {message}")
    return 0
