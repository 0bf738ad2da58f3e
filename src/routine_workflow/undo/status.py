"""What ``history`` shows of a project's journals: the files each one names and whether
``undo`` can still take it back.

Read from the journals alone (each is read and validated, as ``undo`` would), never
from the project: whether each file is still as the run left it is the question
``undo --dry-run RUN_ID`` answers, file by file.

A journal's state:

* ``yes``: intact; ``undo RUN_ID`` restores its files (those unchanged since the run).
* ``undone``: an undo put back every file it names (and that undo was not undone in
  turn: undoing the undo makes the run undoable again).
* ``partly-undone``: an undo put back some of its files; the others were refused.
* ``damaged``: part of it is unreadable; ``undo`` restores the intact part and exits 1.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow import dirs
from routine_workflow.undo.layout import ID_PATTERN, JOURNAL_FILE
from routine_workflow.undo.reader import read_header, read_journal
from routine_workflow.undo.store import JournalInfo, list_journals

YES = "yes"
UNDONE = "undone"
PARTLY_UNDONE = "partly-undone"
DAMAGED = "damaged"


@dataclass
class JournalStatus:
    """One journal as ``history`` shows it."""

    id: str
    kind: str  # ``run`` or ``undo`` (``?``: its header is damaged)
    root: str | None
    created_ns: int
    argv: list[str]  # the command that wrote it (journals before 0.x: empty)
    files: list[str]  # every path it names, each once, in the order first recorded
    sealed: bool  # False: the run was killed (or is still running)
    damage: list[str]
    undoes: str | None = None  # an undo: the journal it undid
    undone_by: list[str] = field(default_factory=list)  # undos of it still in effect


def journal_statuses(root: Path) -> dict[str, JournalStatus]:
    """Every kept journal of ``root`` by id, oldest first, with who undid what."""
    statuses = {info.id: _status(info) for info in list_journals(root)}
    _mark_undone(statuses)
    return statuses


def undo_state(status: JournalStatus, statuses: dict[str, JournalStatus]) -> str:
    """``yes``, ``undone``, ``partly-undone`` or ``damaged`` (see the module's docstring)."""
    if status.undone_by:
        covered = {path for undo in status.undone_by for path in statuses[undo].files}
        return UNDONE if covered >= set(status.files) else PARTLY_UNDONE
    return DAMAGED if status.damage else YES


def _status(info: JournalInfo) -> JournalStatus:
    journal = read_journal(info.directory)
    header = journal.header or {}
    argv = header.get("argv")
    root = header.get("root")
    return JournalStatus(
        info.id,
        info.kind,
        root if isinstance(root, str) else None,
        info.created_ns,
        [str(a) for a in argv] if isinstance(argv, list) else [],
        list(dict.fromkeys(record.path for record in journal.records)),
        journal.sealed,
        list(journal.damage),
        info.undoes,
    )


def _mark_undone(statuses: dict[str, JournalStatus]) -> None:
    """Fill ``undone_by``: the undos of each journal that were not themselves undone.

    Newest first, so an undo's own undos are known before it counts: a run undone, then
    its undo undone, is a run that can be undone again.
    """
    for status in sorted(statuses.values(), key=lambda s: s.created_ns, reverse=True):
        target = statuses.get(status.undoes or "")
        if status.kind != "undo" or target is None or target is status:
            continue
        if not status.undone_by and target.created_ns <= status.created_ns:
            target.undone_by.insert(0, status.id)


def project_roots() -> dict[str, str]:
    """Every project that has journals: its journals' directory name -> its root, read from
    the newest readable header (for ``history --all-projects``)."""
    base = dirs.state_dir() / "undo"
    try:
        names = sorted(os.listdir(base))
    except OSError:
        return {}
    roots = {}
    for name in names:
        project = base / name
        if project.is_symlink() or not project.is_dir():
            continue
        try:
            ids = sorted((i for i in os.listdir(project) if ID_PATTERN.fullmatch(i)), reverse=True)
        except OSError:
            continue
        for journal_id in ids:
            if not (project / journal_id / JOURNAL_FILE).is_file():
                continue
            root = (read_header(project / journal_id) or {}).get("root")
            if isinstance(root, str):
                roots[name] = root
                break
    return roots
