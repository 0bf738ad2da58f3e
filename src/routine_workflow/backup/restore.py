"""Restore a verified backup into a directory, refusing anything that could escape it.

Two passes over the archive: the first verifies every member against the
manifest and checks every path (see ``reader``) without writing anything; the
second writes. Each file and symlink is written to a temporary name and
renamed, so an existing symlink in the target is replaced, never followed.
Directory modes are applied last, deepest first, so a read-only directory
does not block its own content.
"""

from __future__ import annotations

import os
import secrets
import shutil
import stat
import sys
import tarfile
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO

from routine_workflow.backup.manifest import BackupError, Item
from routine_workflow.backup.reader import verify

#: These releases shipped a ``data_filter`` that mishandles relative links in
#: subdirectories (python/cpython#107845); our own checks still apply there.
_BROKEN_FILTER = {(3, 10, 12), (3, 11, 4)}
_MODE_MASK = 0o777  # setuid, setgid and sticky bits are not restored


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
    """Verify ``archive``, then restore it into ``target``.

    A non-empty target needs ``force``: then files of the archive replace the
    target's, and the target's other files are left alone. A path that is a
    directory on one side and not on the other is refused before writing.
    A symlink leading outside the target refuses the archive, unless
    ``skip_unsafe_links``: then every such link is left out and reported.
    """
    target = target.absolute()
    _check_target(target, force)
    verified = verify(archive, allow_escaping_links=skip_unsafe_links)
    skipped = set(verified.escaping_links)
    by_path = {i.path: i for i in verified.items if i.path not in skipped}
    _check_conflicts(verified.items, target)
    try:
        target.mkdir(parents=True, exist_ok=True)
        extractor = _Extractor(target.resolve(), by_path)
        extractor.done.skipped_links = sorted(skipped)
        verify(archive, on_member=extractor.member, allow_escaping_links=skip_unsafe_links)
        extractor.finish()
    except OSError as exc:
        raise BackupError(
            f"restore into {target} failed: {exc.filename or ''}: " f"{exc.strerror or exc}"
        ) from None
    return extractor.done


def _check_target(target: Path, force: bool) -> None:
    if target.is_symlink() or (target.exists() and not target.is_dir()):
        raise BackupError(f"{target}: restore target is not a directory")
    if target.is_dir() and any(target.iterdir()) and not force:
        raise BackupError(
            f"{target} is not empty; pass --force to restore over it "
            "(archived files are replaced, other files are left alone)"
        )


def _check_conflicts(items: list[Item], target: Path) -> None:
    conflicts: list[str] = []
    for item in items:
        try:
            here = os.lstat(target / item.path)
        except FileNotFoundError:
            continue
        except OSError as exc:
            raise BackupError(f"{target / item.path}: {exc.strerror}") from None
        if (item.type == "dir") != stat.S_ISDIR(here.st_mode):
            conflicts.append(item.path)
    if conflicts:
        raise BackupError(
            f"cannot restore into {target}: {len(conflicts)} path(s) are a directory "
            f"on one side and not on the other, e.g. {conflicts[0]}; nothing written"
        )


class _Extractor:
    """Writes checked members under ``root``; modes and times come from the manifest."""

    def __init__(self, root: Path, by_path: dict[str, Item]) -> None:
        self.root = root
        self.by_path = by_path
        self.done = Restored(root)
        self._dirs: list[Item] = []
        self._filter = getattr(tarfile, "data_filter", None)
        if sys.version_info[:3] in _BROKEN_FILTER:  # pragma: no cover (those releases only)
            self._filter = None

    def member(self, member: tarfile.TarInfo, item: Item, stream: IO[bytes] | None) -> None:
        """Write one member (called in archive order by ``verify``)."""
        if item.path in self.done.skipped_links:
            return
        want = self.by_path.get(item.path)
        if want is None:
            raise BackupError(f"{item.path}: not in the archive's manifest; stopping")
        dest = self.root / item.path
        self._guard(member, dest)
        if item.type == "dir":
            if not dest.is_dir():
                dest.mkdir(mode=0o700)
            self._dirs.append(want)
            self.done.dirs += 1
        elif item.type == "symlink":
            self._replace(dest, lambda tmp: tmp.symlink_to(want.target or ""))
            self.done.symlinks += 1
        else:
            self._replace(dest, lambda tmp: self._write_file(tmp, stream, want))
            self.done.files += 1
            self.done.bytes += want.size

    def _guard(self, member: tarfile.TarInfo, dest: Path) -> None:
        # On top of the archive-level checks: the directory we write into must
        # really be inside the root now (an existing symlink in the target could
        # point elsewhere), and tarfile's own 'data' filter must agree.
        parent = os.path.realpath(dest.parent)
        if parent != str(self.root) and not parent.startswith(str(self.root) + os.sep):
            raise BackupError(f"{dest}: its directory leads outside {self.root}; stopping")
        if self._filter is not None:
            try:
                self._filter(member, str(self.root))
            except tarfile.TarError as exc:
                raise BackupError(f"unsafe member {member.name!r}: {exc}") from None

    @staticmethod
    def _write_file(tmp: Path, stream: IO[bytes] | None, item: Item) -> None:
        fd = os.open(
            tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_NOFOLLOW", 0), 0o600
        )
        with os.fdopen(fd, "wb") as out:
            if stream is not None:
                shutil.copyfileobj(stream, out, 1 << 20)
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
        for item in sorted(self._dirs, key=lambda i: i.path.count("/"), reverse=True):
            path = self.root / item.path
            path.chmod(item.mode & _MODE_MASK)
            os.utime(path, ns=(item.mtime_ns, item.mtime_ns))
