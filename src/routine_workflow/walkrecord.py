"""The outcome of a walk, kept between runs, reused while nothing it depends on changed.

A walk's outcome depends only on the listings of the directories it listed, the ignore
files it read, and its own settings. A directory's listing (its entries' names and
kinds) changes only by creating, removing or renaming an entry in it, and each of those
sets the directory's mtime and ctime. So a record of the walk, made with every listed
directory's (mtime_ns, ctime_ns, inode), the bytes' digest of every ignore file read,
and the settings, is still the walk's outcome while all of those are unchanged: one
``stat`` per directory and one read per ignore file, no listing, no rule matching.

A record is made only when every directory is older than ``RACY_NS`` when the walk
begins: a second change within one timestamp tick could otherwise keep every stat
(git's "racily clean" rule). A walk that met something the stats cannot vouch for (a
directory it could not list, an ignore file or ``pyvenv.cfg`` reached through a
symlink) makes no record. A file's content is never part of a record.

Only walks that may miss a new file for one run without harm keep a record
(``Discovery(record=)``): reformat and clean_caches. The backup and the dumps always
list every directory.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import time
from pathlib import Path
from typing import Any

from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir
from routine_workflow.fsutil import atomic_write, read_regular

#: A change this close (ns) before a walk began could repeat within one timestamp tick
#: (2 s on FAT, milliseconds elsewhere) and keep every stat: no record is made.
RACY_NS = 3_000_000_000
#: Bump when what a record holds changes.
FORMAT = 1


def dir_key(st: os.stat_result) -> list[int]:
    """What a directory's stat says about its listing."""
    return [st.st_mtime_ns, st.st_ctime_ns, st.st_ino]


def digest(data: bytes | None) -> str:
    """The digest a record keeps of an ignore file (``""`` for one that is missing)."""
    return "" if data is None else hashlib.sha256(data).hexdigest()


class WalkRecord:
    """One walker's record (a JSON file in ``cache_dir``): ``replay`` it, or note a new
    walk's inputs (``note_dir``, ``note_file``, ``spoil``) and ``save`` its outcome."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self.started_ns = time.time_ns()
        self._dirs: dict[str, list[int]] = {}
        self._files: dict[str, str] = {}
        self._spoiled = False
        #: Whether the last ``replay`` answered (for tests and ``--profile``).
        self.replayed = False

    # -- reuse ---------------------------------------------------------------------------------

    def replay(self, root: str, settings: dict[str, Any]) -> Any | None:
        """The outcome saved by an earlier walk with the same ``settings``, if every
        directory it listed and every ignore file it read is unchanged; else None."""
        try:
            data = json.loads(read_regular(self.path))
            if not isinstance(data, dict) or data.get("key") != _key(settings):
                return None
            dirs, files = data["dirs"], data["files"]
            base = root if root.endswith("/") else root + "/"
            for rel, key in dirs.items():
                if dir_key(os.stat(base + rel if rel else root)) != key:
                    return None
            for rel, known in files.items():
                if digest(_read(base + rel)) != known:
                    return None
        except (OSError, ValueError, KeyError, TypeError, AttributeError):
            return None
        self.replayed = True
        return data.get("outcome")

    # -- recording -----------------------------------------------------------------------------

    def note_dir(self, rel: str, st: os.stat_result) -> None:
        """A directory about to be listed, with its stats taken before the listing."""
        if max(st.st_mtime_ns, st.st_ctime_ns) >= self.started_ns - RACY_NS:
            self._spoiled = True  # changed too recently to vouch for its listing
        self._dirs[rel] = dir_key(st)

    def drop_dir(self, rel: str) -> None:
        """A directory listed and then left out whatever it holds (one of the tool's own,
        which the tool writes to meanwhile): its stats need not stay the same."""
        self._dirs.pop(rel, None)

    def note_file(self, rel: str, data: bytes | None) -> None:
        """An ignore file read by the walk (``None``: it does not exist)."""
        self._files[rel] = digest(data)

    def spoil(self) -> None:
        """The walk met something the stats cannot vouch for: no record of it."""
        self._spoiled = True

    def save(self, settings: dict[str, Any], outcome: Any) -> None:
        """Keep ``outcome`` of a walk with ``settings`` for the next walk, unless it was
        spoiled or is already kept. A failure to write costs the next walk only."""
        if self._spoiled or self.replayed:
            return
        data = {"key": _key(settings), "dirs": self._dirs, "files": self._files, "outcome": outcome}
        with contextlib.suppress(OSError):
            private_dir(self.path.parent)  # it names the project's directories and files
            # Lost to a power cut, it only costs the next walk: no fsync.
            blob = json.dumps(data, separators=(",", ":")).encode()
            atomic_write(self.path, blob, PRIVATE_FILE_MODE, durable=False)

    def forget(self) -> None:
        """Remove the record (the walk's outcome is about to change: files are removed)."""
        with contextlib.suppress(OSError):
            self.path.unlink()


def _key(settings: dict[str, Any]) -> str:
    return json.dumps({"format": FORMAT, **settings}, sort_keys=True, default=str)


def _read(path: str) -> bytes | None:
    try:
        return read_regular(path)  # an ignore file become a FIFO: OSError, never a hang
    except (FileNotFoundError, NotADirectoryError):
        return None
