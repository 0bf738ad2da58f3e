"""Write a backup archive: tar (PAX) compressed with gzip, into a hidden temporary file.

The tar stream is built in the calling thread (reading and hashing each file
once) while pool threads compress it in pieces (see ``CompressingSink``):
zlib and sha256 release the GIL, so this uses every core, where
``tar czf`` uses one for gzip.
"""

from __future__ import annotations

import contextlib
import hashlib
import io
import os
import stat
import tarfile
import tempfile
import zlib
from collections import deque
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import IO, Any

from routine_workflow.backup.manifest import (
    MANIFEST_MEMBER,
    BackupError,
    Budget,
    Item,
    dump,
    manifest_doc,
)
from routine_workflow.backup.store import TEMP_SUFFIX, temp_prefix

#: gzip level: 6 is gzip's default; see docs/backup.md for the measured trade-off.
COMPRESS_LEVEL = 6
CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class CompressingSink:
    """A write-only file object for tarfile that gzips in parallel, like ``pigz``.

    The stream is cut into ``CHUNK``-sized pieces, each compressed by a pool
    thread into a complete gzip member; the members are written in order.
    Concatenated members are one valid gzip file (RFC 1952; ``gzip -d``,
    ``tar xzf`` and Python's ``gzip`` read them as one stream), and deflate's
    32 KiB window means the independent pieces cost almost nothing in size.
    zlib releases the GIL, so compression runs on every core while the
    calling thread reads and hashes files. An error writing (disk full,
    quota) surfaces from ``write`` or ``close``.
    """

    def __init__(self, raw: IO[bytes], level: int, workers: int) -> None:
        self._raw = raw
        self._level = level
        self._workers = max(1, workers)
        self._pool = ThreadPoolExecutor(self._workers, thread_name_prefix="backup-gzip")
        self._pending: deque[Future[bytes]] = deque()
        self._buf = bytearray()
        self._pos = 0

    def write(self, data: bytes) -> int:
        """Queue ``data`` for compression (tarfile's interface)."""
        self._buf += data
        self._pos += len(data)
        if len(self._buf) >= CHUNK:
            self._submit()
        return len(data)

    def tell(self) -> int:
        """Uncompressed bytes written so far (tarfile asks once)."""
        return self._pos

    def _submit(self) -> None:
        chunk = bytes(self._buf)
        self._buf.clear()
        self._pending.append(self._pool.submit(_gzip_member, chunk, self._level))
        # Bounded read-ahead: memory stays at a few chunks per worker.
        while len(self._pending) > 2 * self._workers:
            self._raw.write(self._pending.popleft().result())

    def close(self) -> None:
        """Compress and write what is left."""
        if self._buf:
            self._submit()
        while self._pending:
            self._raw.write(self._pending.popleft().result())
        self._pool.shutdown()

    def abort(self) -> None:
        """Drop queued work without writing it (the caller deletes the file)."""
        self._pool.shutdown(wait=True, cancel_futures=True)
        self._pending.clear()


def _gzip_member(chunk: bytes, level: int) -> bytes:
    """One complete gzip member (header, deflate data, CRC and length) holding ``chunk``."""
    compressor = zlib.compressobj(level, zlib.DEFLATED, 31)  # 31: gzip wrapper
    return compressor.compress(chunk) + compressor.flush()


class _HashingReader:
    """Reads a file for tarfile while hashing it; notes if it ended early (it shrank)."""

    def __init__(self, handle: IO[bytes]) -> None:
        self._handle = handle
        self.digest = hashlib.sha256()
        self.short = False

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        if size > 0 and len(data) < size:
            self.short = True
        self.digest.update(data)
        return data


def write_archive(
    items: list[Item],
    root: Path,
    directory: Path,
    meta: dict[str, Any],
    level: int = COMPRESS_LEVEL,
    workers: int = 2,
) -> tuple[Path, dict[str, Any], list[str]]:
    """Archive ``items`` into a new hidden temp file in ``directory``; fsync it.

    Returns the temp path, the manifest written into it and the paths left out
    because they could not be read. On any error (including a signal raised
    as an exception) the temp file is removed and the error propagates.
    """
    budget = Budget()
    for item in items:  # an archive that verify would refuse is never written
        over = budget.add(item.path, item.target)
        if over:
            raise BackupError(
                f"cannot back up {root}: {over}, more than one backup holds; "
                "exclude generated trees (e.g. in .gitignore)"
            )
    fd, name = tempfile.mkstemp(prefix=temp_prefix(root), suffix=TEMP_SUFFIX, dir=directory)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as raw:
            sink = CompressingSink(raw, level, workers)
            try:
                written, left_out = _fill(sink, items, root, meta)
                sink.close()
            except BaseException:
                sink.abort()
                raise
            raw.flush()
            os.fsync(raw.fileno())
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
        raise
    return tmp, written, left_out


def _fill(
    sink: CompressingSink, items: list[Item], root: Path, meta: dict[str, Any]
) -> tuple[dict[str, Any], list[str]]:
    archived: list[Item] = []
    left_out: list[str] = []
    # Not a `with`: after an error the archive is deleted, and closing it would only
    # write an end-of-archive marker (and wait on a sink that may be full).
    tar = tarfile.TarFile(
        fileobj=sink,  # type: ignore[arg-type]
        mode="w",
        format=tarfile.PAX_FORMAT,
        copybufsize=CHUNK,
    )
    for item in items:
        problem = _add(tar, root, item)
        if problem:
            left_out.append(problem)
        else:
            archived.append(item)
    doc = manifest_doc(archived, **{k: v for k, v in meta.items() if k != "created_ts"})
    data = dump(doc)
    info = tarfile.TarInfo(MANIFEST_MEMBER)
    info.size, info.mode, info.mtime = len(data), 0o644, int(meta.get("created_ts", 0))
    tar.addfile(info, io.BytesIO(data))
    tar.close()
    return doc, left_out


def _add(tar: tarfile.TarFile, root: Path, item: Item) -> str | None:
    """Add one item; returns why it was left out, or None. Updates ``item`` to what was stored."""
    info = tarfile.TarInfo(item.path)
    info.mode, info.mtime = item.mode, item.mtime_ns // 1_000_000_000
    if item.type == "dir":
        info.type = tarfile.DIRTYPE
        tar.addfile(info)
        return None
    if item.type == "symlink":
        info.type, info.linkname = tarfile.SYMTYPE, item.target or ""
        tar.addfile(info)
        return None
    try:
        # O_NOFOLLOW: a file swapped for a symlink since the scan is never followed.
        fd = os.open(root / item.path, os.O_RDONLY | _NOFOLLOW)
    except OSError as exc:
        return f"{item.path}: {exc.strerror}"
    with os.fdopen(fd, "rb", buffering=0) as handle:
        st = os.fstat(handle.fileno())
        if not stat.S_ISREG(st.st_mode):
            return f"{item.path}: no longer a regular file"
        info.size, info.mode = st.st_size, stat.S_IMODE(st.st_mode)
        info.mtime = st.st_mtime_ns // 1_000_000_000
        reader = _HashingReader(handle)
        try:
            tar.addfile(info, reader)
        except OSError:
            if reader.short:
                raise BackupError(f"{item.path} shrank while being archived; run again") from None
            raise
    item.size, item.mode, item.mtime_ns = st.st_size, info.mode, st.st_mtime_ns
    item.sha256 = reader.digest.hexdigest()
    return None
