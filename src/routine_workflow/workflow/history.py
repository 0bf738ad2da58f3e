"""Run history in SQLite: one row per run, one per step, written as the run goes.

A run row is inserted when the run starts and finished when it ends, so a run
killed with ``kill -9`` stays visible as ``running`` (and ``--resume`` can find it).
``with History(path) as history:`` closes the database at the end of the block.
"""

from __future__ import annotations

import contextlib
import json
import os
import sqlite3
import stat
import time
from collections.abc import Iterator
from pathlib import Path
from types import TracebackType
from typing import Any

from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir
from routine_workflow.errors import RoutineError
from routine_workflow.procs.starttime import start_time

SCHEMA = """
CREATE TABLE IF NOT EXISTS runs (
    run_id TEXT PRIMARY KEY,
    project_root TEXT NOT NULL,
    started TEXT NOT NULL,
    finished TEXT,
    duration REAL,
    status TEXT NOT NULL,
    exit_code INTEGER,
    dry_run INTEGER NOT NULL,
    argv TEXT NOT NULL,
    reason TEXT,
    plan TEXT NOT NULL DEFAULT '[]',
    process TEXT
);
CREATE INDEX IF NOT EXISTS runs_by_project ON runs (project_root, started);
CREATE TABLE IF NOT EXISTS steps (
    run_id TEXT NOT NULL REFERENCES runs (run_id),
    position INTEGER NOT NULL,
    name TEXT NOT NULL,
    status TEXT NOT NULL,
    summary TEXT NOT NULL,
    duration REAL NOT NULL,
    counts TEXT NOT NULL,
    PRIMARY KEY (run_id, position)
);
"""


class HistoryError(RoutineError):
    """The history database cannot be opened or read."""


def _switch_to_wal(db: sqlite3.Connection, patience: float = 10.0) -> None:
    # Two runs creating the database at once (two projects from one cron minute, or
    # --jobs): switching the journal mode takes an exclusive lock, and SQLite answers
    # "database is locked" at once instead of waiting like other statements do.
    # Seen in CI as a run with no history row. So wait here, as the busy timeout would.
    deadline = time.monotonic() + patience
    while True:
        try:
            db.execute("PRAGMA journal_mode=WAL")
            return
        except sqlite3.OperationalError as exc:
            if "locked" not in str(exc) or time.monotonic() > deadline:
                raise
            time.sleep(0.01)


