"""The backup directory: names, sidecars, listing, retention and leftovers.

An archive is ``<project>-<YYYYmmddTHHMMSSZ>[-N].tar.gz`` with a sidecar
``<archive>.manifest.json`` beside it. The sidecar is written (atomically)
before the archive gets its final name, so a final-named archive always has
one; an archive of ours is a name that parses *and* a sidecar that names this
project. Nothing else in the directory is ever deleted.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from routine_workflow import dirs
from routine_workflow.backup.manifest import FORMAT, MAX_MANIFEST_BYTES
from routine_workflow.dumps.names import STAMP_FORMAT, project_slug
from routine_workflow.fsutil import open_regular, remove_path

SUFFIX = ".tar.gz"
SIDECAR_SUFFIX = ".manifest.json"
TEMP_SUFFIX = ".partial"
#: A sidecar is the manifest plus a few fields; anything larger is not one of ours.
MAX_SIDECAR_BYTES = MAX_MANIFEST_BYTES + 64 * 1024


@dataclass
class Backup:
    """One archive of ours with what its sidecar says."""

    path: Path
    created: datetime
    serial: int
    sidecar: dict[str, Any]

    @property
    def sort_key(self) -> tuple[datetime, int]:
        """Oldest first."""
        return (self.created, self.serial)

    def as_json(self) -> dict[str, Any]:
        """What ``backup list --json`` prints for this archive."""
        try:
            size = self.path.stat().st_size
        except OSError:
            size = None
        return {
            "path": str(self.path),
            "created": self.created.isoformat(),
            "size": size,
            "files": self._count("files"),
            "bytes": self._count("bytes"),
            "verified": self.sidecar.get("verified") is True,
            # Both None for an archive written before they were kept.
            "left_out": self._count("left_out"),
            "run_id": self.run_id,
        }

    @property
    def run_id(self) -> str | None:
        """The run (as ``history`` shows it) that wrote this archive, if it says."""
        value = self.sidecar.get("run_id")
        return value if isinstance(value, str) and value else None

    def _count(self, key: str) -> int | None:
        value = self.sidecar.get(key)
        return value if type(value) is int else None  # exactly: not a bool


def sidecar_path(archive: Path) -> Path:
    """The manifest file that belongs beside ``archive``."""
    return archive.with_name(archive.name + SIDECAR_SUFFIX)


def archive_name(root: Path, when: datetime, serial: int = 0) -> str:
    """The final name of a backup of ``root`` taken at ``when`` (UTC)."""
    stamp = when.astimezone(timezone.utc).strftime(STAMP_FORMAT)
    return f"{project_slug(root)}-{stamp}{f'-{serial}' if serial else ''}{SUFFIX}"


def parse_name(name: str, root: Path) -> tuple[datetime, int] | None:
    """(time, serial) of a backup name of this project, or None if it is not one."""
    match = re.fullmatch(
        re.escape(project_slug(root)) + r"-(\d{8}T\d{6}Z)(?:-(\d+))?" + re.escape(SUFFIX), name
    )
    if match is None:
        return None
    try:
        when = datetime.strptime(match.group(1), STAMP_FORMAT).replace(tzinfo=timezone.utc)
    except ValueError:
        return None
    return when, int(match.group(2) or 0)


def stamp_of(name: str, root: Path) -> str:
    """The time stamp (and serial) part of a backup name of this project."""
    return name.removeprefix(f"{project_slug(root)}-").removesuffix(SUFFIX)


def free_name(directory: Path, root: Path, when: datetime) -> Path:
    """A new final archive path that sorts after every existing one of the same second.

    Two runs in one second get serials; a serial is never reused after a prune,
    or the newest backup would sort (and be pruned) as the oldest.
    """
    taken = [-1]
    for path in directory.iterdir():
        name = path.name.removesuffix(SIDECAR_SUFFIX)
        parsed = parse_name(name, root)
        if parsed is not None and parsed[0] == when:
            taken.append(parsed[1])
    return directory / archive_name(root, when, max(taken) + 1)


def temp_prefix(root: Path) -> str:
    """Prefix of this project's in-progress archives (hidden, never a final name)."""
    return f".{dirs.project_id(root)}."


