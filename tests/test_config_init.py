"""``routine-workflow config init``: questions on a real terminal, defaults through pipes, the
table written into pyproject.toml with every other byte of the file kept."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from helpers import PtyProcess, run_cli

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ORIGINAL = """\
# The project's own comment, kept.
[project]
name = "demo"  # inline comment, kept
dependencies = [
    "click",   # aligned oddly on purpose
]

[tool.black]
line-length = 100
"""


def _table(root: Path) -> dict:
    data = tomllib.loads((root / "pyproject.toml").read_text())
    table: dict = data["tool"]["routine-workflow"]
    return table


def test_without_a_terminal_it_writes_the_defaults_and_keeps_the_file(project: Path) -> None:
    (project / "pyproject.toml").write_text(ORIGINAL)
    result = run_cli(["config", "init"], project)
    assert result.returncode == 0, result.stderr
    assert "[tool.routine-workflow]" in result.stdout  # the table it wrote, shown
    text = (project / "pyproject.toml").read_text()
    assert text.startswith(ORIGINAL)
    assert _table(project) == {"workflow_timeout": 0, "keep_backups": 10, "keep_dumps": 5}
    assert "max_workers is not set" in text  # not pinned to this machine's CPU count
    check = run_cli(["config", "check"], project)
    assert check.returncode == 0, check.stderr


def test_an_existing_table_needs_force_and_force_keeps_command_steps(project: Path) -> None:
    mine = ORIGINAL + (
        "\n[tool.routine-workflow]\nkeep_backups = 3  # mine\n\n"
        '[tool.routine-workflow.steps.lint]\nrun = "ruff check ."\n\n'
        '[tool.isort]\nprofile = "black"\n'
    )
    (project / "pyproject.toml").write_text(mine)
    refused = run_cli(["config", "init", "--defaults"], project)
    assert refused.returncode == 2
    assert len(refused.stderr.splitlines()) == 1 and "--force" in refused.stderr
    assert (project / "pyproject.toml").read_text() == mine
    forced = run_cli(["config", "init", "--force"], project)
    assert forced.returncode == 0, forced.stderr
    assert "replaced" in forced.stderr
    table = _table(project)
    assert table["keep_backups"] == 3  # the current setting is the default offered
    assert table["steps"] == {"lint": {"run": "ruff check ."}}
    data = tomllib.loads((project / "pyproject.toml").read_text())
    assert data["tool"]["isort"] == {"profile": "black"} and data["project"]["name"] == "demo"
    assert (project / "pyproject.toml").read_text().startswith(ORIGINAL)


def test_creates_pyproject_when_missing_and_dry_run_writes_nothing(tmp_path: Path) -> None:
    root = tmp_path / "bare"
    root.mkdir()
    dry = run_cli(["config", "init", "--dry-run"], root)
    assert dry.returncode == 0 and "[tool.routine-workflow]" in dry.stdout
    assert not (root / "pyproject.toml").exists()
    made = run_cli(["-p", str(root), "config", "init"], tmp_path)
    assert made.returncode == 0, made.stderr
    assert _table(root)["keep_dumps"] == 5


def test_invalid_toml_is_one_line_and_untouched(project: Path) -> None:
    (project / "pyproject.toml").write_text("[project\nname = 1\n")
    result = run_cli(["config", "init"], project)
    assert result.returncode == 2 and len(result.stderr.splitlines()) == 1
    assert "not valid TOML" in result.stderr
    assert (project / "pyproject.toml").read_text() == "[project\nname = 1\n"


@pytest.mark.slow
def test_on_a_terminal_it_asks_shows_and_writes_the_answers(project: Path) -> None:
    (project / "pyproject.toml").write_text(ORIGINAL)
    session = PtyProcess(["config", "init"], project)
    session.expect("Steps to run [prune_dumps, backup, reformat, clean_caches, dumps]: ")
    session.send("backup reformat\n")
    session.expect("Checks to run after reformat")
    session.send("tests, nonsense\n")  # refused: asked again
    session.expect("choose from tests, security, audit, git_snapshot")
    session.send("tests\n")
    session.expect("Worker processes (auto: ")
    session.send("zero\n")
    session.expect("at least 1, or auto")
    session.send("3\n")
    session.expect("Stop a run after how many seconds (0: no limit) [0.0]: ")
    session.send("600\n")
    session.expect("Backups to keep [10]: ")
    session.send("4\n")
    session.expect("When to run, in cron syntax")
    session.send("30 2 * * *\n")
    shown = session.expect("[Y/n]")
    assert "max_workers = 3" in shown and "[tool.routine-workflow.steps.tests]" in shown
    session.send("\n")
    code, out = session.finish()
    assert code == 0, out
    assert "schedule install --cron '30 2 * * *'" in out
    assert (project / "pyproject.toml").read_text().startswith(ORIGINAL)
    table = _table(project)
    assert {k: v for k, v in table.items() if k != "steps"} == {
        "max_workers": 3,
        "workflow_timeout": 600,
        "keep_backups": 4,
    }
    assert table["steps"] == {
        "prune_dumps": {"enabled": False},
        "clean_caches": {"enabled": False},
        "dumps": {"enabled": False},
        "tests": {"enabled": True},
    }


def test_on_a_terminal_no_writes_nothing_and_defaults_asks_nothing(project: Path) -> None:
    (project / "pyproject.toml").write_text(ORIGINAL)
    session = PtyProcess(["config", "init"], project)
    for _ in range(7):  # accept every default
        session.expect("]: ")
        session.seen = b""
        session.send("\n")
    session.expect("[Y/n]")
    session.send("n\n")
    code, out = session.finish()
    assert code == 3 and "declined" in out
    assert (project / "pyproject.toml").read_text() == ORIGINAL
    quick = PtyProcess(["config", "init", "--defaults"], project)
    code, out = quick.finish()
    assert code == 0 and "?" not in out and "]: " not in out
    assert _table(project)["keep_backups"] == 10
