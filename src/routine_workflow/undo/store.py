"""A project's journals: list them, find one by id (or the newest run's), prune old ones."""

from __future__ import annotations

import os
import shutil
from collections.abc import Collection
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow.errors import ConfigError, RoutineError
from routine_workflow.fsutil import open_regular
from routine_workflow.undo.layout import (
    ID_PATTERN,
    JOURNAL_FILE,
    OUR_FILES,
    SEAL_FILE,
    project_journals,
)
from routine_workflow.undo.reader import read_header


class JournalNotFound(ConfigError):
    """No journal by that id (exit 2: a usage error)."""


@dataclass(frozen=True)
class JournalInfo:
    """A journal as listed: id, kind (``?`` if unreadable), start time."""

    id: str
    directory: Path
    kind: str
    created_ns: int
    undoes: str | None


def list_journals(root: Path) -> list[JournalInfo]:
    """This project's journals, oldest first (by start time, then id)."""
    base = project_journals(root)
    try:
        names = sorted(os.listdir(base))
    except FileNotFoundError:
        return []
    except OSError as exc:
        raise RoutineError(f"cannot read the undo journals in {base}: {exc.strerror}") from None
    found = []
    for name in names:
        directory = base / name
        if not ID_PATTERN.fullmatch(name) or directory.is_symlink():
            continue
        if not (directory / JOURNAL_FILE).is_file():
            continue  # not a journal: never read, never counted, never pruned
        header = read_header(directory) or {}
        created = header.get("created_ns")
        if type(created) is not int:
            created = _mtime_ns(directory)
        undoes = header.get("undoes")
        found.append(
            JournalInfo(
                name,
                directory,
                str(header.get("kind", "?")),
                created,
                undoes if isinstance(undoes, str) else None,
            )
        )
    return sorted(found, key=lambda j: (j.created_ns, j.id))


def _mtime_ns(path: Path) -> int:
    try:
        return path.stat().st_mtime_ns
    except OSError:
        return 0


def find_journal(root: Path, journal_id: str | None) -> JournalInfo | None:
    """The journal named ``journal_id``, or (None) the newest journal of a run, not of an
    undo, interrupted runs included. None when there is none; JournalNotFound for an id
    that names no journal of this project."""
    journals = list_journals(root)
    if journal_id is None:
        runs = [j for j in journals if j.kind != "undo"]
        return runs[-1] if runs else None
    for journal in journals:
        if journal.id == journal_id:
            return journal
    raise JournalNotFound(
        f"no undo journal for run {journal_id!r} in this project: a run that changed no "
        "files has none, and only the newest keep_undo are kept "
        "(routine-workflow undo --list shows them)"
    )


def prune(root: Path, keep: int, keep_ids: Collection[str] = ()) -> list[str]:
    """Remove all but the newest ``keep`` journals of ``root`` (never one in ``keep_ids``);
    only directories that hold nothing but journal files are removed. Returns their ids."""
    journals = list_journals(root)
    excess = len(journals) - max(keep, len(keep_ids), 1)
    removed = []
    for journal in journals:
        if excess <= 0:
            break
        if journal.id in keep_ids:
            continue
        try:
            if not set(os.listdir(journal.directory)) <= OUR_FILES:
                continue  # something we did not write: not ours to delete
            shutil.rmtree(journal.directory)
        except OSError:
            continue
        removed.append(journal.id)
        excess -= 1
    return removed


def journal_summary(info: JournalInfo) -> dict[str, Any]:
    """What ``undo --list`` shows of a journal: id, kind, start, file records, sealed."""
    try:
        with open_regular(info.directory / JOURNAL_FILE) as handle:
            lines = sum(chunk.count(b"\n") for chunk in iter(lambda: handle.read(1 << 20), b""))
    except OSError:
        lines = 0
    return {
        "id": info.id,
        "kind": info.kind,
        "undoes": info.undoes,
        "created_ns": info.created_ns,
        "files": max(lines - 1, 0),
        "sealed": (info.directory / SEAL_FILE).exists(),
    }
