"""One run per work tree, whoever starts it and through whatever path."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from helpers import popen_cli, run_cli, wait_for, wait_until, write_script

from routine_workflow.dirs import TREE_LOCK_NAME
from routine_workflow.errors import LockBusy
from routine_workflow.lock import RunLock
from routine_workflow.treelock import tree_lock_path


@pytest.fixture
def repo(project: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "sub").mkdir()
    (project / "sub" / "a.py").write_text("x = 1\n")
    return project


def _home(tmp_path: Path, name: str) -> dict[str, str]:
    return {"ROUTINE_WORKFLOW_HOME": str(tmp_path / name)}


@pytest.fixture
def holder(
    repo: Path, tmp_path: Path, slow_script: tuple[Path, Path]
) -> Iterator[subprocess.Popen[str]]:
    """A run from home-a, holding both locks until the test ends."""
    script, marker = slow_script
    proc = popen_cli(
        ["--yes", "--steps", "clean_caches", "--clean-script", str(script)],
        repo,
        env={**os.environ, **_home(tmp_path, "home-a")},
    )
    try:
        wait_for(marker)
        yield proc
    finally:
        proc.kill()
        proc.communicate()


def test_the_tree_lock_lives_in_the_git_directory(repo: Path, tmp_path: Path) -> None:
    assert tree_lock_path(repo) == repo / ".git" / TREE_LOCK_NAME
    assert tree_lock_path(repo / "sub") == repo / ".git" / TREE_LOCK_NAME
    plain = tmp_path / "plain"
    plain.mkdir()
    assert tree_lock_path(plain) is None


def test_a_worktree_uses_its_own_git_directory(repo: Path, tmp_path: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t"]
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "x"], cwd=repo, check=True)
    other = tmp_path / "other"
    subprocess.run(["git", "worktree", "add", "-q", str(other)], cwd=repo, check=True)
    lock = tree_lock_path(other)
    assert lock is not None and lock.parent.is_dir()
    assert lock.parent != repo / ".git" and lock.parent.parent == repo / ".git" / "worktrees"


def test_two_homes_meet_at_the_tree_lock(repo: Path, tmp_path: Path) -> None:
    first = RunLock(tmp_path / "home1" / "lock", repo)
    first.acquire()
    try:
        second = RunLock(tmp_path / "home2" / "lock", repo)
        with pytest.raises(LockBusy, match=TREE_LOCK_NAME):
            second.acquire()
        assert not (tmp_path / "home2" / "lock").exists()  # all or none
    finally:
        first.release()
    assert not (repo / ".git" / TREE_LOCK_NAME).exists()


@pytest.mark.parametrize("how", ["another home", "a nested project", "a symlinked path"])
def test_a_second_run_on_the_same_tree_is_busy(
    repo: Path, tmp_path: Path, holder: subprocess.Popen[str], how: str
) -> None:
    root, env = repo, _home(tmp_path, "home-b")
    if how == "a nested project":
        root, env = repo / "sub", _home(tmp_path, "home-a")
    elif how == "a symlinked path":
        link = tmp_path / "link"
        link.symlink_to(repo)
        root, env = link, _home(tmp_path, "home-a")
    busy = run_cli(["--yes", "--steps", "reformat", "--project-root", str(root)], repo, env=env)
    assert busy.returncode == 75, busy.stderr
    assert f"pid {holder.pid}" in busy.stderr


def test_a_dead_runs_tree_lock_is_recovered_from_another_home(repo: Path, tmp_path: Path) -> None:
    lock = repo / ".git" / TREE_LOCK_NAME
    lock.mkdir()
    dead = {"pid": 2**31 - 1, "create_time": 1.0, "hostname": socket.gethostname()}
    (lock / "owner.json").write_text(json.dumps(dead))
    left = subprocess.Popen(
        [sys.executable, "-c", "import time; time.sleep(60)"], start_new_session=True
    )
    try:
        import psutil

        (lock / "children").mkdir()
        record = {
            "pid": left.pid,
            "create_time": psutil.Process(left.pid).create_time(),
            "host": socket.gethostname(),
            "argv": ["left", "behind"],
        }
        (lock / "children" / f"{left.pid}.json").write_text(json.dumps(record))
        done = run_cli(["--yes", "--steps", "reformat"], repo, env=_home(tmp_path, "other"))
        assert done.returncode == 0, done.stderr
        assert "recovered a stale lock" in done.stderr
        assert left.wait(timeout=10) is not None
        assert not lock.exists()
    finally:
        left.kill()
        left.wait()


def test_commands_are_recorded_in_both_locks(repo: Path, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = write_script(tmp_path / "s.sh", f'touch "{marker}"\nsleep 60')
    proc = popen_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], repo)
    try:
        wait_for(marker)
        tree_children = repo / ".git" / TREE_LOCK_NAME / "children"
        # Recorded just after the start, so possibly after the marker: wait for it.
        wait_until(lambda: len(list(tree_children.glob("*.json"))) == 1, what="the record")
    finally:
        proc.kill()
        proc.communicate()


def test_lock_status_names_the_work_tree_locks_holder(
    repo: Path, tmp_path: Path, holder: subprocess.Popen[str]
) -> None:
    # another home: its own project lock is free, but a run would still be busy
    text = run_cli(["lock", "status"], repo, env=_home(tmp_path, "home-b"))
    assert text.returncode == 0, text.stderr
    assert "work tree" in text.stdout and f"pid {holder.pid}" in text.stdout
    as_json = run_cli(["lock", "status", "--json"], repo, env=_home(tmp_path, "home-b"))
    data = json.loads(as_json.stdout)
    assert data["held"] is False
    assert data["work_tree"]["held"] is True
    assert data["work_tree"]["owner"]["pid"] == holder.pid
