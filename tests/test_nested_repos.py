"""Git submodules and nested git repositories: someone else's code, pinned by commit.

Reformat and dumps leave them out (``include_nested_repos = true`` lets them in);
the backup keeps them, being a restore point of the whole tree.
"""

from __future__ import annotations

import json
import subprocess
import tarfile
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.discovery import Discovery

GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.invalid",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
    "-c",
    "protocol.file.allow=always",  # a submodule cloned from a local path
]
UGLY = "import os\nx=1\n"
PRETTY = "x = 1\n"


def git(cwd: Path, *args: str) -> str:
    return subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True, text=True).stdout


@pytest.fixture
def outer(tmp_path: Path) -> Path:
    """A committed project with a submodule at lib/sub and an uncommitted nested repository
    at vendor/other, each holding an unformatted file, as the project itself does."""
    upstream = tmp_path / "upstream"
    upstream.mkdir()
    (upstream / "theirs.py").write_text(UGLY)
    git(upstream, "init", "-q")
    git(upstream, "add", "-A")
    git(upstream, "commit", "-q", "-m", "upstream")
    root = tmp_path / "project"
    (root / "src").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / "src" / "mine.py").write_text(UGLY)
    git(root, "init", "-q")
    git(root, "submodule", "add", "-q", str(upstream), "lib/sub")
    nested = root / "vendor" / "other"
    nested.mkdir(parents=True)
    (nested / "vendored.py").write_text(UGLY)
    git(nested, "init", "-q")
    (root / ".gitignore").write_text("")
    git(root, "add", "src", "pyproject.toml", ".gitignore")
    git(root, "commit", "-q", "-m", "project")
    return root


def test_reformat_leaves_submodules_and_nested_repositories_alone(outer: Path) -> None:
    result = run_cli(["reformat"], outer)
    assert result.returncode == 0, result.stderr
    assert (outer / "src" / "mine.py").read_text() == PRETTY
    assert (outer / "lib" / "sub" / "theirs.py").read_text() == UGLY
    assert (outer / "vendor" / "other" / "vendored.py").read_text() == UGLY
    assert git(outer / "lib" / "sub", "status", "--porcelain") == ""
    assert "lib/sub" not in git(outer, "status", "--porcelain")
    # The files are not counted: they are not the project's.
    assert run_cli(["reformat", "--check"], outer).returncode == 0


@pytest.mark.parametrize("how", ["pyproject", "environment"])
def test_include_nested_repos_lets_them_in(outer: Path, how: str) -> None:
    env = {}
    if how == "pyproject":
        with (outer / "pyproject.toml").open("a") as handle:
            handle.write("\n[tool.routine-workflow]\ninclude_nested_repos = true\n")
    else:
        env["ROUTINE_WORKFLOW_INCLUDE_NESTED_REPOS"] = "true"
    result = run_cli(["reformat"], outer, env=env)
    assert result.returncode == 0, result.stderr
    for rel in ("src/mine.py", "lib/sub/theirs.py", "vendor/other/vendored.py"):
        assert (outer / rel).read_text() == PRETTY, rel


def test_backup_keeps_them_and_dumps_leave_them_out(outer: Path) -> None:
    env = {"ROUTINE_WORKFLOW_DUMP_ENGINE": "builtin"}
    result = run_cli(["--yes", "--steps", "backup,dumps"], outer, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    config = load_config({"project_root": outer}, cwd=outer)
    [dump] = [p for p in config.dump_dir.iterdir() if p.suffix == ".md"]
    text = dump.read_text()
    assert "src/mine.py" in text
    assert "theirs.py" not in text and "vendored.py" not in text
    listed = json.loads(run_cli(["backup", "list", "--json"], outer).stdout)
    with tarfile.open(listed[0]["path"]) as tar:
        names = tar.getnames()
    assert "lib/sub/theirs.py" in names
    assert "vendor/other/vendored.py" in names
    assert "src/mine.py" in names


def test_discovery_decides_for_watchers_too(outer: Path) -> None:
    config = load_config({"project_root": outer}, cwd=outer)
    discovery = Discovery(config)
    assert discovery.excluded("lib/sub/theirs.py")
    assert discovery.excluded("vendor/other/vendored.py")
    assert not discovery.excluded("src/mine.py")
    assert not discovery.excluded("vendor/loose.py")
    rels = [entry.rel for entry in discovery.files((".py",))]
    assert rels == ["src/mine.py"]
    assert discovery.other_repos == ["lib/sub", "vendor/other"]
    inclusive = Discovery(config, include_nested_repos=True)
    assert not inclusive.excluded("lib/sub/theirs.py")
    assert [e.rel for e in inclusive.files((".py",))] == [
        "lib/sub/theirs.py",
        "src/mine.py",
        "vendor/other/vendored.py",
    ]
