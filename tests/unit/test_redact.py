"""Command lines are recorded and logged without the secrets they carry."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.dumps.sensitive import redact, redact_argv
from routine_workflow.procs import orphans

TOKEN = "ghp_" + "x1Y2" * 9  # built at run time: no secret-looking string in the repo
AWS = "AKIA" + "ABCDEFGHIJKLMNOP"


@pytest.mark.parametrize(
    ("argv", "hidden"),
    [
        (["deploy", f"--token={TOKEN}"], TOKEN),
        (["deploy", "--token", "plain-value-123"], "plain-value-123"),
        (["deploy", "--api-key", "k-999"], "k-999"),
        (["env", "PASSWORD=hunter2", "./run"], "hunter2"),
        (["curl", "-H", f"Authorization: token {TOKEN}"], TOKEN),
        (["aws", f"--key={AWS}"], AWS),
    ],
)
def test_secrets_are_redacted(argv: list[str], hidden: str) -> None:
    out = redact_argv(argv)
    assert hidden not in " ".join(out)
    assert "<redacted>" in " ".join(out)
    assert out[0] == argv[0]


def test_ordinary_arguments_are_kept() -> None:
    argv = ["python", "-m", "pytest", "--maxfail=2", "tests/test_token_parser.py", "-k", "auth"]
    assert redact_argv(argv) == argv
    assert redact("black --line-length=100 src") == "black --line-length=100 src"


def test_a_recorded_command_is_redacted_on_disk(tmp_path: Path) -> None:
    import subprocess

    proc = subprocess.Popen(["sleep", "30"], start_new_session=True)
    try:
        with orphans.recording_in(tmp_path):
            (record,) = orphans.note_started(proc.pid, ["deploy", f"--token={TOKEN}"])
        text = record.read_text()
        assert TOKEN not in text
        assert json.loads(text)["argv"] == ["deploy", "--token=<redacted>"]
    finally:
        proc.kill()
        proc.wait()


def test_a_custom_steps_secret_never_reaches_the_log(project: Path) -> None:
    with (project / "pyproject.toml").open("a") as handle:
        handle.write(
            "\n[tool.routine-workflow.steps.deploy]\n" f'run = ["true", "--token={TOKEN}"]\n'
        )
    done = run_cli(["--yes", "--steps", "deploy", "-v"], project)
    assert done.returncode == 0, done.stderr
    assert TOKEN not in done.stdout + done.stderr
    home = Path(os.environ["ROUTINE_WORKFLOW_HOME"])
    logs = list(home.rglob("*.log"))
    assert logs and all(TOKEN not in log.read_text() for log in logs)
    assert any("--token=<redacted>" in log.read_text() for log in logs)
