"""What the newest dump was made from, so that an unchanged project is told from stats alone.

After a run that wrote a dump, or kept the newest one by comparing it byte for byte
(``unchanged``), ``record`` writes a small manifest into our cache directory: the
dump's name, its own stat and checksum, which files were read, the outcomes (files
left out and why, files not UTF-8, the counts), and one digest of everything the dump's
bytes depend on:

- each path the walk found, in order, with its kind, and for each
  file that was read its ``signature``: (size, mtime_ns, ctime_ns, inode, device,
  mode), from the ``fstat`` of the descriptor it was read from, taken before reading;
- ``context``: our version and the source of the code that shapes a dump, Python's
  version, the project root, the dump settings, the git commit, and who reads
  (effective user and groups: another user may be refused a file we could read).

The next run walks the tree (so ignore rules, added, removed and renamed files are
seen as always), lstats the files the recorded run read (the same walk and settings
give the same name-based decisions, so they are not worked out again), and when the
digest is the same and
the newest dump is still the recorded one (same stat, sidecar naming the same
checksum), keeps it without opening a project file (``reuse``). Anything else,
including a manifest that is missing, truncated, edited or written by another
version, falls back to building and comparing the dump in full.

The assumption is the one black's cache, git's index and our backup make: a file
whose size, mtime, ctime and inode are unchanged holds the same bytes. ctime is set
by the kernel on every write, chmod or rename and cannot be set back, so ``touch -d``
or ``cp -p`` does not hide a change. What remains is a write within the same
timestamp tick as the stat we recorded, with the same size: a file changed within
``RACY_WINDOW_NS`` of the run's start is *racy* (``_racy``) and no manifest is
recorded, so the next run reads everything again (git's "racily clean" rule).
"""

from __future__ import annotations

import contextlib
import functools
import hashlib
import json
import os
import sys
import time
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

from routine_workflow import __version__, fsutil
from routine_workflow.config import WorkflowConfig
from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir, project_id
from routine_workflow.dumps import names as dumpnames
from routine_workflow.fsutil import open_regular, read_regular

#: Bump when the manifest's layout changes: an older one is then ignored.
FORMAT = 1
#: A file changed this close to the run's start may share its timestamp with a later
#: write (FAT stores mtime in 2 s steps; ext4 and tmpfs in kernel ticks): not recorded.
RACY_WINDOW_NS = 2_000_000_000
#: The modules whose code decides a dump's bytes (their source is part of ``context``).
_CODE = ("discovery.py", "fsutil.py", "dumps")

Signature = tuple[int, ...]


class InputItem(Protocol):
    """What a dump item (``builtin.Item``) offers here."""

    rel: str
    reason: str | None
    flagged: bool
    secret: bool
    sig: Signature | None


class InputEntry(Protocol):
    """What a walk entry (``discovery.Entry``) offers here."""

    abspath: str
    rel: str
    kind: str


def signature(info: os.stat_result) -> Signature:
    """The identity of a file's content as its stat tells it (see the module's doc)."""
    return (
        info.st_size,
        info.st_mtime_ns,
        info.st_ctime_ns,
        info.st_ino,
        info.st_dev,
        info.st_mode,
    )


def manifest_path(config: WorkflowConfig) -> Path:
    """Where this project's dump-inputs manifest lives (our cache directory)."""
    return config.cache_dir / f"dump-inputs-{project_id(config.project_root)}.json"


@functools.cache
def _code_digest() -> str:
    package = Path(__file__).resolve().parent.parent
    digest = hashlib.sha256()
    try:
        for name in _CODE:
            found = sorted((package / name).glob("*.py")) if name == "dumps" else [package / name]
            for path in found:
                digest.update(path.name.encode() + b"\0" + path.read_bytes() + b"\0")
    except OSError:  # the code cannot be read (a zip?): no manifest can ever match
        return os.urandom(16).hex()
    return digest.hexdigest()


def context(config: WorkflowConfig, commit: str | None) -> bytes:
    """Everything other than the files that the dump's bytes depend on."""
    return json.dumps(
        {
            "format": FORMAT,
            "version": __version__,
            "code": _code_digest(),
            "python": sys.version,
            "root": str(config.project_root),
            "max_file_size": config.dump_max_file_size,
            "secret_patterns": list(config.dump_secret_patterns),
            "exclude_patterns": list(config.exclude_patterns),
            "nested_repos": config.include_nested_repos,
            "commit": commit,
            "reader": [os.geteuid(), os.getegid(), sorted(os.getgroups())],
        },
        sort_keys=True,
    ).encode()


def _line(entry: InputEntry, sig: Signature | None) -> bytes:
    # One line per path: its name, its kind and, for a file that is read, its stat. The
    # name-based skip reasons follow from these and ``context``, so they are not hashed
    # (and the next run need not work them out to compare). surrogatepass: names that are
    # not UTF-8 reach us as lone surrogates.
    token = "" if sig is None else ",".join(map(str, sig))
    return f"{entry.rel}\0{entry.kind}\0{token}\n".encode("utf-8", "surrogatepass")


def _digest(head: bytes, lines: Iterable[bytes]) -> str:
    digest = hashlib.sha256(head)
    for line in lines:
        digest.update(line)
    return digest.hexdigest()


@dataclass
class Recorded:
    """A manifest as loaded: the dump it describes and what its inputs gave."""

    dump: str
    dump_sig: Signature
    sha256: str
    inputs: str
    files: int
    source_bytes: int
    flagged: int
    size: int
    #: One character per walk entry (not directories): "1" if it was read, "0" if not.
    read: str
    #: By walk index: (reason, secret, flagged) of every entry left out or flagged.
    outcomes: dict[int, tuple[str | None, bool, bool]]


