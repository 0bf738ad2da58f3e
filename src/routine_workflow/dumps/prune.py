"""Pruning old dumps: find this project's dumps, keep the newest, delete the rest.

Only files whose *names* show them to be this project's dumps are ever touched:

- ours (``names``): ``<project id>_dump_<YYYYmmddTHHMMSSZ>.md`` + ``.md.sha256``, the
  project id holding a hash of the project's path, so another project's never match;
- names that any project in a folder of the same name would write, counted only in
  this project's own default dump directory (``dirs.data_dir(root, "dumps")``, keyed
  by the project id), where nobody else writes: our dumps from before the id was in
  the name (``<folder>_dump_<stamp>.md``), and create-dump's, when create-dump is the
  dump tool (``external.create_dump_in_use``): ``<folder>_all_create_dump_<YYYYmmdd_HHMMSS>.md``
  (or ``.md.gz``) with a ``.sha256`` sidecar, beside the full name or in place of the
  suffix. In a ``dump_dir`` set by the user (maybe shared) they are left alone and listed.

Age comes from the timestamp in the name (mtime only breaks ties), so copying
or touching a dump does not change which ones are kept. Anything else in the
dump directory (``notes.md``, ``my_dump_final.md``, another project's dumps, a
symlink or directory with a dump's name) is left alone.

- ``scan_dumps``: the dumps in a directory, newest first, and the ones left alone;
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

from routine_workflow.dirs import data_dir
from routine_workflow.dumps.names import (
    SIDECAR_SUFFIX,
    parse_create_dump_name,
    parse_dump_name,
    parse_legacy_dump_name,
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


def is_own_dump_dir(dump_dir: Path, root: Path) -> bool:
    """True when ``dump_dir`` is this project's default one, which no other project uses."""
    try:
        return dump_dir.resolve() == data_dir(root, "dumps").resolve()
    except OSError:  # pragma: no cover (resolve fails only on a symlink loop)
        return False


@dataclass
class DumpScan:
    """This project's dumps (newest first), and files named like them whose owner is unknown."""

    dumps: list[Dump] = field(default_factory=list)
    left_alone: list[Path] = field(default_factory=list)


def scan_dumps(
    dump_dir: Path, root: Path, create_dump: bool, owned: bool | None = None
) -> DumpScan:
    """The dumps of ``root`` in ``dump_dir``. Only regular files whose names parse.

    ``owned`` (default: ``is_own_dump_dir``) says whether names that do not carry the
    project id (legacy and create-dump names) are this project's.
    """
    if owned is None:
        owned = is_own_dump_dir(dump_dir, root)
    scan = DumpScan()
    with os.scandir(dump_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        when, candidates, proven = _parse(entry.name, Path(entry.path), root, create_dump)
        if when is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # a symlink or directory with a dump's name is not ours to delete
        if not (proven or owned):
            scan.left_alone.append(Path(entry.path))
            continue
        sidecars = tuple(dict.fromkeys(p for p in candidates if _is_regular(p)))
        scan.dumps.append(Dump(Path(entry.path), when, info.st_mtime, sidecars))
    scan.dumps.sort(key=lambda d: (d.when, d.mtime, d.path.name), reverse=True)
    return scan


def _parse(
    name: str, path: Path, root: Path, create_dump: bool
) -> tuple[datetime | None, tuple[Path, ...], bool]:
    """(time, sidecar candidates, whether the name proves the dump is this project's)."""
    when = parse_dump_name(name, root)
    if when is not None:
        return when, (sidecar(path),), True
    when = parse_legacy_dump_name(name, root)
    if when is not None:
        return when, (sidecar(path),), False
    if create_dump and (when := parse_create_dump_name(name, root)) is not None:
        return when, _create_dump_sidecars(path), False
    return None, (), False


def find_dumps(
    dump_dir: Path, root: Path, create_dump: bool, owned: bool | None = None
) -> list[Dump]:
    """Dumps of ``root`` in ``dump_dir``, newest first (``scan_dumps`` without the rest)."""
    return scan_dumps(dump_dir, root, create_dump, owned).dumps


@dataclass
class PrunePlan:
    """The dumps past the newest ``keep`` (newest first), how many are kept, and what is
    left alone because its name does not tell whose it is."""

    old: list[Dump]
    kept: int
    left_alone: list[Path] = field(default_factory=list)

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
    scan = scan_dumps(dump_dir, root, create_dump)
    old = scan.dumps[keep:]
    return PrunePlan(old, len(scan.dumps) - len(old), scan.left_alone)


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
