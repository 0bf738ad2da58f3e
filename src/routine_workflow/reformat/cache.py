"""The reformat step's cache: which file contents are already known to be final.

One JSON file per project in ``cache_dir``. It is valid only for one
*fingerprint*: the versions of the tools (and of the interpreter, which decides
what compiles), the bytes of every configuration file the three tools could read,
and our own pipeline settings. Any change there discards the whole cache. Within
it, an entry maps a file's relative path to the sha256 of a content the pipeline
leaves as it is (or excludes, or rejects for a stable reason), so a warm run only
hashes files and never imports black, isort or autoflake.

Nothing here imports the tools: versions come from package metadata.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import os
import sys
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir
from routine_workflow.distversions import dist_info_versions
from routine_workflow.fsutil import atomic_write, read_regular

# A file changed this close (ns) to the pass's start could change again within one
# timestamp tick and keep every stat: its stat is not recorded (git's "racily clean").
from routine_workflow.walkrecord import RACY_NS

CACHE_NAME = "reformat-cache.json"
#: ``watch``'s runs keep unused imports: their verdicts hold under another fingerprint.
WATCH_CACHE_NAME = "reformat-cache-watch.json"
#: Bump when the pipeline's behaviour changes in a way the inputs below do not show.
PIPELINE_VERSION = "2"  # 2: outputs are fixed points (caches of 1 may not be)
TOOLS = ("black", "isort", "autoflake", "pyflakes")
#: Files the three tools read their settings from, in the project root and above.
CONFIG_NAMES = (
    "pyproject.toml",
    "setup.cfg",
    ".isort.cfg",
    "tox.ini",
    ".editorconfig",
    ".gitignore",
)


def tool_versions() -> dict[str, str]:
    """Installed versions of the tools (and the interpreter), without importing them."""
    versions = {"python": ".".join(str(part) for part in sys.version_info[:3])}
    versions.update(dist_info_versions(TOOLS))
    missing = [name for name in TOOLS if name not in versions]
    if missing:  # an egg-info or otherwise unusual install: ask importlib.metadata
        from importlib import metadata

        for name in missing:
            try:
                versions[name] = metadata.version(name)
            except metadata.PackageNotFoundError:
                versions[name] = "missing"
    return versions


def config_files(root: Path) -> list[Path]:
    """Every configuration file the tools could read for ``root``: the root, its parents,
    and black's user-level configuration."""
    found = [
        d / name for d in (root, *root.parents) for name in CONFIG_NAMES if (d / name).is_file()
    ]
    xdg = os.environ.get("XDG_CONFIG_HOME")
    user = Path(xdg) / "black" if xdg else Path.home() / ".config" / "black"
    if user.is_file():
        found.append(user)
    return found


def fingerprint(
    root: Path,
    versions: Mapping[str, str],
    settings: Mapping[str, Any],
    files: Iterable[Path] | None = None,
) -> str:
    """A digest of everything besides a file's content that decides the pipeline's output."""
    digest = hashlib.sha256()
    blob = {
        "pipeline": PIPELINE_VERSION,
        "root": str(root),
        "versions": dict(versions),
        "settings": dict(settings),
    }
    digest.update(json.dumps(blob, sort_keys=True, default=str).encode())
    for path in config_files(root) if files is None else files:
        digest.update(str(path).encode("utf-8", "surrogateescape") + b"\0")
        with contextlib.suppress(OSError):
            digest.update(hashlib.sha256(path.read_bytes()).digest())
    return digest.hexdigest()


#: What a file's stat says about its content: (size, mtime_ns, ctime_ns, inode).
StatKey = tuple[int, int, int, int]


def stat_key(st: os.stat_result) -> StatKey:
    """The stats that change whenever a file's content does (``ReformatCache.lookup_stat``)."""
    return (st.st_size, st.st_mtime_ns, st.st_ctime_ns, st.st_ino)


@dataclass
class Entry:
    """A content known to need nothing: its hash, the reason if it was rejected, and the
    stats the file had when that content was read (None until they are trustworthy)."""

    digest: str
    status: str
    reason: str = ""
    stat: StatKey | None = None


def _entry(item: Any) -> Entry:
    """[digest, status, reason] or [digest, status, reason, [size, mtime, ctime, inode]];
    ValueError for anything else. Run once per file on every warm run: kept lean."""
    if type(item) is not list:
        raise ValueError(item)
    stat = None
    if len(item) == 4:
        digest, status, reason, raw = item
        if type(raw) is not list or len(raw) != 4 or not all(type(n) is int for n in raw):
            raise ValueError(item)
        stat = (raw[0], raw[1], raw[2], raw[3])
    else:
        digest, status, reason = item  # ValueError unless exactly 3
    if type(digest) is not str or type(status) is not str or type(reason) is not str:
        raise ValueError(item)
    return Entry(digest, status, reason, stat)


