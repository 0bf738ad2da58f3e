"""WorkflowConfig: precedence, types, and one-line errors for every bad value."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.errors import ConfigError


def _pyproject(root: Path, body: str) -> None:
    (root / "pyproject.toml").write_text(f"[tool.routine-workflow]\n{body}\n")


def test_precedence_default_pyproject_env_flag(project: Path) -> None:
    assert load_config({"project_root": project}, env={}).max_workers >= 1
    _pyproject(project, "max_workers = 3\nkeep-dumps = 7")
    config = load_config({"project_root": project}, env={})
    assert (config.max_workers, config.sources["max_workers"]) == (3, "pyproject.toml")
    assert config.keep_dumps == 7  # dashes are accepted as in most pyproject tables
    config = load_config({"project_root": project}, env={"ROUTINE_WORKFLOW_MAX_WORKERS": "5"})
    assert (config.max_workers, config.sources["max_workers"]) == (
        5,
        "env ROUTINE_WORKFLOW_MAX_WORKERS",
    )
    config = load_config(
        {"project_root": project, "max_workers": 6}, env={"ROUTINE_WORKFLOW_MAX_WORKERS": "5"}
    )
    assert (config.max_workers, config.sources["max_workers"]) == (6, "flag --workers")


def test_classic_environment_names(project: Path, tmp_path: Path) -> None:
    env = {
        "PROJECT_ROOT": str(project),
        "LOG_DIR": str(tmp_path / "logs"),
        "LOCK_DIR": str(tmp_path / "lk"),
        "WORKFLOW_TIMEOUT": "30",
    }
    config = load_config({}, env=env, cwd=tmp_path)
    assert config.project_root == project.resolve()
    assert config.log_dir == tmp_path / "logs"
    assert config.log_file == tmp_path / "logs" / "routine-workflow.log"
    assert config.lock_dir == tmp_path / "lk"
    assert config.workflow_timeout == 30.0
    # the prefixed name wins over the classic one
    env["ROUTINE_WORKFLOW_WORKFLOW_TIMEOUT"] = "5"
    assert load_config({}, env=env, cwd=tmp_path).workflow_timeout == 5.0


def test_relative_paths_in_pyproject_are_relative_to_root(project: Path, tmp_path: Path) -> None:
    _pyproject(project, 'dump_dir = "dumps"\nexclude_patterns = ["gen/", "*.pb.py"]')
    config = load_config({"project_root": project}, env={}, cwd=tmp_path)
    assert config.dump_dir == project.resolve() / "dumps"
    assert config.exclude_patterns == ("gen/", "*.pb.py")


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ("max_workers = -1", "max_workers: invalid value -1: must be at least 1"),
        ("max_workers = 'many'", "max_workers: invalid value 'many': expected an integer"),
        ("max_workers = true", "expected an integer"),
        ("workflow_timeout = -5", "workflow_timeout: invalid value -5: must be at least 0"),
        ("dry_run = 'sometimes'", "dry_run: invalid value 'sometimes': expected true or false"),
        ("exclude_patterns = 3", "exclude_patterns: invalid value 3: expected a list of strings"),
        ("reformat_engine = 'yapf'", "expected one of black, ruff"),
        ("colour = 'blue'", "unknown key 'colour'"),
        ("project_root = '/'", "unknown key 'project_root'"),
        ("clean_script = 'missing.sh'", "does not exist"),
        ("steps = 3", "steps must be a table"),
    ],
)
def test_bad_pyproject_values(project: Path, body: str, message: str) -> None:
    _pyproject(project, body)
    with pytest.raises(ConfigError, match=message.replace("(", r"\(").replace(")", r"\)")):
        load_config({"project_root": project}, env={})


def test_broken_toml_names_the_file(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine-workflow\nx = ")
    with pytest.raises(ConfigError, match=r"pyproject.toml: not valid TOML"):
        load_config({"project_root": project}, env={})


def test_missing_root_and_file_root(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="does not exist"):
        load_config({"project_root": tmp_path / "nope"}, env={})
    (tmp_path / "f").write_text("")
    with pytest.raises(ConfigError, match="is not a directory"):
        load_config({"project_root": tmp_path / "f"}, env={})


def test_refuses_home_and_filesystem_root(isolated_home: Path) -> None:
    for root in (isolated_home, Path("/")):
        with pytest.raises(ConfigError, match="refusing to treat"):
            load_config({"project_root": root}, env={})


# --- the same, through the real command line: exit 2, one line, no traceback -----------------

BAD_INVOCATIONS = [
    (["--workers", "-1"], "--workers: invalid value -1"),
    (["--workers", "0"], "--workers: invalid value 0"),
    (["--workers", "abc"], "'abc' is not a valid integer"),
    (["--workflow-timeout", "-1"], "--workflow-timeout: invalid value -1.0"),
    (["--workflow-timeout", "nan"], "expected a finite number"),
    (["--project-root", "does/not/exist"], "does not exist"),
    (["--clean-script", "missing.sh"], "--clean-script: "),
    (["--create-dump-script", "nope"], "--create-dump-script: "),
    (["--no-such-flag"], "--no-such-flag"),
    (["--steps", "frobnicate"], "--steps: unknown step 'frobnicate'"),
    (["--skip", "frobnicate"], "--skip: unknown step 'frobnicate'"),
    (["--log-format", "xml"], "'xml' is not one of"),
    (["--wait", "-3"], "--wait"),
    (["--quiet", "--verbose"], "cannot be used together"),
    (["history", "-n", "0"], "0 is not in the range"),
    (["nonsense-command"], "No such command"),
]


@pytest.mark.parametrize(("args", "message"), BAD_INVOCATIONS)
def test_bad_flags_exit_2_with_one_line(project: Path, args: list[str], message: str) -> None:
    result = run_cli([*args, "--dry-run"] if args[0].startswith("-") else args, project)
    assert result.returncode == 2, (result.stdout, result.stderr)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert message in lines[0]
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("env", "message"),
    [
        (
            {"ROUTINE_WORKFLOW_MAX_WORKERS": "-2"},
            "ROUTINE_WORKFLOW_MAX_WORKERS: invalid value '-2'",
        ),
        ({"ROUTINE_WORKFLOW_DRY_RUN": "maybe"}, "ROUTINE_WORKFLOW_DRY_RUN: invalid value 'maybe'"),
        ({"WORKFLOW_TIMEOUT": "soon"}, "WORKFLOW_TIMEOUT: invalid value 'soon'"),
        ({"PROJECT_ROOT": "/definitely/not/here"}, "PROJECT_ROOT: project root"),
    ],
)
def test_bad_environment_exit_2(project: Path, env: dict[str, str], message: str) -> None:
    result = run_cli(["--dry-run"], project, env=env)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [result.stderr.strip()]
    assert message in result.stderr


def test_bad_pyproject_through_cli(project: Path) -> None:
    _pyproject(project, "keep_backups = 0")
    for args in (["--dry-run"], ["config", "check"], ["config", "show"]):
        result = run_cli(args, project)
        assert result.returncode == 2
        assert "keep_backups: invalid value 0: must be at least 1" in result.stderr


def test_config_show_json_names_sources(project: Path) -> None:
    _pyproject(project, "keep_dumps = 9")
    result = run_cli(
        ["config", "show", "--json"], project, env={"ROUTINE_WORKFLOW_KEEP_BACKUPS": "4"}
    )
    shown = json.loads(result.stdout)
    assert shown["keep_dumps"] == {"value": 9, "source": "pyproject.toml"}
    assert shown["keep_backups"] == {"value": 4, "source": "env ROUTINE_WORKFLOW_KEEP_BACKUPS"}
    assert shown["project_root"]["source"] == "default"
    text = run_cli(["config", "show"], project)
    assert "keep_dumps" in text.stdout and "pyproject.toml" in text.stdout


def test_config_check_ok(project: Path) -> None:
    result = run_cli(["config", "check"], project)
    assert result.returncode == 0
    assert "is valid" in result.stdout


# -- checks made when the configuration is read (issue 12) ----------------------------------------


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ('on_failure = "notify \'oops"', "on_failure: invalid value"),
        ('on_success = "  "', "the command is empty"),
        ("workflow_timeout = nan", "expected a finite number"),
        ("script_timeout = inf", "expected a finite number"),
        ('log_dir = ""', "not an empty string"),
        ('backup_dir = "."', "is the project root"),
        ('history_db = "h.sqlite3"', "puts a file directly in the project root"),
        ('dump_dir = ".."', "contains the project"),
        ('lock_dir = "lk"', "must live outside the project"),
        ("keep_backup = 3", "did you mean 'keep_backups'?"),
    ],
)
def test_refused_when_read(project: Path, body: str, message: str) -> None:
    _pyproject(project, body)
    with pytest.raises(ConfigError) as caught:
        load_config({"project_root": project}, env={})
    assert message in str(caught.value)


def test_command_settings_keep_the_string(project: Path) -> None:
    _pyproject(project, "on_failure = \"notify-send 'it failed'\"")
    assert load_config({"project_root": project}, env={}).on_failure == "notify-send 'it failed'"


def test_relative_home_is_refused(project: Path) -> None:
    with pytest.raises(ConfigError, match="ROUTINE_WORKFLOW_HOME: 'rel' is not an absolute path"):
        load_config({"project_root": project}, env={"ROUTINE_WORKFLOW_HOME": "rel"})
    assert load_config({"project_root": project}, env={"ROUTINE_WORKFLOW_HOME": ""})


def test_near_misses_are_warnings(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.routine_workflow]\nkeep_backups = 3\n[routine-workflow]\nx = 1\n"
    )
    env = {"ROUTINE_WORKFLOW_KEEP_BACKUP": "3", "ROUTINE_WORKFLOW_STATUS": "ok"}
    warnings = load_config({"project_root": project}, env=env).warnings
    assert warnings == (
        "pyproject.toml: [tool.routine_workflow] is not read; did you mean "
        "[tool.routine-workflow]?",
        "pyproject.toml: [routine-workflow] is not read; did you mean [tool.routine-workflow]?",
        "environment variable ROUTINE_WORKFLOW_KEEP_BACKUP is not a setting and is ignored; "
        "did you mean ROUTINE_WORKFLOW_KEEP_BACKUPS?",
    )


def test_own_dirs_include_the_log_file_and_history_directories(project: Path) -> None:
    _pyproject(project, 'log_file = "logs/run.log"\nhistory_db = ".state/h.sqlite3"')
    config = load_config({"project_root": project}, env={})
    assert project / "logs" in config.own_dirs() and project / ".state" in config.own_dirs()


def test_a_runs_config_warnings_reach_its_log_file_once(project: Path, tmp_path: Path) -> None:
    # cron mails stderr once and it is gone; the log is where an unattended run is read.
    (project / "pyproject.toml").write_text("[tool.routine_workflow]\nkeep_backups = 3\n")
    log = tmp_path / "run.log"
    done = run_cli(["--yes", "--steps", "clean_caches", "--log-file", str(log)], project)
    assert done.returncode == 0, done.stderr
    said = "[tool.routine_workflow] is not read"
    assert done.stderr.count(said) == 1
    assert log.read_text().count(said) == 1
