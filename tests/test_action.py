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


# The install step runs pip: minutes on a loaded machine or a cold cache, never a hang.
pytestmark = pytest.mark.timeout(600)


def _action() -> dict[str, Any]:
    data: dict[str, Any] = yaml.safe_load((REPO / "action.yml").read_text())
    return data


def _step(name_part: str) -> dict[str, Any]:
    return next(s for s in _action()["runs"]["steps"] if name_part in s.get("name", ""))


def _expand(value: str, inputs: dict[str, str], env: dict[str, str] | None = None) -> str:
    """GitHub's ``${{ inputs.X }}`` and ``${{ runner.temp }}`` substitution (the only
    expressions our env values use)."""
    value = re.sub(r"\$\{\{\s*inputs\.([\w-]+)\s*\}\}", lambda m: inputs[m.group(1)], value)
    if env is not None:
        value = re.sub(r"\$\{\{\s*runner\.temp\s*\}\}", lambda _: env["RUNNER_TEMP"], value)
    assert "${{" not in value, f"an expression the test cannot expand: {value}"
    return value


def _run_step(
    step: dict[str, Any], inputs: dict[str, str], env: dict[str, str], cwd: Path
) -> subprocess.CompletedProcess[str]:
    assert step["shell"] == "bash"
    assert "${{" not in step["run"], "inputs must reach scripts through env, never pasted in"
    step_env = {k: _expand(str(v), inputs, env) for k, v in step.get("env", {}).items()}
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
    (tmp / "install-output").touch()
    env = {
        **os.environ,
        "GITHUB_ACTION_PATH": str(action_path),
        "RUNNER_TEMP": str(tmp),
        "GITHUB_PATH": str(github_path),
        "GITHUB_OUTPUT": str(tmp / "install-output"),
        # as if setup-python had put this Python first on PATH
        "PATH": str(Path(sys.executable).parent) + os.pathsep + os.environ["PATH"],
    }
    inputs = {
        "args": "reformat --check",
        "python-version": "3.12",
        "working-directory": ".",
        "cache": "true",
    }
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


# --- outputs, job summary, caches ---------------------------------------------------------------


def _uses(step: dict[str, Any]) -> str:
    return str(step.get("uses", ""))


def test_action_yaml_wires_outputs_and_caches() -> None:
    action = _action()
    steps = action["runs"]["steps"]
    ids = {s["id"] for s in steps if "id" in s}
    assert {"keys", "install", "run", "venv-cache"} <= ids
    for name in ("exit-code", "report", "changed-files"):
        assert action["outputs"][name]["value"] == f"${{{{ steps.run.outputs.{name} }}}}"
        assert action["outputs"][name]["description"]
    assert action["inputs"]["cache"]["default"] == "true"
    for step in steps:
        if "uses" in step:  # pinned to a major version, never a moving branch
            assert re.fullmatch(r"actions/[\w/-]+@v\d+", _uses(step)), step
    restores = [s for s in steps if _uses(s).startswith("actions/cache/restore")]
    saves = [s for s in steps if _uses(s).startswith("actions/cache/save")]
    assert len(restores) == len(saves) == 2
    for restore, save in zip(restores, saves, strict=True):
        assert restore["with"]["path"] == save["with"]["path"]
        assert restore["with"]["key"] == save["with"]["key"]
        assert "inputs.cache == 'true'" in restore["if"] and "inputs.cache == 'true'" in save["if"]
    venv, reformat_cache = (s["with"]["path"] for s in saves)
    assert venv.endswith("/routine-workflow-venv")
    # the reformat cache is saved even when the check fails (the usual reason to look)
    assert saves[1]["if"].startswith("always()")
    assert "restore-keys" in restores[1]["with"]
    # ...and it is the directory the run points the tool's cache at
    assert _step("routine-workflow ${{")["env"]["ROUTINE_WORKFLOW_CACHE_DIR"] == reformat_cache
    order = [s.get("id") or _uses(s) for s in steps]
    assert order.index("install") < order.index("run")


def _keys(env: dict[str, str], inputs: dict[str, str], cwd: Path, tmp: Path) -> dict[str, str]:
    out = tmp / "keys-output"
    out.write_text("")
    result = _run_step(_step("Cache keys"), inputs, {**env, "GITHUB_OUTPUT": str(out)}, cwd)
    assert result.returncode == 0, result.stderr
    return dict(line.split("=", 1) for line in out.read_text().splitlines())


@pytest.mark.slow
def test_cache_keys_follow_the_configuration_and_nothing_else(
    installed: tuple[dict[str, str], dict[str, str]], project: Path, tmp_path: Path
) -> None:
    env, inputs = installed
    env = {**env, "RUNNER_OS": "Linux"}
    first = _keys(env, inputs, project, tmp_path)
    assert first == _keys(env, inputs, project, tmp_path)  # stable
    (project / "a.py").write_text("x = 1\n")  # a source file: same keys
    assert first == _keys(env, inputs, project, tmp_path)
    (project / "pyproject.toml").write_text("[tool.black]\nline-length = 100\n")
    changed = _keys(env, inputs, project, tmp_path)
    assert changed["venv-key"] == first["venv-key"]
    assert changed["reformat-prefix"] != first["reformat-prefix"]


@pytest.mark.slow
def test_a_restored_virtualenv_is_used_without_installing(
    installed: tuple[dict[str, str], dict[str, str]], tmp_path: Path
) -> None:
    env, inputs = installed
    out = tmp_path / "output"
    out.write_text("")
    again = _run_step(_step("Install"), inputs, {**env, "GITHUB_OUTPUT": str(out)}, tmp_path)
    assert again.returncode == 0, again.stderr
    assert "virtualenv restored from the cache" in again.stdout
    assert re.fullmatch(r"tools=[0-9a-f]{16}", out.read_text().strip())


@pytest.mark.slow
def test_run_step_sets_outputs_writes_the_summary_and_fills_the_cache(
    installed: tuple[dict[str, str], dict[str, str]], project: Path, tmp_path: Path
) -> None:
    env, inputs = installed
    (project / "ugly.py").write_text("x=1\n")
    out, summary = tmp_path / "output", tmp_path / "summary.md"
    out.write_text("")
    summary.write_text("")
    runner = {
        **env,
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(project),
        "GITHUB_OUTPUT": str(out),
        "GITHUB_STEP_SUMMARY": str(summary),
    }
    result = _run_step(_step("routine-workflow ${{"), inputs, runner, project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert "::error title=routine-workflow,file=ugly.py,line=1::ugly.py would be reformatted" in (
        result.stdout
    )
    outputs = dict(line.split("=", 1) for line in out.read_text().splitlines())
    assert outputs["exit-code"] == "1"
    assert json.loads(outputs["changed-files"]) == ["ugly.py"]
    assert json.loads(Path(outputs["report"]).read_text())["changed_files"] == ["ugly.py"]
    assert "| `ugly.py` | would change |" in summary.read_text()
    cache = Path(env["RUNNER_TEMP"], "routine-workflow-reformat-cache")
    assert (cache / "reformat-cache.json").is_file()
