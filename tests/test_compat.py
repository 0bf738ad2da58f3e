"""Command lines and settings written for the original routine-workflow (10.x) keep working.

Every test runs the real command, as an old crontab line would (docs/migrating.md).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.cli.legacy import translate


def _settings(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> dict[str, dict]:
    result = run_cli([*args, "config", "show", "--json"], cwd, env=env)
    assert result.returncode == 0, result.stderr
    settings: dict[str, dict] = json.loads(result.stdout)
    return settings


def _step_names(result_stdout: str) -> list[str]:
    return [step["name"] for step in json.loads(result_stdout)["steps"]]


def test_the_original_short_flags_set_the_same_settings(project: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    settings = _settings(
        ["-p", str(project), "-l", str(logs), "-t", "30", "-w", "2", "-d"], tmp_path
    )
    assert settings["project_root"]["value"] == str(project)
    assert settings["log_dir"] == {"value": str(logs), "source": "flag --log-dir"}
    assert settings["workflow_timeout"]["value"] == 30
    assert settings["max_workers"] == {"value": 2, "source": "flag --workers"}
    assert settings["dry_run"]["value"] is True


def test_dash_j_is_jobs_not_workers(project: Path) -> None:
    settings = _settings(["-j", "3"], project)
    assert settings["max_workers"]["source"] == "default"
    # One project: --jobs does nothing, and says so rather than pass unseen.
    result = run_cli(["-j", "3", "--dry-run", "--steps", "clean_caches"], project)
    assert result.returncode == 0, result.stderr
    assert "--jobs only applies to several projects" in result.stderr


def test_dash_nd_is_a_real_run_even_over_a_dry_run_pyproject(project: Path) -> None:
    (project / "pyproject.toml").write_text("[tool.routine-workflow]\ndry_run = true\n")
    cache = project / "pkg" / "__pycache__"
    cache.mkdir(parents=True)
    (cache / "m.cpython-312.pyc").write_bytes(b"x")
    dry = run_cli(["-y", "-s", "clean"], project)
    assert dry.returncode == 0, dry.stderr
    assert cache.exists()
    real = run_cli(["-nd", "-y", "-s", "clean"], project)
    assert real.returncode == 0, real.stderr
    assert not cache.exists()


def test_a_space_separated_step_list_and_old_step_names(project: Path) -> None:
    result = run_cli(
        ["-d", "--json", "-s", "create_dump", "clean", "backup", "delete_dump"], project
    )
    assert result.returncode == 0, result.stderr
    # our order (the DAG's), each once, whatever order the old line gave
    assert _step_names(result.stdout) == ["prune_dumps", "backup", "clean_caches", "dumps"]
    comma = run_cli(["-d", "--json", "--steps", "reformat_code,dump", "--skip", "dump"], project)
    assert comma.returncode == 0, comma.stderr
    assert _step_names(comma.stdout) == ["reformat"]


def test_old_check_step_names_mean_our_check_steps(project: Path) -> None:
    # `tests` and `git_snapshot` are optional steps: whether or not this build has them,
    # the old name is read as ours, never as a name of its own.
    for old, new in (("pytest", "tests"), ("git", "git_snapshot")):
        result = run_cli(["-d", "--json", "-s", old], project)
        if result.returncode == 0:
            assert _step_names(result.stdout) == [new]
        else:
            assert result.returncode == 2 and f"unknown step {new!r}" in result.stderr


def test_a_project_step_named_like_an_old_alias_wins(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.clean]\nrun = "python -c pass"\n'
    )
    result = run_cli(["-d", "--json", "-s", "clean"], project)
    assert result.returncode == 0, result.stderr
    assert _step_names(result.stdout) == ["clean"]


def test_old_multi_word_lists_and_the_remainder_dump_command(project: Path) -> None:
    settings = _settings(["--exclude-patterns", "build/*", "docs/*"], project)
    assert settings["exclude_patterns"]["value"] == ["build/*", "docs/*"]
    # argparse REMAINDER: the rest of the line is the command, none of it our flags
    args = ["-d", "--json", "-s", "dump", "--create-dump-run-cmd", "python", "mk.py"]
    result = run_cli([*args, "--dirs", "a b", "-y"], project)
    assert result.returncode == 0, result.stderr
    summary = json.loads(result.stdout)["steps"][0]["summary"]
    assert summary == "dry run: would run python mk.py --dirs 'a b' -y"


@pytest.mark.parametrize(
    ("flag", "hint"),
    [
        ("-es", "[tool.routine-workflow.steps.security] enabled = true"),
        ("--enable-dep-audit", "[tool.routine-workflow.steps.audit] enabled = true"),
        ("--git-push", "push = true"),
        ("--test-cov-threshold=80", "coverage_threshold"),
        ("-i", "config init"),
    ],
)
def test_a_flag_that_asked_for_work_done_differently_here_is_refused(
    project: Path, flag: str, hint: str
) -> None:
    result = run_cli(["-nd", "-y", flag], project)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1
    assert hint in result.stderr and "docs/migrating.md" in result.stderr


def test_lock_ttl_is_ignored_with_a_note_and_profile_is_ours(project: Path) -> None:
    result = run_cli(["--lock-ttl", "3600", "--profile", "-d", "-s", "clean"], project)
    assert result.returncode == 0, result.stderr
    assert "warning: --lock-ttl is ignored" in result.stderr
    assert "--profile" not in result.stderr
    assert "profile:" in result.stdout


def test_old_variables_are_read_or_named(project: Path) -> None:
    settings = _settings([], project, env={"FAIL_ON_BACKUP": "1"})
    assert settings["fail_on_backup"] == {"value": True, "source": "env FAIL_ON_BACKUP"}
    result = run_cli(["-d", "-s", "clean"], project, env={"ENABLE_SECURITY": "1"})
    assert result.returncode == 0
    assert "ENABLE_SECURITY is not read" in result.stderr
    assert "[tool.routine-workflow.steps.security]" in result.stderr


def test_log_level_sets_what_the_console_shows(project: Path) -> None:
    quiet = run_cli(["-d", "-s", "clean", "--log-level", "WARNING"], project)
    normal = run_cli(["-d", "-s", "clean"], project)
    debug = run_cli(["-d", "-s", "clean"], project, env={"ROUTINE_WORKFLOW_LOG_LEVEL": "debug"})
    assert quiet.returncode == normal.returncode == debug.returncode == 0
    assert "run " in normal.stderr and "run " not in quiet.stderr
    assert len(debug.stderr) > len(normal.stderr)
    # -v is the more specific request: it wins over a log_level from any layer
    verbose = run_cli(["-d", "-s", "clean", "--log-level", "warning", "-v"], project)
    assert len(verbose.stderr) >= len(debug.stderr) - 200
    bad = run_cli(["--log-level", "loud"], project)
    assert bad.returncode == 2 and "--log-level" in bad.stderr


def test_log_level_in_pyproject_takes_the_original_upper_case(project: Path) -> None:
    # The original's pyproject said log_level = "INFO", as logging spells it.
    with (project / "pyproject.toml").open("a") as handle:
        handle.write('[tool.routine-workflow]\nlog_level = "WARNING"\n')
    quiet = run_cli(["-d", "-s", "clean"], project)
    assert quiet.returncode == 0, quiet.stderr
    assert "run " not in quiet.stderr
    shown = run_cli(["config", "show", "--json"], project)
    assert json.loads(shown.stdout)["log_level"]["value"] == "warning"


@pytest.mark.slow
def test_log_rotation_is_configurable(project: Path, tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    (project / "pyproject.toml").write_text(
        f"[tool.routine-workflow]\nlog_dir = '{logs}'\nlog_max_bytes = 1500\n"
        "log_backup_count = 2\n"
    )
    for _ in range(6):
        assert run_cli(["-d", "-s", "clean"], project).returncode == 0
    names = sorted(p.name for p in logs.iterdir())
    assert names == ["routine-workflow.log", "routine-workflow.log.1", "routine-workflow.log.2"]
    old = run_cli(["--log-rotation-backup-count", "3", "config", "show", "--json"], project)
    assert json.loads(old.stdout)["log_backup_count"]["value"] == 3
    zero = run_cli(["--log-max-bytes", "0", "-d"], project)
    assert zero.returncode == 2 and "--log-max-bytes" in zero.stderr


def test_translation_stops_at_a_subcommand_and_keeps_option_values() -> None:
    subcommands = {"backup", "reformat", "steps", "config"}
    args, notes = translate(["-s", "reformat", "backup", "steps"], {"-p"}, subcommands)
    assert args == ["--steps", "reformat,backup", "steps"] and notes == []
    # a value that looks like a subcommand is still the option's value
    args, _ = translate(["-p", "steps", "config", "show", "-s", "x"], {"-p"}, subcommands)
    assert args == ["-p", "steps", "config", "show", "-s", "x"]
    args, _ = translate(["--create-dump-run-cmd", "make dump", "steps"], set(), subcommands)
    assert args == ["--create-dump-run-cmd", "make dump", "steps"]
    args, _ = translate(["-p", "x", "--install-pre-commit"], {"-p"}, subcommands)
    assert args == ["-p", "x", "pre-commit", "install"]
