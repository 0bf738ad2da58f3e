"""Recording: what a run replaced goes into its journal, on disk, *before* it is replaced.

A run records through ``recording(config, run_id)`` (``workflow/session.py`` and the
``reformat`` command wrap their writes in it) and ``record_replacement``, which the
reformat pass calls just before it replaces a file (``record_replacements`` for a batch
of files, with one sync). Nothing is created until the first
record: a run that changes nothing leaves no journal. On the way out the journal is
sealed and only the newest ``keep_undo`` are kept. The format: ``layout``.
"""

from __future__ import annotations

import contextlib
import json
import os
import stat
import sys
import threading
import time
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from routine_workflow import dirs
from routine_workflow.config import WorkflowConfig
from routine_workflow.fsutil import atomic_write
from routine_workflow.undo.layout import (
    ID_PATTERN,
    JOURNAL_FILE,
    SEAL_FILE,
    VERSION,
    ZLIB_LEVEL,
    encode_line,
    project_journals,
    sha256,
)


class Recorder:
    """Appends records to one journal, creating it on the first one."""

    def __init__(
        self, directory: Path, root: Path, kind: str = "run", undoes: str | None = None
    ) -> None:
        self.directory = directory
        self.root = root
        self.kind = kind
        self.undoes = undoes
        self.records = 0
        self.size = 0
        self._fd: int | None = None
        self._made = False
        self._guard = threading.Lock()

    @property
    def id(self) -> str:
        """The journal's id (its directory name: the run id)."""
        return self.directory.name

    @property
    def created(self) -> bool:
        """True once the journal exists (from the first record on)."""
        return self._made

    def record(
        self, rel: str, old: bytes | None, info: os.stat_result | None, new_sha: str | None
    ) -> None:
        """Durably record that ``rel`` (holding ``old``; None: absent) is about to become
        content hashing to ``new_sha`` (None: deleted). Returns once the record is on disk."""
        self.record_many([(rel, old, info, new_sha)])

    def record_many(
        self, items: Sequence[tuple[str, bytes | None, os.stat_result | None, str | None]]
    ) -> None:
        """``record`` for several files at once, with one sync: returns once every record
        is on disk (a batch of files is then replaced, none of them before)."""
        lines = [_encode(rel, old, info, new_sha) for rel, old, info, new_sha in items]
        if not lines:
            return
        with self._guard:
            fd = self._open()
            _write_all(fd, b"".join(lines))
            _sync(fd)
            self.records += len(lines)
            self.size += sum(len(line) for line in lines)

    def _open(self) -> int:
        if self._fd is not None:
            return self._fd
        made = [d for d in self.directory.parents if not d.exists()]  # synced once made
        dirs.private_dir(self.directory.parent)
        os.mkdir(self.directory, dirs.PRIVATE_DIR_MODE)
        fd = -1
        try:
            os.chmod(self.directory, dirs.PRIVATE_DIR_MODE)  # whatever the umask
            path = self.directory / JOURNAL_FILE
            fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND, 0o600)
            os.fchmod(fd, dirs.PRIVATE_FILE_MODE)
            self._start(fd, made)
        except BaseException:
            # Nothing half made stays behind: the next record (or run) starts afresh.
            if fd >= 0:
                os.close(fd)
            import shutil  # here: only a failed start needs it (it brings bz2 and lzma)

            shutil.rmtree(self.directory, ignore_errors=True)
            raise
        self._fd = fd
        self._made = True
        return fd

    def _start(self, fd: int, made: list[Path]) -> None:
        header = {
            "type": "header",
            "version": VERSION,
            "id": self.id,
            "kind": self.kind,
            "undoes": self.undoes,
            "root": str(self.root),
            "created_ns": time.time_ns(),
            "pid": os.getpid(),
            # What wrote it, for ``history`` (the history database has no row for a
            # ``reformat`` command or an undo).
            "argv": sys.argv[1:],
        }
        line = encode_line(header)
        _write_all(fd, line)
        _sync(fd)
        # The new entries must be on disk too, or a power cut could lose the whole file.
        sync_dir(self.directory)
        for directory in [self.directory.parent, *(d.parent for d in made)]:
            sync_dir(directory)
        self.size = len(line)

    def close(self) -> None:
        """Seal the journal (if one was written): its record count and size, for readers to
        tell a complete journal from a damaged one."""
        with self._guard:
            if self._fd is None:
                return
            os.close(self._fd)
            self._fd = None
            seal = json.dumps({"records": self.records, "bytes": self.size}).encode()
            atomic_write(self.directory / SEAL_FILE, seal, dirs.PRIVATE_FILE_MODE)


