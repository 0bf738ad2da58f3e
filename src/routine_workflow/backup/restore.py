"""Restore a verified backup into a directory: every check first, then the writes.

The first pass (``reader.verify``) checks every member against the manifest
and every path in the archive, writing nothing. Then, still before any write,
the target: each path's directory must be a real directory inside the target
(or one the archive creates), a path that is a directory on one side and not
on the other is refused, and the content must fit in the free space. Only
then does the second pass (``reader.replay``) write, checking each member is
still the one verified. Each file and symlink is written to a temporary name
and renamed, so an existing symlink at its path is replaced, never followed.
Directory modes are applied last, deepest first, so a read-only directory
does not block its own content.
"""

from __future__ import annotations

import os
import posixpath
import secrets
import shutil
import stat
import sys
import tarfile
import tempfile
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow.backup.manifest import BackupError, Item
from routine_workflow.backup.reader import Entries, replay, verify
from routine_workflow.backup.tarstream import READ_CHUNK, HashingStream
from routine_workflow.errors import ConfigError
from routine_workflow.fsutil import human_size
from routine_workflow.output import plural

#: These releases shipped a ``data_filter`` that mishandles relative links in
#: subdirectories (python/cpython#107845); our own checks still apply there.
_BROKEN_FILTER = {(3, 10, 12), (3, 11, 4)}
_MODE_MASK = 0o777  # setuid, setgid and sticky bits are not restored
_TAR_TYPES = {"file": tarfile.REGTYPE, "dir": tarfile.DIRTYPE, "symlink": tarfile.SYMTYPE}


@dataclass
class Restored:
    """What a restore wrote."""

    target: Path
    files: int = 0
    dirs: int = 0
    symlinks: int = 0
    bytes: int = 0
    #: symlinks not restored because they lead outside the target
    skipped_links: list[str] = field(default_factory=list)


def restore(
    archive: Path, target: Path, *, force: bool = False, skip_unsafe_links: bool = False
) -> Restored:
    """Verify ``archive``, check ``target``, then restore the archive into it.

    A non-empty target needs ``force`` (ConfigError, a usage problem, without
    it): then files of the archive replace the target's, and the target's
    other files are left alone. Anything that would stop the restore is found
    before the first write. A symlink leading outside the target refuses the
    archive, unless ``skip_unsafe_links``: then every such link is left out
    and reported.
    """
    target = target.absolute()
    _check_target(target, force)
    verified = verify(archive, allow_escaping_links=skip_unsafe_links, keep=True)
    skipped = set(verified.escaping_links)

    def wanted() -> Iterator[Item]:
        return (i for i in verified.kept if i.path not in skipped)

    _check_members(wanted())
    _check_paths(wanted, target)
    _check_space(target, verified.bytes)
    try:
        target.mkdir(parents=True, exist_ok=True)
        extractor = _Extractor(target.resolve(), skipped)
        replay(archive, verified.kept, extractor.member)
        extractor.finish()
    except OSError as exc:
        raise BackupError(
            f"restore into {target} failed: {exc.filename or ''}: {exc.strerror or exc}"
        ) from None
    return extractor.done


def _check_target(target: Path, force: bool) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise BackupError(f"{target}: restore target is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise ConfigError(
            f"{target} is not empty; pass --force to restore over it "
            "(archived files are replaced, other files are left alone)"
        )


def _check_members(items: Iterable[Item]) -> None:
    """Python's own 'data' extraction filter must accept every member too (where it has one).

    It is given an empty scratch directory: the target is checked by
    ``_check_paths``, whose rule for an existing symlink (replaced, not
    followed) the filter, which follows it, would not share.
    """
    check = getattr(tarfile, "data_filter", None)
    if check is None or sys.version_info[:3] in _BROKEN_FILTER:  # pragma: no cover
        return
    with tempfile.TemporaryDirectory(prefix="rw-restore-check-") as scratch:
        for item in items:
            info = tarfile.TarInfo(item.path)
            info.type, info.mode = _TAR_TYPES[item.type], item.mode
            info.linkname = item.target or ""
            try:
                check(info, scratch)
            except tarfile.TarError as exc:
                raise BackupError(f"unsafe member {item.path!r}: {exc}") from None


def _check_paths(items: Callable[[], Iterator[Item]], target: Path) -> None:
    """Every reason in the target to stop, before anything is written (nothing: all or nothing).

    Each path's directory must be a real directory inside the target, or one
    the archive creates; a path that is a directory on one side and not on
    the other is a conflict. An existing file or symlink at a file's or
    symlink's path is fine: it is replaced.
    """
    dirs = _Dirs(target, {i.path for i in items() if i.type == "dir"})
    conflicts: list[str] = []
    for item in items():
        problem = dirs.problem(posixpath.dirname(item.path))
        if problem:
            raise BackupError(f"cannot write {item.path} into {target}: {problem}; nothing written")
        here = _lstat(target / item.path)
        if here is not None and (item.type == "dir") != stat.S_ISDIR(here.st_mode):
            conflicts.append(item.path)
    if conflicts:
        raise BackupError(
            f"cannot restore into {target}: {plural(len(conflicts), 'path')} {'is' if len(conflicts) == 1 else 'are'} a directory "
            f"on one side and not on the other, e.g. {conflicts[0]}; nothing written"
        )


