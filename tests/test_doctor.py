"""``routine-workflow doctor``: one screen on the project's setup; each problem one line, exit 1.

Every test builds the situation for real (a run, a lock held on another host, a
corrupted archive, a schedule whose program is gone) and reads the report through
the command line, as a user would.
"""

from __future__ import annotations

import gzip
import io
import json
import socket
import subprocess
import sys
import tarfile
from pathlib import Path
from typing import Any

import psutil
import pytest
from helpers import run_cli

from routine_workflow.lock import OWNER_FILE, Owner


def _git_project(project: Path) -> Path:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    (project / "a.py").write_text("x = 1\n")
    return project


def _doctor(project: Path, *args: str, env: dict[str, str] | None = None) -> Any:
    result = run_cli(["doctor", "--json", *args], project, env=env)
    assert result.returncode in (0, 1), result.stderr
    assert "Traceback" not in result.stderr
    report = json.loads(result.stdout)
    assert report["ok"] is (result.returncode == 0)
    return report


def _problems(report: dict[str, Any], check: str) -> list[dict[str, str]]:
    return [p for p in report["problems"] if p["check"] == check]


def _lock_dir(project: Path) -> Path:
    config = json.loads(run_cli(["config", "show", "--json"], project).stdout)
    return Path(config["lock_dir"]["value"])


@pytest.mark.slow
def test_a_healthy_project_after_a_run(project: Path) -> None:
    _git_project(project)
    (project / "pyproject.toml").write_text("[tool.routine-workflow]\nmax_workers = 2\n")
    assert run_cli(["--yes"], project).returncode == 0
    text = run_cli(["doctor"], project)
    assert text.returncode == 0, text.stdout + text.stderr
    out = text.stdout
    for title in ("configuration:", "state directories:", "tools:", "locks:", "schedule:"):
        assert f"\n{title}\n" in out
    assert "max_workers = 2  (pyproject.toml)" in out
    assert "black " in out and "isort " in out and "autoflake " in out
    assert "project lock " in out and "work-tree lock " in out and ": free" in out
    assert "verifies (" in out
    assert out.rstrip().endswith("routine-workflow doctor: no problems found")

    report = _doctor(project)
    assert report["problems"] == []
    assert report["config"]["max_workers"] == {"value": 2, "source": "pyproject.toml"}
    assert report["dirs"]["backup_dir"]["exists"] and report["dirs"]["backup_dir"]["bytes"] > 0
    assert report["tools"]["black"] and report["tools"]["python"]
    assert [lock["held"] for lock in report["lock"]] == [False, False]
    assert report["runs"][0]["exit_code"] == 0
    assert report["backup"]["verified"] is True


def test_a_lock_held_on_another_host_is_a_problem_with_the_way_out(project: Path) -> None:
    lock = _lock_dir(project)
    lock.mkdir(parents=True)
    record = {**Owner.current().to_json(), "hostname": "build-02.invalid", "pid": 4242}
    (lock / OWNER_FILE).write_text(json.dumps(record))
    result = run_cli(["doctor"], project)
    assert result.returncode == 1
    [line] = [line for line in result.stdout.splitlines() if line.startswith("  lock: ")]
    assert "build-02.invalid" in line and "routine-workflow lock break --force" in line
    assert result.stdout.rstrip().endswith("1 problem found (exit 1)")


def test_a_stale_lock_is_reported_but_is_no_problem(project: Path) -> None:
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()
    lock = _lock_dir(project)
    lock.mkdir(parents=True)
    (lock / OWNER_FILE).write_text(json.dumps({**Owner.current().to_json(), "pid": dead.pid}))
    report = _doctor(project)
    assert report["lock"][0]["held"] and report["lock"][0]["stale"]
    assert _problems(report, "lock") == []
    assert "the next run breaks it by itself" in run_cli(["doctor"], project).stdout


