"""A lock record someone edited, truncated or corrupted never wedges the project.

A record that is not a valid owner is "unreadable": fail closed within the grace
period, stale after it, and ``lock break --force`` always removes it.
"""

from __future__ import annotations

import json
import os
import random
import socket
import time
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.lock import OWNER_FILE, Owner, ProjectLock, judge

ODD_VALUES: list[object] = [
    -1,
    0,
    1.5,
    2**64,
    10**400,
    "1",
    "abc",
    "",
    None,
    True,
    [],
    {},
    [1, 2],
    {"pid": 1},
    float("inf"),
    float("nan"),
    -0.0,
    "\x00",
    "é" * 1000,
]
KEYS = ("pid", "create_time", "hostname", "started", "argv", "version")


def _odd_records(seed: int, count: int) -> list[object]:
    rng = random.Random(seed)  # noqa: S311 (reproducible fuzzing, not secrets)
    records: list[object] = [None, [], 7, "owner", {}]
    for _ in range(count):
        record: dict[str, object] = Owner.current().to_json()
        for key in rng.sample(KEYS, rng.randint(1, len(KEYS))):
            if rng.random() < 0.2:
                record.pop(key)
            else:
                record[key] = rng.choice(ODD_VALUES)
        records.append(record)
    return records


def _write_raw(lock_dir: Path, record: object, age: float = 0.0) -> None:
    lock_dir.mkdir(parents=True, exist_ok=True)
    text = json.dumps(record, allow_nan=True) if not isinstance(record, str) else record
    (lock_dir / OWNER_FILE).write_text(text)
    if age:
        then = time.time() - age
        os.utime(lock_dir, (then, then))


def _is_valid(record: object) -> bool:
    try:
        Owner.from_json(record)
    except ValueError:
        return False
    return True


@pytest.mark.parametrize("record", _odd_records(seed=12, count=300))
def test_an_odd_record_is_unreadable_or_valid_never_a_crash(tmp_path: Path, record: object) -> None:
    lock = ProjectLock(tmp_path / "lock", grace=0.0)
    _write_raw(lock.path, record, age=5)
    snap = lock.snapshot()
    assert snap is not None
    verdict = lock.verdict(snap)  # must not raise
    if snap.owner is None:
        assert verdict.stale  # unreadable and older than the grace period
        lock.acquire()
        lock.release()
    else:
        owner = snap.owner
        assert isinstance(owner.pid, int) and not isinstance(owner.pid, bool)
        assert 0 < owner.pid < 2**31
        assert owner.create_time == owner.create_time  # not NaN
        assert abs(owner.create_time) != float("inf")


@pytest.mark.parametrize(
    "change",
    [
        {"pid": -1},
        {"pid": 0},
        {"pid": "12"},
        {"pid": 1.5},
        {"pid": 2**70},
        {"pid": True},
        {"create_time": "x"},
        {"create_time": None},
        {"hostname": 5},
        {"argv": "not a list"},
        {"argv": [1, 2]},
    ],
)
def test_invalid_fields_make_the_record_unreadable(change: dict[str, object]) -> None:
    record = Owner.current().to_json()
    record.update(change)
    assert not _is_valid(record)


def test_missing_keys_make_the_record_unreadable() -> None:
    for key in ("pid", "create_time", "hostname"):
        record = Owner.current().to_json()
        del record[key]
        assert not _is_valid(record)


@pytest.mark.parametrize("pid", [-1, 0, "abc", 2**70, 1.5])
def test_every_command_survives_a_corrupt_record(
    project: Path, tmp_path: Path, pid: object
) -> None:
    lock_dir = tmp_path / "lock"
    record = Owner.current().to_json()
    record["pid"] = pid
    _write_raw(lock_dir, record)
    args = ["--project-root", str(project), "--lock-dir", str(lock_dir)]

    status = run_cli(
        ["lock", "status", "--json", *args[:2]],
        project,
        env={"ROUTINE_WORKFLOW_LOCK_DIR": str(lock_dir)},
    )
    assert status.returncode == 0, status.stderr
    assert "Traceback" not in status.stderr
    state = json.loads(status.stdout)
    assert state["held"] and not state["stale"]  # fail closed within the grace period

    busy = run_cli(["--yes", "--steps", "clean_caches", *args], project)
    assert busy.returncode == 75, busy.stderr
    assert "Traceback" not in busy.stderr
    assert "unknown process" in busy.stderr or "no readable owner" in busy.stderr

    plain = run_cli(
        ["lock", "break", *args[:2]], project, env={"ROUTINE_WORKFLOW_LOCK_DIR": str(lock_dir)}
    )
    assert plain.returncode != 0 and "Traceback" not in plain.stderr
    assert "--force" in plain.stderr

    forced = run_cli(
        ["lock", "break", "--force", *args[:2]],
        project,
        env={"ROUTINE_WORKFLOW_LOCK_DIR": str(lock_dir)},
    )
    assert forced.returncode == 0, forced.stderr
    assert not lock_dir.exists()

    again = run_cli(["--yes", "--steps", "clean_caches", *args], project)
    assert again.returncode == 0, again.stderr


