"""``workflow.history``: runs and steps in SQLite, for ``history``, ``--resume`` and ``when.changed``."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from routine_workflow.workflow.history import History, HistoryError

ROOT = Path("/projects/a")
OTHER = Path("/projects/b")
PLAN = ["backup", "reformat", "dumps"]


@pytest.fixture
def history(tmp_path: Path) -> Iterator[History]:
    db = History(tmp_path / "state" / "history.sqlite3")  # the directory is created
    yield db
    db.close()


def _step(name: str, status: str, **counts: int) -> dict[str, Any]:
    return {
        "name": name,
        "status": status,
        "summary": f"{name} {status}",
        "duration": 0.5,
        "counts": counts,
    }


def _run(
    history: History,
    run_id: str,
    started: str,
    steps: dict[str, str],
    *,
    root: Path = ROOT,
    status: str = "ok",
    dry_run: bool = False,
) -> None:
    history.start_run(run_id, root, started, dry_run, ["routine-workflow", "-y"], PLAN)
    for position, (name, step_status) in enumerate(steps.items()):
        history.record_step(run_id, position, _step(name, step_status))
    history.finish_run(run_id, started, 1.5, status, 0 if status == "ok" else 1, "")


def test_a_run_reads_back_with_its_steps_in_order(history: History) -> None:
    history.start_run("r1", ROOT, "2026-01-01T00:00:00Z", True, ["routine-workflow", "-n"], PLAN)
    history.record_step("r1", 1, _step("reformat", "changed", files=3))
    history.record_step("r1", 0, _step("backup", "ok"))
    [running] = history.recent(ROOT)
    assert running["status"] == "running" and running["finished"] is None  # as after a kill -9
    history.finish_run("r1", "2026-01-01T00:00:02Z", 2.0, "ok", 0, "done")
    [run] = history.recent(ROOT)
    assert {k: run[k] for k in ("run_id", "project_root", "status", "exit_code", "reason")} == {
        "run_id": "r1",
        "project_root": str(ROOT),
        "status": "ok",
        "exit_code": 0,
        "reason": "done",
    }
    assert run["dry_run"] is True and run["argv"] == ["routine-workflow", "-n"]
    assert run["plan"] == PLAN and run["duration"] == 2.0
    assert [(s["name"], s["status"], s["counts"]) for s in run["steps"]] == [
        ("backup", "ok", {}),
        ("reformat", "changed", {"files": 3}),
    ]


def test_recent_is_newest_first_per_project_with_a_limit(history: History) -> None:
    _run(history, "a1", "2026-01-01T00:00:00Z", {})
    _run(history, "b1", "2026-01-02T00:00:00Z", {}, root=OTHER)
    _run(history, "a2", "2026-01-03T00:00:00Z", {})
    # same second as a2: the later insert is the newer run
    _run(history, "a3", "2026-01-03T00:00:00Z", {})
    assert [r["run_id"] for r in history.recent(ROOT)] == ["a3", "a2", "a1"]
    assert [r["run_id"] for r in history.recent(ROOT, limit=2)] == ["a3", "a2"]
    assert [r["run_id"] for r in history.recent()] == ["a3", "a2", "b1", "a1"]
    assert history.recent(Path("/nowhere")) == []


def test_last_success_counts_real_successes_of_that_step_in_that_project(
    history: History,
) -> None:
    assert history.last_success(ROOT, "reformat") is None
    _run(history, "r1", "2026-01-01T00:00:00Z", {"reformat": "ok"})
    _run(history, "r2", "2026-01-02T00:00:00Z", {"reformat": "changed"})
    _run(history, "r3", "2026-01-03T00:00:00Z", {"reformat": "failed"}, status="failed")
    _run(history, "r4", "2026-01-04T00:00:00Z", {"reformat": "skipped"})
    _run(history, "r5", "2026-01-05T00:00:00Z", {"reformat": "ok"}, dry_run=True)
    _run(history, "o1", "2026-01-06T00:00:00Z", {"reformat": "ok"}, root=OTHER)
    assert history.last_success(ROOT, "reformat") == "2026-01-02T00:00:00Z"
    assert history.last_success(ROOT, "dumps") is None


def test_resumable_names_what_failed_or_never_ran_in_planned_order(history: History) -> None:
    assert history.resumable(ROOT) is None  # no runs yet
    _run(
        history,
        "r1",
        "2026-01-01T00:00:00Z",
        {"backup": "ok", "reformat": "failed"},
        status="failed",
    )
    assert history.resumable(ROOT) == ("r1", ["reformat", "dumps"])
    # a dry run in between changes nothing
    _run(history, "r2", "2026-01-02T00:00:00Z", {}, status="failed", dry_run=True)
    assert history.resumable(ROOT) == ("r1", ["reformat", "dumps"])
    _run(history, "r3", "2026-01-03T00:00:00Z", dict.fromkeys(PLAN, "ok"))
    assert history.resumable(ROOT) is None
    assert history.resumable(OTHER) is None


def test_a_run_killed_mid_way_is_resumable(history: History) -> None:
    history.start_run("k1", ROOT, "2026-01-01T00:00:00Z", False, [], PLAN)
    history.record_step("k1", 0, _step("backup", "changed"))
    # never finished: status stays "running"
    assert history.resumable(ROOT) == ("k1", ["reformat", "dumps"])


def test_a_database_from_before_plans_is_migrated(tmp_path: Path) -> None:
    path = tmp_path / "old.sqlite3"
    with sqlite3.connect(path) as old:
        old.execute(
            "CREATE TABLE runs (run_id TEXT PRIMARY KEY, project_root TEXT NOT NULL,"
            " started TEXT NOT NULL, finished TEXT, duration REAL, status TEXT NOT NULL,"
            " exit_code INTEGER, dry_run INTEGER NOT NULL, argv TEXT NOT NULL, reason TEXT)"
        )
        old.execute(
            "INSERT INTO runs VALUES ('old', ?, '2025-01-01T00:00:00Z', NULL, NULL, 'failed',"
            " 1, 0, '[]', 'x')",
            (str(ROOT),),
        )
    old.close()
    history = History(path)
    try:
        [run] = history.recent(ROOT)
        assert run["run_id"] == "old" and run["plan"] == []
        assert history.resumable(ROOT) == ("old", [])
    finally:
        history.close()


def test_a_run_id_is_recorded_once(history: History) -> None:
    history.start_run("r1", ROOT, "2026-01-01T00:00:00Z", False, [], [])
    with pytest.raises(HistoryError, match=r"history database .*history.sqlite3: UNIQUE"):
        history.start_run("r1", ROOT, "2026-01-01T00:00:01Z", False, [], [])


def test_an_unusable_database_path_is_a_history_error(tmp_path: Path) -> None:
    not_a_db = tmp_path / "history.sqlite3"
    not_a_db.write_bytes(b"this is not an SQLite database, just some text" * 100)
    with pytest.raises(
        HistoryError, match=r"history database .*history.sqlite3: file is not a database"
    ):
        History(not_a_db)
    blocker = tmp_path / "file"
    blocker.write_text("")
    with pytest.raises(HistoryError, match=r"history database .*file/h.sqlite3: "):
        History(blocker / "h.sqlite3")
