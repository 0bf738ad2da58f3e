"""SIGHUP (a closed terminal, an ssh disconnect) stops a run cleanly, with exit 129."""

from __future__ import annotations

import fcntl
import json
import os
import select
import signal
import subprocess
import sys
import termios
import threading
from pathlib import Path

import psutil
import pytest
from helpers import popen_cli, run_cli, wait_for

from routine_workflow import dirs


def _alive(pids: list[int]) -> list[int]:
    return [p for p in pids if psutil.pid_exists(p) and psutil.Process(p).status() != "zombie"]


def _last_run(project: Path) -> dict[str, object]:
    done = run_cli(["history", "--json", "-n", "1"], project)
    assert done.returncode == 0, done.stderr
    (run,) = json.loads(done.stdout)
    return dict(run)


def test_sighup_mid_run_stops_like_sigterm_with_its_own_code(
    project: Path, slow_script: tuple[Path, Path]
) -> None:
    script, marker = slow_script
    proc = popen_cli(["--yes", "--clean-script", str(script)], project)
    wait_for(marker)
    children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(signal.SIGHUP)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == 129, err
    assert "SIGHUP" in out + err
    assert not dirs.lock_dir(project).exists()
    assert _alive(children) == []
    run = _last_run(project)
    assert (run["status"], run["exit_code"]) == ("interrupted", 129)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="pty session semantics")
def test_closing_the_terminal_stops_the_run_cleanly(
    project: Path, slow_script: tuple[Path, Path]
) -> None:
    """The real thing: the run's controlling terminal goes away (the kernel sends SIGHUP,
    and every later write to the terminal fails with EIO)."""
    script, marker = slow_script
    master, slave = os.openpty()

    def own_terminal() -> None:
        os.setsid()
        fcntl.ioctl(0, termios.TIOCSCTTY, 0)

    proc = subprocess.Popen(
        [sys.executable, "-m", "routine_workflow", "--yes", "--clean-script", str(script)],
        cwd=project,
        stdin=slave,
        stdout=slave,
        stderr=slave,
        preexec_fn=own_terminal,
    )
    os.close(slave)

    stop = threading.Event()

    def drain() -> None:
        # select with a timeout, never a blocking read: a descriptor closed while another
        # thread is blocked reading it stays open until that read returns (no hang-up).
        while not stop.is_set():
            if select.select([master], [], [], 0.05)[0]:
                try:
                    os.read(master, 65536)
                except OSError:
                    return

    reader = threading.Thread(target=drain, daemon=True)
    reader.start()
    try:
        wait_for(marker)
        children = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
        stop.set()
        reader.join()
        os.close(master)  # hang up
        master = -1
        assert proc.wait(timeout=30) == 129
    finally:
        stop.set()
        if master >= 0:
            os.close(master)
        proc.kill()
        proc.wait()
    assert not dirs.lock_dir(project).exists()
    assert _alive(children) == []
    run = _last_run(project)
    assert (run["status"], run["exit_code"]) == ("interrupted", 129)