def test_a_live_run_holding_the_lock_is_shown_with_its_holder(project: Path) -> None:
    lock = _lock_dir(project)
    lock.mkdir(parents=True)
    holder = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {
            **Owner.current().to_json(),
            "pid": holder.pid,
            "create_time": psutil.Process(holder.pid).create_time(),
            "hostname": socket.gethostname(),
        }
        (lock / OWNER_FILE).write_text(json.dumps(record))
        report = _doctor(project)
    finally:
        holder.kill()
        holder.wait()
    assert report["lock"][0]["alive"] is True
    assert f"pid {holder.pid}" in report["lock"][0]["holder"]
    assert report["problems"] == []


def _flip_first_member(archive: Path) -> None:
    data = bytearray(gzip.decompress(archive.read_bytes()))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
        member = next(m for m in tar.getmembers() if m.isfile() and m.name.endswith("a.py"))
    data[member.offset_data] ^= 0xFF
    archive.write_bytes(gzip.compress(bytes(data)))


def test_a_newest_backup_that_does_not_verify_is_a_problem(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    assert run_cli(["--steps", "backup", "--yes"], project).returncode == 0
    archive = Path(_doctor(project)["backup"]["newest"]["path"])
    _flip_first_member(archive)
    report = _doctor(project)
    assert report["backup"]["verified"] is False
    [problem] = _problems(report, "backup")
    assert str(archive) in problem["problem"] and "does not verify" in problem["problem"]
    assert "--steps backup --yes" in problem["fix"]


def test_a_failed_last_run_is_a_problem_a_dry_run_after_it_does_not_hide(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.routine-workflow.steps.boom]\nrun = "false"\n')
    assert run_cli(["--yes", "--steps", "boom"], project).returncode == 1
    assert run_cli(["--dry-run", "--steps", "boom"], project).returncode == 0
    report = _doctor(project)
    assert [run["dry_run"] for run in report["runs"]] == [True, False]
    [problem] = _problems(report, "runs")
    assert "exit 1" in problem["problem"] and "--resume" in problem["fix"]
    assert "failed: boom" in run_cli(["doctor"], project).stdout


def test_a_schedule_whose_program_is_gone_is_a_problem(project: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    args = ["--crontab-file", str(crontab)]
    assert run_cli(["schedule", "install", "--cron", "30 2 * * *", *args], project).returncode == 0
    report = _doctor(project, *args)
    assert report["schedule"]["cron"]["cron"] == "30 2 * * *"
    assert len(report["schedule"]["cron"]["next"]) == 3
    assert _problems(report, "schedule") == []
    # the virtualenv the line points into is removed
    program = str(Path(sys.executable).absolute().parent)
    crontab.write_text(crontab.read_text().replace(program, str(tmp_path / "gone-venv/bin")))
    [problem] = _problems(_doctor(project, *args), "schedule")
    assert "gone-venv" in problem["problem"]
    assert 'schedule install --cron "30 2 * * *"' in problem["fix"]


def test_a_configuration_error_is_a_problem_and_the_tools_are_still_shown(
    project: Path,
) -> None:
    (project / "pyproject.toml").write_text('[tool.routine-workflow]\nmax_workers = "4"\n')
    result = run_cli(["doctor"], project)
    assert result.returncode == 1
    assert "max_workers" in result.stdout and "expected an integer" in result.stdout
    assert "black " in result.stdout  # the tools section
    report = _doctor(project)
    [problem] = _problems(report, "config")
    assert "config check" in problem["fix"]
    assert report["tools"]["black"]


def test_a_variable_nothing_reads_is_a_problem(project: Path) -> None:
    report = _doctor(project, env={"ROUTINE_WORKFLOW_KEEP_BACKUP": "3"})
    [problem] = _problems(report, "config")
    assert "ROUTINE_WORKFLOW_KEEP_BACKUPS" in problem["problem"]


def test_a_bad_step_table_is_a_problem(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.x]\nrun = "true"\ndepends_on = ["nope"]\n'
    )
    [problem] = _problems(_doctor(project), "config")
    assert "nope" in problem["problem"]
