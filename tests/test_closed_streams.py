"""Closed standard streams: a run's work and exit code are the same as with open ones."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

#: bash redirections that close a stream before the tool starts, as daemons and cron do.
CLOSINGS = {"stdout": ">&-", "stderr": "2>&-", "both": ">&- 2>&-", "all": "<&- >&- 2>&-"}


def _run_closed(project: Path, args: list[str], closing: str) -> int:
    cmd = " ".join([sys.executable, "-m", "routine_workflow", *args]) + " " + closing
    done = subprocess.run(["bash", "-c", cmd], cwd=project, env=os.environ.copy(), timeout=120)
    return done.returncode


def _history(project: Path) -> list[dict[str, object]]:
    done = run_cli(["history", "--json"], project)
    assert done.returncode == 0, done.stderr
    runs: list[dict[str, object]] = json.loads(done.stdout)
    return runs


@pytest.mark.parametrize("closing", list(CLOSINGS.values()), ids=list(CLOSINGS))
def test_a_run_with_closed_streams_does_its_work_and_exits_0(project: Path, closing: str) -> None:
    (project / "a.py").write_text("import os\nx=1\n")
    assert _run_closed(project, ["--yes", "--steps", "backup,reformat"], closing) == 0
    assert (project / "a.py").read_text() == "x = 1\n"
    runs = _history(project)
    assert [r["status"] for r in runs] == ["ok"]


@pytest.mark.parametrize("closing", [">&-", "2>&-"])
def test_a_dry_run_with_closed_streams_exits_0(project: Path, closing: str) -> None:
    (project / "a.py").write_text("x=1\n")
    assert _run_closed(project, ["--dry-run"], closing) == 0
    assert (project / "a.py").read_text() == "x=1\n"


def test_a_failing_run_keeps_its_exit_code_with_closed_streams(project: Path) -> None:
    (project / "bad.py").write_text("def (:\n")
    assert _run_closed(project, ["--yes", "--steps", "reformat"], ">&- 2>&-") == 1


def test_a_reader_that_goes_away_does_not_end_the_run(project: Path) -> None:
    """``routine-workflow ... | head -1``: the rest of the output is discarded, the run
    finishes its work and records its own exit code."""
    for n in range(5):
        (project / f"m{n}.py").write_text("x=1\n")
    cmd = f"{sys.executable} -m routine_workflow --yes -v 2>&1 | head -c 1; exit ${{PIPESTATUS[0]}}"
    done = subprocess.run(["bash", "-c", cmd], cwd=project, capture_output=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert all((project / f"m{n}.py").read_text() == "x = 1\n" for n in range(5))
    assert [r["status"] for r in _history(project)] == ["ok"]


def test_closed_stderr_never_lets_a_file_take_descriptor_2(project: Path) -> None:
    """With fd 2 closed, the log or history database opened next would become fd 2 and a
    child's stderr would be written into it: a script step prints on stderr here."""
    script = project / "noisy.sh"
    script.write_text("#!/bin/sh\necho NOISE-ON-STDERR >&2\n")
    script.chmod(0o755)
    args = ["--yes", "--steps", "clean_caches", "--clean-script", str(script)]
    assert _run_closed(project, args, "2>&-") == 0
    home = Path(os.environ["ROUTINE_WORKFLOW_HOME"])
    for path in home.rglob("*"):
        if path.is_file() and path.suffix != ".log":
            assert b"NOISE-ON-STDERR" not in path.read_bytes(), path
    assert [r["status"] for r in _history(project)] == ["ok"]


def test_a_name_the_terminal_cannot_encode_is_escaped_not_lost(project: Path) -> None:
    (project / "é.py").write_text("x=1\n")
    done = run_cli(["reformat", "--check"], project, env={"PYTHONIOENCODING": "ascii"})
    assert done.returncode == 1, done.stderr
    assert "\\xe9.py" in done.stdout or "\\u00e9.py" in done.stdout, done.stdout
    assert "1 would change" in done.stdout + done.stderr
