"""A .gitignore line that git tolerates never stops the tool: skipped with one warning."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.discovery import Discovery

BAD_LINES = ["!", "\\", "foo\\", "[z-a]"]


def _git_ignored(root: Path, rel: str) -> bool:
    done = subprocess.run(["git", "check-ignore", "-q", rel], cwd=root, check=False)
    return done.returncode == 0


@pytest.fixture
def repo(project: Path) -> Path:
    subprocess.run(["git", "init", "-q"], cwd=project, check=True)
    (project / "keep.py").write_text("x = 1\n")
    (project / "debug.log").write_text("log\n")
    (project / "vendor").mkdir()
    (project / "vendor" / "lib.py").write_text("y = 2\n")
    (project / "vendor" / "tmp.bin").write_text("z\n")
    (project / ".gitignore").write_text("!\n*.log\nfoo\\\n[z-a]\n")
    (project / "vendor" / ".gitignore").write_text("\\\n*.bin\n")
    return project


def test_discovery_skips_bad_lines_and_keeps_the_good_ones(
    repo: Path, caplog: pytest.LogCaptureFixture
) -> None:
    found = {e.rel for e in Discovery(load_config(cwd=repo)).files()}
    assert found == {
        ".gitignore",
        "keep.py",
        "pyproject.toml",
        "vendor/.gitignore",
        "vendor/lib.py",
    }
    # What git itself decides, for the files in question.
    for rel in ("debug.log", "vendor/tmp.bin"):
        assert _git_ignored(repo, rel)
    for rel in ("keep.py", "vendor/lib.py"):
        assert not _git_ignored(repo, rel)
    warnings = [r.getMessage() for r in caplog.records if r.levelname == "WARNING"]
    assert any(".gitignore:1:" in w and "'!'" in w for w in warnings), warnings
    assert any("vendor/.gitignore:1:" in w for w in warnings), warnings


@pytest.mark.parametrize("line", BAD_LINES)
def test_one_bad_line_does_not_stop_a_run(project: Path, line: str) -> None:
    (project / "a.py").write_text("import os\nx=1\n")
    (project / ".gitignore").write_text(f"{line}\n")
    done = run_cli(["--yes", "--log-format", "json", "--project-root", str(project)], project)
    assert done.returncode == 0, done.stderr
    assert "Traceback" not in done.stderr and "internal error" not in done.stderr
    assert (project / "a.py").read_text() == "x = 1\n"
    events = [json.loads(line) for line in done.stderr.splitlines() if line.startswith("{")]
    warned = [e for e in events if e.get("level") == "warning" and ".gitignore:1:" in e["message"]]
    assert len(warned) == 1, events  # once per run, not once per step


def test_reformat_command_survives_a_bad_line(project: Path) -> None:
    (project / "a.py").write_text("x=1\n")
    (project / ".gitignore").write_text("!\n")
    done = run_cli(["reformat", "--check", "--project-root", str(project)], project)
    assert done.returncode == 1, done.stderr  # a.py would change: the honest --check answer
    assert "Traceback" not in done.stderr and "would reformat a.py" in done.stdout + done.stderr
