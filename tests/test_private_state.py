"""The tool's own files are private: directories 0700, files 0600, whatever the umask."""

from __future__ import annotations

import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest


@pytest.mark.parametrize("umask", ["022", "002", "000"])
def test_everything_the_tool_writes_for_itself_is_private(project: Path, umask: str) -> None:
    (project / "a.py").write_text("x=1\n")
    (project / ".env").write_text("TOKEN=abc\n")
    home = Path(os.environ["ROUTINE_WORKFLOW_HOME"])
    cmd = f"umask {umask} && {sys.executable} -m routine_workflow --yes"
    done = subprocess.run(["bash", "-c", cmd], cwd=project, capture_output=True, text=True)
    assert done.returncode == 0, done.stderr
    found = {"dirs": 0, "files": 0}
    for path in [home, *home.rglob("*")]:
        info = os.lstat(path)
        mode = stat.S_IMODE(info.st_mode)
        if stat.S_ISDIR(info.st_mode):
            found["dirs"] += 1
            assert mode == 0o700, f"{path}: {oct(mode)}"
        elif stat.S_ISREG(info.st_mode):
            found["files"] += 1
            assert mode == 0o600, f"{path}: {oct(mode)}"
    # logs, history, cache, backup + sidecar, dump + checksum at least
    assert found["files"] >= 6, found
