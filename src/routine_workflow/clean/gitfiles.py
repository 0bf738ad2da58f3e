"""Which files git tracks, asked once per repository (``git ls-files -z``), never per file."""

from __future__ import annotations

import os
import subprocess
from collections.abc import Iterable
from pathlib import Path

from routine_workflow.errors import RoutineError

#: Variables that would point git at another repository or index than the one in ``cwd``
#: (they are set when we run inside a git hook); pre-commit strips them the same way.
_REDIRECTING_ENV = (
    "GIT_DIR",
    "GIT_WORK_TREE",
    "GIT_INDEX_FILE",
    "GIT_OBJECT_DIRECTORY",
    "GIT_ALTERNATE_OBJECT_DIRECTORIES",
    "GIT_COMMON_DIR",
    "GIT_NAMESPACE",
    "GIT_PREFIX",
)


class GitError(RoutineError):
    """git could not say which files it tracks, so nothing may be assumed untracked."""


def _git_env() -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in _REDIRECTING_ENV}
    env["GIT_OPTIONAL_LOCKS"] = "0"  # a read-only question must not take index.lock
    return env


def _inside_a_repo(directory: Path) -> bool:
    """A ``.git`` in ``directory`` or any parent: what git would find (without GIT_DIR)."""
    return any((d / ".git").exists() for d in (directory, *directory.parents))


def tracked_files(directory: Path) -> set[str]:
    """POSIX paths, relative to ``directory``, of every file git tracks below it.

    A directory that is not in a git work tree tracks nothing (empty set).
    Raises GitError when it is (or may be) in a repository but git cannot
    answer: git missing, "dubious ownership", a broken index. Failing closed
    is the point: a file is only ever treated as untracked when git said so.
    """
    try:
        proc = subprocess.run(
            ["git", "ls-files", "-z", "--cached"],
            cwd=directory,
            env=_git_env(),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            check=False,
        )
    except FileNotFoundError:
        if _inside_a_repo(directory):
            raise GitError(
                f"{directory} is in a git repository but git is not installed; "
                "cannot tell which files git tracks"
            ) from None
        return set()
    if proc.returncode != 0:
        message = proc.stderr.decode("utf-8", "replace").strip()
        if "not a git repository" in message.lower():
            return set()
        first = message.splitlines()[0] if message else f"exit {proc.returncode}"
        raise GitError(f"git ls-files in {directory} failed: {first}")
    names = proc.stdout.decode("utf-8", "surrogateescape").split("\0")
    return {name for name in names if name}


def tracked_under(root: Path, nested_repos: Iterable[str] = ()) -> set[str]:
    """Tracked files of ``root`` and of repositories nested in it, all relative to ``root``.

    A nested repository's files are invisible to the outer ``git ls-files``
    (git stops at the inner ``.git``), so each one is asked separately.
    """
    tracked = tracked_files(root)
    for rel in nested_repos:
        tracked.update(f"{rel}/{name}" for name in tracked_files(root / rel))
    return tracked
