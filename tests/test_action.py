"""The composite GitHub Action in ``action.yml``: its steps run as a runner would run them."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

yaml = pytest.importorskip("yaml", reason="PyYAML comes with pre-commit (requirements-dev.txt)")

REPO = Path(__file__).resolve().parents[1]


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text())
    return data


def _step(name_part: str) -> dict[str, Any]:
    return next(s for s in _action()["runs"]["steps"] if name_part in s.get("name", ""))


def _expand(value: str, inputs: dict[str, str]) -> str:
    """GitHub's ``${{ inputs.X }}`` substitution (the only expression our env values use)."""
    return re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)


def _run_step(
    step: dict[str, Any], inputs: dict[str, str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    assert step["shell"] == "bash"
    assert "${{" not in step["run"], "inputs must reach scripts through env, never pasted in"
    step_env = {k: _expand(str(v), inputs) for k, v in step.get("env", {}).items()}
    return subprocess.run(
        ["bash", "-e", "-c", step["run"]],
        cwd=cwd,
        env={**env, **step_env},
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_action_is_a_composite_with_documented_inputs() -> None:
    action = _action()
    assert action["runs"]["using"] == "composite"
    assert action["inputs"]["args"]["default"] == "reformat --check"
    assert all("description" in spec for spec in action["inputs"].values())
    assert all(s.get("shell") == "bash" for s in action["runs"]["steps"] if "run" in s)


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> tuple[dict[str, str], dict[str, str]]:
    """The install step, run once: the action's own checkout installed into a fresh venv."""
    tmp = tmp_path_factory.mktemp("action")
    action_path = tmp / "action"  # the working tree as the runner would check it out
    shutil.copytree(
        REPO,
        action_path,
        ignore=shutil.ignore_patterns(
            ".git",
            ".ci-venv",
            ".venv",
            "build",
            "dist",
            "*.egg-info",
            "__pycache__",
            ".*_cache",
            "htmlcov",
            ".coverage*",
        ),
    )
    github_path = tmp / "github_path"
    github_path.touch()
    env = {
        **os.environ,
        "GITHUB_ACTION_PATH": str(action_path),
        "RUNNER_TEMP": str(tmp),
        "GITHUB_PATH": str(github_path),
        # as if setup-python had put this Python first on PATH
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    }
    inputs = {"args": "reformat --check", "python-version": "3.12", "working-directory": "."}
    result = _run_step(_step("Install"), inputs, env, tmp)
    assert result.returncode == 0, result.stdout + result.stderr
    added = github_path.read_text().split()
    assert len(added) == 1 and Path(added[0], "routine-workflow").exists()
    env["PATH"] = (
        added[0] + os.pathsep + os.environ["PATH"]
    )  # what GITHUB_PATH does for later steps
    return env, inputs


@pytest.mark.slow
def test_action_installs_and_runs_with_args(
    installed: tuple[dict[str, str], dict[str, str]], project: Path
) -> None:
    env, inputs = installed
    run = _step("routine-workflow ${{ inputs.args }}")
    listed = _run_step(run, {**inputs, "args": "steps --json"}, env, project)
    assert listed.returncode == 0, listed.stderr
    assert "prune_dumps" in [s["name"] for s in json.loads(listed.stdout)]
    quoted = _run_step(
        run, {**inputs, "args": "--exclude-patterns 'my dir' config show --json"}, env, project
    )
    assert quoted.returncode == 0, quoted.stderr
    assert json.loads(quoted.stdout)["exclude_patterns"]["value"] == [
        "my dir"
    ]  # one word, as quoted


@pytest.mark.slow
def test_action_exit_code_fails_the_step(
    installed: tuple[dict[str, str], dict[str, str]], project: Path
) -> None:
    env, inputs = installed
    run = _step("routine-workflow ${{ inputs.args }}")
    bad = _run_step(run, {**inputs, "args": "--workers 0"}, env, project)
    assert bad.returncode == 2 and "--workers" in bad.stderr


@pytest.mark.slow
def test_action_args_cannot_inject_commands(
    installed: tuple[dict[str, str], dict[str, str]], project: Path
) -> None:
    env, inputs = installed
    run = _step("routine-workflow ${{ inputs.args }}")
    hostile = _run_step(
        run, {**inputs, "args": "config check; touch pwned $(touch pwned2)"}, env, project
    )
    assert hostile.returncode == 2
    assert not (project / "pwned").exists() and not (project / "pwned2").exists()
