"""Read a backup archive back: verify every member against the manifest, in bounded memory.

``verify`` reads the archive once: every member's name must be relative,
normalised and free of ``..``; only files, directories and symlinks are
accepted; a symlink must resolve inside the target even through the
archive's other symlinks; nothing may be written through a symlink. The
manifest (the last member) is size-checked against the members before it is
read, then parsed one entry at a time (``manifest_stream``) and matched
against what the archive holds. The gzip stream is read to its end so its
CRC is checked too. ``replay`` reads a verified archive again for restore,
checking that each member is still the one verified.

Memory stays bounded whatever the archive's shape: the tar stream is read
without remembering headers or reading huge ones (``tarstream``), a small
packed record is kept per member (``Entries``), and ``Budget`` caps the
number of members and the length of their names. Resolving symlinks has a
work budget too.
"""

from __future__ import annotations

import posixpath
import struct
import tarfile
import zlib
from bisect import bisect_left
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from routine_workflow.backup.manifest import (
    KINDS,
    MANIFEST_MEMBER,
    MAX_PATH_CHARS,
    BackupError,
    Budget,
    Item,
    SchemaError,
    unsafe_name,
)
from routine_workflow.backup.manifest_stream import read_manifest
from routine_workflow.backup.tarstream import Decompressed, HashingStream, Refused, members
from routine_workflow.fsutil import human_size

_TYPES = {
    tarfile.REGTYPE: "file",
    tarfile.AREGTYPE: "file",
    tarfile.DIRTYPE: "dir",
    tarfile.SYMTYPE: "symlink",
}
_MAX_LINK_HOPS = 40  # as the kernel's ELOOP limit
#: Work (components times depth) for resolving all of an archive's symlinks:
#: some seconds at most; real projects use a tiny fraction.
_MAX_LINK_WORK = 20_000_000

__all__ = [
    "Entries",
    "Verified",
    "check_links",
    "escaping_links",
    "replay",
    "unsafe_name",
    "verify",
]


class Entries:
    """A manifest's entries by path, each packed into one bytes object.

    An Item with its strings and numbers costs about 400 bytes; packed, an
    entry costs its path plus about 60, which is what lets restore keep every
    entry of a large archive within the memory budget.
    """

    _HEAD = struct.Struct("<BHQq")  # type, mode, size, mtime_ns

    def __init__(self) -> None:
        self._packed: dict[str, bytes] = {}

    @classmethod
    def pack(cls, item: Item, digest: bytes | None = None) -> bytes:
        """``item`` (with ``digest`` as its sha256, if given) as bytes."""
        if digest is None and item.sha256:
            digest = bytes.fromhex(item.sha256)
        head = cls._HEAD.pack(KINDS.index(item.type), item.mode, item.size, item.mtime_ns)
        tail = (item.target or "").encode("utf-8", "surrogatepass")
        return head + (digest or b"") + tail

    @classmethod
    def unpack(cls, path: str, data: bytes) -> Item:
        """The Item that ``pack`` made ``data`` of."""
        code, mode, size, mtime_ns = cls._HEAD.unpack_from(data)
        kind, rest = KINDS[code], data[cls._HEAD.size :]
        sha = rest.hex() if kind == "file" else None
        target = rest.decode("utf-8", "surrogatepass") if kind == "symlink" else None
        return Item(path, kind, size, mode, mtime_ns, sha, target)

    def add(self, item: Item) -> None:
        """Keep ``item``."""
        self._packed[item.path] = self.pack(item)

    def pop(self, path: str) -> Item | None:
        """The entry of ``path``, forgotten; None if there is none."""
        data = self._packed.pop(path, None)
        return None if data is None else self.unpack(path, data)

    def __len__(self) -> int:
        return len(self._packed)

    def __iter__(self) -> Iterator[Item]:
        return (self.unpack(path, data) for path, data in self._packed.items())

    def first(self) -> str:
        """The smallest path held (for an error message)."""
        return min(self._packed)


@dataclass
class Verified:
    """A verified archive: its manifest's metadata and what it holds."""

    path: Path
    #: the manifest's fields other than ``entries``
    manifest: dict[str, Any]
    files: int = 0
    bytes: int = 0
    entries: int = 0
    #: the manifest's entries, only if ``verify`` was asked to keep them
    kept: Entries = field(default_factory=Entries)
    #: sha256 of the compressed file as read: later runs check the archive is still intact.
    archive_sha256: str = ""
    #: symlinks leading outside the target, allowed through by ``allow_escaping_links``
    escaping_links: list[str] = field(default_factory=list)


