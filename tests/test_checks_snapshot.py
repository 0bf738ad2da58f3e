"""The ``git_snapshot`` check: real git repositories, real runs.

Each project is a git repository whose committed ``a.py`` needs reformatting, so a
run has something to change and the snapshot something to commit.
"""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli

UGLY = "x=1\n"  # black makes it "x = 1\n"
STEPS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "clean_caches", "dumps")
)


def git(root: Path, *args: str) -> str:
    done = subprocess.run(
        ["git", *args], cwd=root, capture_output=True, text=True, check=True, timeout=60
    )
    return done.stdout


def _repo(root: Path, table: str = "", files: dict[str, str] | None = None) -> Path:
    (root / "pyproject.toml").write_text(
        f"{STEPS_OFF}[tool.routine-workflow.steps.git_snapshot]\nenabled = true\n{table}\n"
    )
    for rel, text in {"a.py": UGLY, "b.py": "y = 2\n", **(files or {})}.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)
    git(root, "init", "-q", "-b", "main")
    git(root, "config", "user.name", "Tester")
    git(root, "config", "user.email", "tester@example.com")
    git(root, "add", "-A")
    git(root, "commit", "-q", "-m", "start")
    return root


def _run(root: Path, *args: str) -> tuple[subprocess.CompletedProcess[str], dict]:
    result = run_cli(["--yes", "--json", *args], root, timeout=120)
    assert result.stdout, result.stderr
    report = json.loads(result.stdout)
    return result, {s["name"]: s | {"run_id": report["run_id"]} for s in report["steps"]}


def test_commits_what_the_run_changed_naming_the_run(project: Path) -> None:
    _repo(project)
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    snap = steps["git_snapshot"]
    assert snap["status"] == "changed"
    assert snap["summary"].startswith("committed 1 file as ")
    assert snap["summary"].endswith(" on main")
    message = git(project, "log", "-1", "--format=%B")
    assert message.startswith(f"routine-workflow run {snap['run_id']}: reformat")
    assert "  a.py" in message
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["a.py"]
    assert git(project, "show", "HEAD:a.py") == "x = 1\n"
    assert git(project, "status", "--porcelain") == ""


def test_user_work_in_progress_refuses_the_snapshot(project: Path) -> None:
    _repo(project)
    head = git(project, "rev-parse", "HEAD")
    (project / "a.py").write_text("x=1\nwip=2\n")  # the user's uncommitted edit
    result, steps = _run(project)
    assert result.returncode == 1
    snap = steps["git_snapshot"]
    assert snap["status"] == "failed"
    assert snap["summary"].startswith("refused: 1 file this run changed hold work of yours")
    assert "a.py: had uncommitted changes before this run" in snap["details"]
    assert git(project, "rev-parse", "HEAD") == head
    assert (project / "a.py").read_text() == "x = 1\nwip = 2\n"  # reformatted, not committed


def test_other_changes_of_the_user_stay_out_and_staged(project: Path) -> None:
    _repo(project, files={"notes.txt": "one\n", "staged.txt": "one\n"})
    (project / "notes.txt").write_text("two\n")
    (project / "staged.txt").write_text("two\n")
    git(project, "add", "staged.txt")
    (project / "new.txt").write_text("untracked\n")
    result, _steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["a.py"]
    status = sorted(git(project, "status", "--porcelain").splitlines())
    assert status == [" M notes.txt", "?? new.txt", "M  staged.txt"]


def test_staged_user_changes_in_a_changed_file_refuse(project: Path) -> None:
    _repo(project)
    (project / "a.py").write_text("x=2\n")
    git(project, "add", "a.py")
    (project / "a.py").write_text("x=1\n")  # worktree back to HEAD, index holds the user's
    result, steps = _run(project)
    assert result.returncode == 1
    assert "a.py: has staged changes (git add) that are not committed" in (
        steps["git_snapshot"]["details"]
    )


def test_an_untracked_file_the_run_changed_refuses(project: Path) -> None:
    _repo(project)
    (project / "new.py").write_text("z=3\n")
    result, steps = _run(project)
    assert result.returncode == 1
    assert "new.py: not tracked by git (a new file of yours?)" in steps["git_snapshot"]["details"]


