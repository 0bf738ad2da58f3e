"""The confirmation prompt, on a real pseudo-terminal: it says what this plan will do,
and answering no exits 3 (declined), having done nothing."""

from __future__ import annotations

from pathlib import Path

from helpers import PtyProcess, snapshot

UGLY = "x  =  1\n"
EXIT_DECLINED = 3


def _pty_run(args: list[str], cwd: Path, answer: bytes, timeout: float = 60) -> tuple[int, str]:
    """Run the CLI with a pty as stdin, stdout and stderr; answer its [y/N] prompt."""
    session = PtyProcess(args, cwd)
    session.expect("[y/N]", timeout, required=False)
    session.send(answer.decode())
    return session.finish(timeout)


def _prompt(out: str) -> str:
    return out.split("[y/N]")[0]


def _history(home: Path) -> bool:
    return (home / "rw" / "state" / "history.sqlite3").exists()


def test_reformat_alone_says_no_backup_and_no_deletion(project: Path, isolated_home: Path) -> None:
    (project / "ugly.py").write_text(UGLY)
    before = snapshot(project)
    code, out = _pty_run(["--steps", "reformat"], project, b"n\n")
    prompt = _prompt(out)
    assert "reformat" in prompt and "rewrites Python files" in prompt
    assert "no backup is taken" in prompt.lower()
    assert "delete" not in prompt.lower()
    assert "Files will be rewritten and deleted" not in prompt
    assert code == EXIT_DECLINED, out
    assert "declined: nothing done" in out
    assert snapshot(project) == before
    assert not _history(isolated_home)


def test_the_full_plan_names_every_step_and_the_backup_first(
    project: Path, isolated_home: Path
) -> None:
    (project / "ugly.py").write_text(UGLY)
    before = snapshot(project)
    code, out = _pty_run([], project, b"n\n")
    prompt = _prompt(out)
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps"):
        assert name in prompt, prompt
    assert "rewrites Python files" in prompt and "deletes" in prompt
    assert "a backup of the project is taken first" in prompt.lower()
    assert code == EXIT_DECLINED, out
    assert snapshot(project) == before
    assert not _history(isolated_home)


def test_a_plan_that_changes_nothing_in_the_project_says_so(project: Path) -> None:
    code, out = _pty_run(["--steps", "dumps"], project, b"n\n")
    prompt = _prompt(out)
    assert "nothing in the project is rewritten or deleted" in prompt.lower(), prompt
    assert code == EXIT_DECLINED


def test_command_steps_are_named_with_their_command(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow.steps.lint]\nrun = ["ruff", "check", "--fix"]\n'
    )
    code, out = _pty_run(["--steps", "lint"], project, b"n\n")
    prompt = _prompt(out)
    assert "lint" in prompt and "ruff check --fix" in prompt
    assert "may change" in prompt
    assert code == EXIT_DECLINED


def test_watch_prompt_says_what_each_run_does(project: Path, isolated_home: Path) -> None:
    code, out = _pty_run(["watch"], project, b"n\n")
    prompt = _prompt(out)
    assert "after each change" in prompt and "reformat" in prompt
    assert "no backup is taken" in prompt.lower() and "delete" not in prompt.lower()
    assert code == EXIT_DECLINED, out
    assert not _history(isolated_home)


def test_fleet_prompt_lists_each_projects_plan(tmp_path: Path, isolated_home: Path) -> None:
    first, second = tmp_path / "first", tmp_path / "second"
    for root in (first, second):
        root.mkdir()
        (root / "ugly.py").write_text(UGLY)
    (second / "pyproject.toml").write_text(
        "[tool.routine-workflow.steps.backup]\nenabled = false\n"
    )
    args = ["--project-root", str(first), "--project-root", str(second), "--steps", "reformat"]
    code, out = _pty_run(args, tmp_path, b"n\n")
    prompt = _prompt(out)
    assert str(first) in prompt and str(second) in prompt
    assert prompt.count("rewrites Python files") == 2
    assert code == EXIT_DECLINED, out
    assert (first / "ugly.py").read_text() == UGLY
    assert not _history(isolated_home)


def test_yes_runs(project: Path) -> None:
    (project / "ugly.py").write_text(UGLY)
    code, out = _pty_run(["--steps", "reformat"], project, b"y\n")
    assert code == 0, out
    assert (project / "ugly.py").read_text() == "x = 1\n"