def read_sidecar(archive: Path) -> dict[str, Any] | None:
    """The sidecar's JSON, or None if missing, unreadable, too large or not ours.

    Only the format is checked here: whoever uses the entries validates them
    (``manifest.first_change`` treats a sidecar that does not validate as an
    unusable previous backup).
    """
    try:
        with open_regular(sidecar_path(archive)) as handle:
            data = handle.read(MAX_SIDECAR_BYTES + 1)
        if len(data) > MAX_SIDECAR_BYTES:
            return None
        doc = json.loads(data)
    except (OSError, ValueError, RecursionError):
        return None
    if not isinstance(doc, dict) or doc.get("format") != FORMAT:
        return None
    return doc


def list_backups(directory: Path, root: Path) -> list[Backup]:
    """This project's archives in ``directory``, oldest first."""
    found = (_ours(directory, root, name, parsed) for name, parsed in _named(directory, root))
    return sorted((b for b in found if b is not None), key=lambda b: b.sort_key)


def newest_backup(directory: Path, root: Path) -> Backup | None:
    """``list_backups(...)[-1]``, reading sidecars newest first only until one is ours.

    Each sidecar holds every path of the project: reading all of them to use one
    was most of what a run with nothing changed spent on the backup.
    """
    for name, parsed in sorted(_named(directory, root), key=lambda n: n[1], reverse=True):
        backup = _ours(directory, root, name, parsed)
        if backup is not None:
            return backup
    return None


def _named(directory: Path, root: Path) -> list[tuple[str, tuple[datetime, int]]]:
    """(name, (time, serial)) of every name in ``directory`` that parses as ours."""
    try:
        names = [p.name for p in directory.iterdir()]
    except OSError:
        return []
    return [(n, parsed) for n in names if (parsed := parse_name(n, root)) is not None]


def _ours(directory: Path, root: Path, name: str, parsed: tuple[datetime, int]) -> Backup | None:
    """The archive ``name`` if its sidecar names this project; else None."""
    path = directory / name
    sidecar = read_sidecar(path)
    if sidecar is None or sidecar.get("project_root") != str(root) or not path.is_file():
        return None
    return Backup(path, parsed[0], parsed[1], sidecar)


def prune(
    directory: Path,
    root: Path,
    keep: int,
    protect: Path | None = None,
    errors: list[OSError] | None = None,
) -> list[Path]:
    """Delete all but the newest ``keep`` archives of this project (and their sidecars).

    ``protect`` (the archive just written) is never deleted, even if a clock
    that went backwards makes it sort as old. With ``errors``, an archive that
    cannot be deleted is appended there and the others are still pruned;
    without, the OSError propagates.
    """
    removed: list[Path] = []
    keep -= protect is not None
    named = [n for n, _ in _named(directory, root) if protect is None or n != protect.name]
    if len(named) <= keep:
        return removed  # no more names than kept, so no more archives of ours: no sidecar read
    backups = [b for b in list_backups(directory, root) if b.path != protect]
    for old in backups[: max(0, len(backups) - keep)]:
        # Sidecar last: an archive without one would no longer be recognised as ours.
        try:
            remove_path(old.path, [directory])
        except OSError as exc:
            if errors is None:
                raise
            errors.append(exc)
            continue
        removed.append(old.path)
        try:
            remove_path(sidecar_path(old.path), [directory])
        except FileNotFoundError:
            pass
        except OSError as exc:
            if errors is None:
                raise
            errors.append(exc)
    return removed


def remove_leftovers(directory: Path, root: Path) -> list[str]:
    """Remove what an interrupted backup of this project left: temp archives, orphan sidecars.

    Only called under the project lock, so no other backup of this project is
    writing; other projects' temp files have another prefix.
    """
    removed: list[str] = []
    try:
        paths = list(directory.iterdir())
    except OSError:
        return removed
    for path in paths:
        if _is_leftover(path, root):
            with contextlib.suppress(FileNotFoundError):
                remove_path(path, [directory])
                removed.append(path.name)
    return removed


def _is_leftover(path: Path, root: Path) -> bool:
    name = path.name
    if name.startswith(temp_prefix(root)) and name.endswith(TEMP_SUFFIX):
        return True
    if not name.endswith(SIDECAR_SUFFIX):
        return False
    # A sidecar of ours whose archive never got its final name (killed between the two).
    # Cheap tests first: the sidecar of an archive that exists is never read here.
    archive = path.with_name(name.removesuffix(SIDECAR_SUFFIX))
    if parse_name(archive.name, root) is None or os.path.lexists(archive):
        return False
    doc = read_sidecar(archive)
    return doc is not None and doc.get("project_root") == str(root)


def now_utc() -> datetime:
    """The current time in UTC, to the second (archive names have no finer resolution)."""
    return datetime.fromtimestamp(int(time.time()), tz=timezone.utc)
