"""Discovery: what belongs to the project, on real trees."""

from __future__ import annotations

import os
import subprocess
import time
from collections.abc import Callable
from pathlib import Path

from routine_workflow.config import load_config
from routine_workflow.discovery import Discovery, python_files
from routine_workflow.walkrecord import RACY_NS, WalkRecord


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


# --- the walk record: an unchanged tree's walk is replayed, any change is seen -------------


def _aged(record: WalkRecord) -> WalkRecord:
    # The walk "begins" later than now, so the tree just written is out of the racy window
    # (the real clock would need a 3 s wait per test; the e2e test in test_speed_cache waits).
    record.started_ns = time.time_ns() + RACY_NS + 1_000_000_000
    return record


def _walk(root: Path, suffixes: tuple[str, ...] | None = (".py",), **flags: object) -> tuple:
    record = _aged(WalkRecord(root.parent / "state" / "walk.json"))
    config = load_config({"project_root": root, **flags})
    discovery = Discovery(config, record=record)
    found = [(e.abspath, e.rel, e.kind) for e in discovery.walk(suffixes)]
    return found, discovery.leftover_temps, discovery.other_repos, record.replayed


def _tree(project: Path) -> Path:
    _touch(project, "pkg/a.py", "pkg/sub/b.py", "docs/x.txt", "skip/c.py", "nested/d.py")
    (project / ".gitignore").write_text("skip/\n")
    (project / "nested" / ".git").mkdir(exist_ok=True)
    (project / "pkg" / "e.py.rw-tmp-0123456789").write_text("")  # a killed run's temp
    return project


def test_an_unchanged_tree_is_replayed_with_the_same_outcome(project: Path) -> None:
    _tree(project)
    first = _walk(project)
    again = _walk(project)
    assert not first[3] and again[3]
    assert again[:3] == first[:3]
    rels = [rel for _, rel, _ in first[0]]
    assert "pkg/sub/b.py" in rels and "skip/c.py" not in rels and first[2] == ["nested"]


def test_a_walk_with_other_settings_is_not_replayed(project: Path) -> None:
    _tree(project)
    _walk(project)
    assert not _walk(project, (".py", ".txt"))[3]
    assert not _walk(project, exclude_patterns=["docs/"])[3]


def _changed_walk(project: Path, change: Callable[[Path], None]) -> None:
    _tree(project)
    before = _walk(project)
    change(project)
    after = _walk(project)
    assert not after[3], "replayed a changed tree"
    fresh = Discovery(load_config({"project_root": project}))
    assert after[0] == [(e.abspath, e.rel, e.kind) for e in fresh.walk((".py",))]
    assert after[:3] != before[:3]


def _keep_times(path: Path, change: Callable[[], None]) -> None:
    """``change`` a directory, then set its atime and mtime back (its ctime moves on)."""
    st = path.stat()
    change()
    os.utime(path, ns=(st.st_atime_ns, st.st_mtime_ns))


def test_a_file_added_deep_down_is_seen(project: Path) -> None:
    _changed_walk(project, lambda p: _touch(p, "pkg/sub/new.py"))


def test_a_file_added_with_the_directory_times_set_back_is_seen(project: Path) -> None:
    sub = project / "pkg" / "sub"
    _changed_walk(project, lambda p: _keep_times(sub, lambda: _touch(p, "pkg/sub/new.py")))


def test_a_file_removed_or_a_directory_renamed_is_seen(project: Path) -> None:
    _changed_walk(project, lambda p: (p / "pkg" / "a.py").unlink())
    _changed_walk(project, lambda p: (p / "pkg" / "sub").rename(p / "pkg" / "sub2"))


def test_a_gitignore_rewritten_in_place_is_seen(project: Path) -> None:
    def rewrite(p: Path) -> None:
        with open(p / ".gitignore", "r+") as ignore:  # the same size; no directory changes
            ignore.write("docs/\n")

    _changed_walk(project, rewrite)


def test_an_info_exclude_appearing_is_seen(project: Path) -> None:
    def exclude(p: Path) -> None:
        (p / ".git" / "info").mkdir(parents=True)
        (p / ".git" / "info" / "exclude").write_text("pkg/sub/\n")

    _changed_walk(project, exclude)


def test_a_new_nested_repository_or_virtualenv_is_seen(project: Path) -> None:
    _changed_walk(project, lambda p: (p / "pkg" / "sub" / ".git").mkdir())
    _changed_walk(project, lambda p: (p / "pkg" / "pyvenv.cfg").write_text(""))


def test_a_tree_changed_within_the_racy_window_makes_no_record(project: Path) -> None:
    _tree(project)
    config = load_config({"project_root": project})
    path = project.parent / "state" / "walk.json"
    list(Discovery(config, record=WalkRecord(path)).walk((".py",)))  # the real clock
    assert not path.exists()
    record = WalkRecord(path)
    list(Discovery(config, record=record).walk((".py",)))
    assert not record.replayed


def test_a_damaged_record_is_walked_past(project: Path) -> None:
    _tree(project)
    _walk(project)
    state = project.parent / "state" / "walk.json"
    for damage in (b"{not json", b"[]", b'{"key": 1}', state.read_bytes()[:-100]):
        state.write_bytes(damage)
        assert not _walk(project)[3]


def test_the_tools_own_directory_inside_the_project_does_not_spoil_the_record(
    project: Path,
) -> None:
    _tree(project)
    own = project / "dumps"
    own.mkdir()
    _walk(project, dump_dir=own)
    (own / "written-by-the-run.md").write_text("")  # the own dir changes; nothing else
    again = _walk(project, dump_dir=own)
    assert again[3] and not any(rel.startswith("dumps") for _, rel, _ in again[0])
