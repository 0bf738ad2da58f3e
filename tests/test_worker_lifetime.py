"""Pool workers never outlive the run that started them, however it ends."""

from __future__ import annotations

import json
import signal
import time
from pathlib import Path

import psutil
import pytest
from helpers import kill_all, popen_cli, run_cli

from routine_workflow.procs import orphans

#: Enough unformatted code that the reformat pool works for a few seconds on 2 cores.
SOURCE = "".join(f"def f{i}( a,b ):\n    return {{ 'k':a+b , 'i':{i} }}\n\n\n" for i in range(150))


def _big_project(root: Path, files: int = 120) -> Path:
    (root / "pkg").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    for n in range(files):
        (root / "pkg" / f"m{n}.py").write_text(SOURCE)
    return root


def _workers_of(parent: psutil.Process, want: int, seconds: float = 60) -> list[psutil.Process]:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        with_children = [p for p in parent.children(recursive=True) if p.is_running()]
        if len(with_children) >= want:
            return with_children
        time.sleep(0.02)
    raise AssertionError(f"the run never started {want} workers")


def _gone(processes: list[psutil.Process], seconds: float) -> list[psutil.Process]:
    _gone_list, alive = psutil.wait_procs(processes, timeout=seconds)
    return alive


@pytest.mark.slow
@pytest.mark.parametrize("sig", [signal.SIGKILL])
def test_workers_die_with_a_killed_run(tmp_path: Path, sig: int) -> None:
    root = _big_project(tmp_path / "p")
    proc = popen_cli(["--yes", "--steps", "reformat", "--workers", "2"], root)
    workers: list[psutil.Process] = []
    try:
        workers = _workers_of(psutil.Process(proc.pid), 2)
        proc.send_signal(sig)
        proc.wait(timeout=30)
        alive = _gone(workers, 5)
        assert not alive, f"workers outlived the run: {[w.pid for w in alive]}"
    finally:
        kill_all(workers)  # first: a leftover worker holds the output pipe open
        proc.kill()
        proc.communicate()


def test_workers_are_recorded_in_the_lock_while_they_run(tmp_path: Path) -> None:
    root = _big_project(tmp_path / "p")
    lock_dir = tmp_path / "lock"
    proc = popen_cli(
        ["--yes", "--steps", "reformat", "--workers", "2", "--lock-dir", str(lock_dir)], root
    )
    workers: list[psutil.Process] = []
    try:
        workers = _workers_of(psutil.Process(proc.pid), 2)
        deadline = time.monotonic() + 30
        recorded: set[int] = set()
        while time.monotonic() < deadline and not {w.pid for w in workers} <= recorded:
            recorded = {r["pid"] for r in orphans.recorded(lock_dir)}
            time.sleep(0.02)
        assert {w.pid for w in workers} <= recorded
    finally:
        kill_all(workers)  # first: a leftover worker holds the output pipe open
        proc.kill()
        proc.communicate()


def test_breaking_a_stale_lock_stops_a_recorded_worker_but_not_a_reused_pid(
    tmp_path: Path, project: Path
) -> None:
    """The belt to PR_SET_PDEATHSIG's braces: a worker left alive is stopped by whoever
    breaks the dead run's lock, after the same start-time check as for commands."""
    import socket
    import subprocess
    import sys

    lock_dir = tmp_path / "lock"
    lock_dir.mkdir()
    (lock_dir / "owner.json").write_text(
        json.dumps({"pid": 2**31 - 1, "create_time": 1.0, "hostname": socket.gethostname()})
    )
    (lock_dir / "children").mkdir()
    left = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        for process, created in (
            (left, psutil.Process(left.pid).create_time()),
            (other, psutil.Process(other.pid).create_time() - 100),  # "reused" pid
        ):
            record = {
                "pid": process.pid,
                "create_time": created,
                "host": socket.gethostname(),
                "argv": ["routine-workflow worker"],
                "group": False,
            }
            (lock_dir / "children" / f"{process.pid}.json").write_text(json.dumps(record))
        done = run_cli(["lock", "break"], project, env={"ROUTINE_WORKFLOW_LOCK_DIR": str(lock_dir)})
        assert done.returncode == 0, done.stderr
        assert left.wait(timeout=10) is not None
        time.sleep(0.2)
        assert other.poll() is None  # not the recorded process: never signalled
    finally:
        left.kill()
        other.kill()
        left.wait()
        other.wait()
