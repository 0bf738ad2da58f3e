"""The workflow as cron runs it: real processes, real signals, real locks."""

from __future__ import annotations

import json
import os
import signal
import sqlite3
import subprocess
import time
from pathlib import Path

import psutil
import pytest
from helpers import kill_all, popen_cli, run_cli, wait_for, write_script

from routine_workflow import dirs


def _lock_dir(project: Path) -> Path:
    return dirs.lock_dir(project)


def _runs(db: Path) -> list[sqlite3.Row]:
    con = sqlite3.connect(db)
    con.row_factory = sqlite3.Row
    try:
        # `started` has one-second resolution: two runs in the same second tie, so break
        # the tie by insertion order (as `history` does) rather than leave it to SQLite.
        return con.execute("SELECT * FROM runs ORDER BY started, rowid").fetchall()
    finally:
        con.close()


def test_dry_run_reports_and_changes_nothing(project: Path) -> None:
    result = run_cli(["--dry-run"], project)
    assert result.returncode == 0, result.stderr
    assert "(dry run)" in result.stdout
    assert [p.name for p in project.iterdir()] == ["pyproject.toml"]
    assert not _lock_dir(project).exists()


def test_stdin_not_a_terminal_never_waits(project: Path) -> None:
    # stdin closed entirely, as some cron implementations leave it.
    result = subprocess.run(
        [os.sys.executable, "-m", "routine_workflow"],
        cwd=project,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert "pass --yes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    closed = subprocess.run(
        f'"{os.sys.executable}" -m routine_workflow <&-',
        shell=True,
        cwd=project,
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert closed.returncode == 2 and "pass --yes" in closed.stderr


def test_json_report_and_history(project: Path) -> None:
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["steps"]] == [
        "prune_dumps",
        "backup",
        "reformat",
        "clean_caches",
        "dumps",
    ]
    history = run_cli(["history", "--json"], project)
    runs = json.loads(history.stdout)
    assert runs[0]["run_id"] == report["run_id"]
    assert runs[0]["exit_code"] == 0 and len(runs[0]["steps"]) == 5


def test_failed_script_step_exits_1_and_names_it(project: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "bad.sh", "echo cannot clean >&2\nexit 3")
    result = run_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], project)
    assert result.returncode == 1
    assert "exited with 3: cannot clean" in result.stdout
    assert not _lock_dir(project).exists()


def test_fail_on_backup_stops_the_run(project: Path, tmp_path: Path) -> None:
    bad = write_script(tmp_path / "backup.sh", "exit 1")
    ran = tmp_path / "clean-ran"
    clean = write_script(tmp_path / "clean.sh", f'touch "{ran}"')
    args = ["--yes", "--json", "--backup-script", str(bad), "--clean-script", str(clean)]
    stopped = run_cli([*args, "--fail-on-backup"], project)
    assert stopped.returncode == 1
    steps = {s["name"]: s for s in json.loads(stopped.stdout)["steps"]}
    assert steps["backup"]["status"] == "failed"
    assert steps["clean_caches"]["status"] == "skipped"
    assert "backup failed" in steps["clean_caches"]["summary"]
    assert not ran.exists()
    going_on = run_cli(args, project)
    assert going_on.returncode == 1
    assert ran.exists()


@pytest.mark.slow
def test_twenty_processes_at_once_exactly_one_runs(project: Path, tmp_path: Path) -> None:
    release = tmp_path / "release"
    started = tmp_path / "started"
    script = write_script(
        tmp_path / "hold.sh",
        f'touch "{started}"\nwhile [ ! -e "{release}" ]; do sleep 0.05; done',
    )
    args = ["--yes", "--steps", "clean_caches", "--clean-script", str(script)]
    procs = [popen_cli(args, project) for _ in range(20)]
    try:
        wait_for(started, timeout=60)
        losers = []
        deadline = time.monotonic() + 90
        while len(losers) < 19 and time.monotonic() < deadline:
            losers = [p for p in procs if p.poll() is not None]
            time.sleep(0.05)
        assert len(losers) == 19, "all but one should give up while the holder runs"
        owner = json.loads((_lock_dir(project) / "owner.json").read_text())
        winner = next(p for p in procs if p.poll() is None)
        assert owner["pid"] == winner.pid
        for loser in losers:
            _, err = loser.communicate()
            assert loser.returncode == 75, err
            assert f"pid {winner.pid}" in err
            assert len(err.strip().splitlines()) == 1, err
        release.touch()
        _, err = winner.communicate(timeout=60)
        assert winner.returncode == 0, err
    finally:
        release.touch()
        for p in procs:
            if p.poll() is None:
                p.kill()
            p.communicate()
    assert not _lock_dir(project).exists()


