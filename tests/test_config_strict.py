"""A value of the wrong TOML type in pyproject.toml is exit 2, never coerced.

TOML has types: ``max_workers = "4"`` is a string where an integer belongs and
``fail_on_backup = "yes"`` a string where a boolean belongs. A tool that rewrites
files refuses them (naming the file, the key and the type it expected) instead
of guessing. Environment variables and flags are text, so they are still parsed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from helpers import run_cli


def _pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[tool.routine-workflow]\n{body}\n")


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ('max_workers = "4"', "an integer"),
        ('fail_on_backup = "yes"', "true or false"),
        ('backup_include_git = "false"', "true or false"),
        ('workflow_timeout = "900"', "a number"),
        ('keep_backups = "3"', "an integer"),
        ("max_workers = 4.0", "an integer"),
        ('exclude_patterns = "gen/"', "a list of strings"),
        ("keep_dumps = true", "an integer"),
        ("fail_on_backup = 1", "true or false"),
    ],
)
def test_wrong_toml_type_is_exit_2_naming_file_key_and_type(
    project: Path, body: str, expected: str
) -> None:
    _pyproject(project, body)
    key = body.split(" =", 1)[0]
    result = run_cli(["config", "check"], cwd=project)
    assert result.returncode == 2, result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    line = lines[0]
    assert str(project / "pyproject.toml") in line
    assert key in line
    assert f"expected {expected}" in line
    assert "Traceback" not in result.stderr


def test_the_run_itself_refuses_before_anything_happens(project: Path) -> None:
    _pyproject(project, 'fail_on_backup = "yes"')
    (project / "a.py").write_text("x=1\n")
    result = run_cli(["--yes"], cwd=project)
    assert result.returncode == 2
    assert (project / "a.py").read_text() == "x=1\n"


@pytest.mark.parametrize(
    "body",
    [
        "max_workers = 4",
        "fail_on_backup = true",
        "workflow_timeout = 900",  # an integer where a number belongs is a number
        "workflow_timeout = 12.5",
        'exclude_patterns = ["gen/", "*.pb.py"]',
    ],
)
def test_right_toml_types_are_accepted(project: Path, body: str) -> None:
    _pyproject(project, body)
    result = run_cli(["config", "check"], cwd=project)
    assert result.returncode == 0, result.stderr


def test_environment_and_flags_are_still_parsed_from_text(project: Path) -> None:
    env = {
        "ROUTINE_WORKFLOW_MAX_WORKERS": "3",
        "ROUTINE_WORKFLOW_FAIL_ON_BACKUP": "yes",
        "WORKFLOW_TIMEOUT": "30",
        "ROUTINE_WORKFLOW_EXCLUDE_PATTERNS": "gen/,*.pb.py",
    }
    result = run_cli(["config", "show", "--json"], cwd=project, env=env)
    assert result.returncode == 0, result.stderr
    assert '"max_workers": {\n    "value": 3' in result.stdout
    assert '"fail_on_backup": {\n    "value": true' in result.stdout
    result = run_cli(["--workers", "2", "--dry-run", "--steps", "prune_dumps"], cwd=project)
    assert result.returncode == 0, result.stderr


def _readme_toml_blocks() -> list[str]:
    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    return [part.split("```", 1)[0] for part in readme.split("```toml\n")[1:]]


@pytest.mark.parametrize("index", range(len(_readme_toml_blocks())))
def test_readme_toml_examples_pass_config_check(project: Path, index: int) -> None:
    (project / "pyproject.toml").write_text(_readme_toml_blocks()[index])
    (project / "docs").mkdir()  # the custom-steps example's docs step runs there
    result = run_cli(["config", "check"], cwd=project)
    assert result.returncode == 0, result.stderr


def test_readme_docs_step_runs_in_docs_as_copied(project: Path) -> None:
    """The custom-steps example's ``docs`` table, copied as it is, builds in docs/."""
    block = next(b for b in _readme_toml_blocks() if "[tool.routine-workflow.steps.docs]" in b)
    table = block.split("[tool.routine-workflow.steps.docs]", 1)[1].split("\n\n", 1)[0]
    (project / "pyproject.toml").write_text(f"[tool.routine-workflow.steps.docs]{table}\n")
    (project / "docs").mkdir()
    (project / "docs" / "Makefile").write_text("html:\n\ttouch built-here\n")
    result = run_cli(["--yes", "--steps", "docs"], cwd=project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "docs" / "built-here").exists()
