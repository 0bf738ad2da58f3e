"""The undo itself: put back, under the project lock, what one journal says a run replaced.

For each file the journal names (its first record holds the original, its last the
run's output):

* the file is still the run's output, byte for byte (or still absent, if the run
  deleted it): its original comes back, with its mode, owner, atime and mtime;
* it is already the original: nothing to do (an undo run twice does nothing);
* anything else (edited, deleted or created since the run): refused and listed, left
  alone; with ``force`` restored too;
* no longer a regular file (a directory, a symlink): always refused;
* its record is damaged: never restored (the journal reports it).

Before a file is replaced, its current content goes into a new journal (``kind``
``undo``), so the undo itself can be undone: ``routine-workflow undo <that id>``.
Each file is replaced atomically (``fsutil.atomic_writer``), so an undo killed at any
instant leaves every file whole, and running it again finishes the job.
"""

from __future__ import annotations

import contextlib
import os
import stat
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import EXIT_FAILED, EXIT_OK
from routine_workflow.fsutil import UnsafePath, atomic_writer, ensure_inside
from routine_workflow.lock import RunLock
from routine_workflow.undo.journal import Recorder, sync_dir
from routine_workflow.undo.layout import new_journal_id, project_journals, sha256
from routine_workflow.undo.reader import FileRecord, Journal, read_journal
from routine_workflow.undo.store import find_journal, prune

# What undoing one file finds.
RESTORE = "restore"  # still the run's output: put the original back
ALREADY = "already"  # already the original
EDITED = "edited"  # changed since the run: refused unless forced
BLOCKED = "blocked"  # cannot be restored even with force (not a regular file, unreadable)


@dataclass
class UndoReport:
    """What an undo did (or, with ``dry_run``, would do)."""

    run_id: str | None  # the journal undone; None: there was none
    kind: str = "run"  # what it undid: a run, or an undo
    dry_run: bool = False
    interrupted: bool = False  # the run was killed before it ended (its journal unsealed)
    restored: list[str] = field(default_factory=list)
    refused: list[tuple[str, str]] = field(default_factory=list)  # (path, why)
    already: list[str] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # the journal's damaged parts
    notes: list[str] = field(default_factory=list)  # restored, but not every detail
    undo_id: str | None = None  # the journal of this undo (to undo it)

    @property
    def exit_code(self) -> int:
        """0 when everything was restored; 1 when a file was refused or the journal damaged."""
        return EXIT_FAILED if self.refused or self.damage else EXIT_OK

    @property
    def nothing_to_undo(self) -> bool:
        """True when every file is already as before the run (and nothing is wrong)."""
        return not (self.restored or self.refused or self.damage)

    def as_dict(self) -> dict[str, Any]:
        """For ``--json``."""
        return {
            "run_id": self.run_id,
            "kind": self.kind,
            "dry_run": self.dry_run,
            "interrupted": self.interrupted,
            "restored": self.restored,
            "refused": [{"path": p, "reason": r} for p, r in self.refused],
            "already_restored": self.already,
            "damage": self.damage,
            "notes": self.notes,
            "undo_id": self.undo_id,
            "exit_code": self.exit_code,
        }


def run_undo(config: WorkflowConfig, journal_id: str | None, *, force: bool = False) -> UndoReport:
    """Undo run ``journal_id`` (None: the newest run with a journal) in ``config``'s project.

    Takes the project lock unless ``config.dry_run`` (LockBusy: exit 75); raises
    JournalNotFound (exit 2) for an id that names no journal of this project.
    """
    root = config.project_root
    if config.dry_run:
        return _undo(config, journal_id, force=force)
    with RunLock(config.lock_dir, root):
        return _undo(config, journal_id, force=force)


def _undo(config: WorkflowConfig, journal_id: str | None, *, force: bool) -> UndoReport:
    root = config.project_root
    info = find_journal(root, journal_id)
    if info is None:
        return UndoReport(None, dry_run=config.dry_run)
    journal = read_journal(info.directory)
    report = UndoReport(
        info.id,
        info.kind if info.kind != "?" else "run",
        dry_run=config.dry_run,
        interrupted=not journal.sealed,
        damage=list(journal.damage),
    )
    recorded_root = journal.header.get("root") if journal.header else None
    if recorded_root is not None and recorded_root != str(root):
        report.damage.append(f"it was written for {recorded_root}, not for this project")
        return report
    recorder = None
    if not config.dry_run:
        recorder = Recorder(
            project_journals(root) / new_journal_id(), root, kind="undo", undoes=info.id
        )
    try:
        for path, records in _by_path(journal).items():
            _undo_file(root, path, records, report, recorder, force=force)
    finally:
        if recorder is not None:
            recorder.close()
            if recorder.created:
                report.undo_id = recorder.id
                prune(root, config.keep_undo, keep_ids={recorder.id, info.id})
    return report


