"""What a backup holds: one record per path, and how to tell whether anything changed.

The manifest lists every archived path with its type, size, permission bits,
modification time, sha256 (files) and link target (symlinks). It is stored as
the archive's last member (the checksums are only known once the files have
been read) and beside the archive as a sidecar, so "did anything change?" and
``backup list`` never need to decompress an archive.

Sections: the records and the project ``scan``; limits (``Budget``: how many
paths and how much name text one backup may hold, so reading any archive
stays within a fixed memory budget); the schema (``unsafe_name``,
``item_from``, ``check_doc``: what a manifest must look like before anything
trusts it); serialisation; change detection (``first_change``, which treats a
previous manifest that does not validate as "unusable").
"""

from __future__ import annotations

import json
import os
import posixpath
import re
import stat
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import Discovery
from routine_workflow.errors import RoutineError
from routine_workflow.fsutil import sha256_file
from routine_workflow.output import plural

FORMAT = "routine-workflow-backup/1"
#: The manifest's member name inside the archive; a root file of that name is left out.
MANIFEST_MEMBER = ".routine-workflow-backup.json"
#: Files whose mtime is this close to the previous scan may have changed within one
#: timestamp tick after it (git's "racily clean" problem), so they are hashed anyway.
RACY_WINDOW_NS = 2_000_000_000


class BackupError(RoutineError):
    """A backup could not be written, read, verified or restored."""


@dataclass(slots=True)
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
    """The project as discovery sees it now, with what was left out and why.

    ``stamps``: each file's (inode, ctime_ns), which the manifest does not keep (a
    restored tree has new ones) but a confirmed state does (``backup.confirmed``).
    """

    items: list[Item]
    started_ns: int
    left_out: list[str]
    stamps: dict[str, tuple[int, int]] = field(default_factory=dict)


def scan(config: WorkflowConfig, root: Path | None = None) -> Scan:
    """Stat every path discovery includes (symlinks are never followed)."""
    root = root or config.project_root
    started = time.time_ns()
    items: list[Item] = []
    left_out: list[str] = []
    stamps: dict[str, tuple[int, int]] = {}
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
            if item.type == "file":
                stamps[item.path] = (info.st_ino, info.st_ctime_ns)
    # A directory that could not be listed is archived empty: say what is missing.
    left_out.extend(discovery.unreadable)
    return Scan(items, started, left_out, stamps)


def _item(rel: str, path: str, info: os.stat_result) -> Item | None:
    mode = stat.S_IMODE(info.st_mode)
    if stat.S_ISREG(info.st_mode):
        return Item(rel, "file", info.st_size, mode, info.st_mtime_ns)
    if stat.S_ISDIR(info.st_mode):
        return Item(rel, "dir", 0, mode, info.st_mtime_ns)
    if stat.S_ISLNK(info.st_mode):
        return Item(rel, "symlink", 0, mode, info.st_mtime_ns, target=os.readlink(path))
    return None


# --- limits ----------------------------------------------------------------------------------

#: Longest path or link target (Linux's PATH_MAX).
MAX_PATH_CHARS = 4096
#: Most paths one backup holds. Reading an archive keeps a small record per path
#: (a link inside must be checked against every other path), so this and
#: ``MAX_NAME_CHARS`` are what keep verify and restore within a fixed memory budget.
MAX_ENTRIES = 200_000
#: Most characters all paths and link targets of one backup may have together
#: (a non-ASCII name counts four per character, as it may cost in memory).
MAX_NAME_CHARS = 16 * 1024 * 1024
#: The manifest member's ceiling; below it, what the members before it can need.
MAX_MANIFEST_BYTES = 64 * 1024 * 1024
_MANIFEST_BASE_BYTES = 64 * 1024  # the metadata around the entries
_ENTRY_BYTES = 256  # one entry's keys and numbers, with room for whitespace
_ESCAPED_PER_CHAR = 6  # JSON writes a character as at most \uXXXX (astral: two, counted 4x)


class Budget:
    """The paths an archive (or a backup being written) holds, counted against the limits."""

    def __init__(self) -> None:
        self.entries = 0
        self.name_chars = 0

    def add(self, path: str, target: str | None = None) -> str | None:
        """Count one path; why the archive is over the limits, or None."""
        self.entries += 1
        self.name_chars += _cost(path) + _cost(target or "")
        if self.entries > MAX_ENTRIES:
            return f"more than {MAX_ENTRIES:,} paths"
        if self.name_chars > MAX_NAME_CHARS:
            return f"paths and link targets longer than {MAX_NAME_CHARS:,} characters in all"
        return None

    def manifest_limit(self) -> int:
        """The most bytes a manifest of the paths counted so far can need."""
        need = (
            _MANIFEST_BASE_BYTES + self.entries * _ENTRY_BYTES + self.name_chars * _ESCAPED_PER_CHAR
        )
        return min(MAX_MANIFEST_BYTES, need)


