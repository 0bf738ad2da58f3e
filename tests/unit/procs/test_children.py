"""``procs.children``: user scripts and commands run in their own group, killed whole."""

from __future__ import annotations

import json
import logging
import signal
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import alive, wait_until, write_script

from routine_workflow.procs import orphans
from routine_workflow.procs.children import (
    ScriptOutcome,
    command_argv,
    kill_group,
    run_captured,
    run_command,
    script_argv,
)


def test_script_argv_runs_executables_directly_else_picks_an_interpreter(tmp_path: Path) -> None:
    executable = write_script(tmp_path / "x.sh", "echo direct")
    plain_py = tmp_path / "y.py"
    plain_py.write_text("print('python')\n")
    plain_sh = tmp_path / "z.sh"
    plain_sh.write_text("echo sh\n")
    assert script_argv(executable) == [str(executable)]
    assert script_argv(plain_py) == [sys.executable, str(plain_py)]
    assert script_argv(plain_sh) == ["sh", str(plain_sh)]
    # and each argv really runs its script
    for script, said in ((executable, "direct"), (plain_py, "python"), (plain_sh, "sh")):
        out = subprocess.run(script_argv(script), capture_output=True, text=True, check=True)
        assert out.stdout.strip() == said


def test_command_argv_splits_like_a_shell_without_running_one() -> None:
    assert command_argv("""echo "a b" 'c d' e\\ f $HOME;x""") == [
        "echo",
        "a b",
        "c d",
        "e f",
        "$HOME;x",  # no expansion, no command separator: there is no shell
    ]
    with pytest.raises(ValueError, match="quotation"):
        command_argv('echo "unterminated')


def test_run_command_merges_output_keeps_the_exit_code_and_logs_each_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG, logger="test.children")
    argv = ["sh", "-c", "echo one; echo two >&2; pwd; exit 3"]
    outcome = run_command(argv, tmp_path, 30, logging.getLogger("test.children"))
    assert outcome.returncode == 3 and not outcome.timed_out
    assert outcome.output.splitlines() == ["one", "two", str(tmp_path)]
    assert outcome.tail(2) == f"two | {tmp_path}"
    messages = [r.getMessage() for r in caplog.records]
    assert messages[0].startswith("running sh -c ")
    assert messages[1:] == ["| one", "| two", f"| {tmp_path}"]


def test_run_captured_keeps_stderr_apart_unless_merged(tmp_path: Path) -> None:
    argv = ["sh", "-c", "printf out; printf err >&2"]
    assert run_captured(argv, tmp_path, 30) == (0, b"out", b"err")
    code, out, err = run_captured(argv, tmp_path, 30, merge_stderr=True)
    assert (code, out, err) == (0, b"outerr", b"")


def test_run_captured_passes_the_given_environment(tmp_path: Path) -> None:
    code, out, _ = run_captured(
        ["sh", "-c", 'printf "%s" "$ONLY"'], tmp_path, 30, env={"ONLY": "this", "PATH": "/bin"}
    )
    assert (code, out) == (0, b"this")


def test_a_timeout_kills_the_whole_group_and_returns_none(tmp_path: Path) -> None:
    pid_file = tmp_path / "grandchild.pid"
    # The grandchild would outlive a kill of its parent alone.
    argv = ["sh", "-c", f'sleep 300 > /dev/null & echo $! > "{pid_file}"; echo started; wait']
    code, out, _ = run_captured(argv, tmp_path, timeout=1.0)
    assert code is None
    assert out == b"started\n"
    grandchild = int(pid_file.read_text())
    wait_until(lambda: not alive(grandchild), what=f"grandchild {grandchild} exit")


def test_a_command_is_recorded_for_the_lock_while_it_runs_and_only_then(tmp_path: Path) -> None:
    lock = tmp_path / "lock"
    lock.mkdir()
    records = lock / orphans.CHILDREN_DIR
    # The command waits until it sees its own record, then prints it.
    see_own_record = (
        "import json, os, pathlib, time\n"
        f"record = pathlib.Path({str(records)!r}) / f'{{os.getpid()}}.json'\n"
        "deadline = time.monotonic() + 30\n"
        "while not record.exists() and time.monotonic() < deadline:\n"
        "    time.sleep(0.01)\n"
        "print(record.read_text())\n"
    )
    with orphans.recording_in(lock):
        code, out, err = run_captured([sys.executable, "-c", see_own_record], tmp_path, 60)
    assert code == 0, err
    record = json.loads(out)
    assert record["argv"] == [sys.executable, "-c", see_own_record]
    assert list(records.glob("*.json")) == []  # removed when the command ended


def test_kill_group_escalates_to_sigkill_when_sigterm_is_ignored(tmp_path: Path) -> None:
    ready = tmp_path / "ready"
    proc = subprocess.Popen(
        ["sh", "-c", f'trap "" TERM; touch "{ready}"; sleep 300'],
        start_new_session=True,
        stdout=subprocess.DEVNULL,
    )
    try:
        wait_until(ready.exists, what="the trap to be set")
        kill_group(proc, grace=0.5)
        assert proc.returncode == -signal.SIGKILL
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()


def test_kill_group_of_a_process_already_gone_is_harmless(tmp_path: Path) -> None:
    proc = subprocess.Popen(["true"], start_new_session=True)
    proc.wait()
    kill_group(proc, grace=0.1)
    assert proc.returncode == 0


CHILDREN_THEN = """
import subprocess, sys, time
from routine_workflow.procs import children
kids = [subprocess.Popen(["sleep", "300"]) for _ in range(2)]
{action}
time.sleep(0.2)
print(sum(k.poll() is not None for k in kids), flush=True)
"""


@pytest.mark.parametrize(
    ("action", "said"),
    [
        ("print(children.terminate_children(grace=2.0))", "2\n2\n"),
        # Not reaped here: the kids' owner (Popen) still gets their exit status.
        ("children.kill_children_unreaped(); print('-')", "-\n2\n"),
    ],
)
def test_children_of_the_current_process_are_stopped(
    tmp_path: Path, action: str, said: str
) -> None:
    # In a process of its own: these act on every descendant of the calling process.
    script = CHILDREN_THEN.format(action=action)
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert (out.returncode, out.stdout) == (0, said), out.stderr


def test_worker_initializer_makes_a_worker_deaf_to_ctrl_c() -> None:
    script = (
        "import os, signal\n"
        "from routine_workflow.procs.children import worker_initializer\n"
        "worker_initializer()\n"
        "os.kill(os.getpid(), signal.SIGINT)\n"
        "print('still here', flush=True)\n"
        "os.kill(os.getpid(), signal.SIGTERM)\n"
        "print('not reached')\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, timeout=60, check=False
    )
    assert out.stdout == "still here\n"
    assert out.returncode == -signal.SIGTERM  # default action restored for SIGTERM


def test_script_outcome_tail_is_one_line_of_the_last_lines() -> None:
    outcome = ScriptOutcome(1, "a\nb\nc\n\n", timed_out=False)
    assert outcome.tail(2) == "b | c"
    assert outcome.tail() == "a | b | c"
    assert ScriptOutcome(None, "", timed_out=True).tail() == ""