def test_ignored_files_are_never_committed(project: Path) -> None:
    _repo(project, files={".gitignore": "gen/\n"})
    (project / "gen").mkdir()
    (project / "gen" / "out.py").write_text("q=1\n")
    result, _steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert "gen/out.py" not in git(project, "ls-tree", "-r", "--name-only", "HEAD")


def test_nothing_changed_nothing_committed(project: Path) -> None:
    _repo(project)
    (project / "a.py").write_text("x = 1\n")
    git(project, "commit", "-q", "-am", "formatted")
    head = git(project, "rev-parse", "HEAD")
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["git_snapshot"]["summary"] == "nothing to commit: this run changed no files"
    assert git(project, "rev-parse", "HEAD") == head


def test_on_a_branch_the_checkout_is_untouched(project: Path) -> None:
    _repo(project, 'branch = "tidy"')
    head = git(project, "rev-parse", "HEAD")
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["git_snapshot"]["summary"].endswith(" on tidy")
    assert git(project, "rev-parse", "HEAD") == head
    assert git(project, "symbolic-ref", "--short", "HEAD").strip() == "main"
    assert git(project, "rev-parse", "tidy~1") == head
    assert git(project, "show", "tidy:a.py") == "x = 1\n"
    assert git(project, "show", "--name-only", "--format=", "tidy").split() == ["a.py"]
    assert git(project, "status", "--porcelain") == " M a.py\n"  # the index is the user's


