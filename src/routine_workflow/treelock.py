"""Where a git work tree's lock lives: one place for every run on the tree, whoever starts it."""

from __future__ import annotations

import os
import stat
from pathlib import Path

from routine_workflow.dirs import TREE_LOCK_NAME


def tree_lock_path(root: Path) -> Path | None:
    """Where every run on ``root``'s git work tree meets, whoever starts it and by whatever
    path: ``<git dir>/routine-workflow.lock`` of the nearest enclosing repository.

    The per-user lock is keyed by the path and lives in the user's state directory, so
    root's cron job and the developer (two homes), a bind mount (two paths) or a run on
    ``repo/sub`` beside one on ``repo`` would each hold their own. The git directory is
    one directory for all of them. None outside a git work tree, or when the git
    directory is not writable (a read-only checkout: there is nothing to rewrite).
    """
    for directory in (root, *root.parents):
        marker = directory / ".git"
        try:
            info = os.lstat(marker)
        except FileNotFoundError:
            continue
        except OSError:
            return None
        git_dir = _git_dir(directory, marker, info)
        if git_dir is None or not os.access(git_dir, os.W_OK | os.X_OK):
            return None
        return git_dir / TREE_LOCK_NAME
    return None


def _git_dir(directory: Path, marker: Path, info: os.stat_result) -> Path | None:
    if stat.S_ISDIR(info.st_mode):
        return marker
    if not stat.S_ISREG(info.st_mode):
        return None
    # A worktree's or submodule's ".git" file: "gitdir: <path>", relative to its directory.
    try:
        first = marker.read_text(encoding="utf-8", errors="replace").splitlines()[0]
    except (OSError, IndexError):
        return None
    if not first.startswith("gitdir:"):
        return None
    git_dir = directory / first.partition(":")[2].strip()
    return git_dir if git_dir.is_dir() else None
