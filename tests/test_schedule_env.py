"""Scheduled runs share the installing user's state, and steps find their commands under cron.

Cron and systemd start jobs with almost no environment: ``HOME``, ``LOGNAME``,
``SHELL`` and ``PATH=/usr/bin:/bin``; no ``ROUTINE_WORKFLOW_HOME``, no ``XDG_*``.
"""

from __future__ import annotations

import json
import os
import shlex
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli

STEPS_ONLY = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "reformat", "clean_caches", "dumps")
)


def _cron_env(home: Path) -> dict[str, str]:
    """What cron gives a job: a handful of variables, none of the login shell's."""
    return {
        "HOME": str(home),
        "LOGNAME": os.environ.get("LOGNAME", "user"),
        "SHELL": "/bin/sh",
        "PATH": "/usr/bin:/bin",
    }


def _cron_command(line: str) -> str:
    command = line.split(None, 1 if line.startswith("@") else 5)[-1]
    return command.replace("\\%", "%")


def _install_cron(project: Path, crontab: Path, env: dict[str, str]) -> str:
    result = run_cli(
        ["schedule", "install", "--cron", "@daily", "--crontab-file", str(crontab)],
        project,
        env=env,
    )
    assert result.returncode == 0, result.stderr
    return crontab.read_text().splitlines()[0]


def _run_like_cron(line: str, home: Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        ["/bin/sh", "-c", _cron_command(line)],
        cwd="/",
        env=_cron_env(home),
        capture_output=True,
        text=True,
        timeout=120,
    )


def _backups(project: Path, env: dict[str, str]) -> list[str]:
    listed = run_cli(["backup", "list", "--json"], project, env=env)
    assert listed.returncode == 0, listed.stderr
    return [entry["path"] for entry in json.loads(listed.stdout)]


def _interactive_sees_the_scheduled_run(project: Path, env: dict[str, str]) -> None:
    runs = json.loads(run_cli(["history", "--json"], project, env=env).stdout)
    assert [r["exit_code"] for r in runs] == [0]
    assert len(_backups(project, env)) == 1


@pytest.mark.slow
@pytest.mark.parametrize("how", ["xdg", "routine_workflow_home"])
def test_cron_run_uses_the_installing_users_state(
    project: Path, tmp_path: Path, isolated_home: Path, how: str
) -> None:
    (project / "pyproject.toml").write_text(STEPS_ONLY)
    # "xdg": the platform directories come from XDG_* variables cron does not set.
    env = {"ROUTINE_WORKFLOW_HOME": ""} if how == "xdg" else {}
    line = _install_cron(project, tmp_path / "crontab", env)
    result = _run_like_cron(line, isolated_home)
    assert result.returncode == 0, result.stderr
    assert result.stdout == result.stderr == ""
    _interactive_sees_the_scheduled_run(project, env)


def _systemd_words(text: str) -> list[str]:
    # Enough of systemd's unquoting for our own units: quotes, \\ and \", %% and $$.
    return [w.replace("%%", "%") for w in shlex.split(text)]


def _run_like_systemd(unit: str, home: Path) -> subprocess.CompletedProcess[str]:
    env = _cron_env(home)
    argv: list[str] = []
    for line in unit.splitlines():
        key, _, value = line.partition("=")
        if key == "Environment":
            env.update(word.split("=", 1) for word in _systemd_words(value))  # type: ignore[misc]
        elif key == "ExecStart":
            argv = [w.replace("$$", "$") for w in _systemd_words(value)]
    return subprocess.run(argv, cwd="/", env=env, capture_output=True, text=True, timeout=120)


@pytest.mark.slow
def test_systemd_run_uses_the_installing_users_state(
    project: Path, tmp_path: Path, isolated_home: Path
) -> None:
    (project / "pyproject.toml").write_text(STEPS_ONLY)
    env = {"ROUTINE_WORKFLOW_HOME": ""}
    units = tmp_path / "units"
    installed = run_cli(
        ["schedule", "install", "--systemd", "--cron", "@daily", "--unit-dir", str(units)],
        project,
        env=env,
    )
    assert installed.returncode == 0, installed.stderr
    [service] = units.glob("*.service")
    result = _run_like_systemd(service.read_text(), isolated_home)
    assert result.returncode == 0, result.stderr
    _interactive_sees_the_scheduled_run(project, env)


