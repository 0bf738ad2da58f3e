"""File-system primitives every step uses: atomic writes, inside-root checks, safe deletes."""

from __future__ import annotations

import contextlib
import errno
import os
import re
import stat
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import IO

from routine_workflow.errors import RoutineError


class UnsafePath(RoutineError):
    """A path a step was about to write or delete lies outside the places it may touch."""


def is_inside(path: Path, root: Path) -> bool:
    """True if ``path`` is ``root`` or below it, comparing absolute, normalised paths.

    Symlinks in ``path``'s parents are resolved, so ``root/link/x`` with ``link``
    pointing elsewhere is *not* inside; the final component is not followed, so
    a symlink itself that sits in the tree is inside.
    """
    path = Path(os.path.abspath(path))
    parent = path.parent.resolve()
    candidate = parent / path.name if path.name else parent
    return candidate == root.resolve() or root.resolve() in candidate.parents


def ensure_inside(path: Path, roots: Iterable[Path]) -> None:
    """Raise UnsafePath unless ``path`` lies inside one of ``roots``."""
    roots = tuple(roots)
    if not any(is_inside(path, root) for root in roots):
        allowed = ", ".join(str(r) for r in roots)
        raise UnsafePath(f"{path}: refusing to touch a path outside {allowed}")


@contextlib.contextmanager
def atomic_writer(
    path: Path, mode: int | None = None, *, durable: bool = True, strict: bool = False
) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file in the same directory, then rename it.

    Readers see either the old or the new content, never a mix: on any error
    (including a signal raised as an exception) the temporary file is removed
    and the original is untouched. ``mode`` defaults to the existing file's
    mode, or 0o644 minus the umask for a new file. ``durable`` (the default)
    also fsyncs the file and its directory, so the new content survives a power cut;
    a process killed at any point leaves old or new content either way.

    An existing file's identity goes to the new one before the rename: owner and
    group (which only root can give away), extended attributes and ACLs. Best effort,
    unless ``strict`` (a user's file): then NotRewritable is raised, and the original
    is untouched, when any of it cannot be kept.
    """
    path = Path(path)
    original = _stat_or_none(path)
    if mode is None:
        mode = stat.S_IMODE(original.st_mode) if original is not None else _new_file_mode()
    tmp = ""
    try:
        # Named before it is created: a run's SIGTERM is raised as an exception, and one
        # raised just after the creation must still find the name to remove.
        while True:
            tmp = _temp_name(path)
            try:
                fd = _open_temp(tmp)
                break
            except FileExistsError:  # pragma: no cover (48 random bits)
                tmp = ""  # someone else's file: never ours to remove
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            # After the content: a write by another owner would clear setuid/setgid.
            _give_identity(handle.fileno(), path, original, mode, strict)
            if durable:
                os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        if tmp:
            with contextlib.suppress(FileNotFoundError):
                os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


# --- a user's file keeps its identity ----------------------------------------------------------


class NotRewritable(OSError):
    """A user's file left as it is: replacing it would make it another file (new owner,
    a broken hard link) or overrule its read-only permission. ``strerror`` is the reason."""

    def __init__(self, path: Path, reason: str) -> None:
        super().__init__(errno.EPERM, reason, os.fspath(path))


_EUID = os.geteuid() if hasattr(os, "geteuid") else -1


def rewrite_refusal(path: Path) -> str | None:
    """Why ``path`` must not be replaced by a rename, or None if it may be.

    A rename gives the name a new inode: other hard links would keep the old content
    (so a linked file is left alone rather than written in place, which is not
    crash-safe); rename needs no write permission on the file itself, so one its owner
    cannot write is left alone, as a tool writing in place would fail on it; and only
    root can give a new inode to another owner or to a group it is not in.
    """
    info = os.stat(path)
    if info.st_nlink > 1:
        return f"has {info.st_nlink} hard links, not rewritten"
    if not info.st_mode & stat.S_IWUSR:
        return "read-only, not rewritten"
    if _EUID == 0:
        return None
    if not os.access(path, os.W_OK):
        return "no write permission, not rewritten"
    if info.st_uid != _EUID:
        return f"owned by another user (uid {info.st_uid}), not rewritten"
    if info.st_gid not in (os.getegid(), *os.getgroups()):
        return f"its group (gid {info.st_gid}) is not this user's, not rewritten"
    return None


# Attributes the kernel or a security module manages (SELinux labels, capabilities):
# copied when allowed, never a reason to leave a file alone.
_MANAGED_XATTRS = "security."


def _give_identity(
    fd: int, path: Path, original: os.stat_result | None, mode: int, strict: bool
) -> None:
    """Make the temporary file ``fd`` what ``path`` (as ``original``) is: owner and group,
    extended attributes, then the mode (chown clears setuid/setgid; setting an ACL
    rewrites the group bits; the original's mode agrees with its ACL)."""
    if original is not None:
        _keep_owner(fd, path, original, strict)
        _copy_xattrs(fd, path, strict)
    os.fchmod(fd, mode)


def _keep_owner(fd: int, path: Path, original: os.stat_result, strict: bool) -> None:
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (original.st_uid, original.st_gid):
        return
    try:
        os.fchown(fd, original.st_uid, original.st_gid)
    except OSError:
        if strict:
            owner = f"{original.st_uid}:{original.st_gid}"
            raise NotRewritable(path, f"cannot keep its owner {owner}, not rewritten") from None


def _copy_xattrs(fd: int, path: Path, strict: bool) -> None:
    """Extended attributes (ACLs are ``system.posix_acl_access`` on Linux) from ``path`` to
    ``fd``; those the temporary file got that the original lacks (a directory's default
    ACL) are removed. Linux only: elsewhere Python has no xattr calls."""
    if not hasattr(os, "listxattr"):  # pragma: no cover (macOS, Windows)
        return
    try:
        wanted = {name: os.getxattr(path, name) for name in os.listxattr(path)}
        present = os.listxattr(fd)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.ENODATA) or not strict:
            return  # a file system without them; an attribute removed meanwhile
        raise NotRewritable(path, "cannot read its extended attributes, not rewritten") from None
    for name in present:
        if name not in wanted and not name.startswith(_MANAGED_XATTRS):
            _xattr_call(os.removexattr, path, name, strict, fd, name)
    for name, value in wanted.items():
        _xattr_call(os.setxattr, path, name, strict, fd, name, value)