@dataclass
class ReformatCache:
    """Entries by relative path, valid for one fingerprint.

    Two ways to a verdict, as black's own cache: the file's stats (``lookup_stat``:
    no read at all), else its content's hash (``lookup``). Stats are recorded only
    once they are out of the racy window (``remember_stat``), and key on the ctime
    and inode as well as black's size and mtime, so a rewrite that restores the
    size and mtime is still read (docs/reformat.md, "Cache").
    """

    path: Path
    fingerprint: str
    entries: dict[str, Entry] = field(default_factory=dict)
    #: Whether the file on disk already holds ``entries`` (``save`` then has nothing to do).
    saved: bool = False

    @classmethod
    def load(cls, cache_dir: Path, fingerprint: str, name: str = CACHE_NAME) -> ReformatCache:
        """The cache for ``fingerprint`` in ``cache_dir / name``; empty if missing,
        unreadable or made for another."""
        path = cache_dir / name
        cache = cls(path, fingerprint)
        try:
            data = json.loads(read_regular(path))
        except (OSError, ValueError):
            return cache
        if not isinstance(data, dict) or data.get("fingerprint") != fingerprint:
            return cache
        with contextlib.suppress(AttributeError, TypeError, ValueError):
            cache.entries = {rel: _entry(item) for rel, item in data.get("files", {}).items()}
            cache.saved = True
        return cache

    def lookup_stat(self, rel: str, key: StatKey) -> Entry | None:
        """The entry of ``rel`` if the file still has the stats recorded with it."""
        entry = self.entries.get(rel)
        return entry if entry is not None and entry.stat == key else None

    def lookup(self, rel: str, digest: str) -> Entry | None:
        """The entry for this exact content of ``rel``, if any."""
        entry = self.entries.get(rel)
        return entry if entry is not None and entry.digest == digest else None

    def record(
        self, rel: str, digest: str, status: str, reason: str = "", stat: StatKey | None = None
    ) -> None:
        """Remember that this content of ``rel`` needs no work (or fails for ``reason``);
        ``stat``: the file's ``stat_key`` taken before that content was read, if trusted."""
        entry = Entry(digest, status, reason, stat)
        if self.entries.get(rel) != entry:
            self.entries[rel] = entry
            self.saved = False

    def remember_stat(self, rel: str, st: os.stat_result, started_ns: int) -> None:
        """Record ``st`` (taken before ``rel`` was read and found to match its entry) for
        ``lookup_stat``, unless the file changed within ``RACY_NS`` of ``started_ns`` (then
        the stats recorded before, of another write of the same content, are dropped)."""
        entry = self.entries.get(rel)
        key = trusted_stat(st, started_ns)
        if entry is not None and entry.stat != key:
            entry.stat = key
            self.saved = False

    def forget(self, rel: str) -> None:
        """Drop what is known about ``rel``."""
        if self.entries.pop(rel, None) is not None:
            self.saved = False

    def save(self, keep: Iterable[str] | None = None) -> None:
        """Write the cache atomically; with ``keep``, entries of vanished files are dropped.
        Nothing is written when the file already holds exactly that."""
        entries = self.entries
        if keep is not None:
            wanted = set(keep)
            entries = {rel: e for rel, e in entries.items() if rel in wanted}
        if self.saved and len(entries) == len(self.entries):
            return  # a warm run that learnt nothing writes nothing
        data = {
            "fingerprint": self.fingerprint,
            "files": {rel: _item(e) for rel, e in entries.items()},
        }
        private_dir(self.path.parent)  # it names every Python file of the project
        # A cache lost to a power cut only costs one cold run: no fsync.
        data_bytes = json.dumps(data, separators=(",", ":")).encode()
        atomic_write(self.path, data_bytes, PRIVATE_FILE_MODE, durable=False)
        self.entries, self.saved = entries, True


def trusted_stat(st: os.stat_result, started_ns: int) -> StatKey | None:
    """``stat_key(st)``, or None while the file is within the racy window: a change made
    in the same timestamp tick as the one we read could leave every stat as it was."""
    if max(st.st_mtime_ns, st.st_ctime_ns) >= started_ns - RACY_NS:
        return None
    return stat_key(st)


def _item(entry: Entry) -> list[Any]:
    item: list[Any] = [entry.digest, entry.status, entry.reason]
    if entry.stat is not None:
        item.append(list(entry.stat))
    return item
