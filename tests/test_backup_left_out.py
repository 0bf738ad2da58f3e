"""A backup never leaves anything out silently: an unreadable directory is named."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest


def _as_unprivileged(args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    """Run as a user without root's power to read anything (a user namespace), if we can."""
    unshare = shutil.which("unshare")
    if unshare is None:
        pytest.skip("needs unshare")
    prefix = [unshare, "--user", "--map-user=1000", "--map-group=1000"] if os.geteuid() == 0 else []
    done = subprocess.run(
        [*prefix, sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    if "unshare" in done.stderr and done.returncode != 0 and "routine-workflow" not in done.stderr:
        pytest.skip(f"cannot make a user namespace here: {done.stderr.strip()[:200]}")
    return done


def test_an_unreadable_directory_is_named_and_counted(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    secret = project / "secret"
    secret.mkdir()
    (secret / "key.txt").write_text("kept from us\n")
    secret.chmod(0)
    try:
        done = _as_unprivileged(["--yes", "--steps", "backup"], project)
    finally:
        secret.chmod(0o755)
    assert done.returncode == 0, done.stderr
    output = done.stdout + done.stderr
    assert "left out secret/: Permission denied" in output
    assert "1 path left out" in output
