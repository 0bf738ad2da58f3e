"""The run history under concurrency: every run is recorded, whoever creates the database."""

from __future__ import annotations

import sqlite3
import subprocess
import sys
from pathlib import Path

from helpers import wait_for

# Each process gets ready (imports done), then waits for the "go" file, so that all of
# them open the new database within the same millisecond or so.
RECORD_ONE_RUN = """
import sys, time
from pathlib import Path
from routine_workflow.workflow.history import History

db, name, ready, go = Path(sys.argv[1]), sys.argv[2], Path(sys.argv[3]), Path(sys.argv[4])
ready.touch()
while not go.exists():
    time.sleep(0.0005)
history = History(db)
history.start_run(name, Path("/p") / name, "2026-01-01T00:00:00Z", False, [], [])
history.close()
"""


def _record_at_once(db: Path, tmp_path: Path, tag: str) -> None:
    """Four processes open ``db`` within a millisecond or so and each records a run."""
    go = tmp_path / f"go-{tag}"
    ready = [tmp_path / f"ready-{tag}-{n}" for n in range(4)]
    procs = [
        subprocess.Popen(
            [sys.executable, "-c", RECORD_ONE_RUN, str(db), f"run{n}", str(flag), str(go)],
            stderr=subprocess.PIPE,
            text=True,
        )
        for n, flag in enumerate(ready)
    ]
    for flag in ready:
        wait_for(flag)
    go.touch()
    errors = [p.communicate(timeout=60)[1] for p in procs]
    assert [p.returncode for p in procs] == [0] * len(procs), errors
    with sqlite3.connect(db) as conn:
        assert conn.execute("SELECT count(*) FROM runs").fetchone() == (len(procs),)
    conn.close()


def test_runs_that_create_the_database_at_once_are_all_recorded(tmp_path: Path) -> None:
    # Two projects from one cron minute, or --jobs: before the fix, runs were lost to
    # "database is locked" while the new database was switched to WAL (seen in CI).
    for round_ in range(6):
        _record_at_once(tmp_path / f"history-{round_}.sqlite3", tmp_path, f"new-{round_}")


OLD_SCHEMA = """
CREATE TABLE runs (
    run_id TEXT PRIMARY KEY, project_root TEXT NOT NULL, started TEXT NOT NULL,
    finished TEXT, duration REAL, status TEXT NOT NULL, exit_code INTEGER,
    dry_run INTEGER NOT NULL, argv TEXT NOT NULL, reason TEXT
);
CREATE TABLE steps (
    run_id TEXT NOT NULL REFERENCES runs (run_id), position INTEGER NOT NULL,
    name TEXT NOT NULL, status TEXT NOT NULL, summary TEXT NOT NULL,
    duration REAL NOT NULL, counts TEXT NOT NULL, PRIMARY KEY (run_id, position)
);
"""


def test_runs_that_upgrade_an_old_database_at_once_are_all_recorded(tmp_path: Path) -> None:
    # The first runs after an upgrade (two projects from one cron minute) each find the
    # columns missing: only one may add them, and none may fail for it.
    for round_ in range(6):
        db = tmp_path / f"old-{round_}.sqlite3"
        with sqlite3.connect(db) as conn:
            conn.executescript(OLD_SCHEMA)
        conn.close()
        _record_at_once(db, tmp_path, f"old-{round_}")