def test_kill_9_mid_step_then_next_run_recovers_at_once(
    project: Path, tmp_path: Path, slow_script
) -> None:
    script, marker = slow_script
    proc = popen_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], project)
    wait_for(marker)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    kill_all(children)  # the orphaned script is not ours to test; don't leave it around
    assert (_lock_dir(project) / "owner.json").exists()
    result = run_cli(["--yes", "--steps", "clean_caches"], project, timeout=30)
    assert result.returncode == 0, result.stderr
    assert f"recovered a stale lock left by pid {proc.pid}" in result.stderr
    assert "not running" in result.stderr
    rows = _runs(dirs.history_db())
    assert [r["status"] for r in rows] == ["running", "ok"]  # the killed run stays visible


@pytest.mark.parametrize(
    ("sig", "code", "status"),
    [
        (signal.SIGTERM, 143, "interrupted"),
        (signal.SIGINT, 130, "interrupted"),
    ],
)
def test_signal_mid_run(project: Path, slow_script, sig: int, code: int, status: str) -> None:
    script, marker = slow_script
    proc = popen_cli(["--yes", "--clean-script", str(script)], project)
    wait_for(marker)
    script_pids = [c.pid for c in psutil.Process(proc.pid).children(recursive=True)]
    proc.send_signal(sig)
    out, err = proc.communicate(timeout=30)
    assert proc.returncode == code, err
    assert not _lock_dir(project).exists()
    assert not [
        p
        for p in script_pids
        if psutil.pid_exists(p) and psutil.Process(p).status() != psutil.STATUS_ZOMBIE
    ]
    (row,) = _runs(dirs.history_db())
    assert (row["status"], row["exit_code"]) == (status, code)
    assert "clean_caches" in out and "failed" in out  # the summary still prints


def test_workflow_timeout(project: Path, slow_script) -> None:
    script, _marker = slow_script
    began = time.monotonic()
    result = run_cli(["--yes", "--workflow-timeout", "1", "--clean-script", str(script)], project)
    elapsed = time.monotonic() - began
    assert result.returncode == 124, result.stderr
    assert "workflow timeout of 1s reached" in result.stderr
    assert elapsed < 30  # generous: "within a couple of seconds" is the target, not a test
    assert not _lock_dir(project).exists()
    (row,) = _runs(dirs.history_db())
    assert (row["status"], row["exit_code"]) == ("timeout", 124)


def test_a_timeout_that_fires_at_once_is_still_recorded(project: Path) -> None:
    # A timeout far shorter than opening the history: the run held the lock, so it must
    # still be on record (the clock starts once the run is recorded).
    result = run_cli(["--yes", "--workflow-timeout", "0.001"], project)
    assert result.returncode == 124, result.stderr
    assert not _lock_dir(project).exists()
    (row,) = _runs(dirs.history_db())
    assert (row["status"], row["exit_code"]) == ("timeout", 124)


def test_two_projects_run_at_the_same_time(tmp_path: Path) -> None:
    marks, procs = [], []
    for name in ("a", "b"):
        root = tmp_path / name
        root.mkdir()
        mark = tmp_path / f"{name}-started"
        release = tmp_path / "release"
        script = write_script(
            tmp_path / f"{name}.sh",
            f'touch "{mark}"\nwhile [ ! -e "{release}" ]; do sleep 0.05; done',
        )
        procs.append(
            popen_cli(["--yes", "--steps", "clean_caches", "--clean-script", str(script)], root)
        )
        marks.append(mark)
    try:
        for mark in marks:
            wait_for(mark)  # both hold their own lock at once
    finally:
        (tmp_path / "release").touch()
    for proc in procs:
        _, err = proc.communicate(timeout=60)
        assert proc.returncode == 0, err


def test_python_dash_m_and_console_script_agree(project: Path) -> None:
    import shutil

    exe = shutil.which("routine-workflow")
    module = run_cli(["--version"], project)
    assert module.returncode == 0 and "routine-workflow" in module.stdout
    if exe is not None:
        script = subprocess.run([exe, "--version"], capture_output=True, text=True, cwd=project)
        assert script.stdout == module.stdout
