"""On Windows the tool refuses at once, in one line, instead of failing deep inside a run.

The check reads ``sys.platform``; the test sets it to ``"win32"`` in a real
interpreter before the entry point is imported. The third-party libraries are
imported first, with the real platform: they pick their own per-platform code at
import (click's console code, psutil's C module), and on Windows would pick the
Windows one, which this machine does not have.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

_ENTRY = (
    "import sys, click, psutil, platformdirs, filelock; sys.platform = {platform!r}; "
    "from routine_workflow.cli.main import main; main(sys.argv[1:])"
)


def _run(platform: str, args: list[str], cwd: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", _ENTRY.format(platform=platform), *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=60,
        stdin=subprocess.DEVNULL,
    )


@pytest.mark.parametrize("args", [["--dry-run"], ["config", "show"], ["--version"]])
def test_windows_is_refused_in_one_line_with_exit_2(project: Path, args: list[str]) -> None:
    result = _run("win32", args, project)
    assert result.returncode == 2, result.stderr
    assert result.stdout == ""
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1
    assert "Windows is not supported" in lines[0]
    assert "WSL" in lines[0]


def test_this_platform_runs(project: Path) -> None:
    result = _run(sys.platform, ["config", "check"], project)
    assert result.returncode == 0, result.stderr
