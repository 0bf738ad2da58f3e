"""Colour as ruff and pre-commit do it: status words coloured on a terminal, never in a
pipe, a file (cron mail) or JSON; NO_COLOR and FORCE_COLOR honoured; ``--color``
decides over both. The terminal cases run on a real pseudo-terminal."""

from __future__ import annotations

import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from helpers import run_cli

#: An SGR (colour) escape; a progress bar's cursor codes are not colour.
SGR = re.compile(r"\x1b\[[0-9;]*m")
UGLY = "x  =  1\n"
DRY = ["--dry-run", "--steps", "reformat"]


def _on_pty(
    args: list[str], cwd: Path, env: dict[str, str], code: int = 0, timeout: float = 60
) -> str:
    """Run the CLI with stdout and stderr on a pty (stdin not a terminal); its output."""
    master, slave = os.openpty()
    proc = subprocess.Popen(
        [sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=slave,
        stderr=slave,
        start_new_session=True,
    )
    os.close(slave)
    seen = b""
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            if not select.select([master], [], [], 0.2)[0]:
                if proc.poll() is not None:
                    break
                continue
            try:
                chunk = os.read(master, 4096)
            except OSError:  # EIO: the child closed its end
                break
            if not chunk:
                break
            seen += chunk
        proc.wait(timeout=timeout)
    finally:
        os.close(master)
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == code, seen
    return seen.decode(errors="replace")


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if k not in ("NO_COLOR", "FORCE_COLOR")}
    env["TERM"] = "xterm-256color"
    env.update(extra)
    return env


@pytest.fixture
def messy(project: Path) -> Path:
    (project / "ugly.py").write_text(UGLY)
    return project


def test_status_words_are_coloured_on_a_terminal(messy: Path) -> None:
    out = _on_pty(DRY, messy, _env())
    assert "\x1b[32mok\x1b[0m" in out  # the table's status, green
    assert "routine-workflow: \x1b[32mok\x1b[0m (dry run)" in out  # and the verdict
    # Colour codes sit outside the padding: the columns still line up.
    table = [line for line in out.splitlines() if line.startswith(("step ", "reformat "))]
    plain = [line.replace("\x1b[32m", "").replace("\x1b[0m", "") for line in table]
    header, row = plain[0], plain[1]
    assert header.index("summary") == row.index(row.split(None, 3)[3])


def test_no_color_turns_it_off_on_a_terminal(messy: Path) -> None:
    out = _on_pty(DRY, messy, _env(NO_COLOR="1"))
    assert "ok (dry run)" in out and not SGR.search(out)


def test_dumb_terminal_and_never_are_plain(messy: Path) -> None:
    assert not SGR.search(_on_pty(DRY, messy, _env(TERM="dumb")))
    assert not SGR.search(_on_pty(["--color", "never", *DRY], messy, _env(FORCE_COLOR="1")))


def test_a_pipe_is_plain(messy: Path) -> None:
    result = run_cli(DRY, messy, env={"TERM": "xterm-256color"})
    assert result.returncode == 0 and "ok (dry run)" in result.stdout
    assert not SGR.search(result.stdout + result.stderr)


def test_force_color_colours_a_pipe(messy: Path) -> None:
    result = run_cli(DRY, messy, env={"FORCE_COLOR": "1"})
    assert "\x1b[32mok\x1b[0m" in result.stdout


def test_color_always_beats_no_color_in_a_pipe(messy: Path) -> None:
    result = run_cli(["--color", "always", *DRY], messy, env={"NO_COLOR": "1"})
    assert "\x1b[32mok\x1b[0m" in result.stdout


def test_json_is_never_coloured(messy: Path) -> None:
    result = run_cli(["--color", "always", *DRY, "--json"], messy)
    assert not SGR.search(result.stdout)
    assert json.loads(result.stdout)["status"] == "ok"
    forced = run_cli([*DRY, "--json"], messy, env={"FORCE_COLOR": "1"})
    assert not SGR.search(forced.stdout)


def test_color_is_a_root_option_for_every_subcommand(project: Path) -> None:
    assert run_cli(["--color", "never", "steps"], project).returncode == 0
    bad = run_cli(["--color", "sometimes"], project)
    assert bad.returncode == 2 and "--color" in bad.stderr and "sometimes" in bad.stderr


def test_error_label_is_red_on_a_terminal_only(project: Path) -> None:
    out = _on_pty(["--steps", "nope"], project, _env(), code=2)
    assert "routine-workflow: \x1b[31m\x1b[1merror\x1b[0m: --steps: unknown step" in out
    piped = run_cli(["--steps", "nope"], project, env={"TERM": "xterm-256color"})
    assert piped.stderr.startswith("routine-workflow: error: --steps: unknown step")