MemberHook = Callable[[tarfile.TarInfo, Item, "HashingStream | None"], None]


def verify(path: Path, *, allow_escaping_links: bool = False, keep: bool = False) -> Verified:
    """Re-read ``path`` and check every member against its manifest.

    Raises BackupError naming the member that differs, or the archive if it
    cannot be read or is not one of ours. ``keep`` keeps the manifest's
    entries in ``Verified.kept`` (restore needs them).
    """
    seen: dict[str, bytes] = {}  # path -> Entries.pack of the member (mtime 0)
    links: dict[str, str] = {}
    budget = Budget()
    result: Verified | None = None
    source = Decompressed(path)
    try:
        for member, stream in members(source):
            if result is not None:
                raise BackupError(f"{path}: member {member.name!r} after the manifest")
            if member.name == MANIFEST_MEMBER and member.isreg():
                escaping = check_links(seen, links, allow_escaping_links)
                result = _read_manifest(path, member, stream, (seen, budget), keep)
                result.escaping_links = escaping
                continue
            item, digest = _check_member(path, member, stream, (seen, budget))
            seen[item.path] = Entries.pack(item, digest)
            if item.target is not None:
                links[item.path] = item.target
    except Refused as exc:
        raise BackupError(f"{path}: {exc}; refusing it") from None
    except (OSError, EOFError, zlib.error, tarfile.TarError, RecursionError) as exc:
        raise BackupError(f"{path}: archive is corrupt or unreadable ({exc})") from None
    if result is None:
        raise BackupError(f"{path}: no manifest; not a routine-workflow backup")
    result.archive_sha256 = source.archive_sha256
    return result


def _check_member(
    path: Path,
    member: tarfile.TarInfo,
    stream: IO[bytes] | None,
    state: tuple[dict[str, bytes], Budget],
) -> tuple[Item, bytes | None]:
    """Check one member (not the manifest) and hash its content."""
    seen, budget = state
    kind = _TYPES.get(member.type)
    if kind is None:
        raise BackupError(f"{path}: {member.name!r} is a special file or hard link; refusing it")
    _check_safe(member, seen)
    target = member.linkname if kind == "symlink" else None
    if target is not None and (not target or len(target) > MAX_PATH_CHARS):
        raise BackupError(
            f"unsafe symlink in archive: {member.name[:200]!r} has an empty or overlong "
            "target; refusing it"
        )
    over = budget.add(member.name, target)
    if over:
        raise BackupError(f"{path}: not a routine-workflow backup ({over})")
    size = member.size if kind == "file" else 0
    if size >= 1 << 63:
        raise BackupError(f"{path}: {member.name!r} claims an impossible size; refusing it")
    digest = HashingStream(stream).digest() if stream is not None else None
    return Item(member.name, kind, size, member.mode & 0o7777, 0, target=target), digest


def _read_manifest(
    path: Path,
    member: tarfile.TarInfo,
    stream: IO[bytes] | None,
    state: tuple[dict[str, bytes], Budget],
    keep: bool,
) -> Verified:
    """Parse the manifest member (after a size check) and match it against ``seen``."""
    seen, budget = state
    limit = budget.manifest_limit()
    if member.size > limit or stream is None:
        raise BackupError(
            f"{path}: not a routine-workflow backup (its manifest is "
            f"{human_size(member.size)}; {budget.entries} paths need at most {human_size(limit)})"
        )
    matcher = _Matcher(path, seen, keep)
    try:
        meta = read_manifest(stream, matcher.match)
    except SchemaError as exc:
        raise BackupError(f"{path}: not a routine-workflow backup ({exc})") from None
    if seen:
        extra = min(seen)
        raise BackupError(f"{path}: {extra} is in the archive but not in the manifest")
    return Verified(path, meta, matcher.files, matcher.bytes, matcher.entries, matcher.kept)


class _Matcher:
    """Matches each manifest entry, as it is parsed, against the member of that path."""

    def __init__(self, path: Path, seen: dict[str, bytes], keep: bool) -> None:
        self.path = path
        self.seen = seen
        self.keep = keep
        self.kept = Entries()
        self.files = self.bytes = self.entries = 0

    def match(self, item: Item) -> None:
        """Check one entry; its member is forgotten once matched (memory stays flat)."""
        got = self.seen.pop(item.path, None)
        if got is None:
            raise BackupError(
                f"{self.path}: {item.path} is in the manifest but missing from the archive"
            )
        mtime, item.mtime_ns = item.mtime_ns, 0
        if got != Entries.pack(item):
            member = Entries.unpack(item.path, got)
            if not member.same_metadata(item):
                raise BackupError(
                    f"{self.path}: {item.path} differs from the manifest (type, mode or size)"
                )
            raise BackupError(
                f"{self.path}: {item.path} is corrupt (sha256 differs from the manifest)"
            )
        item.mtime_ns = mtime
        self.entries += 1
        if item.type == "file":
            self.files += 1
            self.bytes += item.size
        if self.keep:
            self.kept.add(item)


