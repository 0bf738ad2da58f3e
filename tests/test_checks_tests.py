"""The ``tests`` check: real pytest runs on real projects, through the real CLI."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

PASSING = "def test_one():\n    assert 1\n\ndef test_two():\n    assert 2\n"
FAILING = "def test_ok():\n    assert 1\n\ndef test_bad():\n    assert 0\n"
BUILTINS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
)


def _project(root: Path, table: str, files: dict[str, str]) -> Path:
    (root / "pyproject.toml").write_text(
        f"{BUILTINS_OFF}[tool.routine-workflow.steps.tests]\nenabled = true\n{table}\n"
    )
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def _run(project: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_cli(["--yes", "--json", *args], project, timeout=120)
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    return result, {s["name"]: s for s in report["steps"]}


def test_off_by_default(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine-workflow.steps.tests]\nargs = ['-x']\n")
    listed = json.loads(run_cli(["steps", "--json"], project).stdout)
    assert "tests" not in [s["name"] for s in listed]


def test_passing_tests_say_how_many(project: Path) -> None:
    _project(project, "", {"tests/test_a.py": PASSING})
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["status"] == "ok"
    assert steps["tests"]["summary"] == "2 passed"
    assert steps["tests"]["counts"]["passed"] == 2


def test_failing_tests_fail_the_run_with_counts(project: Path) -> None:
    _project(project, "", {"tests/test_a.py": FAILING})
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["tests"]["status"] == "failed"
    assert steps["tests"]["summary"] == "1 failed, 1 passed"


def test_no_tests_collected_is_a_failure_that_says_so(project: Path) -> None:
    _project(project, "", {"pkg/mod.py": "X = 1\n"})
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["tests"]["summary"] == "no tests collected (pytest exit 5)"


def test_usage_error_is_named(project: Path) -> None:
    _project(project, 'args = ["no_such_dir"]', {"tests/test_a.py": PASSING})
    result, steps = _run(project)
    assert result.returncode == 1
    summary = steps["tests"]["summary"]
    assert summary.startswith("pytest usage error (exit 4): ERROR: file or directory not found")


def test_collection_error_is_an_interruption(project: Path) -> None:
    _project(project, "", {"tests/test_a.py": "import no_such_module_here\n"})
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["tests"]["summary"].startswith("pytest interrupted (exit 2)")
    assert "error" in steps["tests"]["summary"]


def test_step_options_are_checked(project: Path) -> None:
    _project(project, "coverage_threshold = 150", {})
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "steps.tests] coverage_threshold: invalid value 150" in result.stderr
    _project(project, "covrage_threshold = 50", {})
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "unknown key 'covrage_threshold'" in result.stderr
    assert "did you mean 'coverage_threshold'" in result.stderr


def test_a_run_table_stays_a_command_step(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        f"{BUILTINS_OFF}[tool.routine-workflow.steps.tests]\nrun = \"sh -c 'echo mine'\"\n"
    )
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["summary"] == "succeeded"


def test_selected_with_steps_flag_without_a_table(project: Path) -> None:
    (project / "tests").mkdir()
    (project / "tests" / "test_a.py").write_text(PASSING)
    result, steps = _run(project, "--steps", "tests")
    assert result.returncode == 0, result.stderr
    assert list(steps) == ["tests"]
    assert steps["tests"]["summary"] == "2 passed"


def test_runs_after_reformat_by_default(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine-workflow.steps.tests]\nenabled = true\n")
    listed = {s["name"]: s for s in json.loads(run_cli(["steps", "--json"], project).stdout)}
    assert listed["tests"]["depends_on"] == ["reformat"]


def test_output_is_in_the_log_and_with_verbose(project: Path) -> None:
    _project(project, "", {"tests/test_a.py": FAILING})
    quiet = run_cli(["--yes"], project, timeout=120)
    assert "test_bad" not in quiet.stderr + quiet.stdout
    loud = run_cli(["--yes", "-v"], project, timeout=120)
    assert "test_bad" in loud.stderr
    logs = list((Path.home() / "rw").rglob("*.log"))
    assert any("test_bad" in log.read_text() for log in logs), logs


@pytest.mark.slow
def test_coverage_gate_says_the_figure(project: Path) -> None:
    half = "def used():\n    return 1\n\ndef unused():\n    return 2\n"
    test = "from pkg.mod import used\n\ndef test_used():\n    assert used() == 1\n"
    files = {"pkg/__init__.py": "", "pkg/mod.py": half, "tests/test_a.py": test}
    _project(project, 'coverage_threshold = 95\nargs = ["--cov=pkg"]', files)
    result, steps = _run(project)
    assert result.returncode == 1
    summary = steps["tests"]["summary"]
    assert summary.startswith("coverage ") and "is below the threshold 95%" in summary, summary
    assert "(1 passed)" in summary
    _project(project, 'coverage_threshold = 50\nargs = ["--cov=pkg"]', files)
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["summary"].startswith("1 passed, coverage ")


@pytest.mark.slow
def test_the_project_venv_is_used_and_a_missing_pytest_is_one_line(project: Path) -> None:
    # A virtualenv without pytest: the step says what to install where, and fails alone.
    subprocess.run(
        [sys.executable, "-m", "venv", "--without-pip", str(project / ".venv")], check=True
    )
    _project(project, "", {"tests/test_a.py": PASSING})
    result, steps = _run(project)
    assert result.returncode == 1
    python = project / ".venv" / "bin" / "python"
    assert steps["tests"]["summary"] == (
        f"the tests step needs pytest in {python}: {python} -m pip install pytest"
    )
    assert "Traceback" not in result.stderr


def test_missing_pytest_cov_is_one_line(project: Path, tmp_path: Path) -> None:
    # An interpreter with pytest but not pytest-cov, as the step probes it (`-c CODE MODULE`).
    shim = tmp_path / "python"
    shim.write_text('#!/bin/sh\n[ "$1" = "-c" ] && [ "$3" = "pytest" ] && exit 0\nexit 1\n')
    shim.chmod(0o755)
    _project(project, f'coverage_threshold = 80\npython = "{shim}"', {"tests/test_a.py": PASSING})
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["tests"]["summary"] == (
        f"the tests step needs pytest-cov for coverage_threshold in {shim}: "
        f"{shim} -m pip install pytest-cov"
    )


FLAKY = (
    "from pathlib import Path\n\n"
    "def test_flaky():\n"
    "    mark = Path(__file__).with_name('ran')\n"
    "    first = not mark.exists()\n"
    "    mark.write_text('x')\n"
    "    assert not first\n"
)


def test_command_step_keys_apply_retries(project: Path) -> None:
    _project(project, "retries = 1\nretry_delay = 0.05", {"tests/test_a.py": FLAKY})
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["summary"] == "1 passed on attempt 2"


def test_command_step_keys_apply_timeout_and_allow_failure(project: Path) -> None:
    slow = "import time\n\ndef test_slow():\n    time.sleep(60)\n"
    _project(project, "timeout = 1\nallow_failure = true", {"tests/test_a.py": slow})
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["summary"] == "timed out after 1s"
    assert steps["tests"]["allowed_failure"] is True


def test_command_step_keys_apply_when(project: Path) -> None:
    _project(project, 'when = { env = "RW_TEST_CHECKS" }', {"tests/test_a.py": PASSING})
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["tests"]["summary"] == "skipped: $RW_TEST_CHECKS is not set"


def test_shell_is_not_a_check_key(project: Path) -> None:
    _project(project, "shell = true", {})
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "unknown key 'shell' for a check step" in result.stderr