def test_never_pushes_unless_asked_and_pushes_when_asked(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    _repo(project)
    git(project, "remote", "add", "origin", str(remote))
    result, _ = _run(project)
    assert result.returncode == 0, result.stderr
    assert git(remote, "for-each-ref") == ""  # committed, not pushed
    (project / "b.py").write_text("y=3\n")
    git(project, "commit", "-q", "-am", "ugly again")
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("push = true\n")
    result, steps = _run(project)
    assert result.returncode == 0, result.stderr
    assert steps["git_snapshot"]["summary"].endswith(", pushed main to origin")
    assert git(remote, "rev-parse", "main") == git(project, "rev-parse", "HEAD")


def test_push_failure_is_a_step_failure_with_gits_message(project: Path, tmp_path: Path) -> None:
    _repo(project, "push = true")
    git(project, "remote", "add", "origin", str(tmp_path / "no-such-remote"))
    result, steps = _run(project)
    assert result.returncode == 1
    summary = steps["git_snapshot"]["summary"]
    assert (
        summary.startswith("committed ") and " on main, but git push to origin failed: " in summary
    )
    assert "does not appear to be a git repository" in summary
    assert git(project, "status", "--porcelain") == ""  # the commit itself stands


def test_not_a_repository(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        f"{STEPS_OFF}[tool.routine-workflow.steps.git_snapshot]\nenabled = true\n"
    )
    (project / "a.py").write_text(UGLY)
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["git_snapshot"]["summary"].endswith(
        "is not in a git working tree: nothing to commit to"
    )


def test_dry_run_commits_nothing(project: Path) -> None:
    _repo(project)
    head = git(project, "rev-parse", "HEAD")
    result, steps = _run(project, "--dry-run")
    assert result.returncode == 0, result.stderr
    assert (
        steps["git_snapshot"]["summary"] == "dry run: would commit the files this run changed (git)"
    )
    assert git(project, "rev-parse", "HEAD") == head


def test_needs_the_undo_journal(project: Path) -> None:
    _repo(project)
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("[tool.routine-workflow]\nkeep_undo = 0\n")
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "keep_undo is 0" in result.stderr


@pytest.mark.slow
def test_failed_tests_mean_no_snapshot(project: Path) -> None:
    _repo(project, files={"tests/test_a.py": "def test_bad():\n    assert 0\n"})
    with open(project / "pyproject.toml", "a") as handle:
        handle.write("[tool.routine-workflow.steps.tests]\nenabled = true\n")
    head = git(project, "rev-parse", "HEAD")
    result, steps = _run(project)
    assert result.returncode == 1
    assert steps["git_snapshot"]["status"] == "skipped"
    assert steps["git_snapshot"]["summary"] == "skipped: tests failed"
    assert git(project, "rev-parse", "HEAD") == head


def test_rejected_push_says_so(project: Path, tmp_path: Path) -> None:
    remote = tmp_path / "remote.git"
    subprocess.run(["git", "init", "-q", "--bare", "-b", "main", str(remote)], check=True)
    other = tmp_path / "other"
    subprocess.run(["git", "clone", "-q", str(remote), str(other)], check=True)
    (other / "f.txt").write_text("theirs\n")
    git(other, "add", "f.txt")
    git(other, "-c", "user.name=O", "-c", "user.email=o@example.com", "commit", "-q", "-m", "o")
    git(other, "push", "-q", "origin", "HEAD:main")
    _repo(project, "push = true")
    git(project, "remote", "add", "origin", str(remote))
    result, steps = _run(project)
    assert result.returncode == 1
    assert "[rejected]" in steps["git_snapshot"]["summary"]


def test_a_retried_snapshot_pushes_the_commit_it_made(project: Path, tmp_path: Path) -> None:
    # The engine directly, on a real repository: attempt one commits and fails to push
    # (no remote yet); attempt two finds the files committed and pushes.
    from routine_workflow.checks.git import Git, GitError
    from routine_workflow.checks.snapshot import Change, take
    from routine_workflow.undo.layout import sha256

    _repo(project)
    remote = tmp_path / "remote.git"
    git(project, "remote", "add", "origin", str(remote))
    (project / "a.py").write_text("x = 1\n")
    change = Change("a.py", UGLY.encode(), sha256(b"x = 1\n"))
    with pytest.raises(GitError, match="but git push to origin failed"):
        take(Git(project, 60), [change], "snapshot", push=True)
    subprocess.run(["git", "init", "-q", "--bare", str(remote)], check=True)
    again = take(Git(project, 60), [change], "snapshot", push=True)
    assert (again.committed, again.already, again.pushed) == ([], ["a.py"], "origin")
    assert git(remote, "rev-parse", "main") == git(project, "rev-parse", "HEAD")


def test_a_file_edited_after_the_run_changed_it_refuses(project: Path) -> None:
    # A command step (not journaled) edits a.py after reformat did: its bytes are no
    # longer the run's, and whoever wrote them, they are not committed.
    _repo(project, 'depends_on = ["reformat", "edit"]')
    with open(project / "pyproject.toml", "a") as handle:
        handle.write(
            "[tool.routine-workflow.steps.edit]\n"
            'run = "sh -c \'echo more=1 >> a.py\'"\ndepends_on = ["reformat"]\n'
        )
    result, steps = _run(project)
    assert result.returncode == 1
    assert "a.py: edited since this run changed it" in steps["git_snapshot"]["details"]


def test_a_project_in_a_subdirectory_of_the_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    sub = repo / "sub"
    sub.mkdir(parents=True)
    (repo / "top.py").write_text("t=1\n")
    _repo(sub)  # `git init` in sub would nest; make the repository at repo instead
    subprocess.run(["rm", "-rf", str(sub / ".git")], check=True)
    git(repo, "init", "-q", "-b", "main")
    git(repo, "config", "user.name", "Tester")
    git(repo, "config", "user.email", "tester@example.com")
    git(repo, "add", "-A")
    git(repo, "commit", "-q", "-m", "start")
    result, _steps = _run(sub)
    assert result.returncode == 0, result.stderr
    assert git(repo, "show", "--name-only", "--format=", "HEAD").split() == ["sub/a.py"]
    assert git(repo, "show", "HEAD:top.py") == "t=1\n"


def test_an_ignored_file_in_the_journal_is_left_out(project: Path) -> None:
    # Discovery never gives reformat an ignored file; should a journal name one anyway,
    # the engine lists it and never commits it.
    from routine_workflow.checks.git import Git
    from routine_workflow.checks.snapshot import Change, take
    from routine_workflow.undo.layout import sha256

    _repo(project, files={".gitignore": "gen/\n"})
    (project / "gen").mkdir()
    (project / "gen" / "out.py").write_text("q = 1\n")
    (project / "a.py").write_text("x = 1\n")
    changes = [
        Change("gen/out.py", b"q=1\n", sha256(b"q = 1\n")),
        Change("a.py", UGLY.encode(), sha256(b"x = 1\n")),
    ]
    taken = take(Git(project, 60), changes, "snapshot")
    assert (taken.committed, taken.ignored) == (["a.py"], ["gen/out.py"])
    assert git(project, "show", "--name-only", "--format=", "HEAD").split() == ["a.py"]
