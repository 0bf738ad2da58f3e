"""The edges of a reformat pass: files deleted under it, broken isort settings, huge files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import popen_cli, run_cli, snapshot, write_tree

from routine_workflow.reformat.pipeline import Pipeline
from routine_workflow.reformat.ruff import _read

PYPROJECT = '[project]\nname = "demo"\n'
SLOW = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(3000))


# --- files deleted during the run --------------------------------------------------------------


@pytest.mark.slow
def test_files_deleted_during_the_run_are_reported_as_vanished(tmp_path: Path) -> None:
    """A checkout deletes files while the pool works: one being formatted, one still queued."""
    files = {"big.py": SLOW, "queued.py": b"import os\nx=1\n", "kept.py": b"import os\ny=2\n"}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    proc = popen_cli(["reformat", "--workers", "1"], root)
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not me.children():
        time.sleep(0.02)
    assert me.children(), "the pool never started"
    # The single worker has taken big.py (largest first); the small files wait for it.
    (root / "big.py").unlink()
    (root / "queued.py").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert "skipped big.py: vanished during the run" in out
    assert "skipped queued.py: vanished during the run" in out
    assert "2 vanished during the run" in out and "0 failed" in out
    assert "cannot read" not in out + err
    assert (root / "kept.py").read_bytes() == b"y = 2\n"
    assert sorted(snapshot(root)) == ["kept.py", "pyproject.toml"]  # nothing recreated


def test_a_vanished_file_is_not_a_failure_for_either_engine(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {"a.py": b"x = 1\n"}, PYPROJECT)
    gone = str(root / "gone.py")
    outcome = Pipeline(root).process(gone)
    assert (outcome.status, outcome.reason, outcome.cacheable) == (
        "vanished",
        "vanished during the run",
        False,
    )
    assert _read(gone)[0].status == "vanished"
    assert _read(str(root / "gone" / "deeper.py"))[0].status == "vanished"
    # Something that exists but cannot be read is still a failure.
    (root / "dir.py").mkdir()
    assert Pipeline(root).process(str(root / "dir.py")).status == "failed"
