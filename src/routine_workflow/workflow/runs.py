"""The runs ``history`` lists: the history database's rows joined with the undo journals.

Each run gets, besides its row: ``kind`` (``run``, ``reformat`` or ``undo``),
``files_changed``, ``files`` (the paths its journal names), ``undo`` (whether
``routine-workflow undo RUN_ID`` can take it back), ``undone_by``/``undoes`` and
``journal`` (sealed, damage). Journals with no history row — a ``reformat`` command
(the pre-commit hook's too) and every undo — are runs of their own, merged in by time.

``undo`` is one of (``undo.status`` has the journal's side):

* ``yes``, ``undone``, ``partly-undone``, ``damaged``: it has a journal;
* ``expired``: it changed files, but its journal was removed to keep the newest ``keep_undo``;
* ``not-journaled``: it changed files and never had a journal (``keep_undo = 0``);
* ``nothing``: it changed no files; ``dry-run``: a dry run changes nothing.
"""

from __future__ import annotations

import os
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.procs.orphans import START_TIME_TOLERANCE
from routine_workflow.procs.starttime import start_time
from routine_workflow.undo.status import JournalStatus, journal_statuses, project_roots, undo_state
from routine_workflow.workflow.history import History

EXPIRED = "expired"
NOT_JOURNALED = "not-journaled"
NOTHING = "nothing"
DRY_RUN = "dry-run"
#: The built-in step that changes the user's files (the others write the tool's own
#: places or delete caches): its ``changed`` count is what a run changed.
REFORMAT = "reformat"


def recent_runs(
    config: WorkflowConfig, limit: int, all_projects: bool = False
) -> list[dict[str, Any]]:
    """The newest ``limit`` runs of this project (or of all projects), newest first."""
    rows: list[dict[str, Any]] = []
    recorded: set[str] = set()
    roots = {str(config.project_root)}
    if all_projects:
        roots |= set(project_roots().values())
    statuses = {root: journal_statuses(Path(root)) for root in sorted(roots)}
    if config.history_db.exists():
        with History(config.history_db) as history:
            rows = history.recent(None if all_projects else config.project_root, limit)
            for row in rows:
                _settle(row)
                if row["project_root"] not in statuses:
                    statuses[row["project_root"]] = journal_statuses(Path(row["project_root"]))
            # A journal whose run has a history row beyond ``limit`` is not a run of its own.
            recorded = history.known_runs([i for found in statuses.values() for i in found])
    journal_rows = []
    for root, found in statuses.items():
        oldest_kept = min((s.created_ns for s in found.values()), default=None)
        for row in rows:
            if row["project_root"] == root:
                _describe(row, found.get(row["run_id"]), found, oldest_kept)
        journal_rows += [
            _journal_row(status, found, root)
            for status in found.values()
            if status.id not in recorded
        ]
    return _merge(rows, sorted(journal_rows, key=_when, reverse=True))[:limit]


#: A run whose row says ``running`` but whose process is gone (the row is left as it is:
#: ``--resume`` picks such a run up).
DIED = "died"
DIED_REASON = (
    "ended without finishing its record: killed (kill -9, the OOM killer) or the machine stopped"
)


def _settle(row: dict[str, Any]) -> None:
    """Show a ``running`` row whose process is gone as ``died``."""
    if row["status"] == "running" and process_gone(row.get("process")):
        row.update(status=DIED, reason=DIED_REASON)


def process_gone(process: dict[str, Any] | None) -> bool:
    """True only when the recorded process is certainly not running any more: no such pid
    on this host, or that pid now belongs to a process started at another time."""
    if not process or process.get("host") != os.uname().nodename:
        return False  # an older row, or a run on another machine: we cannot tell
    try:
        started = start_time(int(process["pid"]))
        recorded = float(process["start"])
    except ProcessLookupError:
        return True
    except (OSError, KeyError, TypeError, ValueError):
        return False
    return abs(started - recorded) > START_TIME_TOLERANCE


def _describe(
    row: dict[str, Any],
    status: JournalStatus | None,
    statuses: dict[str, JournalStatus],
    oldest_kept: int | None,
) -> None:
    """Add the undo fields to a history row."""
    row["kind"] = "run"
    row["undoes"] = None
    reformats = [s for s in row["steps"] if s["name"] == REFORMAT and "changed" in s["counts"]]
    changed = sum(s["counts"]["changed"] for s in reformats)
    if status is not None:
        _add_journal(row, status, statuses)
        # What the step reported, when it finished: a write that failed after its record
        # was saved is in the journal but changed nothing. A killed run has only its journal.
        if reformats:
            row["files_changed"] = changed
        return
    row.update(files_changed=changed, files=[], undone_by=None, journal=None)
    if row["dry_run"]:
        row["undo"] = DRY_RUN
    elif not changed:
        row["undo"] = NOTHING
    elif oldest_kept is not None and _seconds_ns(row["started"]) < oldest_kept:
        # Journals are removed oldest first, so a newer one being kept means this one was.
        row["undo"] = EXPIRED
    else:
        row["undo"] = NOT_JOURNALED


def _add_journal(
    row: dict[str, Any], status: JournalStatus, statuses: dict[str, JournalStatus]
) -> None:
    row.update(
        files_changed=len(status.files),
        files=status.files,
        undo=undo_state(status, statuses),
        undone_by=status.undone_by[-1] if status.undone_by else None,
        journal={"sealed": status.sealed, "damage": status.damage, "created_ns": status.created_ns},
    )


def _journal_row(
    status: JournalStatus, statuses: dict[str, JournalStatus], root: str
) -> dict[str, Any]:
    """A row for a journal the history database has no row for."""
    started = datetime.fromtimestamp(status.created_ns / 1e9, timezone.utc)
    row: dict[str, Any] = {
        "run_id": status.id,
        "project_root": root,
        "started": started.isoformat(timespec="seconds"),
        "finished": None,
        "duration": None,
        # How it ended is not recorded, only whether it ended (its journal sealed).
        "status": "done" if status.sealed else "interrupted",
        "exit_code": None,
        "dry_run": False,
        "argv": status.argv,
        "reason": None,
        "plan": [],
        "steps": [],
        # Only `reformat` journals a run outside the workflow (the workflow's runs have a
        # history row, unless the database was unwritable: their journals still work).
        "kind": "undo" if status.kind == "undo" else REFORMAT,
        "undoes": status.undoes,
    }
    _add_journal(row, status, statuses)
    return row


def _when(row: dict[str, Any]) -> int:
    """When a run started, in ns: its journal's creation when it has one (finer than the
    history's seconds), else the history's start."""
    journal = row.get("journal")
    if journal is not None:
        return int(journal["created_ns"])
    return _seconds_ns(row["started"])


def _seconds_ns(started: str) -> int:
    try:
        return int(datetime.fromisoformat(started).timestamp()) * 1_000_000_000
    except ValueError:
        return 0


def _merge(
    newest_first: list[dict[str, Any]], others: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """Merge two newest-first lists, keeping each list's own order."""
    merged: list[dict[str, Any]] = []
    i = j = 0
    while i < len(newest_first) and j < len(others):
        if _when(others[j]) > _when(newest_first[i]):
            merged.append(others[j])
            j += 1
        else:
            merged.append(newest_first[i])
            i += 1
    return merged + newest_first[i:] + others[j:]