def _xattr_call(
    call: Callable[..., None], path: Path, name: str, strict: bool, *args: object
) -> None:
    try:
        call(*args)
    except OSError:
        if strict and not name.startswith(_MANAGED_XATTRS):
            raise NotRewritable(
                path, f"cannot keep its extended attribute {name}, not rewritten"
            ) from None


#: The temporary names this tool writes beside a user's file: ``atomic_writer``'s and
#: backup restore's. A name matching one exactly is ours; nothing else ever is.
TEMP_SUFFIXES = (".rw-tmp", ".rw-restore")
_TEMP_NAME = re.compile(r"\..+\.(?:[0-9a-f]{12}\.rw-tmp|[0-9a-f]{8}\.rw-restore)", re.DOTALL)


def is_temp_name(name: str) -> bool:
    """True if ``name`` is exactly one of our temporary names (left by a killed run)."""
    return name.endswith(TEMP_SUFFIXES) and _TEMP_NAME.fullmatch(name) is not None


def remove_leftover_temps(paths: Iterable[str], roots: Iterable[Path]) -> list[str]:
    """Delete temporary files a killed run left (regular files with our exact names,
    inside ``roots``); return the paths removed. Only call this while holding the lock:
    a live run's temporary file is about to be renamed into place."""
    roots = tuple(roots)
    removed = []
    for path in paths:
        if not is_temp_name(os.path.basename(path)):
            continue
        if not any(is_inside(Path(path), root) for root in roots):
            continue
        with contextlib.suppress(OSError):
            if stat.S_ISREG(os.lstat(path).st_mode):
                os.unlink(path)
                removed.append(path)
    return removed


def _temp_name(path: Path) -> str:
    # tempfile.mkstemp's job (a new, private file beside ``path``), without importing
    # tempfile and random on every start.
    return os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.rw-tmp")


