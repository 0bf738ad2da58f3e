"""``create_dump_run_cmd`` as the original routine-workflow ran it.

The original appended its dynamic flags to the configured base command; a
``create-dump batch run ...`` copied from it, run verbatim, would be a
create-dump dry run (``batch`` simulates unless ``-nd``) writing nothing, and a
dump without ``--dest`` lands in the project tree. So a create-dump command gets
the flags it lacks; any other command runs exactly as written.
"""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from helpers import run_cli

FAKE = """#!/bin/sh
printf '%s\\n' "$@" > "$FAKE_ARGS"
"""


def _setup(project: Path, tmp_path: Path, name: str = "create-dump") -> dict[str, str]:
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / name
    script.write_text(FAKE)
    script.chmod(script.stat().st_mode | stat.S_IXUSR)
    (project / "a.py").write_text("a = 1\n")
    return {
        "PATH": f"{bin_dir}{os.pathsep}{os.environ['PATH']}",
        "FAKE_ARGS": str(tmp_path / "args.txt"),
        "ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "dumps"),
    }


@pytest.mark.parametrize(
    ("command", "added"),
    [
        # the original's example: batch simulates by default, so it gets --no-dry-run too
        (
            "create-dump batch run --dirs custom .",
            ["--dest", "{dumps}", "--yes", "--no-dry-run"],
        ),
        ("create-dump single . --no-progress", ["--dest", "{dumps}", "--yes"]),
        # what the command already says is kept, and not said twice
        ("create-dump single . --dest out -y", []),
        ("create-dump batch run . --dest=out --yes -nd", []),
        ("create-dump batch run . -d", ["--dest", "{dumps}", "--yes"]),  # asked for a dry run
        # not a dump-writing create-dump command, or not create-dump at all: verbatim
        ("create-dump batch clean . -y -nd", []),
        ("create-dump --version", []),
    ],
)
def test_create_dump_commands_get_the_flags_they_lack(
    project: Path, tmp_path: Path, command: str, added: list[str]
) -> None:
    env = _setup(project, tmp_path)
    result = run_cli(
        ["--yes", "--steps", "dumps", "--create-dump-run-cmd", command], project, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    expected = command.split()[1:] + [a.format(dumps=tmp_path / "dumps") for a in added]
    assert (tmp_path / "args.txt").read_text().splitlines() == expected


def test_other_programs_run_verbatim(project: Path, tmp_path: Path) -> None:
    env = _setup(project, tmp_path, name="my-dumper")
    command = "my-dumper batch run --dirs ."
    result = run_cli(
        ["--yes", "--steps", "dumps", "--create-dump-run-cmd", command], project, env=env
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert (tmp_path / "args.txt").read_text().splitlines() == ["batch", "run", "--dirs", "."]


def test_dry_run_shows_the_command_with_the_added_flags(project: Path, tmp_path: Path) -> None:
    env = _setup(project, tmp_path)
    result = run_cli(
        ["--dry-run", "--steps", "dumps", "--create-dump-run-cmd", "create-dump batch run ."],
        project,
        env=env,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"create-dump batch run . --dest {tmp_path / 'dumps'} --yes --no-dry-run" in (
        result.stdout
    )
    assert not (tmp_path / "args.txt").exists()
