"""A run killed with -9 leaves no command running once the next run (or lock break) recovers."""

from __future__ import annotations

import json
import signal
import socket
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

import psutil
from helpers import kill_all, popen_cli, run_cli, wait_for, write_script

from routine_workflow import dirs
from routine_workflow.lock import OWNER_FILE
from routine_workflow.procs.orphans import CHILDREN_DIR


def _alive(pids: list[int]) -> list[int]:
    alive = []
    for pid in pids:
        try:
            if psutil.Process(pid).status() != psutil.STATUS_ZOMBIE:
                alive.append(pid)
        except psutil.NoSuchProcess:
            continue
    return alive


def _gone_within(pids: list[int], seconds: float) -> list[int]:
    deadline = time.monotonic() + seconds
    while _alive(pids) and time.monotonic() < deadline:
        time.sleep(0.05)
    return _alive(pids)


def test_the_next_run_stops_the_script_a_killed_run_left_writing(
    project: Path, tmp_path: Path
) -> None:
    marker, out = tmp_path / "started", project / "written-by-script.txt"
    # A script that keeps writing into the project, with a grandchild of its own.
    script = write_script(
        tmp_path / "busy.sh",
        f'sleep 300 &\ntouch "{marker}"\nwhile :; do echo x >> "{out}"; sleep 0.05; done',
    )
    proc = popen_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], project)
    leftovers: list[psutil.Process] = []
    try:
        wait_for(marker)
        wait_for(out)  # the loop is writing
        # and the run has recorded it (just after starting it: a kill -9 in between,
        # a window of microseconds, would leave it unrecorded)
        records = dirs.lock_dir(project) / CHILDREN_DIR
        _wait_until(lambda: any(records.glob("*.json")))
        # The script (the run's own child) and its long sleep, once that has exec'd
        # (the loop's short sleeps come and go).
        [leader_proc] = [
            p for p in psutil.Process(proc.pid).children() if _cmdline(p) == [str(script)]
        ]
        leftovers = [leader_proc, _child_running(leader_proc, ["sleep", "300"])]
        pids = [p.pid for p in leftovers]
        leader = leader_proc.pid
        proc.send_signal(signal.SIGKILL)
        proc.communicate()
        assert _alive(pids) == pids  # its own session: SIGKILL of the run does not reach it

        # The dead holder's script still runs: `lock status` names it (what a break stops).
        status = run_cli(["lock", "status", "--json"], project)
        assert json.loads(status.stdout)["commands"] == [{"pid": leader, "argv": [str(script)]}]
        text = run_cli(["lock", "status"], project).stdout
        assert f"running pid {leader}: {script}" in text

        result = run_cli(["--yes", "--steps", "clean_caches"], project, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"recovered a stale lock left by pid {proc.pid}" in result.stderr
        assert f"stopped pid {leader}" in result.stderr
        assert _gone_within(pids, 10) == []
        size = out.stat().st_size
        time.sleep(0.3)
        assert out.stat().st_size == size  # nobody writes into the project any more
    finally:
        proc.kill()
        proc.communicate()
        kill_all(leftovers)  # only if the test failed before the next run stopped them


def _wait_until(condition: Callable[[], bool], seconds: float = 30) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"not true within {seconds}s")
        time.sleep(0.02)


def _child_running(parent: psutil.Process, argv: list[str]) -> psutil.Process:
    """``parent``'s child once it runs ``argv`` (after fork it still shows the parent's)."""
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        for child in parent.children():
            if _cmdline(child) == argv:
                return child
        time.sleep(0.02)
    raise AssertionError(f"no child of pid {parent.pid} runs {argv}")


def _cmdline(process: psutil.Process) -> list[str]:
    try:
        argv = process.cmdline()
    except psutil.Error:
        return []
    return argv[1:] if argv[:1] == ["/bin/sh"] else argv


def _stale_lock(project: Path) -> Path:
    """A lock left by a process that has exited, as after a kill -9."""
    dead = subprocess.Popen(["true"])
    dead.wait()
    lock = dirs.lock_dir(project)
    lock.mkdir(parents=True)
    owner = {
        "pid": dead.pid,
        "create_time": 1.0,
        "hostname": socket.gethostname(),
        "started": "2026-01-01T00:00:00+00:00",
        "argv": ["routine-workflow"],
        "version": "0",
    }
    (lock / OWNER_FILE).write_text(json.dumps(owner))
    (lock / CHILDREN_DIR).mkdir()
    return lock


def _record(lock: Path, process: psutil.Process, **changes: object) -> None:
    record = {
        "pid": process.pid,
        "create_time": process.create_time(),
        "host": socket.gethostname(),
        "argv": ["sleep", "300"],
        **changes,
    }
    (lock / CHILDREN_DIR / f"{process.pid}.json").write_text(json.dumps(record))


def test_lock_break_stops_only_processes_that_are_provably_the_recorded_ones(
    project: Path,
) -> None:
    sleepers = [subprocess.Popen(["sleep", "300"], start_new_session=True) for _ in range(3)]
    try:
        recorded, reused, elsewhere = (psutil.Process(p.pid) for p in sleepers)
        lock = _stale_lock(project)
        _record(lock, recorded)
        _record(lock, reused, create_time=reused.create_time() - 3600)  # pid reused since
        _record(lock, elsewhere, host="another-host")
        (lock / CHILDREN_DIR / "junk.json").write_text("{not json")

        result = run_cli(["lock", "break"], project, timeout=60)
        assert result.returncode == 0, result.stderr
        assert f"stopped what it left running: pid {recorded.pid} (sleep 300)" in result.stdout
        sleepers[0].wait(timeout=10)  # stopped: SIGTERM ends a sleep at once
        assert sleepers[0].returncode == -signal.SIGTERM
        assert sleepers[1].poll() is None and sleepers[2].poll() is None
        assert not lock.exists()
    finally:
        for sleeper in sleepers:
            sleeper.kill()
            sleeper.wait()


def test_a_finished_command_leaves_no_record(project: Path, tmp_path: Path) -> None:
    lock = dirs.lock_dir(project)
    seen = tmp_path / "seen.txt"
    # The script looks at the records while it runs: its own must be there. The record
    # is written just after the script starts, so a script that is quicker than that
    # (a loaded machine) waits for it, up to ten seconds.
    records = lock / CHILDREN_DIR
    script = write_script(
        tmp_path / "look.sh",
        f'for i in $(seq 1000); do ls "{records}"/*.json >/dev/null 2>&1 && break; sleep 0.01; done\n'
        f'ls "{records}" > "{seen}"',
    )
    result = run_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], project)
    assert result.returncode == 0, result.stderr
    assert seen.read_text().strip().endswith(".json")
    assert not lock.exists()
