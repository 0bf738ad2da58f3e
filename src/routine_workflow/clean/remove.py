"""Removing what the clean_caches plan lists, each target checked again first.

Every removal is relative to an open descriptor of the target's parent directory,
verified to be exactly where the walk found it (``open_verified_dir``), so a path
swapped for a symlink since the scan is never followed. The target must still be
the kind of entry it was (directory, file, symlink). A target that cannot be
removed is reported and the rest go on.

- ``remove_targets``: the whole plan, returning a ``RemovalOutcome``;
- ``remove_target``: one target; ``open_verified_dir``: the parent check.
"""

from __future__ import annotations

import contextlib
import errno
import os
import shutil
import stat
import sys
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow.clean.plan import Target
from routine_workflow.errors import RoutineError
from routine_workflow.fsutil import UnsafePath


@dataclass
class RemovalOutcome:
    """Per pattern: how many entries went and how many bytes they held; and what failed."""

    removed: dict[str, list[int]] = field(default_factory=dict)  # pattern -> [count, bytes]
    failures: list[str] = field(default_factory=list)

    def add(self, pattern: str, size: int) -> None:
        """Count one removed entry of ``size`` bytes, selected by ``pattern``."""
        tally = self.removed.setdefault(pattern, [0, 0])
        tally[0] += 1
        tally[1] += size

    @property
    def count(self) -> int:
        """How many entries went."""
        return sum(n for n, _ in self.removed.values())

    @property
    def freed(self) -> int:
        """How many bytes they held."""
        return sum(b for _, b in self.removed.values())


#: Called after each target: (target, bytes freed, the failure line or None).
Report = Callable[[Target, int, str | None], None]


def remove_targets(
    root: Path, targets: list[Target], workers: int, report: Report | None = None
) -> RemovalOutcome:
    """Remove every target (in up to 4 threads); one failure does not stop the others.

    ``report`` hears about each target as it is done, in the plan's order.
    """
    outcome = RemovalOutcome()
    for target, (freed, error) in _remove_all(root, targets, workers):
        failure = None
        if error is None:
            outcome.add(target.pattern, freed)
        else:
            failure = f"could not remove {target.rel}: {error}"
            outcome.failures.append(failure)
        if report is not None:
            report(target, freed, failure)
    return outcome


_KIND_CHECK = {"dir": stat.S_ISDIR, "symlink": stat.S_ISLNK}


def remove_target(root: Path, target: Target) -> tuple[int, str | None]:
    """Remove one target; return (bytes freed, error or None). Never follows a symlink.

    ``root`` must be resolved (``config.project_root`` is). The target's parent is
    opened and must be exactly where the walk found it (a parent swapped for a
    symlink since the scan is refused); the target is then checked and removed
    relative to that open directory, so no later swap can redirect the removal.
    """
    path = root / target.rel
    parent, name = os.path.split(path)
    try:
        parent_fd = open_verified_dir(parent)
    except FileNotFoundError:
        return 0, None  # gone already (another process cleaned it): nothing to do
    except (OSError, RoutineError) as exc:
        return 0, str(exc)
    try:
        return _remove_at(parent_fd, name, path, target)
    finally:
        os.close(parent_fd)


def open_verified_dir(path: str) -> int:
    """A descriptor of directory ``path``, which must be canonical; UnsafePath if it is not.

    One ``open`` and, on Linux, one ``readlink`` of ``/proc/self/fd/N`` (what the
    kernel actually opened), instead of an ``lstat`` per path component.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a symlink (or file) in its place
            raise UnsafePath(f"{path}: refusing: no longer a directory (a symlink now?)") from None
        raise
    try:
        try:
            actual = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # pragma: no cover (no /proc: not Linux)
            actual = os.path.realpath(path)
        if actual != path:
            raise UnsafePath(f"{path}: refusing: not where the scan found it (a symlink now?)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_at(parent_fd: int, name: str, path: Path, target: Target) -> tuple[int, str | None]:
    try:
        info = os.lstat(name, dir_fd=parent_fd)
    except FileNotFoundError:
        return 0, None
    except OSError as exc:
        return 0, exc.strerror or str(exc)
    check = _KIND_CHECK.get(target.kind)
    if check is not None:
        same_kind = check(info.st_mode)
    else:  # a file (or fifo, socket): anything but a directory or a symlink
        same_kind = not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode))
    if not same_kind:
        return 0, "changed since it was scanned; left alone"
    if target.kind != "dir":
        try:
            os.unlink(name, dir_fd=parent_fd)
        except OSError as exc:
            return 0, exc.strerror or str(exc)
        return target.size, None
    if target.flat is not None and _remove_flat(parent_fd, name, target.flat):
        return target.size, None
    errors: list[str] = []
    _rmtree(path, errors)
    if not errors:
        return target.size, None
    left = _remaining_size(path)
    return max(target.size - left, 0), errors[0]


def _remove_flat(parent_fd: int, name: str, names: tuple[str, ...]) -> bool:
    """Unlink the files the scan listed, then the directory; False if rmtree must finish.

    Everything is relative to open descriptors and the directory is opened with
    O_NOFOLLOW, so a directory swapped for a symlink since the scan is never entered.
    Anything unexpected (a new file, a permission error) leaves the rest to ``_rmtree``,
    which reports errors properly.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError:
        return False
    try:
        for entry in names:
            os.unlink(entry, dir_fd=fd)
    except FileNotFoundError:
        pass  # someone else is cleaning too; rmtree finishes the job
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except OSError:
        return False
    return True


def _remove_all(
    root: Path, targets: list[Target], workers: int
) -> Iterator[tuple[Target, tuple[int, str | None]]]:
    """Remove targets in a few threads: deleting is system calls that wait on the disk.

    On an interruption (signal, timeout) queued removals are cancelled; the ones
    in flight finish (a half-removed cache directory is still just a cache).
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers, 4)), thread_name_prefix="clean_caches"
    )
    try:
        futures = [(t, pool.submit(remove_target, root, t)) for t in targets]
        for target, future in futures:
            yield target, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _rmtree(path: Path, errors: list[str]) -> None:
    """``shutil.rmtree`` that records every error and carries on (it never follows links)."""

    def record(_func: object, failed: str, exc: BaseException) -> None:
        reason = getattr(exc, "strerror", None) or str(exc)
        errors.append(f"{reason}: {failed}")

    if sys.version_info >= (3, 12):  # pragma: no cover (3.12+; onerror is deprecated there)
        shutil.rmtree(path, onexc=record)
    else:  # pragma: no cover (3.10 and 3.11)
        shutil.rmtree(path, onerror=lambda f, p, info: record(f, p, info[1]))


def _remaining_size(path: Path) -> int:
    from routine_workflow.fsutil import tree_size

    with contextlib.suppress(OSError):
        if os.path.lexists(path):
            return tree_size(path)
    return 0