class _Dirs:
    """Whether each directory a restore writes into is usable, looked at once per directory."""

    def __init__(self, target: Path, in_archive: set[str]) -> None:
        self.target = target
        self.root = os.path.realpath(target)
        self.in_archive = in_archive
        self.known: dict[str, str | None] = {"": self._usable(target, "")}

    def problem(self, rel: str) -> str | None:
        """Why files cannot be written into the directory ``rel``, or None."""
        chain = []
        while rel not in self.known:  # walk up to a known ancestor, then judge downwards
            chain.append(rel)
            rel = posixpath.dirname(rel)
        for here in reversed(chain):
            above = self.known[posixpath.dirname(here)]
            self.known[here] = above or self._judge(here)
        return self.known[chain[0] if chain else rel]

    def _judge(self, rel: str) -> str | None:
        path = self.target / rel
        info = _lstat(path)
        if info is None:
            if rel in self.in_archive:
                return None
            return f"its directory {rel} is neither in the archive nor in the target"
        if stat.S_ISLNK(info.st_mode):
            real = os.path.realpath(path)
            if not _inside(real, self.root) or not os.path.isdir(real):
                return f"{rel} is a symlink leading outside the target (it would be followed)"
        elif not stat.S_ISDIR(info.st_mode):
            return f"{rel} is not a directory in the target"
        return self._usable(path, rel)

    @staticmethod
    def _usable(path: Path, rel: str) -> str | None:
        if path.is_dir() and not os.access(path, os.W_OK | os.X_OK):
            return f"no permission to write in {rel or path}"
        return None


def _lstat(path: Path) -> os.stat_result | None:
    try:
        return os.lstat(path)
    except FileNotFoundError:
        return None
    except OSError as exc:
        raise BackupError(f"{path}: {exc.strerror}") from None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def _check_space(target: Path, needed: int) -> None:
    """Refuse an archive whose content cannot fit, before writing any of it."""
    probe = target
    while not probe.exists() and probe != probe.parent:
        probe = probe.parent
    free = shutil.disk_usage(probe).free
    if needed > free:
        raise BackupError(
            f"cannot restore into {target}: the archive holds {human_size(needed)}, "
            f"only {human_size(free)} is free there; nothing written"
        )


class _Extractor:
    """Writes checked members under ``root``; modes and times come from the manifest."""

    def __init__(self, root: Path, skipped: set[str]) -> None:
        self.root = root
        self.skipped = skipped
        self.done = Restored(root, skipped_links=sorted(skipped))
        self._dirs: list[tuple[str, bytes]] = []  # packed: an archive may be all directories

    def member(self, _member: tarfile.TarInfo, want: Item, stream: HashingStream | None) -> None:
        """Write one member (called in archive order by ``replay``)."""
        if want.path in self.skipped:
            return
        dest = self.root / want.path
        if not dest.parent.is_dir():  # a directory the archive lists later
            dest.parent.mkdir(mode=0o700, parents=True)
        self._guard(dest)
        if want.type == "dir":
            if not dest.is_dir():
                dest.mkdir(mode=0o700)
            self._dirs.append((want.path, Entries.pack(want)))
            self.done.dirs += 1
        elif want.type == "symlink":
            self._replace(dest, lambda tmp: tmp.symlink_to(want.target or ""))
            self.done.symlinks += 1
        else:
            self._replace(dest, lambda tmp: self._write_file(tmp, stream, want))
            self.done.files += 1
            self.done.bytes += want.size

    def _guard(self, dest: Path) -> None:
        # Checked before writing already; checked again in case the target
        # changed since: the directory written into must still be inside the root.
        if not _inside(os.path.realpath(dest.parent), str(self.root)):
            raise BackupError(f"{dest}: its directory leads outside {self.root}; stopping")

    @staticmethod
    def _write_file(tmp: Path, stream: HashingStream | None, item: Item) -> None:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        with os.fdopen(fd, "wb") as out:
            if stream is not None:
                shutil.copyfileobj(stream, out, READ_CHUNK)
        # Kept only if it is still what was verified (the archive could change meanwhile).
        if stream is not None and stream.hexdigest() != item.sha256:
            raise BackupError(f"{item.path} changed since the archive was verified; stopping")
        tmp.chmod(item.mode & _MODE_MASK)
        os.utime(tmp, ns=(item.mtime_ns, item.mtime_ns))

    def _replace(self, dest: Path, make: Callable[[Path], None]) -> None:
        tmp = dest.with_name(f".{dest.name}.{secrets.token_hex(4)}.rw-restore")
        try:
            make(tmp)
            tmp.replace(dest)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    def finish(self) -> None:
        """Apply directory modes and times, deepest first."""
        self._dirs.sort(key=lambda d: d[0].count("/"), reverse=True)
        for rel, packed in self._dirs:
            item = Entries.unpack(rel, packed)
            path = self.root / rel
            path.chmod(item.mode & _MODE_MASK)
            os.utime(path, ns=(item.mtime_ns, item.mtime_ns))