# --- using a manifest -----------------------------------------------------------------------


def reuse(
    config: WorkflowConfig,
    previous: Path | None,
    entries: Sequence[InputEntry],
    commit: Callable[[], str | None],
) -> Recorded | None:
    """The recorded outcome when ``previous`` is still the dump of ``entries``, from stats alone.

    ``entries`` are this run's walk (no directories); ``commit()`` waits for the git
    commit (asked only when a manifest could apply). None: build and compare. Opens no
    project file: one lstat per file the recorded run read.
    """
    if previous is None:
        return None
    recorded = load(manifest_path(config))
    if recorded is None or recorded.dump != previous.name or len(recorded.read) != len(entries):
        return None
    try:
        if signature(os.lstat(previous)) != recorded.dump_sig:
            return None
        with open_regular(dumpnames.sidecar(previous)) as handle:
            if handle.read(4096) != f"{recorded.sha256}  {previous.name}\n".encode():
                return None
        lines = [
            _line(entry, signature(os.lstat(entry.abspath)) if read == "1" else None)
            for entry, read in zip(entries, recorded.read, strict=True)
        ]
    except OSError:  # the dump, its sidecar or an input is gone or unreadable: look closer
        return None
    if _digest(context(config, commit()), lines) != recorded.inputs:
        return None
    return recorded


def load(path: Path) -> Recorded | None:
    """The manifest at ``path``; None when missing, unreadable, damaged or edited."""
    try:
        check, _, text = read_regular(path).partition(b"\n")
        if check.decode("ascii") != hashlib.sha256(text).hexdigest():
            return None
        body = json.loads(text)
        if body["format"] != FORMAT:
            return None
        recorded = Recorded(
            body["dump"],
            tuple(body["dump_sig"]),
            body["sha256"],
            body["inputs"],
            body["files"],
            body["source_bytes"],
            body["flagged"],
            body["size"],
            str(body["read"]),
            {
                int(at): (why, bool(secret), bool(flag))
                for at, why, secret, flag in body["outcomes"]
            },
        )
    except (OSError, ValueError, TypeError, KeyError):
        return None
    # Consistent with itself, as we write it; anything else is not ours to trust.
    if recorded.read.strip("01") or any(
        not 0 <= at < len(recorded.read) for at in recorded.outcomes
    ):
        return None
    return recorded


# --- recording a manifest -------------------------------------------------------------------


@dataclass
class DumpFacts:
    """The dump a manifest describes, and the counts its run reported."""

    path: Path
    sha256: str
    files: int
    source_bytes: int
    flagged: int
    size: int
    #: The dump's stat when it was verified (before it was read); None: stat it now.
    sig: Signature | None = None


def record(
    config: WorkflowConfig,
    dump: DumpFacts,
    entries: Sequence[InputEntry],
    items: Sequence[InputItem],
    commit: str | None,
    started_ns: int,
) -> bool:
    """Write the manifest for ``dump``, made from ``items`` (one per entry of the walk).

    Writes nothing, and removes any earlier manifest, when an input is racy (changed
    within ``RACY_WINDOW_NS`` of ``started_ns``), could not be stat'ed, was never
    read although it should have been, or the dump itself cannot be stat'ed. True if
    written.
    """
    path = manifest_path(config)
    lines = _recorded_lines(entries, items, started_ns - RACY_WINDOW_NS, time.time_ns())
    try:
        dump_sig = dump.sig or signature(os.lstat(dump.path))
    except OSError:
        lines = None
    if lines is None:
        forget(config)
        return False
    body = {
        "format": FORMAT,
        "dump": dump.path.name,
        "dump_sig": list(dump_sig),
        "sha256": dump.sha256,
        "inputs": _digest(context(config, commit), lines),
        "files": dump.files,
        "source_bytes": dump.source_bytes,
        "flagged": dump.flagged,
        "size": dump.size,
        "read": "".join("0" if i.sig is None else "1" for i in items),
        "outcomes": [
            [at, i.reason, i.secret, i.flagged]
            for at, i in enumerate(items)
            if i.reason is not None or i.flagged
        ],
    }
    try:
        private_dir(path.parent)  # it names the project's files
        # The first line is the sha256 of the rest: a hand edit, or a torn write on a file
        # system that does not honour rename, makes it mismatch and be ignored.
        text = json.dumps(body).encode()
        data = hashlib.sha256(text).hexdigest().encode() + b"\n" + text
        fsutil.atomic_write(path, data, PRIVATE_FILE_MODE, durable=False)
    except OSError:
        return False  # only a shortcut lost: the next run compares in full
    return True


def _recorded_lines(
    entries: Sequence[InputEntry], items: Sequence[InputItem], racy_from: int, now: int
) -> list[bytes] | None:
    if len(entries) != len(items):
        return None
    lines = []
    for entry, item in zip(entries, items, strict=True):
        if item.sig is None:
            if item.reason is None:  # never read (a dump left early): nothing to vouch for
                return None
        elif not item.sig or _racy(item.sig, racy_from, now):
            return None
        lines.append(_line(entry, item.sig))
    return lines


def _racy(sig: Signature, racy_from: int, now: int) -> bool:
    """Changed so recently that a later write could share the recorded timestamps.

    ctime is the kernel's clock at the last change, so it decides; an mtime set in the
    future (``touch -d``, an archive from a skewed clock) does not make a file racy
    forever, only one within the window around now (a file system without ctime).
    """
    mtime, ctime = sig[1], sig[2]
    return ctime >= racy_from or racy_from <= mtime <= now + RACY_WINDOW_NS


def forget(config: WorkflowConfig) -> None:
    """Remove this project's manifest (a dump we cannot vouch for from stats)."""
    with contextlib.suppress(OSError):
        manifest_path(config).unlink()
