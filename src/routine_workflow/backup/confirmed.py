"""What the last full check confirmed, so that the next run can compare stats only.

A run that finds the project unchanged since the newest backup (``manifest.first_change``,
perhaps apart from rewrites our journaled runs made, ``journaled.rewrites_since``) has
paid for that answer: the sidecar manifest parsed and validated, the journals read,
the reformatted files hashed. ``record`` keeps the answer in the backup directory
(``.<project-id>.confirmed``, private, written atomically): the archive it confirms,
its sha256, a stamp of its sidecar, and the sha256 of every path's stats as scanned
(files with their inode and ctime; ``stats_digest``). ``match`` gives the next run the same answer when its scan finds
exactly those stats, without reading the sidecar, a journal or any file of the project.

What makes a stat match enough: the full check itself takes a file whose (size,
mtime_ns) equal the manifest's as unchanged (black's assumption too); the match adds
the inode and the ctime, which every write changes, and ``os.utime`` putting an mtime
back changes the ctime as well. A file modified within ``RACY_WINDOW_NS`` of the scan
that confirmed it could keep its stats through a change, so nothing is recorded while
one is (the next full check records). Anything else goes back to the full check: a
stat that differs, a path added or removed, a newer archive, a sidecar whose stat
moved, a state file that is not exactly what ``record`` wrote (its first line is the
sha256 of the rest). The archive itself is still hashed on every run by the caller.
"""

from __future__ import annotations

import hashlib
import json
import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from routine_workflow.backup import store
from routine_workflow.backup.manifest import RACY_WINDOW_NS, Scan, dump
from routine_workflow.dirs import PRIVATE_FILE_MODE, project_id
from routine_workflow.fsutil import atomic_write, read_regular

FORMAT = "routine-workflow-confirmed/1"
#: A state file holds a few names and digests; anything larger is not one of ours.
MAX_BYTES = 64 * 1024


@dataclass
class Confirmed:
    """A confirmed state that still matches: the backup it names, and what it said."""

    archive: Path
    archive_sha256: str
    ours: int  # files our journaled runs rewrote since the backup
    runs: list[str]  # the runs that did
    confirmed_at: str
    confirmed_by: str


def state_path(directory: Path, root: Path) -> Path:
    """The confirmed state of ``root``'s backups in ``directory`` (hidden, one per project)."""
    return directory / f".{project_id(root)}.confirmed"


def record(
    directory: Path,
    root: Path,
    newest: store.Backup,
    current: Scan,
    apart: tuple[int, list[str]],
    run_id: str,
) -> bool:
    """Record that ``current`` matched ``newest`` (``apart``: our rewrites, their runs).

    Writes nothing, and returns False, if a file is racily new or the same state is
    already recorded.
    """
    racy_after = current.started_ns - RACY_WINDOW_NS
    for item in current.items:
        if item.type == "file" and max(item.mtime_ns, current.stamps[item.path][1]) >= racy_after:
            return False  # the ctime too: an mtime put back within the window changes it
    doc = {
        "format": FORMAT,
        "project_root": str(root),
        "archive": newest.path.name,
        "archive_sha256": newest.sidecar.get("archive_sha256"),
        "sidecar": _stamp(store.sidecar_path(newest.path)),
        "ours": apart[0],
        "runs": apart[1],
        "confirmed_at": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "confirmed_by": run_id,
        "paths": len(current.items),
        "stats": stats_digest(current),
    }
    body = dump(doc)
    path = state_path(directory, root)
    old = _read(path)
    if old is not None and _same_but_time(old, doc):
        return False
    atomic_write(path, _seal(body), PRIVATE_FILE_MODE)  # private, as the sidecar it stands for
    return True


def match(directory: Path, root: Path, current: Scan) -> Confirmed | None:
    """The recorded state if ``current`` matches it exactly and it names the newest backup."""
    doc = _read(state_path(directory, root))
    if doc is None or doc.get("project_root") != str(root):
        return None
    archive, sha = doc.get("archive"), doc.get("archive_sha256")
    if not (isinstance(archive, str) and isinstance(sha, str)):
        return None
    path = directory / archive
    if _newest_name(directory, root) != archive:
        return None
    try:
        if doc.get("sidecar") != _stamp(store.sidecar_path(path)):
            return None
    except OSError:
        return None
    if doc.get("paths") != len(current.items) or doc.get("stats") != stats_digest(current):
        return None
    ours, runs = doc.get("ours"), doc.get("runs")
    if type(ours) is not int or not isinstance(runs, list):
        return None
    if not all(isinstance(run, str) for run in runs):
        return None
    return Confirmed(
        path,
        sha,
        ours,
        runs,
        str(doc.get("confirmed_at", "")),
        str(doc.get("confirmed_by", "")),
    )


def stats_digest(current: Scan) -> str:
    """sha256 of every path's stats as compared: one record per path, in scan order.

    A record is the path, a NUL, the fields, a NUL: paths and link targets hold no
    NUL, so two different scans never give the same text. A directory's mtime is
    left out (it moves with any temporary file made and removed in it), as the
    manifest check leaves it out.
    """
    stamps, parts = current.stamps, []
    for item in current.items:
        if item.type == "file":
            ino, ctime_ns = stamps[item.path]
            parts.append(
                f"{item.path}\0f {item.size} {item.mode} {item.mtime_ns} {ino} {ctime_ns}\0"
            )
        elif item.type == "symlink":
            parts.append(f"{item.path}\0l {item.mode} {item.target}\0")
        else:
            parts.append(f"{item.path}\0d {item.mode}\0")
    text = "".join(parts).encode("utf-8", "surrogateescape")
    return hashlib.sha256(text).hexdigest()


def _stamp(path: Path) -> list[int]:
    """The sidecar's stats: an edit or a replacement of it since it was validated shows."""
    info = os.stat(path)
    return [info.st_size, info.st_mtime_ns, info.st_ino, info.st_ctime_ns]


def _newest_name(directory: Path, root: Path) -> str | None:
    """The newest archive name of this project in ``directory``, ours or not."""
    newest: tuple[tuple[datetime, int], str] | None = None
    try:
        names = os.listdir(directory)
    except OSError:
        return None
    for name in names:
        parsed = store.parse_name(name, root)
        if parsed is not None and (newest is None or parsed > newest[0]):
            newest = (parsed, name)
    return None if newest is None else newest[1]


def _seal(body: bytes) -> bytes:
    return hashlib.sha256(body).hexdigest().encode("ascii") + b"\n" + body


def _read(path: Path) -> dict[str, Any] | None:
    """The state in ``path`` if it is exactly what ``record`` wrote; else None."""
    try:
        data = read_regular(path, MAX_BYTES + 1)
    except OSError:
        return None
    seal, _, body = data.partition(b"\n")
    if len(data) > MAX_BYTES or seal != hashlib.sha256(body).hexdigest().encode("ascii"):
        return None  # truncated, edited, or not ours
    try:
        doc = json.loads(body)
    except (ValueError, RecursionError):
        return None
    return doc if isinstance(doc, dict) and doc.get("format") == FORMAT else None


def _same_but_time(old: dict[str, Any], new: dict[str, Any]) -> bool:
    skip = ("confirmed_at", "confirmed_by")
    return {k: v for k, v in old.items() if k not in skip} == {
        k: v for k, v in new.items() if k not in skip
    }
