"""Temporary files a killed run left in the project: never fed to a step, removed only
when they are exactly ours."""

from __future__ import annotations

import os
from pathlib import Path

from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.discovery import Discovery
from routine_workflow.fsutil import is_temp_name, remove_leftover_temps

OURS = [".a.py.0123456789ab.rw-tmp", ".b b.py.deadbeef.rw-restore", ".x.0123456789ab.rw-tmp"]
NOT_OURS = [
    "a.py.0123456789ab.rw-tmp",  # no leading dot
    ".a.py.0123456789AB.rw-tmp",  # upper-case hex
    ".a.py.0123456789a.rw-tmp",  # 11 digits
    ".a.py.rw-tmp",
    ".a.py.x1y2.rw-tmp",
    ".a.py.0123456789ab.rw-tmp.bak",
    ".a.py.deadbeef0.rw-restore",
    "notes.rw-tmp",
]


def test_only_exact_names_are_ours() -> None:
    assert all(is_temp_name(name) for name in OURS)
    assert not any(is_temp_name(name) for name in NOT_OURS)


def test_discovery_never_reports_our_temp_files(project: Path) -> None:
    (project / "pkg").mkdir()
    for name in OURS + NOT_OURS:
        (project / "pkg" / name).write_text("x = 1\n")
    (project / "pkg" / "a.py").write_text("x = 1\n")
    discovery = Discovery(load_config(cwd=project))
    found = {e.rel for e in discovery.walk()}
    assert not any(rel.endswith(tuple(OURS)) for rel in found)
    assert {f"pkg/{name}" for name in NOT_OURS} <= found
    assert sorted(os.path.basename(p) for p in discovery.leftover_temps) == sorted(OURS)
    # The reformat walk filters by suffix, and still sets them aside.
    py_only = Discovery(load_config(cwd=project))
    assert [e.rel for e in py_only.files((".py",))] == ["pkg/a.py"]
    assert len(py_only.leftover_temps) == len(OURS)


def test_removal_takes_only_our_regular_files_inside_the_root(
    project: Path, tmp_path: Path
) -> None:
    outside = tmp_path / "outside"
    outside.mkdir()
    ours = project / OURS[0]
    ours.write_text("half a file")
    foreign = project / NOT_OURS[0]
    foreign.write_text("user's")
    a_dir = project / OURS[2]
    a_dir.mkdir()
    link = project / ".l.py.0123456789ab.rw-tmp"
    link.symlink_to(outside / "target")
    beyond = outside / ".c.py.0123456789ab.rw-tmp"
    beyond.write_text("not in the project")
    paths = [str(p) for p in (ours, foreign, a_dir, beyond)]
    removed = remove_leftover_temps(paths, [project])
    assert removed == [str(ours)]
    assert foreign.exists() and a_dir.is_dir() and beyond.exists() and link.is_symlink()


def test_the_next_writing_run_removes_what_a_killed_run_left(project: Path) -> None:
    (project / "pkg").mkdir()
    (project / "pkg" / "a.py").write_text("x=1\n")
    ours = project / "pkg" / ".a.py.0123456789ab.rw-tmp"
    foreign = project / "pkg" / ".a.py.x1y2.rw-tmp"
    for path in (ours, foreign):
        path.write_text("half of a file a SIGKILL left\n")
    for looking in (["--dry-run"], ["reformat", "--check"], ["reformat", "--diff"]):
        done = run_cli(looking, project)
        assert ours.exists(), f"{looking} removed it without holding the lock"
        assert "Traceback" not in done.stderr
    done = run_cli(["--yes"], project)
    assert done.returncode == 0, done.stderr
    assert not ours.exists() and foreign.exists()
    assert "temporary file left by a killed run" in done.stderr
    # Neither the backup nor the dump ever carried it.
    assert ".a.py.0123456789ab.rw-tmp" not in done.stdout
