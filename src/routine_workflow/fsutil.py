"""File-system primitives every step uses: atomic writes, inside-root checks, safe deletes."""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import stat
from collections.abc import Iterable, Iterator
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
    path: Path, mode: int | None = None, *, durable: bool = True
) -> Iterator[IO[bytes]]:
    """Write ``path`` through a temporary file in the same directory, then rename it.

    Readers see either the old or the new content, never a mix: on any error
    (including a signal raised as an exception) the temporary file is removed
    and the original is untouched. ``mode`` defaults to the existing file's
    mode, or 0o644 minus the umask for a new file. ``durable`` (the default)
    also fsyncs the file and its directory, so the new content survives a power cut;
    a process killed at any point leaves old or new content either way.
    """
    path = Path(path)
    if mode is None:
        mode = _existing_mode(path)
    fd, tmp = _create_temp(path)
    try:
        with os.fdopen(fd, "wb") as handle:
            yield handle
            handle.flush()
            if durable:
                os.fsync(handle.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
    if durable:
        _fsync_dir(path.parent)


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


def _create_temp(path: Path) -> tuple[int, str]:
    # tempfile.mkstemp's job (a new, private file beside ``path``), without importing
    # tempfile and random on every start.
    while True:
        tmp = os.path.join(path.parent, f".{path.name}.{os.urandom(6).hex()}.rw-tmp")
        try:
            # Read-write, as tempfile.mkstemp opens it.
            return os.open(tmp, os.O_RDWR | os.O_CREAT | os.O_EXCL, 0o600), tmp
        except FileExistsError:  # pragma: no cover (48 random bits)
            continue


def atomic_write(path: Path, data: bytes, mode: int | None = None, *, durable: bool = True) -> None:
    """Replace ``path`` with ``data`` atomically (see ``atomic_writer``)."""
    with atomic_writer(path, mode, durable=durable) as handle:
        handle.write(data)


def _existing_mode(path: Path) -> int:
    try:
        return stat.S_IMODE(os.stat(path).st_mode)
    except FileNotFoundError:
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


def sha256_file(path: Path, chunk: int = 1 << 20) -> str:
    """Hex sha256 of a file's content."""
    import hashlib

    digest = hashlib.sha256()
    with open(path, "rb") as handle:
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
