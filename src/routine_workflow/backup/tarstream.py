"""An archive's tar stream, read in bounded memory.

``Decompressed`` gunzips ahead in a thread and reads to the end of the gzip
stream (every CRC checked); ``members`` walks the tar stream without
remembering headers, through a TarInfo subclass that refuses, before tarfile
reads them, headers that would cost unbounded memory (huge pax or GNU
long-name headers, global headers, sparse maps); ``HashingStream`` hashes a
member's content as it is read, in bounded pieces.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import queue
import tarfile
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import IO, Any

from routine_workflow.fsutil import human_size, open_regular

READ_CHUNK = 1 << 20
#: Largest pax or GNU long-name header read; ours hold one path and a few numbers.
MAX_HEADER_BYTES = 64 * 1024
_EXTENDED = (
    tarfile.XHDTYPE,
    tarfile.SOLARIS_XHDTYPE,
    tarfile.GNUTYPE_LONGNAME,
    tarfile.GNUTYPE_LONGLINK,
)


class Refused(tarfile.TarError):
    """A header this reader will not process: it could cost unbounded memory."""


class _Header(tarfile.TarInfo):
    """A TarInfo that refuses, before tarfile reads them, headers that could cost memory.

    tarfile reads a pax or GNU long-name header whole, keeps global headers for
    the rest of the archive and reads sparse maps of any length. Our archives
    have small pax headers and none of the others. ``_proc_member`` is the
    extension point tarfile documents for subclasses.
    """

    __slots__ = ()

    def _proc_member(self, tarfile_: tarfile.TarFile) -> tarfile.TarInfo:
        if self.type in (tarfile.XGLTYPE, tarfile.GNUTYPE_SPARSE):
            raise Refused(f"{self.type.decode(errors='replace')!r} header (global or sparse)")
        if self.type in _EXTENDED and self.size > MAX_HEADER_BYTES:
            raise Refused(f"an extended header of {human_size(self.size)}")
        return super()._proc_member(tarfile_)  # type: ignore[misc,no-any-return]

    def _proc_gnusparse_00(self, *_args: object) -> None:
        raise Refused("a sparse file")

    _proc_gnusparse_01 = _proc_gnusparse_10 = _proc_gnusparse_00


def members(source: Decompressed) -> Iterator[tuple[tarfile.TarInfo, IO[bytes] | None]]:
    """(member, content stream for files), in archive order, remembering none of them."""
    with source:
        with tarfile.open(
            fileobj=source, mode="r|", tarinfo=_Header  # type: ignore[call-overload]
        ) as tar:
            while (member := tar.next()) is not None:
                tar.members.clear()  # stream mode would keep every header otherwise
                yield member, tar.extractfile(member) if member.isreg() else None
        source.drain()


class Decompressed:
    """The archive's tar stream, decompressed ahead in a thread (zlib releases the GIL).

    It reads the gzip stream to its very end, so every member's CRC and length
    are checked; any error is raised in the reading thread's place.
    """

    def __init__(self, path: Path) -> None:
        self._path = path
        self._queue: queue.Queue[bytes | BaseException | None] = queue.Queue(maxsize=8)
        self._stop = threading.Event()
        self._chunk = b""
        self._offset = 0
        self._eof = False
        self._raw_digest = hashlib.sha256()
        self._thread = threading.Thread(target=self._work, name="backup-gunzip", daemon=True)

    @property
    def archive_sha256(self) -> str:
        """sha256 of the compressed bytes read so far (all of them, once drained)."""
        return self._raw_digest.hexdigest()

    def __enter__(self) -> Decompressed:
        self._thread.start()
        return self

    def __exit__(self, *_exc: object) -> None:
        self._stop.set()
        while self._thread.is_alive():  # unblock a producer waiting on a full queue
            with contextlib.suppress(queue.Empty):
                self._queue.get(timeout=0.05)
        self._thread.join()

    def _work(self) -> None:
        try:
            with open_regular(self._path) as handle:
                hashed = _RawHashing(handle, self._raw_digest)
                # The stubs ask for a seekable file; reading straight through never seeks.
                with gzip.GzipFile(fileobj=hashed, mode="rb") as gz:  # type: ignore[call-overload]
                    while not self._stop.is_set() and (block := gz.read(READ_CHUNK)):
                        self._queue.put(block)
        except BaseException as exc:  # handed to the reading thread
            self._queue.put(exc)
            return
        self._queue.put(None)

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes (fewer is fine for tarfile's stream mode); b"" at the end."""
        if self._offset >= len(self._chunk):
            if self._eof:
                return b""
            item = self._queue.get()
            if isinstance(item, BaseException):
                self._eof = True
                raise item
            if item is None:
                self._eof = True
                return b""
            self._chunk, self._offset = item, 0
        end = len(self._chunk) if size < 0 else self._offset + size
        data = self._chunk[self._offset : end]
        self._offset += len(data)
        return data

    def drain(self) -> None:
        """Read past the tar end marker to the end of the gzip stream (its CRC is checked there)."""
        while self.read(READ_CHUNK):
            pass


class _RawHashing:
    """The compressed file, hashed as gzip reads it (one read serves both)."""

    def __init__(self, handle: IO[bytes], digest: Any) -> None:
        self._handle = handle
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._digest.update(data)
        return data


class HashingStream:
    """A member's content; whoever reads it also computes its sha256."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        """Up to ``size`` bytes of the member (read in bounded pieces whatever ``size``)."""
        data = self._stream.read(READ_CHUNK if size < 0 else min(size, READ_CHUNK))
        self._digest.update(data)
        return data

    def digest(self) -> bytes:
        """The sha256 of the whole member; whatever was left unread still counts."""
        while block := self._stream.read(READ_CHUNK):
            self._digest.update(block)
        return self._digest.digest()

    def hexdigest(self) -> str:
        """``digest()`` as hex."""
        return self.digest().hex()