def _cost(name: str) -> int:
    return len(name) if name.isascii() else 4 * len(name)


# --- schema ----------------------------------------------------------------------------------


class SchemaError(ValueError):
    """A manifest (or one of its entries) is not what this tool writes; the message says why."""


KINDS = ("file", "dir", "symlink")
_FIELDS: dict[str, type] = {
    "path": str,
    "type": str,
    "size": int,
    "mode": int,
    "mtime_ns": int,
    "sha256": str,
    "target": str,
}
_REQUIRED = ("path", "type", "size", "mode", "mtime_ns")
#: Metadata fields with a known type; others are allowed if they are plain values.
_META: dict[str, tuple[type, ...]] = {
    "format": (str,),
    "files": (int,),
    "bytes": (int,),
    "project_root": (str,),
    "created": (str,),
    "scan_started_ns": (int,),
    "tool_version": (str,),
    "compression": (str,),
    "run_id": (str, type(None)),
    "archive": (str,),
    "archive_size": (int,),
    "archive_sha256": (str,),
    "verified": (bool,),
    "verified_at": (str,),
    "left_out": (int,),
}
_PLAIN = (str, int, float, bool, type(None))
_SHA256 = re.compile(r"[0-9a-f]{64}")
_INT64 = 1 << 63


def unsafe_name(name: str) -> str | None:
    """Why a path is unsafe to extract (or not one this tool archives), or None."""
    if not name or "\x00" in name:
        return "empty"
    if len(name) > MAX_PATH_CHARS:
        return f"longer than {MAX_PATH_CHARS} characters"
    if name.startswith("/"):
        return "absolute path"
    # "c:x" is an ordinary file name on POSIX, but a drive-relative path on Windows.
    if os.name == "nt" and len(name) > 1 and name[1] == ":":  # pragma: no cover (Windows)
        return "drive letter"
    if ".." in name.split("/"):
        return "contains .."
    if posixpath.normpath(name) != name:
        return "not a normalised path"
    return None


def item_from(raw: object) -> Item:
    """The manifest entry ``raw`` as an Item; SchemaError says what is wrong with it."""
    if not isinstance(raw, dict):
        raise SchemaError(f"an entry is {_kind_of(raw)}, not an object")
    where = f"entry {_short(raw['path'])}" if isinstance(raw.get("path"), str) else "an entry"
    for key, value in raw.items():
        want = _FIELDS.get(key)
        if want is None:
            raise SchemaError(f"{where} has an unknown field {_short(key)}")
        if type(value) is not want:  # exactly: a bool is not an int here
            raise SchemaError(f"{where}: {key} is {_kind_of(value)}, not {want.__name__}")
    missing = [key for key in _REQUIRED if key not in raw]
    if missing:
        raise SchemaError(f"{where} has no {missing[0]!r}")
    problem = _entry_problem(raw)
    if problem:
        raise SchemaError(f"{where}: {problem}")
    return Item(
        raw["path"],
        raw["type"],
        raw["size"],
        raw["mode"],
        raw["mtime_ns"],
        raw.get("sha256"),
        raw.get("target"),
    )


def _entry_problem(raw: dict[str, Any]) -> str | None:
    """Why a well-typed entry is still not one of ours, or None."""
    kind, path = raw["type"], raw["path"]
    if kind not in KINDS:
        return f"type {_short(kind)} is not one of {', '.join(KINDS)}"
    if path == MANIFEST_MEMBER or unsafe_name(path):
        return f"path {unsafe_name(path) or 'is reserved for the manifest'}"
    if not 0 <= raw["size"] < _INT64 or (kind != "file" and raw["size"]):
        return f"size {raw['size']} is impossible for a {kind}"
    if not 0 <= raw["mode"] <= 0o7777:
        return f"mode {raw['mode']} is not a permission mode"
    if not -_INT64 <= raw["mtime_ns"] < _INT64:
        return "mtime_ns is out of range"
    sha = raw.get("sha256")
    if (sha is None) == (kind == "file") or (sha is not None and not _SHA256.fullmatch(sha)):
        return "a file needs a sha256 (64 hex digits), nothing else has one"
    target = raw.get("target")
    if (target is None) == (kind == "symlink"):
        return "a symlink needs a target, nothing else has one"
    if target is not None and (not target or "\x00" in target or len(target) > MAX_PATH_CHARS):
        return "the link target is empty, holds a NUL or is too long"
    return None


def check_meta(meta: dict[str, Any], files: int, size: int) -> None:
    """Check a manifest's fields other than ``entries``; SchemaError says what is wrong."""
    if meta.get("format") != FORMAT:
        raise SchemaError(f"format is {_short(meta.get('format'))}, not {FORMAT!r}")
    for key, value in meta.items():
        want = _META.get(key, _PLAIN)
        if type(value) not in want:
            raise SchemaError(f"{_short(key)} is {_kind_of(value)}")
    if (meta.get("files"), meta.get("bytes")) != (files, size):
        raise SchemaError(
            f"its totals (files {meta.get('files')}, bytes {meta.get('bytes')}) "
            f"do not match its entries ({files} files, {size} bytes)"
        )


