"""The reformat step leaves a fixed point: what running the three CLIs until they
change nothing more leaves, so a fresh ``reformat --check`` agrees with the run."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow.config import load_config
from routine_workflow.reformat import pipeline
from routine_workflow.reformat.pipeline import Pipeline
from routine_workflow.reformat.run import reformat

# Django 5.1.4's settings for this case (issue 13): black and isort at 60 columns.
PYPROJECT = """\
[project]
name = "demo"

[tool.black]
line-length = 60

[tool.isort]
profile = "black"
line_length = 60
"""

# Reduced from django/db/backends/postgresql/base.py. Pass 1: isort skips the line,
# black splits it and leaves the comment after the closing bracket. Pass 2: isort no
# longer sees "isort:skip" on the import's first line, sorts it and moves the comment
# up. Pass 3 changes nothing.
NEEDS_TWO = b"""\
import os

from .somewhere import first_name, second_name  # NOQA isort:skip

print(os, first_name, second_name)
"""
CONVERGED = b"""\
import os

from .somewhere import (  # NOQA isort:skip
    first_name,
    second_name,
)

print(os, first_name, second_name)
"""
FILES = {
    "pkg/base.py": NEEDS_TWO,
    "pkg/plain.py": b"import os, sys\nx = {  'a':1 }\nprint(sys.argv, x)\n",
    "pkg/done.py": b"import sys\n\nprint(sys.argv)\n",
}


def run_the_clis_until_stable(root: Path, tmp_path: Path, limit: int = 5) -> int:
    """``autoflake ... && isort . && black .`` in ``root`` until a round changes nothing;
    returns how many rounds changed something."""
    env = {**os.environ, "BLACK_CACHE_DIR": str(tmp_path / "black-cache")}
    autoflake = "autoflake --in-place --remove-all-unused-imports --ignore-init-module-imports"
    commands = (
        [*autoflake.split(), "-r", "."],
        ["isort", "."],
        ["black", "-q", "."],
    )
    for rounds in range(limit):
        before = snapshot(root)
        for argv in commands:
            subprocess.run(
                [sys.executable, "-m", *argv], cwd=root, env=env, capture_output=True, timeout=120
            )
        if snapshot(root) == before:
            return rounds
    raise AssertionError(f"the CLIs still change {root} after {limit} rounds")


@pytest.mark.slow
def test_one_run_leaves_what_the_clis_leave_once_they_change_nothing(tmp_path: Path) -> None:
    theirs = write_tree(tmp_path / "theirs", FILES, PYPROJECT)
    ours = write_tree(tmp_path / "ours", FILES, PYPROJECT)
    assert run_the_clis_until_stable(theirs, tmp_path) == 2  # the case really needs two
    result = run_cli(["reformat"], ours)
    assert result.returncode == 0, result.stderr
    assert snapshot(ours) == snapshot(theirs)
    assert (ours / "pkg/base.py").read_bytes() == CONVERGED
    assert "reformatted pkg/base.py" in result.stdout


def test_a_fresh_check_agrees_with_the_run(tmp_path: Path) -> None:
    """The CI gate on a fresh checkout (no cache) is green after a local run."""
    root = write_tree(tmp_path / "p", FILES, PYPROJECT)
    assert run_cli(["reformat"], root).returncode == 0
    fresh = {"ROUTINE_WORKFLOW_HOME": str(tmp_path / "fresh-home")}
    check = run_cli(["reformat", "--check"], root, env=fresh)
    assert check.returncode == 0, check.stdout + check.stderr
    assert "0 would change" in check.stdout
    warm = run_cli(["reformat", "--check"], root)
    assert warm.returncode == 0 and "3 cached" in warm.stdout


def test_check_and_diff_show_the_converged_result(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {"base.py": NEEDS_TWO}, PYPROJECT)
    result = run_cli(["reformat", "--diff"], root)
    assert result.returncode == 0, result.stderr
    assert "+from .somewhere import (  # NOQA isort:skip\n" in result.stdout
    assert ")  # NOQA isort:skip" not in result.stdout
    assert (root / "base.py").read_bytes() == NEEDS_TWO


def test_a_file_that_does_not_settle_is_left_as_is_and_fails(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With room for only one changing pass, the case above does not settle in time."""
    root = write_tree(tmp_path / "p", FILES, PYPROJECT)
    monkeypatch.setattr(pipeline, "CHANGING_PASSES", 1)
    outcome = Pipeline(root).process(str(root / "pkg/base.py"))
    assert outcome.status == "failed" and outcome.new is None
    assert outcome.reason.startswith("unstable:"), outcome.reason
    config = load_config({"project_root": root, "max_workers": 1})
    report = reformat(config)
    assert [(f.rel, f.reason.split(":")[0]) for f in report.failed] == [("pkg/base.py", "unstable")]
    assert (root / "pkg/base.py").read_bytes() == NEEDS_TWO  # never written half-way
    assert sorted(report.changed) == ["pkg/plain.py"]
    again = reformat(config)  # a stable verdict: cached, still a failure
    assert again.cached == 3 and len(again.failed) == 1
