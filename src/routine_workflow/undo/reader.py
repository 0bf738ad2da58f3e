"""Reading a journal back, validating every line: damage is reported, never raised, and
every intact record stays usable (see ``layout`` for the format)."""

from __future__ import annotations

import base64
import binascii
import json
import re
import zlib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.fsutil import open_regular, read_regular
from routine_workflow.undo.layout import (
    JOURNAL_FILE,
    SEAL_FILE,
    VERSION,
    decode_line,
    sha256,
)


@dataclass(frozen=True)
class FileRecord:
    """One file a run replaced: what it held (``old`` None: it did not exist), what it got."""

    line: int  # 1-based line in the journal, for messages
    path: str
    old: str | None  # sha256 of what the file held; None: it did not exist
    new: str | None  # sha256 of what it was given; None: it was deleted
    size: int = 0
    mode: int = 0o644
    uid: int = -1
    gid: int = -1
    atime_ns: int = 0
    mtime_ns: int = 0
    data: str = ""

    def original(self) -> bytes:
        """The old bytes, checked against their digest; raises ValueError if damaged."""
        if self.old is None:
            raise ValueError("the file did not exist")
        try:
            raw = zlib.decompress(base64.b64decode(self.data, validate=True))
        except (binascii.Error, zlib.error, ValueError) as exc:
            raise ValueError(f"saved content unreadable ({exc})") from None
        if len(raw) != self.size or sha256(raw) != self.old:
            raise ValueError("saved content does not match its digest")
        return raw


@dataclass
class Journal:
    """A journal as read back: its header, its intact records, and what is wrong with it."""

    id: str
    directory: Path
    header: dict[str, Any] | None
    records: list[FileRecord] = field(default_factory=list)
    damage: list[str] = field(default_factory=list)  # one short reason per damaged part
    sealed: bool = False
    torn_tail: bool = False  # an unsealed journal's incomplete last line (a killed run)

    @property
    def kind(self) -> str:
        """``run`` or ``undo`` (``?`` when the header is damaged)."""
        return str(self.header.get("kind", "?")) if self.header else "?"

    @property
    def created_ns(self) -> int:
        """When the journal was started (0 when unknown)."""
        value = self.header.get("created_ns") if self.header else None
        return value if type(value) is int else 0


_INT_FIELDS = ("size", "mode", "uid", "gid", "atime_ns", "mtime_ns")
_SHA = re.compile(r"[0-9a-f]{64}")


def _file_record(line: int, entry: dict[str, Any]) -> FileRecord | None:
    """A record from a checksummed entry, or None if it is not one we wrote."""
    path, old, new = entry.get("path"), entry.get("old"), entry.get("new")
    if entry.get("type") != "file" or not isinstance(path, str) or not safe_relative(path):
        return None
    if new is not None and not (isinstance(new, str) and _SHA.fullmatch(new)):
        return None
    if old is None:
        return FileRecord(line, path, None, new)
    if (
        not isinstance(old, str)
        or not _SHA.fullmatch(old)
        or not isinstance(entry.get("data"), str)
    ):
        return None
    values: dict[str, int] = {}
    for name in _INT_FIELDS:
        value = entry.get(name)
        if type(value) is not int:
            return None
        values[name] = value
    return FileRecord(line, path, old, new, data=entry["data"], **values)


def safe_relative(path: str) -> bool:
    """True for a plain relative path inside the root: no ``..``, no absolute path, no NUL."""
    if not path or "\0" in path or path.startswith("/") or "\\" in path:
        return False
    parts = path.split("/")
    return all(part not in ("", ".", "..") for part in parts)


def read_journal(directory: Path) -> Journal:
    """Parse and validate a journal. Damage is reported in ``Journal.damage``, never raised:
    every intact record stays usable."""
    journal = Journal(directory.name, directory, None)
    try:
        data = read_regular(directory / JOURNAL_FILE)
    except OSError as exc:
        journal.damage.append(f"cannot read {JOURNAL_FILE}: {exc.strerror}")
        return journal
    lines = data.split(b"\n")
    tail = lines.pop()  # after the last newline: empty unless the last line is torn
    journal.sealed, seal_damage = _read_seal(directory, len(data), len(lines))
    journal.damage += seal_damage
    if tail:
        if journal.sealed:
            journal.damage.append("its last line is incomplete")
        else:
            journal.torn_tail = True
    for number, raw in enumerate(lines, start=1):
        entry = decode_line(raw)
        if number == 1:
            if entry is None or entry.get("type") != "header" or entry.get("version") != VERSION:
                journal.damage.append("line 1 (its header) is damaged")
            else:
                journal.header = entry
            continue
        record = _file_record(number, entry) if entry is not None else None
        if record is None:
            journal.damage.append(f"line {number} is damaged")
        else:
            journal.records.append(record)
    if not lines and journal.sealed:
        journal.damage.append("it is empty")
    # Unsealed with no complete line: a run killed while it was creating its journal,
    # before it replaced anything. Nothing to undo, nothing wrong.
    return journal


def _read_seal(directory: Path, size: int, lines: int) -> tuple[bool, list[str]]:
    """(sealed, damage): a seal that disagrees with the journal means the journal changed."""
    try:
        seal = json.loads(read_regular(directory / SEAL_FILE))
    except FileNotFoundError:
        return False, []
    except (OSError, ValueError):
        return True, [f"{SEAL_FILE} is damaged"]
    if not isinstance(seal, dict):
        return True, [f"{SEAL_FILE} is damaged"]
    if seal.get("bytes") != size or seal.get("records") != lines - 1:
        return True, [
            f"it holds {size} bytes in {lines} lines, but the run ended with "
            f"{seal.get('bytes')} bytes and {seal.get('records')} records"
        ]
    return True, []


def read_header(directory: Path) -> dict[str, Any] | None:
    """Just the header of a journal (cheap: one line), or None if it is unreadable."""
    try:
        with open_regular(directory / JOURNAL_FILE) as handle:
            first = handle.readline()
    except OSError:
        return None
    entry = decode_line(first.rstrip(b"\n")) if first.endswith(b"\n") else None
    return entry if entry is not None and entry.get("type") == "header" else None