def check_doc(doc: object) -> list[Item]:
    """Validate an already parsed manifest (a sidecar) whole; its entries as Items.

    SchemaError says what is wrong: a missing or mistyped field, a path that is
    unsafe or appears twice, totals that do not add up.
    """
    if not isinstance(doc, dict):
        raise SchemaError(f"the manifest is {_kind_of(doc)}, not an object")
    entries = doc.get("entries")
    if not isinstance(entries, list):
        raise SchemaError(f"entries is {_kind_of(entries)}, not an array")
    if len(entries) > MAX_ENTRIES:
        raise SchemaError(f"more than {MAX_ENTRIES:,} entries")
    items = [item_from(raw) for raw in entries]
    paths = {i.path for i in items}
    if len(paths) != len(items):
        raise SchemaError("a path appears twice")
    files = [i for i in items if i.type == "file"]
    check_meta(
        {k: v for k, v in doc.items() if k != "entries"}, len(files), sum(i.size for i in files)
    )
    return items


def _kind_of(value: object) -> str:
    names = {dict: "an object", list: "an array", str: "a string", bool: "a boolean"}
    if value is None:
        return "null"
    return names.get(type(value), f"a {type(value).__name__}")


def _short(value: object, width: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= width else text[: width - 3] + "..."


# --- serialisation ---------------------------------------------------------------------------


def manifest_doc(items: Iterable[Item], **meta: Any) -> dict[str, Any]:
    """The manifest as a JSON-ready dict: format, metadata, totals and entries."""
    entries = [_entry(i) for i in items]
    files = [e for e in entries if e["type"] == "file"]
    return {
        "format": FORMAT,
        **meta,
        "files": len(files),
        "bytes": sum(e["size"] for e in files),
        "entries": entries,
    }


def _entry(item: Item) -> dict[str, Any]:
    """One manifest entry: the Item's fields, those that are None left out.

    Built by hand: ``dataclasses.asdict`` deep-copies every value, a third of the
    manifest's cost on a small tree.
    """
    entry: dict[str, Any] = {
        "path": item.path,
        "type": item.type,
        "size": item.size,
        "mode": item.mode,
        "mtime_ns": item.mtime_ns,
    }
    if item.sha256 is not None:
        entry["sha256"] = item.sha256
    if item.target is not None:
        entry["target"] = item.target
    return entry


def dump(doc: dict[str, Any]) -> bytes:
    """Compact, deterministic JSON bytes."""
    return json.dumps(doc, separators=(",", ":"), sort_keys=True).encode("utf-8")


# --- change detection ------------------------------------------------------------------------


def first_change(
    current: Scan,
    previous: dict[str, Any],
    root: Path,
    ours: Mapping[str, str] | None = None,
    hashed: list[str] | None = None,
) -> str | None:
    """The first difference between the project now and a previous manifest, or None.

    ``ours`` (``journaled.rewrites_since``): files our own journaled runs rewrote from
    the backed-up content, each with the digest it was left holding; such a file
    holding that content, with the same mode, is no difference.

    A previous manifest that does not validate is itself the difference: the
    previous backup is unusable, so a new one is taken (and the reason says so).
    Cheap first: paths, types, modes, sizes, link targets, then (size, mtime_ns)
    of files; only files whose mtime moved (or is racily close to the previous
    scan) are hashed; their paths are appended to ``hashed`` (the step counts them).
    """
    hashed = [] if hashed is None else hashed
    try:
        old = {i.path: i for i in check_doc(previous)}
    except SchemaError as exc:
        name = previous.get("archive") if isinstance(previous, dict) else None
        which = f" {name}" if isinstance(name, str) else ""
        return f"previous backup{which} is unusable: {exc}"
    if len(old) != len(current.items):
        return f"{plural(abs(len(old) - len(current.items)), 'path')} added or removed"
    racy_after = previous.get("scan_started_ns", 0) - RACY_WINDOW_NS
    for item in current.items:
        before = old.get(item.path)
        if before is None:
            return f"{item.path} is new"
        if ours and item.path in ours and item.type == before.type == "file":
            hashed.append(item.path)
            if item.mode != before.mode or sha256_file(root / item.path) not in (
                before.sha256,
                ours[item.path],
            ):
                return f"{item.path} changed"
            continue
        if not item.same_metadata(before):
            return f"{item.path} changed"
        if item.type != "file":
            continue
        if item.mtime_ns == before.mtime_ns and item.mtime_ns < racy_after:
            continue
        hashed.append(item.path)
        if sha256_file(root / item.path) != before.sha256:
            return f"{item.path} changed"
    return None
