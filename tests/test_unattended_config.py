"""Configuration that fails early: exit 2 and one line before anything runs, or a warning.

Every value that would only fail late (a command split at the end of a real run,
a non-finite number, an empty selection, a state directory in the project) is
refused when the configuration is read.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli, snapshot

STEPS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
)


def _refused(result, *needles: str) -> None:  # type: ignore[no-untyped-def]
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "Traceback" not in result.stderr
    for needle in needles:
        assert needle in lines[0], lines[0]


def _history_runs() -> int:
    db = Path(os.environ["ROUTINE_WORKFLOW_HOME"]) / "state" / "history.sqlite3"
    if not db.exists():
        return 0
    import sqlite3

    with sqlite3.connect(db) as conn:
        count = int(conn.execute("SELECT COUNT(*) FROM runs").fetchone()[0])
    conn.close()
    return count


# -- commands are split when the configuration is read ---------------------------------------


@pytest.mark.parametrize("args", [["--dry-run"], ["config", "check"], ["steps"]])
def test_unbalanced_quote_in_a_step_command(project: Path, args: list[str]) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.lint]\nrun = "sh -c \'echo hi"\n'
    )
    _refused(run_cli(args, project), "[tool.routine-workflow.steps.lint] run", "quotation")


@pytest.mark.parametrize("key", ["on_failure", "on_success", "create_dump_run_cmd"])
@pytest.mark.parametrize("args", [["--dry-run"], ["config", "check"]])
def test_unbalanced_quote_in_a_setting_command(project: Path, key: str, args: list[str]) -> None:
    (project / "pyproject.toml").write_text(f'[tool.routine-workflow]\n{key} = "notify \'oops"\n')
    _refused(run_cli(args, project), key, "quotation")


def test_unbalanced_hook_never_reaches_the_end_of_a_real_run(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow]\non_success = "notify \'oops"\n' + STEPS_OFF
    )
    _refused(run_cli(["--yes"], project), "on_success")
    assert _history_runs() == 0


def test_empty_command_setting(project: Path) -> None:
    (project / "pyproject.toml").write_text('[tool.routine-workflow]\non_failure = "   "\n')
    _refused(run_cli(["config", "check"], project), "on_failure", "empty")


# -- selections --------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--steps", "", "--yes"],
        ["--steps", ",", "--yes"],
        ["--steps", "reformat", "--skip", "reformat", "--yes"],
        ["--skip", "prune_dumps,backup,reformat,clean_caches,dumps", "--yes"],
        ["watch", "--steps", "", "--yes"],
    ],
)
def test_a_selection_of_nothing_is_refused(project: Path, args: list[str]) -> None:
    (project / "ugly.py").write_text("x  =  1\n")
    before = snapshot(project)
    _refused(run_cli(args, project), "no steps selected")
    assert snapshot(project) == before
    assert _history_runs() == 0


def test_a_misspelt_step_gets_a_suggestion(project: Path) -> None:
    _refused(run_cli(["--steps", "refromat", "--yes"], project), "'refromat'", "'reformat'")


# -- numbers -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--wait", "nan", "--dry-run"],
        ["--wait", "inf", "--dry-run"],
        ["--workflow-timeout", "nan", "--dry-run"],
        ["--workflow-timeout", "inf", "--dry-run"],
        ["reformat", "--wait", "nan"],
        ["watch", "--wait", "nan", "--yes"],
    ],
)
def test_non_finite_numbers_on_the_command_line(project: Path, args: list[str]) -> None:
    _refused(run_cli(args, project))


@pytest.mark.parametrize(
    "table",
    [
        'run = "true"\ntimeout = nan',
        'run = "true"\ntimeout = inf',
        'run = "true"\nretry_delay = inf',
        'run = "true"\nretry_delay = -nan',
    ],
)
def test_non_finite_numbers_in_step_tables(project: Path, table: str) -> None:
    (project / "pyproject.toml").write_text(f"[tool.routine-workflow.steps.x]\n{table}\n")
    _refused(run_cli(["--dry-run"], project), "[tool.routine-workflow.steps.x]", "finite")


def test_non_finite_numbers_in_the_environment(project: Path) -> None:
    _refused(run_cli(["--dry-run"], project, env={"WORKFLOW_TIMEOUT": "inf"}), "WORKFLOW_TIMEOUT")


# -- paths -----------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "args",
    [
        ["--project-root", "", "--dry-run"],
        ["--project-root", "", "--project-root", ".", "--dry-run"],
        ["config", "show", "--project-root", ""],
        ["--log-dir", "", "--dry-run"],
    ],
)
def test_an_empty_path_is_refused(project: Path, args: list[str]) -> None:
    _refused(run_cli(args, project), "empty")


def test_relative_routine_workflow_home_is_refused(project: Path) -> None:
    result = run_cli(["--dry-run"], project, env={"ROUTINE_WORKFLOW_HOME": "state"})
    _refused(result, "ROUTINE_WORKFLOW_HOME", "absolute")
    assert not (project / "state").exists()


@pytest.mark.parametrize(
    ("where", "setting"),
    [
        ('[tool.routine-workflow]\nbackup_dir = "."', "backup_dir"),
        ('[tool.routine-workflow]\ndump_dir = "."', "dump_dir"),
        ('[tool.routine-workflow]\ncache_dir = "."', "cache_dir"),
        ('[tool.routine-workflow]\nhistory_db = "history.sqlite3"', "history_db"),
        ('[tool.routine-workflow]\nlog_file = "run.log"', "log_file"),
        ('[tool.routine-workflow]\nlog_dir = ".."', "log_dir"),
        ("--lock-dir .", "--lock-dir"),
        ("--lock-dir ..", "--lock-dir"),
        ("--lock-dir src", "--lock-dir"),
        ('[tool.routine-workflow]\nlock_dir = ".lock"', "lock_dir"),
        ("--log-file ./run.log", "--log-file"),
        ("ROUTINE_WORKFLOW_BACKUP_DIR=.", "ROUTINE_WORKFLOW_BACKUP_DIR"),
    ],
)
def test_state_in_the_project_root_is_refused(project: Path, where: str, setting: str) -> None:
    # The lock directory is removed whole when released: at the root, that is the project;
    # inside it, a directory of the user's that happens to have its name.
    (project / "keep.py").write_text("x = 1\n")
    (project / "src").mkdir()
    (project / "src" / "mine.py").write_text("y = 2\n")
    args, env = ["--yes"], {}
    if where.startswith("--"):
        args += where.split()
    elif "=" in where and where.startswith("ROUTINE"):
        env = dict([where.split("=", 1)])
    else:
        (project / "pyproject.toml").write_text(where + "\n" + STEPS_OFF)
    before = snapshot(project)
    _refused(run_cli(args, project, env=env), setting, "project")
    assert snapshot(project) == before


def test_state_dirs_inside_the_project_stay_allowed(project: Path) -> None:
    # Left out of every step as the tool's own (discovery), as before.
    (project / "pyproject.toml").write_text('[tool.routine-workflow]\nbackup_dir = ".backups"\n')
    result = run_cli(["config", "check"], project)
    assert result.returncode == 0, result.stderr


# -- the same project twice ------------------------------------------------------------------------


def test_the_same_project_given_twice_runs_once(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        STEPS_OFF + '[tool.routine-workflow.steps.x]\nrun = "true"\n'
    )
    result = run_cli(
        ["--project-root", str(project), "--project-root", f"{project}/.", "--yes", "--json"],
        project.parent,
    )
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert report["project_root"] == str(project.resolve())
    assert _history_runs() == 1


def test_duplicates_from_a_projects_file_run_once(project: Path, tmp_path: Path) -> None:
    (project / "pyproject.toml").write_text(
        STEPS_OFF + '[tool.routine-workflow.steps.x]\nrun = "true"\n'
    )
    other = tmp_path / "other"
    other.mkdir()
    (other / "pyproject.toml").write_text(
        STEPS_OFF + '[tool.routine-workflow.steps.x]\nrun = "true"\n'
    )
    listing = tmp_path / "projects.txt"
    listing.write_text(f"{project}\nproject\n{other}\n")
    result = run_cli(
        ["--projects-file", str(listing), "--project-root", str(other), "--yes", "--json"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert sorted(entry["project_root"] for entry in json.loads(result.stdout)) == sorted(
        [str(project.resolve()), str(other.resolve())]
    )
    assert _history_runs() == 2


# -- near misses -----------------------------------------------------------------------------------


def test_misspelt_table_is_a_warning_and_config_check_reports_it(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine_workflow]\nkeep_backups = 3\n")
    check = run_cli(["config", "check"], project)
    assert check.returncode == 0, check.stderr
    assert "[tool.routine_workflow]" in check.stderr
    assert "did you mean [tool.routine-workflow]" in check.stderr
    run = run_cli(["--dry-run"], project)
    assert "did you mean [tool.routine-workflow]" in run.stderr


def test_misspelt_variable_is_a_warning(project: Path) -> None:
    check = run_cli(["config", "check"], project, env={"ROUTINE_WORKFLOW_KEEP_BACKUP": "3"})
    assert check.returncode == 0, check.stderr
    assert "ROUTINE_WORKFLOW_KEEP_BACKUP" in check.stderr
    assert "did you mean ROUTINE_WORKFLOW_KEEP_BACKUPS" in check.stderr


def test_unknown_variable_without_a_near_name_is_still_a_warning(project: Path) -> None:
    check = run_cli(["config", "check"], project, env={"ROUTINE_WORKFLOW_XYZZY": "1"})
    assert check.returncode == 0
    assert "ROUTINE_WORKFLOW_XYZZY" in check.stderr and "ignored" in check.stderr


def test_variables_the_tool_sets_for_hooks_are_not_warned_about(project: Path) -> None:
    check = run_cli(["config", "check"], project, env={"ROUTINE_WORKFLOW_RUN_ID": "x"})
    assert check.returncode == 0
    assert check.stderr == ""


def test_misspelt_key_gets_a_suggestion(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine-workflow]\nkeep_backup = 3\n")
    _refused(run_cli(["config", "check"], project), "'keep_backup'", "did you mean 'keep_backups'")


def test_misspelt_step_key_gets_a_suggestion(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.x]\nrun = "true"\nretry = 2\n'
    )
    _refused(run_cli(["config", "check"], project), "'retry'", "did you mean 'retries'")


def test_a_misspelt_dependency_gets_a_suggestion(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.x]\nrun = "true"\ndepends_on = ["refromat"]\n'
    )
    _refused(run_cli(["config", "check"], project), "'refromat'", "did you mean 'reformat'?")
