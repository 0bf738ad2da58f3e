"""Subcommands through the real CLI: steps, lock, history, logs, prompts."""

from __future__ import annotations

import json
import os
import pty
import select
import subprocess
import sys
import time
from pathlib import Path

import psutil
from helpers import run_cli

from routine_workflow import dirs
from routine_workflow.lock import OWNER_FILE, Owner


def test_steps_lists_run_order(project: Path) -> None:
    result = run_cli(["steps"], project)
    names = [line.split()[0] for line in result.stdout.splitlines()[1:]]
    assert names == ["prune_dumps", "backup", "reformat", "clean_caches", "dumps"]
    as_json = json.loads(run_cli(["steps", "--json"], project).stdout)
    assert [s["name"] for s in as_json] == names
    assert all("depends_on" in s for s in as_json)


def test_lock_status_and_break(project: Path) -> None:
    assert "is free" in run_cli(["lock", "status"], project).stdout
    assert "nothing to break" in run_cli(["lock", "break"], project).stdout
    lock = dirs.lock_dir(project)
    lock.mkdir(parents=True)
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        record = {
            **Owner.current().to_json(),
            "pid": sleeper.pid,
            "create_time": psutil.Process(sleeper.pid).create_time(),
        }
        (lock / OWNER_FILE).write_text(json.dumps(record))
        status = json.loads(run_cli(["lock", "status", "--json"], project).stdout)
        assert status["held"] and not status["stale"]
        assert status["owner"]["pid"] == sleeper.pid
        refused = run_cli(["lock", "break", "--force"], project)
        assert refused.returncode == 1
        assert "refusing to break a live lock" in refused.stderr
        assert lock.exists()
        busy = run_cli(["--dry-run"], project)
        assert busy.returncode == 75
        assert f"pid {sleeper.pid}" in busy.stderr
    finally:
        sleeper.kill()
        sleeper.wait()
    text = run_cli(["lock", "status"], project).stdout
    assert "stale" in text and "not running" in text
    broken = run_cli(["lock", "break"], project)
    assert broken.returncode == 0 and "broke lock" in broken.stdout
    assert not lock.exists()


def test_history_text_and_limit(project: Path) -> None:
    assert run_cli(["history", "--json"], project).stdout.strip() == "[]"
    for _ in range(3):
        assert run_cli(["--dry-run", "--quiet"], project).returncode == 0
    runs = json.loads(run_cli(["history", "--json", "-n", "2"], project).stdout)
    assert len(runs) == 2 and all(r["dry_run"] for r in runs)
    text = run_cli(["history"], project).stdout.splitlines()
    assert text[0].split()[:4] == ["run", "kind", "status", "exit"] and len(text) == 4
    assert all(line.split()[1] == "dry-run" for line in text[1:])


def test_quiet_prints_nothing_on_success(project: Path) -> None:
    result = run_cli(["--dry-run", "--quiet"], project)
    assert result.returncode == 0
    assert result.stdout == "" and result.stderr == ""


def test_json_log_format_one_object_per_event(project: Path, tmp_path: Path) -> None:
    log_file = tmp_path / "logs" / "run.log"
    result = run_cli(["--dry-run", "--log-format", "json", "--log-file", str(log_file)], project)
    assert result.returncode == 0
    events = [json.loads(line) for line in result.stderr.splitlines()]
    assert {e["event"] for e in events} >= {"run_start", "step_end", "run_end"}
    run_ids = {e["run_id"] for e in events}
    assert len(run_ids) == 1
    file_events = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert any(e.get("step") == "reformat" for e in file_events)


def test_text_log_file_in_log_dir(project: Path, tmp_path: Path) -> None:
    run_cli(["--dry-run", "--log-dir", str(tmp_path / "L")], project)
    text = (tmp_path / "L" / "routine-workflow.log").read_text()
    assert "event=run_end" in text and "run_id=" in text


def _pty_run(args: list[str], cwd: Path, answer: bytes | None = None) -> tuple[int, str]:
    """Run the CLI on a pseudo-terminal, answer its [y/N] prompt if ``answer`` is given,
    and return its exit code and everything it printed."""
    pid, fd = pty.fork()
    if pid == 0:  # child
        os.chdir(cwd)
        os.execv(sys.executable, [sys.executable, "-m", "routine_workflow", *args])
    seen = b""
    deadline = time.monotonic() + 30
    while answer is not None and b"[y/N]" not in seen and time.monotonic() < deadline:
        if select.select([fd], [], [], 0.5)[0]:
            try:
                seen += os.read(fd, 1024)
            except OSError:
                break
    if answer is not None:
        os.write(fd, answer)
    while True:
        try:
            chunk = os.read(fd, 4096)
        except OSError:
            break
        if not chunk:
            break
        seen += chunk
    _, status = os.waitpid(pid, 0)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def test_terminal_prompt_no_means_nothing_done(project: Path) -> None:
    code, out = _pty_run([], project, b"n\n")
    assert "rewrites Python files" in out  # what the plan does: see tests/test_prompt.py
    assert code == 3 and "declined: nothing done" in out
    assert not dirs.history_db().exists()


def test_terminal_prompt_yes_runs(project: Path) -> None:
    code, out = _pty_run(["--steps", "prune_dumps"], project, b"y\n")
    assert code == 0, out
    assert "prune_dumps" in out


def test_progress_bar_on_a_terminal_only(project: Path) -> None:
    for i in range(3):
        (project / f"m{i}.py").write_text("import os\nx=[1,2]\n")
    code, out = _pty_run(["--steps", "reformat", "--yes"], project)
    assert code == 0, out
    assert "reformatting" in out and "100%" in out
    for i in range(3):
        (project / f"m{i}.py").write_text("import os\ny=[1,2]\n")
    piped = run_cli(["--steps", "reformat", "--yes"], project)
    assert piped.returncode == 0
    assert "reformatting" not in piped.stderr + piped.stdout
    assert (project / "m0.py").read_text() == "y = [1, 2]\n"


def test_reformat_quiet_prints_only_errors_as_black_q_does(project: Path) -> None:
    (project / "ugly.py").write_text("x = {  'a':1 }\n")
    (project / "broken.py").write_text("def f(:\n")
    done = run_cli(["reformat", "-q"], project)
    assert done.returncode == 1, done.stderr  # broken.py failed
    assert done.stdout == ""
    (line,) = done.stderr.splitlines()
    assert line.startswith("error:") and "broken.py" in line
    assert (project / "ugly.py").read_text() == 'x = {"a": 1}\n'
    (project / "broken.py").unlink()
    checked = run_cli(["reformat", "--check", "--quiet"], project)
    assert (checked.returncode, checked.stdout, checked.stderr) == (0, "", "")


def test_a_usage_error_points_at_the_help_of_the_command_that_refused_it(project: Path) -> None:
    for args, where in (
        (["--nope"], "routine-workflow --help"),
        (["reformat", "--nope"], "routine-workflow reformat --help"),
        (["backup", "list", "--nope"], "routine-workflow backup list --help"),
    ):
        done = run_cli(args, project)
        assert done.returncode == 2
        assert done.stderr.splitlines() == [
            f"routine-workflow: error: No such option '--nope'. (see {where})"
        ], done.stderr
