"""SIGHUP (a closed terminal, an ssh disconnect) stops a run cleanly, with exit 129."""

from __future__ import annotations

import json
import signal
import sys
from pathlib import Path

import psutil
import pytest
from helpers import PtyProcess, popen_cli, run_cli, wait_for

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
    session = PtyProcess(["--yes", "--clean-script", str(script)], project, controlling=True)
    session.drain_in_background()
    try:
        wait_for(marker)
        children = [c.pid for c in psutil.Process(session.proc.pid).children(recursive=True)]
        session.hang_up()
        assert session.proc.wait(timeout=30) == 129
    finally:
        session.close()
    assert not dirs.lock_dir(project).exists()
    assert _alive(children) == []
    run = _last_run(project)
    assert (run["status"], run["exit_code"]) == ("interrupted", 129)
