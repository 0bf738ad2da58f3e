"""``clean.gitfiles``: what git tracks, from real repositories; fail closed when git cannot say."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

from routine_workflow.clean.gitfiles import GitError, tracked_files, tracked_under


def _git(cwd: Path, *args: str) -> None:
    subprocess.run(
        ["git", "-c", "user.name=t", "-c", "user.email=t@example.org", *args],
        cwd=cwd,
        check=True,
        capture_output=True,
    )


def _repo(root: Path, files: dict[str, str], untracked: dict[str, str] | None = None) -> Path:
    root.mkdir(parents=True, exist_ok=True)
    _git(root, "init", "-q")
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    _git(root, "add", "--", *files)
    for rel, text in (untracked or {}).items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    return root


def test_outside_any_repository_nothing_is_tracked(tmp_path: Path) -> None:
    (tmp_path / "a.py").write_text("x = 1\n")
    assert tracked_files(tmp_path) == set()


def test_tracked_files_are_the_index_not_the_working_tree(tmp_path: Path) -> None:
    root = _repo(
        tmp_path / "repo",
        {"a.py": "", "pkg/b.py": "", "with space/ünï.py": "", "-dash.py": ""},
        untracked={"new.py": "", "pkg/__pycache__/b.pyc": ""},
    )
    assert tracked_files(root) == {"a.py", "pkg/b.py", "with space/ünï.py", "-dash.py"}
    (root / "a.py").unlink()  # deleted but still in the index: still tracked
    assert "a.py" in tracked_files(root)


def test_paths_are_relative_to_the_directory_asked_about(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", {"top.py": "", "pkg/sub/c.py": "", "pkg/d.py": ""})
    assert tracked_files(root / "pkg") == {"sub/c.py", "d.py"}


def test_a_nested_repository_is_asked_separately(tmp_path: Path) -> None:
    root = _repo(tmp_path / "outer", {"o.py": ""})
    _repo(root / "vendor" / "inner", {"i.py": "", "lib/j.py": ""})
    # git stops at the inner .git: the outer index knows nothing below it
    assert tracked_files(root) == {"o.py"}
    assert tracked_under(root, ["vendor/inner"]) == {
        "o.py",
        "vendor/inner/i.py",
        "vendor/inner/lib/j.py",
    }
    assert tracked_under(root) == {"o.py"}


def test_git_variables_of_a_hook_do_not_redirect_the_question(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Inside a git hook GIT_DIR and GIT_INDEX_FILE point at the repository being committed.
    elsewhere = _repo(tmp_path / "elsewhere", {"other.py": ""})
    root = _repo(tmp_path / "repo", {"mine.py": ""})
    monkeypatch.setenv("GIT_DIR", str(elsewhere / ".git"))
    monkeypatch.setenv("GIT_INDEX_FILE", str(elsewhere / ".git" / "index"))
    monkeypatch.setenv("GIT_WORK_TREE", str(elsewhere))
    assert tracked_files(root) == {"mine.py"}


def test_a_broken_index_raises_instead_of_calling_everything_untracked(tmp_path: Path) -> None:
    root = _repo(tmp_path / "repo", {"a.py": ""})
    (root / ".git" / "index").write_bytes(b"DIRC garbage, not an index")
    with pytest.raises(GitError, match=r"git ls-files in .*repo failed: .*index"):
        tracked_files(root)


def test_without_git_a_repository_fails_closed_and_a_plain_directory_tracks_nothing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _repo(tmp_path / "repo", {"a.py": ""})
    below = root / "sub"  # the .git is in a parent
    below.mkdir()
    plain = tmp_path / "plain"
    plain.mkdir()
    empty_bin = tmp_path / "bin"
    empty_bin.mkdir()
    monkeypatch.setenv("PATH", str(empty_bin))
    with pytest.raises(GitError, match="git is not installed"):
        tracked_files(below)
    assert tracked_files(plain) == set()
