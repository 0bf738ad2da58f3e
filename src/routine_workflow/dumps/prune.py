"""Pruning old dumps: find this project's dumps, keep the newest, delete the rest.

Only files whose *names* parse as a dump of this project are ever touched:

- ours (``names``): ``<project>_dump_<YYYYmmddTHHMMSSZ>.md`` + ``.md.sha256``;
- create-dump's, when create-dump is the dump tool (``external.create_dump_in_use``):
  ``<project folder>_all_create_dump_<YYYYmmdd_HHMMSS>.md`` (or ``.md.gz``) with a
  ``.sha256`` sidecar, either beside the full name or in place of the suffix.

Age comes from the timestamp in the name (mtime only breaks ties), so copying
or touching a dump does not change which ones are kept. Anything else in the
dump directory (``notes.md``, ``my_dump_final.md``, another project's dumps, a
symlink or directory with a dump's name) is left alone.

- ``find_dumps``: the dumps in a directory, newest first;
- ``plan_prune``: which of them go (a ``PrunePlan``);
- ``delete_dumps``: delete them with their sidecars (a ``DeleteOutcome``).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from routine_workflow.dumps.names import (
    SIDECAR_SUFFIX,
    parse_create_dump_name,
    parse_dump_name,
    sidecar,
)
from routine_workflow.errors import RoutineError
from routine_workflow.fsutil import remove_path


@dataclass(frozen=True)
class Dump:
    """A dump file found in the dump directory, its time, and its existing sidecars."""

    path: Path
    when: datetime
    mtime: float
    sidecars: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """The dump and its checksum files: what goes when it is pruned."""
        return (self.path, *self.sidecars)


def _create_dump_sidecars(path: Path) -> tuple[Path, ...]:
    stem = path.name.split("_all_create_dump_")[0]
    stamp = path.name[len(stem) + len("_all_create_dump_") :].split(".")[0]
    return (
        path.with_name(path.name + SIDECAR_SUFFIX),
        path.with_name(f"{stem}_all_create_dump_{stamp}{SIDECAR_SUFFIX}"),
    )


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def find_dumps(dump_dir: Path, root: Path, create_dump: bool) -> list[Dump]:
    """Dumps of ``root`` in ``dump_dir``, newest first. Only regular files whose names parse."""
    dumps: list[Dump] = []
    with os.scandir(dump_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        when = parse_dump_name(entry.name, root)
        candidates: tuple[Path, ...] = (sidecar(Path(entry.path)),)
        if when is None and create_dump:
            when = parse_create_dump_name(entry.name, root)
            candidates = _create_dump_sidecars(Path(entry.path))
        if when is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # a symlink or directory with a dump's name is not ours to delete
        sidecars = tuple(dict.fromkeys(p for p in candidates if _is_regular(p)))
        dumps.append(Dump(Path(entry.path), when, info.st_mtime, sidecars))
    dumps.sort(key=lambda d: (d.when, d.mtime, d.path.name), reverse=True)
    return dumps


@dataclass
class PrunePlan:
    """The dumps past the newest ``keep`` (newest first), and how many are kept."""

    old: list[Dump]
    kept: int

    @property
    def files(self) -> list[Path]:
        """Every file that goes: each old dump, then its sidecars."""
        return [p for d in self.old for p in d.files]


def plan_prune(dump_dir: Path, root: Path, keep: int, create_dump: bool) -> PrunePlan | None:
    """Which dumps of ``root`` in ``dump_dir`` go; None when ``dump_dir`` does not exist yet.

    Raises NotADirectoryError when ``dump_dir`` is something other than a directory.
    """
    if not dump_dir.exists():
        return None
    if not dump_dir.is_dir():
        raise NotADirectoryError(str(dump_dir))
    dumps = find_dumps(dump_dir, root, create_dump)
    old = dumps[keep:]
    return PrunePlan(old, len(dumps) - len(old))


@dataclass
class DeleteOutcome:
    """How many dumps went whole, the bytes freed, and one line per file that stayed."""

    removed: int = 0
    freed: int = 0
    failures: list[str] = field(default_factory=list)


def delete_dumps(
    old: Iterable[Dump],
    allowed_roots: tuple[Path, ...],
    on_deleted: Callable[[Dump], None] | None = None,
) -> DeleteOutcome:
    """Delete each dump and its sidecars (never outside ``allowed_roots``).

    A file already gone counts as deleted. ``on_deleted`` is called for each dump
    whose files all went.
    """
    outcome = DeleteOutcome()
    for dump in old:
        before = len(outcome.failures)
        for path in dump.files:
            try:
                outcome.freed += remove_path(path, allowed_roots)
            except FileNotFoundError:
                continue  # already gone: the goal is reached
            except OSError as exc:
                outcome.failures.append(f"could not delete {path}: {exc.strerror or exc}")
            except RoutineError as exc:  # UnsafePath: never expected, never ignored
                outcome.failures.append(str(exc))
        if len(outcome.failures) == before:
            outcome.removed += 1
            if on_deleted is not None:
                on_deleted(dump)
    return outcome