class History:
    """The per-user history database."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        try:
            private_dir(self.path.parent)
            # Made 0600 before SQLite opens it: its -wal and -shm files copy this mode.
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT | os.O_NONBLOCK, PRIVATE_FILE_MODE)
            try:
                if stat.S_ISREG(os.fstat(fd).st_mode):  # never chmod a device linked here
                    os.fchmod(fd, PRIVATE_FILE_MODE)
            finally:
                os.close(fd)
            self._db = sqlite3.connect(self.path, timeout=10, isolation_level=None)
            self._db.row_factory = sqlite3.Row
            _switch_to_wal(self._db)
            # WAL with synchronous=NORMAL never corrupts the database and never waits on the
            # disk per commit; a power cut may only forget the last rows (the lock, which
            # must survive one, is fsynced on its own).
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.executescript(SCHEMA)
            self._migrate()
        except (OSError, sqlite3.Error) as exc:
            raise HistoryError(f"history database {self.path}: {exc}") from None

    def _migrate(self) -> None:
        # Databases written before runs recorded their plan (for --resume) lack the column,
        # and the process that ran them (to tell a live run from one that died).
        missing = {
            "plan": "plan TEXT NOT NULL DEFAULT '[]'",
            "process": "process TEXT",
        }
        if missing.keys() <= self._columns():
            return
        # Runs that start together after an upgrade each find the columns missing: look
        # again inside a write transaction, so only the first adds them.
        with self._write() as db:
            for name in missing.keys() - self._columns():
                db.execute(f"ALTER TABLE runs ADD COLUMN {missing[name]}")

    def _columns(self) -> set[str]:
        return {row[1] for row in self._db.execute("PRAGMA table_info(runs)")}

    def close(self) -> None:
        """Close the connection."""
        self._db.close()

    def __enter__(self) -> History:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        # Unlike a sqlite3 connection's own ``with`` (a transaction), this closes.
        self.close()

    @contextlib.contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        try:
            with self._db:
                self._db.execute("BEGIN IMMEDIATE")
                yield self._db
        except sqlite3.Error as exc:
            raise HistoryError(f"history database {self.path}: {exc}") from None

    def start_run(
        self, run_id: str, root: Path, started: str, dry_run: bool, argv: list[str], plan: list[str]
    ) -> None:
        """Insert the row of a run that has just taken the lock, with the steps it plans."""
        process = json.dumps(_this_process())
        with self._write() as db:
            db.execute(
                "INSERT INTO runs"
                " (run_id, project_root, started, status, dry_run, argv, plan, process)"
                " VALUES (?, ?, ?, 'running', ?, ?, ?, ?)",
                (
                    run_id,
                    str(root),
                    started,
                    int(dry_run),
                    json.dumps(argv),
                    json.dumps(plan),
                    process,
                ),
            )

    def record_step(self, run_id: str, position: int, step: dict[str, Any]) -> None:
        """Store one finished step."""
        with self._write() as db:
            db.execute(
                "INSERT OR REPLACE INTO steps VALUES (?, ?, ?, ?, ?, ?, ?)",
                (
                    run_id,
                    position,
                    step["name"],
                    step["status"],
                    step["summary"],
                    step["duration"],
                    json.dumps(step.get("counts", {})),
                ),
            )

    def finish_run(
        self, run_id: str, finished: str, duration: float, status: str, exit_code: int, reason: str
    ) -> None:
        """Close the row of a run."""
        with self._write() as db:
            db.execute(
                "UPDATE runs SET finished=?, duration=?, status=?, exit_code=?, reason=?"
                " WHERE run_id=?",
                (finished, duration, status, exit_code, reason, run_id),
            )

    def _query(self, sql: str, params: tuple[Any, ...]) -> list[sqlite3.Row]:
        try:
            return self._db.execute(sql, params).fetchall()
        except sqlite3.Error as exc:
            raise HistoryError(f"history database {self.path}: {exc}") from None

    def last_success(self, root: Path, step: str) -> str | None:
        """When ``step`` last succeeded (ok or changed) in a real run of this project."""
        rows = self._query(
            "SELECT runs.started FROM steps JOIN runs USING (run_id) WHERE runs.project_root = ?"
            " AND runs.dry_run = 0 AND steps.name = ? AND steps.status IN ('ok', 'changed')"
            " ORDER BY runs.started DESC LIMIT 1",
            (str(root), step),
        )
        return str(rows[0][0]) if rows else None

    def last_successes(self, root: Path) -> dict[str, str]:
        """``last_success`` of every step of this project at once: step name -> run start."""
        rows = self._query(
            "SELECT steps.name, MAX(runs.started) FROM steps JOIN runs USING (run_id)"
            " WHERE runs.project_root = ? AND runs.dry_run = 0"
            " AND steps.status IN ('ok', 'changed') GROUP BY steps.name",
            (str(root),),
        )
        return {str(row[0]): str(row[1]) for row in rows}

    def resumable(self, root: Path) -> tuple[str, list[str]] | None:
        """The last real run of this project if it did not succeed: its id and the steps
        that failed or never ran, in planned order. None if it succeeded."""
        rows = self._query(
            "SELECT run_id, status, plan FROM runs WHERE project_root = ? AND dry_run = 0"
            " ORDER BY started DESC, rowid DESC LIMIT 1",
            (str(root),),
        )
        if not rows or rows[0]["status"] == "ok":
            return None
        row = rows[0]
        done = {
            r[0]
            for r in self._query(
                "SELECT name FROM steps WHERE run_id = ? AND status IN ('ok', 'changed')",
                (row["run_id"],),
            )
        }
        return row["run_id"], [name for name in json.loads(row["plan"]) if name not in done]

    def known_runs(self, run_ids: list[str]) -> set[str]:
        """Which of ``run_ids`` have a row (of any project)."""
        # One lookup each: they are the kept undo journals, a few per project.
        return {
            run_id
            for run_id in run_ids
            if self._query("SELECT 1 FROM runs WHERE run_id = ?", (run_id,))
        }

    def recent(self, root: Path | None = None, limit: int = 20) -> list[dict[str, Any]]:
        """The newest runs (of one project, or all), each with its steps."""
        query = "SELECT * FROM runs"
        params: list[Any] = []
        if root is not None:
            query += " WHERE project_root = ?"
            params.append(str(root))
        query += " ORDER BY started DESC, rowid DESC LIMIT ?"
        params.append(limit)
        try:
            runs = [dict(row) for row in self._db.execute(query, params)]
            for run in runs:
                run["argv"] = json.loads(run["argv"])
                run["dry_run"] = bool(run["dry_run"])
                run["plan"] = json.loads(run["plan"])
                run["process"] = _parse_process(run.get("process"))
                run["steps"] = [
                    {**dict(row), "counts": json.loads(row["counts"])}
                    for row in self._db.execute(
                        "SELECT name, status, summary, duration, counts FROM steps"
                        " WHERE run_id = ? ORDER BY position",
                        (run["run_id"],),
                    )
                ]
        except sqlite3.Error as exc:
            raise HistoryError(f"history database {self.path}: {exc}") from None
        return runs


def _this_process() -> dict[str, Any]:
    """Who runs this run: pid, start time and host, as the lock records its owner."""
    pid = os.getpid()
    try:
        started: float | None = start_time(pid)
    except OSError:
        started = None
    return {"pid": pid, "start": started, "host": os.uname().nodename}


def _parse_process(text: str | None) -> dict[str, Any] | None:
    """The recorded process, or None for a row written before it was recorded or edited."""
    try:
        process = json.loads(text) if text else None
    except ValueError:
        return None
    return process if isinstance(process, dict) else None