def replay(path: Path, expected: Entries, on_member: MemberHook) -> str:
    """Read a verified archive again, handing each member and its entry to ``on_member``.

    Each member must still be the one verified (``expected``, by path; popped
    as they come): same type, mode, size and link target. A file's content
    comes through a HashingStream whose ``hexdigest()`` the hook compares with
    the entry's sha256 before keeping what it wrote. Returns the sha256 of the
    compressed archive as read.
    """
    source = Decompressed(path)
    try:
        for member, stream in members(source):
            if member.name == MANIFEST_MEMBER and member.isreg():
                continue
            want = expected.pop(member.name)
            size = member.size if member.isreg() else 0
            if want is None or (_TYPES.get(member.type), member.mode & 0o7777, size) != (
                want.type,
                want.mode,
                want.size,
            ):
                raise BackupError(f"{path}: {member.name} changed since it was verified")
            if want.type == "symlink" and member.linkname != want.target:
                raise BackupError(f"{path}: {member.name} changed since it was verified")
            try:
                on_member(member, want, HashingStream(stream) if stream else None)
            except OSError as exc:  # the writer's failure, not the archive's
                raise BackupError(
                    f"cannot write {exc.filename or member.name}: {exc.strerror or exc}"
                ) from None
    except Refused as exc:
        raise BackupError(f"{path}: {exc}; refusing it") from None
    except (OSError, EOFError, zlib.error, tarfile.TarError, RecursionError) as exc:
        raise BackupError(f"{path}: archive is corrupt or unreadable ({exc})") from None
    if expected:
        raise BackupError(f"{path}: {expected.first()} changed since it was verified")
    return source.archive_sha256


# --- safety ----------------------------------------------------------------------------------


def _check_safe(member: tarfile.TarInfo, seen: dict[str, bytes]) -> None:
    """Raise BackupError if ``member``'s own name is unsafe to extract."""
    name = member.name
    if problem := unsafe_name(name):
        raise BackupError(f"unsafe path in archive: {name[:200]!r} ({problem}); refusing it")
    if name in seen:
        raise BackupError(f"unsafe archive: {name!r} appears twice; refusing it")


def check_links(
    names: Iterable[str], links: dict[str, str], allow_escaping: bool = False
) -> list[str]:
    """Raise BackupError if a path goes through a symlink or a symlink leads outside the target.

    ``names`` are all the archive's paths, ``links`` its symlinks and their
    targets. With ``allow_escaping``, links that lead outside (absolute, or
    resolving above the target) are returned instead, for the caller to leave
    out; a path through any symlink is refused regardless. Needs the whole
    archive: a link's meaning depends on links stored after it.
    """
    if links:
        ordered = sorted(names)
        for link in sorted(links):
            # Paths under ``link`` sort together, right after ``link + "/"``.
            at = bisect_left(ordered, link + "/")
            if at < len(ordered) and ordered[at].startswith(link + "/"):
                raise BackupError(
                    f"unsafe archive: {ordered[at]!r} would be written through the "
                    f"symlink {link!r}; refusing it"
                )
    escaping = _escaping(links)
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
    return _escaping({i.path: i.target or "" for i in items if i.type == "symlink"})


def _escaping(links: dict[str, str]) -> list[str]:
    budget = [_MAX_LINK_WORK]
    return [
        name
        for name, target in links.items()
        if _resolve(posixpath.dirname(name), target, links, budget) is None
    ]


def _resolve(
    base: str, target: str, links: dict[str, str], budget: list[int], hops: int = 0
) -> str | None:
    """Resolve ``base/target`` through the archive's symlinks; None if it leaves the root.

    ``budget`` counts down the work (path components times depth) shared by
    all links: chains of long targets cannot make the check run for hours.
    """
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
        budget[0] -= len(stack)
        if budget[0] < 0:
            raise BackupError("unsafe archive: symlinks too many or too deep to check; refusing it")
        here = "/".join(stack)
        if here in links:
            resolved = _resolve("/".join(stack[:-1]), links[here], links, budget, hops + 1)
            if resolved is None:
                return None
            stack = [p for p in resolved.split("/") if p]
    return "/".join(stack)
