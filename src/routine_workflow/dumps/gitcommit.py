"""The git commit a dump's header names: asked of git while the dump reads files."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path


def start_git(root: Path) -> subprocess.Popen[str] | None:
    """Start ``git rev-parse HEAD`` in ``root`` (None: not a checkout, or no git)."""
    # Started before the walk and collected after it, so git runs while we read files.
    if not in_git_checkout(root):
        return None  # an unpacked sdist, a tarball: no git process to start and wait for
    try:
        return subprocess.Popen(
            ["git", "rev-parse", "--verify", "--quiet", "HEAD"],
            cwd=root,
            text=True,
            stdin=subprocess.DEVNULL,
            stdout=subprocess.PIPE,
            stderr=subprocess.DEVNULL,
        )
    except OSError:  # no git installed
        return None


def in_git_checkout(root: Path) -> bool:
    """True if git could find a repository from ``root`` (a ``.git`` here or above).

    Only a shortcut: git itself still decides which commit (GIT_DIR and friends included).
    """
    if "GIT_DIR" in os.environ:
        return True
    return any(os.path.lexists(os.path.join(d, ".git")) for d in (root, *root.parents))


def git_commit_result(proc: subprocess.Popen[str] | None) -> str | None:
    """The commit ``start_git``'s process printed, or None (no checkout, no commit, no git)."""
    if proc is None:
        return None
    try:
        out, _ = proc.communicate(timeout=30)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.communicate()
        return None
    commit = out.strip()
    return commit if proc.returncode == 0 and commit else None


def stop_git(proc: subprocess.Popen[str] | None) -> None:
    """Kill and reap ``proc`` if it still runs (we left before collecting it)."""
    if proc is not None and proc.poll() is None:
        proc.kill()
        proc.wait()
