"""Read a backup archive back: verify every member against the manifest, restore safely.

Every member is checked before anything is written: a path must be relative,
normalised and free of ``..``; only files, directories and symlinks are
accepted; a symlink must resolve inside the target even through the
archive's other symlinks; nothing may be written through a symlink. The
gzip stream is read to its end so its CRC is checked too.
"""

from __future__ import annotations

import contextlib
import gzip
import hashlib
import os
import posixpath
import queue
import tarfile
import threading
import zlib
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from routine_workflow.backup.manifest import (
    MANIFEST_MEMBER,
    BackupError,
    Item,
    Totals,
    entries,
    load,
)

READ_CHUNK = 1 << 20
_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
}
_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit


@dataclass
class Verified(Totals):
    """A verified archive: its manifest and what it holds."""

    path: Path
    manifest: dict[str, Any]
    items: list[Item] = field(default_factory=list)
    #: sha256 of the compressed file as read: later runs check the archive is still intact.
    archive_sha256: str = ""
    #: symlinks leading outside the target, allowed through by ``allow_escaping_links``
    escaping_links: list[str] = field(default_factory=list)


MemberHook = Callable[[tarfile.TarInfo, Item, "IO[bytes] | None"], None]


def verify(
    path: Path, on_member: MemberHook | None = None, *, allow_escaping_links: bool = False
) -> Verified:
    """Re-read ``path`` and check every member against its manifest.

    Raises BackupError naming the member that differs, or the archive if it
    cannot be read. ``on_member`` (restore) is called for each checked member
    with a readable stream for files; the manifest is only known at the end,
    so a caller that writes must have verified the archive first.
    """
    seen: dict[str, Item] = {}
    manifest: dict[str, Any] | None = None
    source = _Decompressed(path)
    try:
        for member, item, stream in _members(source, path):
            if manifest is not None:
                raise BackupError(f"{path}: member {member.name!r} after the manifest")
            if item is None:
                manifest = load(stream.read() if stream else b"", str(path))
                continue
            _check_safe(member, seen)
            if on_member is not None:
                hashing = _Hashing(stream) if stream else None
                try:
                    on_member(member, item, hashing)  # type: ignore[arg-type]
                except OSError as exc:  # the writer's failure, not the archive's
                    raise BackupError(
                        f"cannot write {exc.filename or member.name}: " f"{exc.strerror or exc}"
                    ) from None
                item.sha256 = hashing.hexdigest() if hashing else None
            else:
                item.sha256 = _sha256(stream) if stream else None
            seen[member.name] = item
    except (OSError, EOFError, zlib.error, tarfile.TarError) as exc:
        raise BackupError(f"{path}: archive is corrupt or unreadable ({exc})") from None
    escaping = check_links(seen, allow_escaping_links)
    if manifest is None:
        raise BackupError(f"{path}: no manifest; not a routine-workflow backup")
    _compare(path, manifest, seen)
    return Verified(path, manifest, list(seen.values()), source.archive_sha256, escaping)


def _members(
    source: _Decompressed,
    path: Path,
) -> Iterator[tuple[tarfile.TarInfo, Item | None, IO[bytes] | None]]:
    """(member, item or None for the manifest, content stream or None), in archive order."""
    with source:
        with tarfile.open(fileobj=source, mode="r|") as tar:  # type: ignore[call-overload]
            for member in tar:
                stream = tar.extractfile(member) if member.isreg() else None
                if member.name == MANIFEST_MEMBER and member.isreg():
                    yield member, None, stream
                    continue
                kind = _TYPES.get(member.type)
                if kind is None:
                    raise BackupError(
                        f"{path}: {member.name!r} is a special file or hard link; " "refusing it"
                    )
                yield member, Item(
                    member.name,
                    kind,
                    member.size if kind == "file" else 0,
                    member.mode & 0o7777,
                    0,
                    target=member.linkname if kind == "symlink" else None,
                ), stream
        source.drain()


class _Decompressed:
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

    def __enter__(self) -> _Decompressed:
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
            with open(self._path, "rb") as handle:
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


def _sha256(stream: IO[bytes]) -> str:
    digest = hashlib.sha256()
    while block := stream.read(READ_CHUNK):
        digest.update(block)
    return digest.hexdigest()


class _RawHashing:
    """The compressed file, hashed as gzip reads it (one read serves both)."""

    def __init__(self, handle: IO[bytes], digest: Any) -> None:
        self._handle = handle
        self._digest = digest

    def read(self, size: int = -1) -> bytes:
        data = self._handle.read(size)
        self._digest.update(data)
        return data


