"""The PID-validated lock, with real processes."""

from __future__ import annotations

import json
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest

from routine_workflow.errors import LockBusy, LockError
from routine_workflow.lock import OWNER_FILE, Owner, ProjectLock, judge


def _write_owner(lock_path: Path, **changes: object) -> dict[str, object]:
    record = Owner.current().to_json()
    record.update(changes)
    lock_path.mkdir(parents=True)
    (lock_path / OWNER_FILE).write_text(json.dumps(record))
    return record


@pytest.fixture
def sleeper() -> subprocess.Popen[bytes]:
    proc = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    yield proc
    proc.kill()
    proc.wait()


def test_acquire_writes_owner_and_release_removes(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path / "locks" / "proj")
    lock.acquire()
    owner = json.loads((lock.path / OWNER_FILE).read_text())
    assert owner["pid"] == os.getpid()
    assert owner["hostname"] == socket.gethostname()
    assert owner["create_time"] == pytest.approx(psutil.Process().create_time())
    assert owner["argv"] and owner["version"] and owner["started"]
    lock.release()
    assert not lock.path.exists()
    lock.release()  # twice is harmless


def test_second_acquire_is_busy_and_names_holder(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "lock"
    _write_owner(path, pid=sleeper.pid, create_time=psutil.Process(sleeper.pid).create_time())
    with pytest.raises(LockBusy, match=rf"pid {sleeper.pid}\b.*is running"):
        ProjectLock(path).acquire()
    assert path.exists()


def test_dead_pid_is_stale_and_recovered(tmp_path: Path) -> None:
    proc = subprocess.Popen([sys.executable, "-c", "pass"])
    proc.wait()
    path = tmp_path / "lock"
    _write_owner(path, pid=proc.pid, create_time=123.0)
    lock = ProjectLock(path)
    lock.acquire()
    assert lock.recovered is not None
    assert "not running" in lock.recovered[1].reason
    assert json.loads((path / OWNER_FILE).read_text())["pid"] == os.getpid()
    lock.release()


def test_live_pid_with_other_start_time_is_pid_reuse(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "lock"
    real_start = psutil.Process(sleeper.pid).create_time()
    _write_owner(path, pid=sleeper.pid, create_time=real_start - 3600)
    lock = ProjectLock(path)
    lock.acquire()
    assert "PID reuse" in lock.recovered[1].reason
    lock.release()


def test_live_matching_holder_is_never_broken_even_with_force(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "lock"
    record = _write_owner(
        path,
        pid=sleeper.pid,
        create_time=psutil.Process(sleeper.pid).create_time(),
        started="2000-01-01T00:00:00+00:00",
    )  # however old
    lock = ProjectLock(path)
    with pytest.raises(LockBusy):
        lock.acquire(wait=0.5, poll=0.1)
    for force in (False, True):
        with pytest.raises(LockError, match="refusing to break a live lock"):
            lock.break_lock(force=force)
    assert json.loads((path / OWNER_FILE).read_text()) == record


def test_other_host_counts_as_live_but_force_breaks(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    _write_owner(path, hostname="some-other-host.invalid", pid=1)
    lock = ProjectLock(path)
    with pytest.raises(LockBusy, match="another host"):
        lock.acquire()
    with pytest.raises(LockError, match="--force"):
        lock.break_lock()
    owner, _verdict = lock.break_lock(force=True)
    assert owner is not None and owner.hostname == "some-other-host.invalid"
    assert not path.exists()


@pytest.mark.slow
def test_ownerless_directory_is_live_within_grace_then_stale(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.mkdir()
    with pytest.raises(LockBusy, match="being acquired"):
        ProjectLock(path, grace=30).acquire()
    old = time.time() - 60
    os.utime(path, (old, old))
    lock = ProjectLock(path, grace=30)
    lock.acquire()
    assert "no readable owner" in lock.recovered[1].reason
    lock.release()


def test_garbage_owner_file_is_treated_like_missing(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    path.mkdir()
    (path / OWNER_FILE).write_text("{not json")
    assert judge(None, 1.0).stale is False
    old = time.time() - 60
    os.utime(path, (old, old))
    lock = ProjectLock(path, grace=5)
    lock.acquire()
    lock.release()


def test_wait_gets_the_lock_when_holder_exits(tmp_path: Path) -> None:
    path = tmp_path / "lock"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time; from routine_workflow.lock import ProjectLock;"
            "l = ProjectLock(sys.argv[1]); l.acquire(); print('held', flush=True); time.sleep(1); l.release()",
            str(path),
        ],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout.readline().strip() == "held"
    lock = ProjectLock(path)
    lock.acquire(wait=30, poll=0.05)
    assert lock.recovered is None  # released properly, not broken
    lock.release()
    holder.wait()


def test_release_leaves_a_lock_that_is_not_ours(
    tmp_path: Path, sleeper: subprocess.Popen[bytes]
) -> None:
    path = tmp_path / "lock"
    lock = ProjectLock(path)
    lock.acquire()
    # Someone broke our lock with --force and took it: their record replaces ours.
    (path / OWNER_FILE).write_text(
        json.dumps(
            {
                **Owner.current().to_json(),
                "pid": sleeper.pid,
                "create_time": psutil.Process(sleeper.pid).create_time(),
            }
        )
    )
    lock.release()
    assert path.exists()


def test_break_of_free_lock_says_so(tmp_path: Path) -> None:
    assert ProjectLock(tmp_path / "lock").break_lock() is None


@pytest.mark.skipif(os.geteuid() == 0, reason="root can write into a read-only directory")
def test_unwritable_lock_parent_is_a_clear_error(tmp_path: Path) -> None:
    parent = tmp_path / "ro"
    parent.mkdir()
    parent.chmod(0o500)
    try:
        with pytest.raises(LockError, match="cannot create lock"):
            ProjectLock(parent / "lock").acquire()
    finally:
        parent.chmod(0o700)
