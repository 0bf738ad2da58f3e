"""Each path imports only what it needs (docs/performance.md has the figures).

Checked in a real process: the CLI runs as ``python -m routine_workflow`` would, and
what ``sys.modules`` holds at the end is the answer. No timing is asserted.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import modules_after_run, write_tree

FORMATTERS = {"black", "isort", "autoflake", "pyflakes"}


def imported(args: list[str], cwd: Path, **env: str) -> tuple[int, set[str]]:
    """(exit code, top-level names of every module imported) of one CLI run."""
    code, modules, _ = modules_after_run(args, cwd, **env)
    return code, {name.split(".")[0] for name in modules}


@pytest.fixture
def one_file(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "one", {"app.py": b"x = 1\n"}, '[project]\nname = "one"\n')
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_version_imports_neither_psutil_nor_sqlite(tmp_path: Path) -> None:
    code, modules = imported(["--version"], tmp_path)
    assert code == 0
    assert not modules & {"psutil", "sqlite3", "_sqlite3", *FORMATTERS}


def test_a_warm_dry_run_imports_neither_psutil_nor_formatters(one_file: Path) -> None:
    first, cold = imported(["--dry-run", "--yes"], one_file)  # fills the reformat cache
    assert first == 0 and "psutil" not in cold
    code, modules = imported(["--dry-run", "--yes"], one_file)
    assert code == 0
    assert not modules & {"psutil", *FORMATTERS}
    assert "pathspec" not in modules  # git init's info/exclude holds only comments
    assert "sqlite3" in modules  # the run is recorded in the history


@pytest.mark.slow
def test_a_warm_run_imports_no_formatter_nor_psutil(one_file: Path) -> None:
    first, _ = imported(["--yes", "--steps", "reformat"], one_file)
    assert first == 0
    code, modules = imported(["--yes"], one_file)
    assert code == 0
    assert not modules & {"psutil", *FORMATTERS}


@pytest.mark.slow
def test_a_stale_lock_is_still_judged(one_file: Path, tmp_path: Path) -> None:
    # psutil is imported when it is needed: a lock whose holder is gone is broken.
    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    owner = {
        "pid": 2**22 - 7,  # no such process here
        "create_time": 1.0,
        "hostname": os.uname().nodename,
        "started": "2026-01-01T00:00:00+00:00",
        "argv": ["routine-workflow"],
        "version": "0",
    }
    (lock_dir / "owner.json").write_text(json.dumps(owner))
    code, modules = imported(["--dry-run", "--yes", "--lock-dir", str(lock_dir)], one_file)
    assert code == 0
    assert "psutil" in modules


def test_start_times_read_from_proc_agree_with_psutil() -> None:
    import psutil

    from routine_workflow.procs.orphans import START_TIME_TOLERANCE
    from routine_workflow.procs.starttime import start_time

    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    try:
        for pid in (os.getpid(), child.pid):
            assert abs(start_time(pid) - psutil.Process(pid).create_time()) < START_TIME_TOLERANCE
    finally:
        child.kill()
        child.wait()
    with pytest.raises(ProcessLookupError):
        start_time(child.pid)
