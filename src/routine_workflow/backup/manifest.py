"""What a backup holds: one record per path, and how to tell whether anything changed.

The manifest lists every archived path with its type, size, permission bits,
modification time, sha256 (files) and link target (symlinks). It is stored as
the archive's last member (the checksums are only known once the files have
been read) and beside the archive as a sidecar, so "did anything change?" and
``backup list`` never need to decompress an archive.
"""

from __future__ import annotations

import json
import os
import stat
import time
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import Discovery
from routine_workflow.errors import RoutineError
from routine_workflow.fsutil import sha256_file

FORMAT = "routine-workflow-backup/1"
#: The manifest's member name inside the archive; a root file of that name is left out.
MANIFEST_MEMBER = ".routine-workflow-backup.json"
#: Files whose mtime is this close to the previous scan may have changed within one
#: timestamp tick after it (git's "racily clean" problem), so they are hashed anyway.
RACY_WINDOW_NS = 2_000_000_000


class BackupError(RoutineError):
    """A backup could not be written, read, verified or restored."""


@dataclass
class Item:
    """One archived path. ``sha256`` only for files, ``target`` only for symlinks."""

    path: str
    type: str  # "file" | "dir" | "symlink"
    size: int
    mode: int
    mtime_ns: int
    sha256: str | None = None
    target: str | None = None

    def same_metadata(self, other: Item) -> bool:
        """True if type, mode, size and link target agree (content not compared)."""
        return (self.type, self.mode, self.size, self.target) == (
            other.type,
            other.mode,
            other.size,
            other.target,
        )


class Totals:
    """Counts over ``items``, for anything that holds a list of them."""

    items: list[Item]

    @property
    def files(self) -> int:
        """Number of regular files."""
        return sum(1 for i in self.items if i.type == "file")

    @property
    def bytes(self) -> int:
        """Total size of the regular files."""
        return sum(i.size for i in self.items if i.type == "file")


@dataclass
class Scan(Totals):
    """The project as discovery sees it now, with what was left out and why."""

    items: list[Item]
    started_ns: int
    left_out: list[str]


def scan(config: WorkflowConfig, root: Path | None = None) -> Scan:
    """Stat every path discovery includes (symlinks are never followed)."""
    root = root or config.project_root
    started = time.time_ns()
    items: list[Item] = []
    left_out: list[str] = []
    # A restore point of the whole tree: submodules and nested repositories too.
    discovery = Discovery(config, include_git=config.backup_include_git, include_nested_repos=True)
    for entry in discovery.walk():
        if entry.rel == MANIFEST_MEMBER:
            left_out.append(f"{entry.rel}: name reserved for the backup manifest")
            continue
        try:
            info = os.lstat(entry.abspath)
        except OSError as exc:  # vanished between the walk and now
            left_out.append(f"{entry.rel}: {exc.strerror}")
            continue
        item = _item(entry.rel, entry.abspath, info)
        if item is None:
            left_out.append(f"{entry.rel}: not a file, directory or symlink")
        else:
            items.append(item)
    return Scan(items, started, left_out)


def _item(rel: str, path: str, info: os.stat_result) -> Item | None:
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode):
        return Item(rel, "file", info.st_size, mode, info.st_mtime_ns)
    if stat.S_ISDIR(info.st_mode):
        return Item(rel, "dir", 0, mode, info.st_mtime_ns)
    if stat.S_ISLNK(info.st_mode):
        return Item(rel, "symlink", 0, mode, info.st_mtime_ns, target=os.readlink(path))
    return None


# --- serialisation ---------------------------------------------------------------------------


def manifest_doc(items: Iterable[Item], **meta: Any) -> dict[str, Any]:
    """The manifest as a JSON-ready dict: format, metadata, totals and entries."""
    entries = [_compact(asdict(i)) for i in items]
    files = [e for e in entries if e["type"] == "file"]
    return {
        "format": FORMAT,
        **meta,
        "files": len(files),
        "bytes": sum(e["size"] for e in files),
        "entries": entries,
    }


def _compact(entry: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in entry.items() if v is not None}


def dump(doc: dict[str, Any]) -> bytes:
    """Compact, deterministic JSON bytes."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


def load(data: bytes, origin: str) -> dict[str, Any]:
    """Parse a manifest; BackupError naming ``origin`` if it is not one of ours."""
    try:
        doc = json.loads(data)
    except (ValueError, UnicodeDecodeError) as exc:
        raise BackupError(f"{origin}: unreadable backup manifest ({exc})") from None
    if (
        not isinstance(doc, dict)
        or doc.get("format") != FORMAT
        or not isinstance(doc.get("entries"), list)
    ):
        raise BackupError(f"{origin}: not a routine-workflow backup manifest")
    return doc


def entries(doc: dict[str, Any]) -> Iterator[Item]:
    """The manifest's records as ``Item`` objects."""
    for raw in doc["entries"]:
        yield Item(
            raw["path"],
            raw["type"],
            raw.get("size", 0),
            raw["mode"],
            raw.get("mtime_ns", 0),
            raw.get("sha256"),
            raw.get("target"),
        )


# --- change detection ------------------------------------------------------------------------


def first_change(current: Scan, previous: dict[str, Any], root: Path) -> str | None:
    """The first difference between the project now and a previous manifest, or None.

    Cheap first: paths, types, modes, sizes, link targets, then (size, mtime_ns)
    of files; only files whose mtime moved (or is racily close to the previous
    scan) are hashed.
    """
    old = {i.path: i for i in entries(previous)}
    if len(old) != len(current.items):
        return f"{abs(len(old) - len(current.items))} path(s) added or removed"
    racy_after = int(previous.get("scan_started_ns", 0)) - RACY_WINDOW_NS
    for item in current.items:
        before = old.get(item.path)
        if before is None:
            return f"{item.path} is new"
        if not item.same_metadata(before):
            return f"{item.path} changed"
        if item.type != "file":
            continue
        if item.mtime_ns == before.mtime_ns and item.mtime_ns < racy_after:
            continue
        if sha256_file(root / item.path) != before.sha256:
            return f"{item.path} changed"
    return None
