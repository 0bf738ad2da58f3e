"""``lock status`` and ``lock break``."""

from __future__ import annotations

from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.lock import ProjectLock
from routine_workflow.procs import orphans


def lock_state(config: WorkflowConfig) -> dict[str, Any]:
    """The lock's path, holder and verdict, JSON-friendly."""
    lock = ProjectLock(config.lock_dir)
    snap = lock.snapshot()
    if snap is None:
        return {"path": str(lock.path), "held": False}
    verdict = lock.verdict(snap)
    return {
        "path": str(lock.path),
        "held": True,
        "holder": snap.owner.describe() if snap.owner else "an unknown process",
        "owner": snap.owner.to_json() if snap.owner else None,
        "stale": verdict.stale,
        "reason": verdict.reason,
        # what the holder is running now (or, when stale, what a break would stop)
        "commands": orphans.recorded(lock.path),
    }


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