def _by_path(journal: Journal) -> dict[str, list[FileRecord]]:
    """Each file's records in the order written, files sorted by path."""
    grouped: dict[str, list[FileRecord]] = {}
    for record in journal.records:
        grouped.setdefault(record.path, []).append(record)
    return dict(sorted(grouped.items()))


@dataclass
class _Current:
    """A file as undo finds it."""

    data: bytes | None  # None: absent
    info: os.stat_result | None
    problem: str = ""  # why it cannot be restored at all

    @property
    def digest(self) -> str | None:
        return None if self.data is None else sha256(self.data)


def _look(path: Path) -> _Current:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return _Current(None, None)
    except OSError as exc:
        return _Current(None, None, f"cannot look at it: {exc.strerror}")
    if not stat.S_ISREG(info.st_mode):
        return _Current(None, info, "it is no longer a regular file")
    try:
        with open(path, "rb") as handle:
            return _Current(handle.read(), os.fstat(handle.fileno()))
    except OSError as exc:
        return _Current(None, info, f"cannot read it: {exc.strerror}")


def _classify(current: _Current, first: FileRecord, last: FileRecord) -> tuple[str, str]:
    """(state, why) of one file: see the module's docstring."""
    if current.problem:
        return BLOCKED, current.problem
    digest = current.digest
    if digest == first.old:
        return ALREADY, ""
    if digest == last.new:
        return RESTORE, ""
    if digest is None:
        return EDITED, "deleted since the run"
    if last.new is None:
        return EDITED, "created again since the run"
    return EDITED, "edited since the run"


def _undo_file(
    root: Path,
    rel: str,
    records: list[FileRecord],
    report: UndoReport,
    recorder: Recorder | None,
    *,
    force: bool,
) -> None:
    first, last = records[0], records[-1]
    path = root / rel
    try:
        ensure_inside(path, (root,))
    except UnsafePath:  # a directory on the way is now a symlink out of the project
        report.refused.append((rel, "a directory on its path now leads out of the project"))
        return
    try:
        original = None if first.old is None else first.original()
    except ValueError as exc:
        report.damage.append(f"line {first.line} ({rel}): {exc}")
        return
    current = _look(path)
    state, why = _classify(current, first, last)
    if state == ALREADY:
        report.already.append(rel)
        return
    if state == BLOCKED or (state == EDITED and not force):
        if state == EDITED:
            why += " (--force restores it, keeping the current content in an undo journal)"
        report.refused.append((rel, why))
        return
    if recorder is None:  # a dry run
        report.restored.append(rel)
        return
    try:
        # The current content must be durable in the undo's own journal before it is replaced.
        recorder.record(rel, current.data, current.info, first.old)
    except OSError as exc:
        report.refused.append((rel, f"cannot save it in the undo journal: {exc.strerror}"))
        return
    try:
        note = _remove(path) if original is None else _put_back(path, original, first)
    except OSError as exc:  # a read-only directory, say: the file is as it was
        report.refused.append((rel, f"cannot write it: {exc.strerror}"))
        return
    if note:
        report.notes.append(f"{rel}: {note}")
    report.restored.append(rel)


def _remove(path: Path) -> str:
    with contextlib.suppress(FileNotFoundError):
        os.unlink(path)
    sync_dir(path.parent)
    return ""


def _put_back(path: Path, data: bytes, record: FileRecord) -> str:
    """Atomically replace ``path`` with ``data``, mode, owner and times as recorded.
    Returns what could not be restored ("" when everything was)."""
    if not path.parent.is_dir():  # forced, after the user removed its directory too
        path.parent.mkdir(parents=True, exist_ok=True)
    note = ""
    with atomic_writer(path, record.mode) as handle:
        handle.write(data)
        handle.flush()
        note = _restore_owner(handle.fileno(), record)
        # Set on the temporary file: the rename keeps its times.
        os.utime(handle.fileno(), ns=(record.atime_ns, record.mtime_ns))
    return note


def _restore_owner(fd: int, record: FileRecord) -> str:
    info = os.fstat(fd)
    if (info.st_uid, info.st_gid) == (record.uid, record.gid):
        return ""
    try:
        os.fchown(fd, record.uid, record.gid)
    except PermissionError:
        # Only root may give a file away; the group may still be one of ours.
        with contextlib.suppress(PermissionError):
            os.fchown(fd, -1, record.gid)
        if os.fstat(fd).st_uid != record.uid or os.fstat(fd).st_gid != record.gid:
            return f"owner {record.uid}:{record.gid} not restored (not permitted)"
    return ""