class _Hashing:
    """Wraps a member stream so whoever consumes it also computes its sha256."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._digest = hashlib.sha256()

    def read(self, size: int = -1) -> bytes:
        data = self._stream.read(size)
        self._digest.update(data)
        return data

    def hexdigest(self) -> str:
        # Whatever the consumer left unread still counts.
        while block := self._stream.read(READ_CHUNK):
            self._digest.update(block)
        return self._digest.hexdigest()


def _compare(path: Path, manifest: dict[str, Any], seen: dict[str, Item]) -> None:
    expected = {i.path: i for i in entries(manifest)}
    for name, item in expected.items():
        got = seen.get(name)
        if got is None:
            raise BackupError(f"{path}: {name} is in the manifest but missing from the archive")
        if not got.same_metadata(item):
            raise BackupError(f"{path}: {name} differs from the manifest (type, mode or size)")
        if got.sha256 != item.sha256:
            raise BackupError(f"{path}: {name} is corrupt (sha256 differs from the manifest)")
        got.mtime_ns = item.mtime_ns
    extra = sorted(set(seen) - set(expected))
    if extra:
        raise BackupError(f"{path}: {extra[0]} is in the archive but not in the manifest")


# --- safety ----------------------------------------------------------------------------------


def _check_safe(member: tarfile.TarInfo, seen: dict[str, Item]) -> None:
    """Raise BackupError if ``member``'s own name is unsafe to extract."""
    name = member.name
    if problem := unsafe_name(name):
        raise BackupError(f"unsafe path in archive: {name!r} ({problem}); refusing it")
    if name in seen:
        raise BackupError(f"unsafe archive: {name!r} appears twice; refusing it")


def check_links(seen: dict[str, Item], allow_escaping: bool = False) -> list[str]:
    """Raise BackupError if a path goes through a symlink or a symlink leads outside the target.

    With ``allow_escaping``, links that lead outside (absolute, or resolving
    above the target) are returned instead, for the caller to leave out; a
    path through any symlink is refused regardless. Needs the whole archive:
    a link's meaning depends on links stored after it.
    """
    links = {n: i.target or "" for n, i in seen.items() if i.type == "symlink"}
    for name in seen:
        parts = name.split("/")
        for depth in range(1, len(parts)):
            prefix = "/".join(parts[:depth])
            if prefix in links:
                raise BackupError(
                    f"unsafe archive: {name!r} would be written through the "
                    f"symlink {prefix!r}; refusing it"
                )
    escaping = escaping_links(seen.values())
    if escaping and not allow_escaping:
        name = escaping[0]
        raise BackupError(
            f"unsafe symlink in archive: {name!r} -> {links[name]!r} points "
            "outside the target; refusing it (--skip-unsafe-links restores "
            "everything else)"
        )
    return escaping


def escaping_links(items: Iterable[Item]) -> list[str]:
    """Symlinks among ``items`` that are absolute or resolve outside their root."""
    links = {i.path: i.target or "" for i in items if i.type == "symlink"}
    return [
        name
        for name, target in links.items()
        if _resolve(posixpath.dirname(name), target, links) is None
    ]


def unsafe_name(name: str) -> str | None:
    """Why a member name is unsafe to extract, or None."""
    if not name or "\x00" in name:
        return "empty"
    if name.startswith("/"):
        return "absolute path"
    # "c:x" is an ordinary file name on POSIX, but a drive-relative path on Windows.
    if os.name == "nt" and len(name) > 1 and name[1] == ":":  # pragma: no cover (Windows)
        return "drive letter"
    if ".." in name.split("/"):
        return "contains .."
    if posixpath.normpath(name) != name:
        return "not a normalised path"
    return None


def _resolve(base: str, target: str, links: dict[str, str], hops: int = 0) -> str | None:
    """Resolve ``base/target`` through the archive's symlinks; None if it leaves the root."""
    if hops > _MAX_LINK_HOPS or target.startswith("/"):
        return None
    stack = [p for p in base.split("/") if p]
    for part in target.split("/"):
        if part in ("", "."):
            continue
        if part == "..":
            if not stack:
                return None
            stack.pop()
            continue
        stack.append(part)
        here = "/".join(stack)
        if here in links:
            resolved = _resolve("/".join(stack[:-1]), links[here], links, hops + 1)
            if resolved is None:
                return None
            stack = [p for p in resolved.split("/") if p]
    return "/".join(stack)