def _open_temp(tmp: str) -> int:
    # Read-write, as tempfile.mkstemp opens it; never an existing file.
    return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600)


def atomic_write(path: Path, data: bytes, mode: int | None = None, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path, mode, durable=durable) as handle:
        handle.write(data)


def rewrite_user_file(path: Path, data: bytes) -> None:
    """Replace a user's existing file with ``data``: atomically, durably, the file keeping
    its identity (see ``atomic_writer``). Raises NotRewritable, writing nothing, for a file
    that cannot be replaced without becoming another file (``rewrite_refusal``)."""
    reason = rewrite_refusal(path)
    if reason is not None:
        raise NotRewritable(path, reason)
    with atomic_writer(path, strict=True) as handle:
        handle.write(data)


def _stat_or_none(path: Path) -> os.stat_result | None:
    try:
        return os.stat(path)
    except FileNotFoundError:
        return None


def _new_file_mode() -> int:
    umask = os.umask(0)
    os.umask(umask)
    return 0o666 & ~umask


def _fsync_dir(directory: Path) -> None:
    # The rename is only durable once the directory entry is on disk.
    try:
        fd = os.open(directory, os.O_RDONLY)
    except OSError:  # pragma: no cover (platforms that cannot open directories)
        return
    try:
        os.fsync(fd)
    except OSError:  # pragma: no cover (file systems that refuse fsync on directories)
        pass
    finally:
        os.close(fd)


def remove_path(path: Path, roots: Iterable[Path]) -> int:
    """Delete a file, symlink or directory tree inside ``roots``; return bytes freed.

    Never follows a symlink: a symlink is removed itself, its target is never
    touched, and ``shutil.rmtree`` does not descend into links inside a tree.
    """
    ensure_inside(path, roots)
    info = os.lstat(path)
    if stat.S_ISDIR(info.st_mode):
        import shutil  # here: it brings bz2 and lzma, which most commands never need

        size = tree_size(path)
        shutil.rmtree(path)
        return size
    os.unlink(path)
    return info.st_size if stat.S_ISREG(info.st_mode) else 0


def tree_size(path: Path) -> int:
    """Bytes in regular files under ``path``, without following symlinks."""
    total = 0
    for dirpath, _dirnames, filenames in os.walk(path, followlinks=False):
        for name in filenames:
            with contextlib.suppress(OSError):
                info = os.lstat(os.path.join(dirpath, name))
                if stat.S_ISREG(info.st_mode):
                    total += info.st_size
    return total


#: O_NONBLOCK: a FIFO where a file belongs opens at once instead of waiting forever for a
#: writer (fstat then refuses it); on a regular file it changes nothing.
_READ_FLAGS = os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)


def open_regular(path: str | os.PathLike[str]) -> IO[bytes]:
    """Open ``path`` to read bytes; a FIFO, socket, device or directory raises OSError.

    Callers that treat an unreadable file as missing or damaged need nothing more:
    a named pipe put in place of a state file can never hang a command.
    """
    fd = os.open(path, _READ_FLAGS)
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            raise OSError(errno.EINVAL, "not a regular file", os.fspath(path))
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def read_regular(path: str | os.PathLike[str], limit: int = -1) -> bytes:
    """The bytes of a regular file (at most ``limit`` of them); see ``open_regular``."""
    with open_regular(path) as handle:
        return handle.read(limit)


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a regular file's content."""
    import hashlib

    digest = hashlib.sha256()
    with open_regular(path) as handle:
        while block := handle.read(chunk):
            digest.update(block)
    return digest.hexdigest()


def human_size(size: float) -> str:
    """Bytes as a short figure in 1024-based units: 512 B, 1.5 KiB, 3.0 MiB, 5.0 GiB."""
    if size < 1024:
        return f"{size:.0f} B"
    exponent = 1
    while exponent < 3 and size >= 1024 ** (exponent + 1):
        exponent += 1
    return f"{size / 1024**exponent:.1f} {('KiB', 'MiB', 'GiB')[exponent - 1]}"
