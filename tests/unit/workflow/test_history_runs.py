"""``undo.status`` and ``workflow.runs``: which journals are undone, by whom, and the rows
``history`` shows for them (journals written directly, no processes)."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from routine_workflow.undo.journal import Recorder
from routine_workflow.undo.layout import JOURNAL_FILE, new_journal_id, project_journals, sha256
from routine_workflow.undo.status import journal_statuses, undo_state


@pytest.fixture
def root(tmp_path: Path) -> Path:
    project = tmp_path / "project"
    project.mkdir()
    for name in ("a.py", "b.py"):
        (project / name).write_bytes(b"x\n")
    return project


def _journal(root: Path, files: list[str], kind: str = "run", undoes: str | None = None) -> str:
    recorder = Recorder(project_journals(root) / new_journal_id(), root, kind, undoes)
    for name in files:
        recorder.record(name, b"x\n", os.stat(root / name), sha256(b"y\n"))
    recorder.close()
    return recorder.id


def _states(root: Path) -> dict[str, str]:
    statuses = journal_statuses(root)
    return {key: undo_state(status, statuses) for key, status in statuses.items()}


def test_an_undo_undoes_its_run_and_undoing_it_makes_the_run_undoable_again(root: Path) -> None:
    run = _journal(root, ["a.py", "b.py"])
    assert _states(root) == {run: "yes"}
    undo = _journal(root, ["a.py", "b.py"], "undo", run)
    assert _states(root) == {run: "undone", undo: "yes"}
    assert journal_statuses(root)[run].undone_by == [undo]
    redo = _journal(root, ["a.py", "b.py"], "undo", undo)
    assert _states(root) == {run: "yes", undo: "undone", redo: "yes"}


def test_an_undo_of_some_files_is_partial_until_another_covers_the_rest(root: Path) -> None:
    run = _journal(root, ["a.py", "b.py"])
    first = _journal(root, ["a.py"], "undo", run)
    assert _states(root)[run] == "partly-undone"
    second = _journal(root, ["b.py"], "undo", run)  # --force, later
    assert _states(root)[run] == "undone"
    assert journal_statuses(root)[run].undone_by == [first, second]


def test_undos_that_undo_each_other_do_not_loop(root: Path) -> None:
    # Headers are checksummed, not signed: a hand-made loop must not hang or mislead.
    later = new_journal_id()
    first = _journal(root, ["a.py"], "undo", later)  # claims a journal not yet written
    recorder = Recorder(project_journals(root) / later, root, "undo", first)
    recorder.record("a.py", b"x\n", os.stat(root / "a.py"), sha256(b"y\n"))
    recorder.close()
    assert _states(root) == {first: "undone", later: "yes"}


def test_a_damaged_journal_is_damaged_and_keeps_its_intact_files(root: Path) -> None:
    run = _journal(root, ["a.py", "b.py"])
    with open(project_journals(root) / run / JOURNAL_FILE, "ab") as handle:
        handle.write(b"0" * 32 + b" {}\n")
    status = journal_statuses(root)[run]
    assert _states(root) == {run: "damaged"}
    assert status.files == ["a.py", "b.py"] and status.damage


def test_the_header_records_the_command(root: Path) -> None:
    run = _journal(root, ["a.py"])
    assert isinstance(journal_statuses(root)[run].argv, list)