def test_state_dirs_given_in_the_environment_are_pinned(project: Path, tmp_path: Path) -> None:
    backups = tmp_path / "my backups"
    line = _install_cron(
        project, tmp_path / "crontab", {"ROUTINE_WORKFLOW_BACKUP_DIR": str(backups)}
    )
    assert f"ROUTINE_WORKFLOW_BACKUP_DIR={shlex.quote(str(backups))}" in line


def test_state_dirs_from_pyproject_are_left_to_pyproject(project: Path, tmp_path: Path) -> None:
    # pyproject.toml is read again at every run: a change there must reach the schedule too.
    (project / "pyproject.toml").write_text('[tool.routine-workflow]\nbackup_dir = "../bk"\n')
    line = _install_cron(project, tmp_path / "crontab", {})
    assert "BACKUP_DIR" not in line


# -- commands a step cannot find -----------------------------------------------------------------

STEP_ONLY = STEPS_ONLY + "[tool.routine-workflow.steps.backup]\nenabled = false\n"


def _json(result: subprocess.CompletedProcess[str]) -> dict:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def test_command_not_found_is_an_ordinary_failure(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        STEP_ONLY
        + '[tool.routine-workflow.steps.x]\nrun = ["nosuchcmd", "-v"]\nretries = 1\n'
        + "retry_delay = 0\n"
    )
    result = run_cli(["--yes", "--json"], project, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 1, result.stderr
    [step] = _json(result)["steps"]
    assert step["status"] == "failed"
    assert step["summary"] == "attempt 2: command not found: nosuchcmd"
    assert step["counts"]["attempts"] == 2
    assert "Traceback" not in result.stderr and "internal error" not in result.stderr
    log = next(Path(os.environ["ROUTINE_WORKFLOW_HOME"]).rglob("routine-workflow.log"))
    assert "Traceback" not in log.read_text()


def test_command_not_found_may_be_allowed_to_fail(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        STEP_ONLY + '[tool.routine-workflow.steps.x]\nrun = "nosuchcmd"\nallow_failure = true\n'
    )
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 0, result.stderr
    assert _json(result)["steps"][0]["allowed_failure"] is True


def test_hook_not_found_is_one_warning(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow]\non_failure = "nosuchhook --now"\n'
        + STEP_ONLY
        + '[tool.routine-workflow.steps.x]\nrun = "false"\n'
    )
    result = run_cli(["--yes"], project)
    assert result.returncode == 1, result.stderr
    [warning] = [line for line in result.stderr.splitlines() if "warning: hook" in line]
    assert "command not found: nosuchhook" in warning
    assert "Traceback" not in result.stderr


def test_steps_find_the_tools_own_environment_first(project: Path) -> None:
    # Like tox, nox and pre-commit: `python` in a step is the Python of the environment
    # routine-workflow is installed in, even under cron's PATH.
    (project / "pyproject.toml").write_text(
        STEP_ONLY
        + "[tool.routine-workflow.steps.x]\n"
        + 'run = ["python", "-c", "import sys; open(\'prefix\', \'w\').write(sys.prefix)"]\n'
    )
    result = run_cli(["--yes"], project, env={"PATH": "/usr/bin:/bin"})
    assert result.returncode == 0, result.stderr
    assert (project / "prefix").read_text() == sys.prefix


def test_script_whose_interpreter_is_missing_fails_in_one_line(
    project: Path, tmp_path: Path
) -> None:
    script = tmp_path / "clean.sh"
    script.write_text("#!/nonexistent/interpreter\n")
    script.chmod(0o755)
    result = run_cli(
        ["--yes", "--json", "--steps", "clean_caches", "--clean-script", str(script)], project
    )
    assert result.returncode == 1, result.stderr
    [step] = _json(result)["steps"]
    assert step["summary"] == (
        f"{script}: cannot run {script}: the interpreter on its #! line was not found"
    )
    assert "Traceback" not in result.stderr