def test_a_corrupt_record_older_than_the_grace_period_is_recovered(
    project: Path, tmp_path: Path
) -> None:
    lock_dir = tmp_path / "lock"
    _write_raw(lock_dir, {"pid": -1, "create_time": 1.0, "hostname": "h"}, age=3600)
    run = run_cli(
        [
            "--yes",
            "--steps",
            "clean_caches",
            "--project-root",
            str(project),
            "--lock-dir",
            str(lock_dir),
        ],
        project,
    )
    assert run.returncode == 0, run.stderr
    assert not lock_dir.exists()


@pytest.mark.parametrize("child", [{"pid": 0}, {"pid": -1}, {"pid": 1}, {"pid": "x"}, [], 3])
def test_corrupt_child_records_are_ignored_when_a_stale_lock_is_broken(
    tmp_path: Path, child: object
) -> None:
    """A dead run's children records are obeyed only when valid: pid 0 or -1 given to
    killpg would signal our own group or everyone we may signal."""
    lock = ProjectLock(tmp_path / "lock", grace=0.0)
    dead = {"pid": 2**31 - 1, "create_time": 1.0, "hostname": socket.gethostname()}
    _write_raw(lock.path, dead, age=5)
    children = lock.path / "children"
    children.mkdir()
    record: object = child
    if isinstance(child, dict):
        record = {"create_time": 1.0, "host": socket.gethostname(), "argv": ["x"], **child}
    (children / "1.json").write_text(json.dumps(record))
    lock.acquire()  # we are still alive to release it
    assert lock.recovered is not None and lock.stopped == []
    lock.release()


@pytest.mark.skipif(os.geteuid() != 0, reason="needs root to run a check as another user")
def test_a_record_another_user_may_not_read_is_live(
    tmp_path_factory: pytest.TempPathFactory,
) -> None:
    """Root's cron run holds the work tree's lock; the developer's run cannot read its record:
    that must mean "live", never "no record, so stale after the grace period"."""
    import subprocess
    import sys
    import tempfile

    shared = Path(tempfile.mkdtemp(prefix="rw-shared-"))
    try:
        shared.chmod(0o755)
        lock = ProjectLock(shared / "lock", grace=0.0)
        lock.acquire()
        lock.path.chmod(0o700)
        check = (
            "import sys; from routine_workflow.lock import ProjectLock; "
            "l = ProjectLock(sys.argv[1], grace=0.0); v = l.verdict(l.snapshot()); "
            "print(v.stale, v.reason)"
        )

        def as_nobody() -> None:
            os.setgid(65534)
            os.setuid(65534)

        try:
            done = subprocess.run(
                [sys.executable, "-c", check, str(lock.path)],
                preexec_fn=as_nobody,
                capture_output=True,
                text=True,
                check=False,
            )
        except PermissionError:
            pytest.skip("this interpreter is not executable by another user (e.g. under /root)")
        if "Permission denied" in done.stderr and "routine_workflow" not in done.stdout:
            pytest.skip(f"nobody cannot import the package here: {done.stderr[-200:]}")
        assert done.stdout.startswith("False "), done.stdout + done.stderr
        assert "not readable" in done.stdout
        lock.release()
    finally:
        import shutil

        shutil.rmtree(shared, ignore_errors=True)


def test_a_forbidden_record_is_live_however_old() -> None:
    verdict = judge(None, age=10_000.0, grace=1.0, forbidden=True)
    assert not verdict.stale and "not readable" in verdict.reason
    assert judge(None, age=10_000.0, grace=1.0).stale  # merely missing: stale after grace


def test_a_lock_dir_that_holds_someones_files_is_never_removed(
    project: Path, tmp_path: Path
) -> None:
    """``--lock-dir ~/Documents`` by mistake: a directory with no owner record looks like a
    stale lock after the grace period, but breaking it would delete the user's files."""
    precious = tmp_path / "precious"
    precious.mkdir()
    (precious / "thesis.tex").write_text("years of work\n")
    then = time.time() - 3600
    os.utime(precious, (then, then))
    args = ["--yes", "--steps", "clean_caches", "--lock-dir", str(precious)]
    done = run_cli(args, project)
    assert done.returncode != 0
    assert "not a lock directory" in done.stderr and "Traceback" not in done.stderr
    assert (precious / "thesis.tex").read_text() == "years of work\n"
    forced = run_cli(
        ["lock", "break", "--force"], project, env={"ROUTINE_WORKFLOW_LOCK_DIR": str(precious)}
    )
    assert forced.returncode != 0 and "not a lock directory" in forced.stderr
    assert (precious / "thesis.tex").read_text() == "years of work\n"


def test_release_leaves_a_file_someone_put_in_the_lock(tmp_path: Path) -> None:
    lock = ProjectLock(tmp_path / "lock")
    lock.acquire()
    (lock.path / "notes.txt").write_text("mine\n")
    lock.release()
    (kept,) = tmp_path.rglob("notes.txt")
    assert kept.read_text() == "mine\n"
