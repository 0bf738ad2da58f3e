"""``history`` tells each run apart: its id, dry runs, files changed, and whether ``undo``
can take it back — with real runs, real files and real undos."""

from __future__ import annotations

import json
import os
import re
import signal
import subprocess
from pathlib import Path
from typing import IO, Any

import pytest
from helpers import popen_cli, run_cli, snapshot, wait_for, wait_until, write_tree

from routine_workflow import dirs
from routine_workflow.fsutil import is_temp_name

PYPROJECT = '[project]\nname = "demo"\n'
#: Files black rewrites, and one it leaves alone.
UGLY = {
    "pkg/a.py": b"x = {  'a':1 }\n",
    "pkg/b.py": b"def f(a,b):\n  return a+b\n",
    "c.py": b"y=[1,2,\n  3]\n",
}
CLEAN = {"pkg/fine.py": b'x = {"a": 1}\n'}
WIDTH = 80


def _project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", {**UGLY, **CLEAN}, PYPROJECT)


def _cli(root: Path, *args: str, code: int = 0, **env: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(list(args), root, timeout=120, env=env or None)
    assert done.returncode == code, done.stdout + done.stderr
    assert "Traceback" not in done.stderr
    return done


def _history(root: Path, *args: str) -> list[dict[str, Any]]:
    return json.loads(_cli(root, "history", "--json", *args).stdout)


def _rows(root: Path, *args: str) -> dict[str, list[str]]:
    """The text table, by the run id that starts each row (the header under ``run``)."""
    lines = _cli(root, "history", *args).stdout.splitlines()
    assert lines, "history printed nothing"
    for line in lines:
        # A project's heading is its path, as long as the path is: only rows must fit.
        if line.startswith(str(root.parent)):
            continue
        assert len(line) <= WIDTH, f"{len(line)} columns: {line!r}"
    return {line.split()[0]: line.split() for line in lines}


def test_history_tells_real_dry_unchanged_and_undone_runs_apart(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _cli(root, "--dry-run", "--steps", "reformat")
    _cli(root, "--yes", "--steps", "reformat")
    _cli(root, "--yes", "--steps", "reformat")  # nothing left to change
    runs = _history(root)
    unchanged, real, dry = runs
    assert [r["dry_run"] for r in runs] == [False, False, True]

    assert real["files_changed"] == len(UGLY)
    assert sorted(real["files"]) == sorted(UGLY)
    assert real["undo"] == "yes"
    assert dry["files_changed"] == len(UGLY)  # what it would have changed
    assert dry["files"] == [] and dry["undo"] == "dry-run"
    assert unchanged["files_changed"] == 0 and unchanged["undo"] == "nothing"

    rows = _rows(root)
    assert rows["run"][:7] == ["run", "kind", "status", "exit", "time", "files", "undo"]
    assert rows[real["run_id"]][1:3] == ["run", "ok"]
    assert rows[real["run_id"]][-2:] == [str(len(UGLY)), "yes"]
    assert rows[dry["run_id"]][1:3] == ["dry-run", "ok"]
    assert rows[dry["run_id"]][-2:] == [str(len(UGLY)), "-"]
    assert rows[unchanged["run_id"]][-2:] == ["0", "-"]

    # The id history shows is the one undo takes.
    undone = _cli(root, "undo", real["run_id"])
    assert snapshot(root) == before
    undo_id = undone.stdout.split()[-1]

    runs = _history(root)
    by_id = {r["run_id"]: r for r in runs}
    assert by_id[real["run_id"]]["undo"] == "undone"
    assert by_id[real["run_id"]]["undone_by"] == undo_id
    undo_row = by_id[undo_id]
    assert runs[0] is undo_row  # the newest
    assert undo_row["kind"] == "undo" and undo_row["undoes"] == real["run_id"]
    assert sorted(undo_row["files"]) == sorted(UGLY)
    assert undo_row["undo"] == "yes"
    rows = _rows(root)
    assert rows[real["run_id"]][-1] == "undone"
    assert rows[undo_id][1] == "undo" and rows[undo_id][-2:] == [str(len(UGLY)), "yes"]

    # Undoing the undo puts the run's output back: the run can be undone again.
    _cli(root, "undo", undo_id)
    by_id = {r["run_id"]: r for r in _history(root)}
    assert by_id[real["run_id"]]["undo"] == "yes"
    assert by_id[undo_id]["undo"] == "undone"


def test_a_run_whose_journal_was_pruned_is_expired(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _cli(root, "--yes", "--steps", "reformat", ROUTINE_WORKFLOW_KEEP_UNDO="1")
    (root / "d.py").write_bytes(b"z=( 1 )\n")
    _cli(root, "--yes", "--steps", "reformat", ROUTINE_WORKFLOW_KEEP_UNDO="1")
    newer, older = _history(root)
    assert (newer["undo"], newer["files_changed"]) == ("yes", 1)
    assert (older["undo"], older["files_changed"]) == ("expired", len(UGLY))
    assert older["files"] == []
    assert _rows(root)[older["run_id"]][-1] == "expired"
    gone = _cli(root, "undo", older["run_id"], code=2)
    assert "no undo journal" in gone.stderr


def test_a_run_that_was_not_journaled_says_no(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _cli(root, "--yes", "--steps", "reformat", ROUTINE_WORKFLOW_KEEP_UNDO="0")
    (run,) = _history(root)
    assert (run["undo"], run["files_changed"]) == ("not-journaled", len(UGLY))
    assert _rows(root)[run["run_id"]][-1] == "no"


def test_a_damaged_journal_shows_as_damaged(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _cli(root, "--yes", "--steps", "reformat")
    (run,) = _history(root)
    journal = dirs.state_dir() / "undo" / dirs.project_id(root) / run["run_id"] / "journal.jsonl"
    with open(journal, "ab") as handle:
        handle.write(b"garbage\n")
    (run,) = _history(root)
    assert run["undo"] == "damaged"
    assert run["journal"]["damage"]
    assert _rows(root)[run["run_id"]][-1] == "damaged"


def test_a_reformat_command_run_is_listed_and_can_be_undone(tmp_path: Path) -> None:
    # The pre-commit hook's `routine-workflow reformat` journals too, without a history row.
    root = _project(tmp_path)
    before = snapshot(root)
    _cli(root, "reformat")
    (run,) = _history(root)
    assert run["kind"] == "reformat" and run["undo"] == "yes"
    assert sorted(run["files"]) == sorted(UGLY)
    assert _rows(root)[run["run_id"]][1] == "reformat"
    _cli(root, "undo", run["run_id"])
    assert snapshot(root) == before


def test_history_fits_80_columns_with_every_kind_of_row(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _cli(root, "--dry-run", "--steps", "reformat")
    _cli(root, "--yes", "--steps", "reformat")
    _cli(root, "undo")
    _cli(root, "--yes", "--steps", "reformat,nope", code=2)
    _rows(root)  # asserts the width
    _rows(root, "--all-projects")
    long_rows = _rows(root, "-l")
    assert any(key == "undone" for key in long_rows)  # "undone by <undo id>"
    assert "undoes" in long_rows


@pytest.mark.parametrize("limit", ["1", "2"])
def test_limit_counts_every_kind_of_row(tmp_path: Path, limit: str) -> None:
    root = _project(tmp_path)
    _cli(root, "--yes", "--steps", "reformat")
    _cli(root, "undo")
    assert len(_history(root, "-n", limit)) == int(limit)


@pytest.mark.slow
def test_each_watch_run_is_listed_and_can_be_undone(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _cli(root, "reformat")  # a formatted tree: only the saves below give work
    formatted = snapshot(root)
    watcher = popen_cli(
        ["watch", "--yes", "--steps", "reformat", "--debounce", "100", "--max-runs", "2"], root
    )
    try:
        assert watcher.stderr is not None
        saves = [("pkg/new.py", b"n = ( 1, )\n"), ("c.py", b"y=[ 1 ]\n")]
        for rel, data in saves:
            _wait_for_line(watcher.stderr, "watching")
            (root / rel).write_bytes(data)
            _wait_for_line(watcher.stderr, r"run \S+ finished")
        assert watcher.wait(60) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
            watcher.wait()
    second, first = (r for r in _history(root) if r["kind"] == "run")
    assert (first["files"], second["files"]) == (["pkg/new.py"], ["c.py"])
    assert first["undo"] == second["undo"] == "yes"
    rows = _rows(root)
    assert rows[first["run_id"]][-2:] == rows[second["run_id"]][-2:] == ["1", "yes"]

    # Each save's reformat comes back on its own, as saved.
    _cli(root, "undo", second["run_id"])
    assert (root / "c.py").read_bytes() == saves[1][1]
    assert (root / "pkg/new.py").read_bytes() != saves[0][1]  # the other run's output stays
    _cli(root, "undo", first["run_id"])
    assert snapshot(root) == {**formatted, **dict(saves)}


def _wait_for_line(stream: IO[str], pattern: str) -> str:
    """Read ``stream`` until a line matches ``pattern`` (the watcher logs on stderr)."""
    for line in stream:
        if re.search(pattern, line):
            return line
    raise AssertionError(f"the watcher ended before a line matching {pattern!r}")


@pytest.mark.slow
def test_a_run_killed_during_its_writes_is_listed_as_undoable(tmp_path: Path) -> None:
    files = {
        f"pkg/m{n}.py": "".join(f"def f{i}( a,b ):\n  return a+b\n" for i in range(8)).encode()
        for n in range(150)
    }
    root = write_tree(tmp_path / "project", files, PYPROJECT)
    journals = dirs.state_dir() / "undo" / dirs.project_id(root)

    def recorded() -> int:
        found = list(journals.glob("*/journal.jsonl"))
        return found[0].read_bytes().count(b"\n") - 1 if found else 0

    def rewritten() -> bool:
        return any((root / rel).read_bytes() != data for rel, data in files.items())

    run = popen_cli(["--yes", "--steps", "reformat"], root)
    # A batch's originals are journaled before any of its files is replaced: wait for both.
    wait_until(
        lambda: run.poll() is not None or (recorded() >= 10 and rewritten()),
        120,
        "ten records and a rewritten file",
    )
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)
    assert run.returncode == -signal.SIGKILL, "the run ended before the kill"

    (killed,) = _history(root)
    assert killed["status"] == "died"  # never finished, and its process is gone
    assert killed["undo"] == "yes" and killed["journal"]["sealed"] is False
    assert killed["files_changed"] == len(killed["files"]) >= 10
    assert _rows(root)[killed["run_id"]][-1] == "yes"
    undone = _cli(root, "undo", killed["run_id"])
    assert "(interrupted)" in undone.stdout
    # kill -9 may leave a write's temporary file (the next run removes it): not a file of yours.
    left = {rel: data for rel, data in snapshot(root).items() if not is_temp_name(Path(rel).name)}
    assert left == {**files, "pyproject.toml": PYPROJECT.encode()}


def test_a_live_run_is_running_and_a_killed_one_died(tmp_path: Path) -> None:
    root = _project(tmp_path)
    marker, release = tmp_path / "started", tmp_path / "release"
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(
            "[tool.routine-workflow.steps.hold]\n"
            f"run = \"sh -c 'touch {marker}; while [ ! -e {release} ]; do sleep 0.05; done'\"\n"
        )
    killed = popen_cli(["--yes", "--steps", "hold"], root)
    wait_for(marker)
    (live,) = _history(root)
    assert live["status"] == "running"  # its process is there
    os.kill(killed.pid, signal.SIGKILL)
    killed.communicate(timeout=60)
    release.touch()  # the orphaned script ends too
    (dead,) = _history(root)
    assert dead["run_id"] == live["run_id"]
    assert dead["status"] == "died"
    assert "killed" in dead["reason"]
    assert _rows(root)[dead["run_id"]][2] == "died"
    doctor = _cli(root, "doctor", code=1)
    assert f"the last run, {dead['run_id']}, died: ended without finishing" in doctor.stdout
    # The history keeps the row as it was: --resume picks the run up.
    resumed = _cli(root, "--yes", "--resume")
    assert f"resuming run {dead['run_id']}: hold" in resumed.stderr
