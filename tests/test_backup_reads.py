"""A backup reads only the sidecars it needs: the newest one, and the others only to prune.

Each sidecar holds every path of the project (a megabyte for Django), and a backup
directory keeps ``keep_backups`` of them. Observed from outside: an older archive's
sidecar is a FIFO, which any ``open`` for reading would block on (the run would then
hit the test's timeout); a run that needs nothing of it finishes.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow import dirs
from routine_workflow.backup import store

pytestmark = pytest.mark.slow


def _backup(project: Path, *extra: str) -> dict:  # type: ignore[type-arg]
    done = run_cli(["--steps", "backup", "--yes", "--json", *extra], project, timeout=30)
    assert done.returncode == 0, done.stdout + done.stderr
    [step] = json.loads(done.stdout)["steps"]
    return step  # type: ignore[no-any-return]


def _old_archive_with_a_fifo_sidecar(project: Path) -> Path:
    directory = dirs.data_dir(project, "backups")
    directory.mkdir(parents=True, exist_ok=True)
    old = directory / store.archive_name(project, store.now_utc().replace(year=2001))
    old.write_bytes(b"not read either")
    os.mkfifo(store.sidecar_path(old))
    return old


def test_runs_within_keep_backups_read_no_older_sidecar(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    assert _backup(project)["status"] == "changed"
    old = _old_archive_with_a_fifo_sidecar(project)

    assert _backup(project)["status"] == "ok"  # unchanged: the newest sidecar only
    (project / "a.py").write_text("x = 2\n")
    assert _backup(project)["status"] == "changed"  # written: no leftover, nothing to prune

    assert old.exists() and store.sidecar_path(old).exists()


def test_beyond_keep_backups_the_oldest_of_ours_are_pruned(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as handle:
        handle.write("[tool.routine-workflow]\nkeep_backups = 2\n")
    names = []
    for value in range(3):
        (project / "a.py").write_text(f"x = {value}\n")
        _backup(project)
        names.append(sorted(p.name for p in dirs.data_dir(project, "backups").glob("*.tar.gz")))
    assert [len(n) for n in names] == [1, 2, 2]
    assert names[0][0] not in names[2]
