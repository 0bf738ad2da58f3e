"""Changes since a backup that our own runs made: rewrites recorded in their undo journals.

A run backs up, then reformats; so the next run finds the project different from
that backup, though only by files our formatter wrote from the backed-up content.
Each rewrite is recorded in the run's undo journal (``undo.layout``), before the file
is replaced, with the sha256 of what the file held and of what was written. Following
those records from the backed-up digest gives, per path, the one other content the
file may hold without being anybody's edit: ``rewrites_since`` returns that map, and
``manifest.first_change`` accepts exactly those contents (docs/backup.md says why the
backup plus the journals is still a restore point).

Only journals of the run that took the backup and of later runs count, and a record
counts only if it continues the chain from the backed-up content: a rewrite of a file
that someone had edited in between breaks the chain, and the file is a change.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routine_workflow.errors import RoutineError


def rewrites_since(root: Path, previous: dict[str, Any]) -> tuple[dict[str, str], list[str]]:
    """(path -> sha256 our runs left it holding, ids of those runs) since the backup ``previous``.

    ``previous`` is the backup's sidecar manifest; paths whose chain ends where it
    started (a rewrite undone) are left out. Unreadable journals explain nothing.
    """
    from routine_workflow.undo.reader import read_journal
    from routine_workflow.undo.store import list_journals

    try:
        journals = list_journals(root)
    except RoutineError:
        return {}, []
    since, run_id = previous.get("scan_started_ns"), previous.get("run_id")
    if type(since) is not int:
        return {}, []
    backed_up = _file_digests(previous)
    now, last_run = dict(backed_up), {}
    for info in journals:
        if info.id != run_id and info.created_ns < since:
            continue  # from before the backup: its rewrites are already in it
        for record in read_journal(info.directory).records:
            held = now.get(record.path)
            if held is None or record.old != held or record.new is None:
                now.pop(record.path, None)  # not a rewrite of what the chain says: no longer ours
                continue
            now[record.path], last_run[record.path] = record.new, info.id
    ours = {path: sha for path, sha in now.items() if sha != backed_up[path]}
    return ours, sorted({last_run[path] for path in ours})


def _file_digests(previous: dict[str, Any]) -> dict[str, str]:
    """The sha256 of each file in a (not yet validated) manifest; anything odd is skipped."""
    entries = previous.get("entries")
    digests: dict[str, str] = {}
    if not isinstance(entries, list):
        return digests
    for entry in entries:
        if isinstance(entry, dict) and entry.get("type") == "file":
            path, sha = entry.get("path"), entry.get("sha256")
            if isinstance(path, str) and isinstance(sha, str):
                digests[path] = sha
    return digests