def _encode(rel: str, old: bytes | None, info: os.stat_result | None, new_sha: str | None) -> bytes:
    """One file record's line."""
    entry: dict[str, Any] = {"type": "file", "path": rel, "new": new_sha}
    if old is None or info is None:
        entry["old"] = None
    else:
        import base64  # here: a run that replaces nothing never needs it

        entry.update(
            old=sha256(old),
            size=len(old),
            mode=stat.S_IMODE(info.st_mode),
            uid=info.st_uid,
            gid=info.st_gid,
            atime_ns=info.st_atime_ns,
            mtime_ns=info.st_mtime_ns,
            data=base64.b64encode(zlib.compress(old, ZLIB_LEVEL)).decode("ascii"),
        )
    return encode_line(entry)


def _write_all(fd: int, data: bytes) -> None:
    view = memoryview(data)
    while view:
        written = os.write(fd, view)
        view = view[written:]


def _sync(fd: int) -> None:
    # fdatasync where it exists: the size is metadata it does flush, the times are not needed.
    if sys.platform == "darwin":  # pragma: no cover (macOS: fsync is the documented one)
        os.fsync(fd)
    else:
        os.fdatasync(fd)


def sync_dir(directory: Path) -> None:
    """fsync a directory, so the entries just made or removed in it survive a power cut."""
    with contextlib.suppress(OSError):  # file systems that cannot sync a directory
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


_active: Recorder | None = None
_active_guard = threading.Lock()


@contextlib.contextmanager
def recording(config: WorkflowConfig, run_id: str) -> Iterator[Recorder | None]:
    """Journal, as run ``run_id``, every file replaced meanwhile through
    ``record_replacement``; on the way out seal the journal and keep the newest
    ``keep_undo``. With ``keep_undo = 0`` or ``dry_run`` nothing is recorded."""
    global _active
    if config.keep_undo <= 0 or config.dry_run:
        yield None
        return
    if not ID_PATTERN.fullmatch(run_id):
        raise ValueError(f"not a run id: {run_id!r}")  # a programming error
    recorder = Recorder(project_journals(config.project_root) / run_id, config.project_root)
    with _active_guard:
        previous, _active = _active, recorder
    try:
        yield recorder
    finally:
        with _active_guard:
            _active = previous
        recorder.close()
        if recorder.created:
            # Here: the store (and its journal reader) only when a journal was written.
            from routine_workflow.undo.store import prune

            prune(config.project_root, config.keep_undo, keep_ids={recorder.id})


def record_replacement(path: Path, old: bytes, new: bytes) -> None:
    """Record ``path``'s current bytes ``old`` (and its stat) before it is replaced by
    ``new``, in the active run's journal; nothing when no run is recording.

    Raises OSError, with a message naming the journal, when the record cannot be written:
    the caller must then leave the file alone.
    """
    record_replacements([(path, old, new)])


def record_replacements(items: Sequence[tuple[Path, bytes, bytes]]) -> None:
    """``record_replacement`` for several (path, old, new) at once, with one sync: every
    original is on disk when it returns, before any of the files is replaced.

    Raises OSError (as ``record_replacement``): then none of them may be replaced.
    """
    recorder = _active
    if recorder is None or not items:
        return
    try:
        entries = [
            (Path(path).relative_to(recorder.root).as_posix(), old, os.stat(path), sha256(new))
            for path, old, new in items
        ]
        recorder.record_many(entries)
    except OSError as exc:
        raise OSError(exc.errno, f"cannot save it in the undo journal: {exc.strerror}") from exc
