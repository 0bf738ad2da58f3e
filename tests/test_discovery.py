"""Discovery: what belongs to the project, on real trees."""

from __future__ import annotations

import os
import subprocess
from pathlib import Path

from routine_workflow.config import load_config
from routine_workflow.discovery import Discovery, python_files


def _touch(root: Path, *rels: str) -> None:
    for rel in rels:
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("x = 1\n")


def _rels(entries) -> list[str]:
    return [e.rel for e in entries]


def test_default_excludes_and_venv_detection(project: Path) -> None:
    _touch(
        project,
        "pkg/a.py",
        "pkg/sub/b.pyi",
        "README.md",
        ".git/hooks/x.py",
        ".venv/lib/c.py",
        "venv/d.py",
        "build/e.py",
        "dist/f.py",
        "node_modules/g.py",
        "pkg/__pycache__/a.cpython-311.pyc",
        ".mypy_cache/h.py",
        "myenv/i.py",
        "demo.egg-info/PKG-INFO",
    )
    (project / "myenv" / "pyvenv.cfg").write_text("home = /usr\n")
    config = load_config({"project_root": project}, env={})
    assert _rels(python_files(config)) == ["pkg/a.py", "pkg/sub/b.pyi"]
    everything = _rels(Discovery(config).files())
    assert "README.md" in everything and "pyproject.toml" in everything
    assert not [r for r in everything if r.startswith((".git/", ".venv/", "myenv/", "build/"))]


def test_gitignore_root_nested_and_info_exclude(project: Path) -> None:
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    _touch(
        project,
        "a.py",
        "gen/b.py",
        "pkg/c.py",
        "pkg/local.py",
        "pkg/keep.py",
        "secret.py",
        "logs/x.py",
    )
    (project / ".gitignore").write_text("gen/\n*.log\nlogs\n")
    (project / "pkg" / ".gitignore").write_text("local.py\n")
    (project / ".git" / "info" / "exclude").write_text("secret.py\n")
    config = load_config({"project_root": project}, env={})
    assert _rels(python_files(config)) == ["a.py", "pkg/c.py", "pkg/keep.py"]


def test_exclude_patterns_and_own_dirs_inside_root(project: Path) -> None:
    _touch(project, "a.py", "generated/x.py", "y_pb2.py", "dumps/old.py")
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow]\nexclude_patterns = ["generated/", "*_pb2.py"]\ndump_dir = "dumps"\n'
    )
    config = load_config({"project_root": project}, env={})
    assert _rels(python_files(config)) == ["a.py"]


def test_symlinks_are_reported_never_followed(project: Path, tmp_path: Path) -> None:
    outside = tmp_path / "outside"
    _touch(outside, "evil.py")
    _touch(project, "a.py")
    os.symlink(outside, project / "link_dir")
    os.symlink(project / "a.py", project / "link_file.py")
    config = load_config({"project_root": project}, env={})
    entries = {e.rel: e.kind for e in Discovery(config).walk()}
    assert entries["link_dir"] == "symlink" and entries["link_file.py"] == "symlink"
    assert not [r for r in entries if r.startswith("link_dir/")]
    assert _rels(python_files(config)) == ["a.py"]


def test_caches_visible_only_on_request_and_git_on_request(project: Path) -> None:
    _touch(project, "pkg/__pycache__/m.pyc", ".git/config")
    config = load_config({"project_root": project}, env={})
    assert "pkg/__pycache__" not in _rels(Discovery(config).walk())
    assert "pkg/__pycache__" in _rels(Discovery(config, keep_caches=True).walk())
    assert ".git/config" in _rels(Discovery(config, include_git=True).walk())
