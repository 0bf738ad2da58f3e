"""Write a backup archive: tar (PAX) compressed with gzip, into a hidden temporary file.

The tar stream is built in the calling thread (reading and hashing each file
once) while a worker thread compresses and writes it: zlib and sha256 release
the GIL, so the two overlap on two cores the way ``tar | gzip`` does.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import io
import os
import queue
import stat
import tarfile
import tempfile
import threading
from pathlib import Path
from typing import IO, Any

from routine_workflow.backup.manifest import MANIFEST_MEMBER, BackupError, Item, dump, manifest_doc
from routine_workflow.backup.store import TEMP_SUFFIX, temp_prefix

#: gzip level: 6 is gzip's default; see docs/backup.md for the measured trade-off.
COMPRESS_LEVEL = 6
CHUNK = 1 << 20
_NOFOLLOW = getattr(os, "O_NOFOLLOW", 0)


class CompressingSink:
    """A write-only file object for tarfile: buffers, then gzips and writes in a worker thread.

    An error in the worker (disk full, quota) is raised by the next ``write``
    or by ``close``.
    """

    def __init__(self, raw: IO[bytes], level: int, mtime: int) -> None:
        self._gz = gzip.GzipFile(filename="", fileobj=raw, mode="wb", compresslevel=level,
                                 mtime=mtime)
        self._queue: queue.Queue[bytes | None] = queue.Queue(maxsize=8)
        self._buf = bytearray()
        self._pos = 0
        self._error: BaseException | None = None
        self._aborted = False
        self._thread = threading.Thread(target=self._work, name="backup-gzip", daemon=True)
        self._thread.start()

    def write(self, data: bytes) -> int:
        """Queue ``data`` for compression (tarfile's interface)."""
        self._buf += data
        self._pos += len(data)
        if len(self._buf) >= CHUNK:
            self._flush()
        return len(data)

    def tell(self) -> int:
        """Uncompressed bytes written so far (tarfile asks once)."""
        return self._pos

    def _flush(self) -> None:
        if self._error is not None:
            raise self._error
        self._queue.put(bytes(self._buf))
        self._buf.clear()

    def _work(self) -> None:
        while (chunk := self._queue.get()) is not None:
            if self._error is None and not self._aborted:
                try:
                    self._gz.write(chunk)
                except BaseException as exc:  # handed to the main thread
                    self._error = exc

    def close(self) -> None:
        """Compress what is left, write the gzip trailer; raise the worker's error if any."""
        if self._buf:
            self._flush()
        self._queue.put(None)
        self._thread.join()
        if self._error is not None:
            raise self._error
        self._gz.close()

    def abort(self) -> None:
        """Stop the worker without writing more (the caller deletes the file)."""
        self._aborted = True
        self._queue.put(None)
        self._thread.join()


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


def write_archive(items: list[Item], root: Path, directory: Path, meta: dict[str, Any],
                  level: int = COMPRESS_LEVEL) -> tuple[Path, dict[str, Any], list[str]]:
    """Archive ``items`` into a new hidden temp file in ``directory``; fsync it.

    Returns the temp path, the manifest written into it and the paths left out
    because they could not be read. On any error (including a signal raised
    as an exception) the temp file is removed and the error propagates.
    """
    fd, name = tempfile.mkstemp(prefix=temp_prefix(root), suffix=TEMP_SUFFIX, dir=directory)
    tmp = Path(name)
    try:
        with os.fdopen(fd, "wb") as raw:
            sink = CompressingSink(raw, level, int(meta.get("created_ts", 0)))
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


def _fill(sink: CompressingSink, items: list[Item], root: Path,
          meta: dict[str, Any]) -> tuple[dict[str, Any], list[str]]:
    archived: list[Item] = []
    left_out: list[str] = []
    # Not a `with`: after an error the archive is deleted, and closing it would only
    # write an end-of-archive marker (and wait on a sink that may be full).
    tar = tarfile.TarFile(fileobj=sink, mode="w", format=tarfile.PAX_FORMAT,  # type: ignore[arg-type]
                          copybufsize=CHUNK)
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
