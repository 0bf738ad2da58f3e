"""``routine-workflow pre-commit install``: our hook added to .pre-commit-config.yaml, every
other byte kept, idempotent; run by the real pre-commit afterwards."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from helpers import run_cli

REPO = Path(__file__).resolve().parents[1]
HOOK = "routine-workflow-reformat"

HEAD = """\
# Our hooks. Keep this comment!
default_language_version:
    python: python3   # pinned on purpose

repos:
    -   repo: https://github.com/pre-commit/pre-commit-hooks
        rev: v4.6.0   # the last one that works for us
        hooks:
            -   id: trailing-whitespace
"""
TAIL = """
    # a commented-out hook stays commented out
    # -   repo: https://example.org/off

# CI settings follow
ci:
    autofix_prs: false
"""
EXISTING = HEAD + TAIL


def _install(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["pre-commit", "install", *extra], root)


def _hooks(path: Path) -> list[dict]:
    data = yaml.safe_load(path.read_text())
    return [hook for repo in data["repos"] for hook in repo.get("hooks", [])]


def test_creates_the_file_with_the_hook_we_publish(project: Path) -> None:
    result = _install(project)
    assert result.returncode == 0, result.stderr
    assert "created" in result.stdout and "pre-commit install" in result.stdout
    [hook] = _hooks(project / ".pre-commit-config.yaml")
    published = {h["id"]: h for h in yaml.safe_load((REPO / ".pre-commit-hooks.yaml").read_text())}
    # the published hook, as a local hook using the routine-workflow installed here
    assert hook["language"] == "system"
    for key in ("id", "name", "entry", "types_or", "require_serial"):
        assert hook[key] == published[HOOK][key]


def test_keeps_every_byte_of_an_existing_file_and_is_idempotent(project: Path) -> None:
    path = project / ".pre-commit-config.yaml"
    path.write_text(EXISTING)
    first = _install(project)
    assert first.returncode == 0, first.stderr
    text = path.read_text()
    # the old text is all there, in order, with the entry after the last list item,
    # indented like the others, before the comments and keys that follow
    assert text.startswith(HEAD + "    - repo: local\n      hooks:\n")
    assert text.endswith(TAIL)
    assert [h["id"] for h in _hooks(path)] == ["trailing-whitespace", HOOK]
    assert yaml.safe_load(text)["ci"] == {"autofix_prs": False}
    again = _install(project)
    assert again.returncode == 0 and "already has" in again.stdout
    assert path.read_text() == text
    check = _install(project, "--check")
    assert check.returncode == 0
    assert [h["id"] for h in _hooks(path)][-1] == "routine-workflow-reformat-check"


def test_crlf_and_a_file_without_repos(project: Path) -> None:
    path = project / ".pre-commit-config.yaml"
    path.write_bytes(b"# only a comment\r\nfail_fast: true")
    assert _install(project).returncode == 0
    data = path.read_bytes()
    assert data.startswith(b"# only a comment\r\nfail_fast: true\r\nrepos:\r\n")
    assert b"\n" not in data.replace(b"\r\n", b"")
    assert [h["id"] for h in _hooks(path)] == [HOOK]


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ("repos: [{repo: local, hooks: []}]\n", "add it by hand"),
        ("repos:\n  - repo: x\n   bad: [\n", "not valid YAML"),
        ("- just\n- a list\n", "expected a mapping"),
    ],
)
def test_a_file_it_cannot_edit_safely_is_left_alone(
    project: Path, content: str, message: str
) -> None:
    path = project / ".pre-commit-config.yaml"
    path.write_text(content)
    result = _install(project)
    assert result.returncode == 2
    assert len(result.stderr.splitlines()) == 1 and message in result.stderr
    assert path.read_text() == content


def test_a_symlinked_config_stays_a_symlink(project: Path, tmp_path: Path) -> None:
    real = tmp_path / "shared-pre-commit.yaml"
    real.write_text("repos:\n- repo: local\n  hooks: []\n")
    (project / ".pre-commit-config.yaml").symlink_to(real)
    assert _install(project).returncode == 0
    assert (project / ".pre-commit-config.yaml").is_symlink()
    assert real.read_text().startswith("repos:\n- repo: local\n  hooks: []\n- repo: local\n")


def test_the_original_install_flag_does_the_same(project: Path) -> None:
    result = run_cli(["-p", str(project), "--install-pre-commit"], project.parent)
    assert result.returncode == 0, result.stderr
    assert [h["id"] for h in _hooks(project / ".pre-commit-config.yaml")] == [HOOK]


@pytest.mark.slow
@pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None, reason="pre-commit is not installed"
)
def test_the_real_pre_commit_runs_the_installed_hook(project: Path, tmp_path: Path) -> None:
    env = {
        **os.environ,
        "PATH": str(Path(sys.executable).absolute().parent) + os.pathsep + os.environ["PATH"],
        "PRE_COMMIT_HOME": str(tmp_path / "pre-commit-cache"),
        "GIT_CONFIG_NOSYSTEM": "1",
    }
    subprocess.run(["git", "init", "-q"], cwd=project, check=True, env=env)
    (project / "m.py").write_text("import os\nx = {  'a':1 }\n")
    assert _install(project).returncode == 0
    subprocess.run(["git", "add", "-A"], cwd=project, check=True, env=env)
    run = subprocess.run(
        [sys.executable, "-m", "pre_commit", "run", "--all-files"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert run.returncode == 1, run.stdout + run.stderr  # it rewrote the file: commit stops
    assert (project / "m.py").read_text() == 'x = {"a": 1}\n'
