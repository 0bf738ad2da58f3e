"""Where undo journals live and how one line of a journal is written.

One journal per run that changed a file, in ``<state dir>/undo/<project id>/<run id>/``
(directories 0700, files 0600):

* ``journal.jsonl``, append-only. Each line is ``<checksum> <json>\\n``, the checksum
  being the first 32 hex digits of the sha256 of the JSON text, so every line proves
  itself whole. The first line is the header (``kind``: ``run`` or ``undo``, the run
  an undo undoes, the root, the time, the command line); then one ``file`` line per
  file replaced: its path relative to the root, the sha256 of the bytes it held
  (``old``) and of the bytes written (``new``), its mode, owner, atime and mtime, and
  the old bytes themselves, zlib-compressed and base64-encoded (``data``). ``old`` is
  null for a file that did not exist, ``new`` for one that was deleted.
* ``sealed.json``, written when the run ends: how many records and bytes the journal
  holds. A sealed journal that is shorter or longer than that is damaged; an unsealed
  one belongs to a run that was killed, whose last line may be torn (never fsynced
  whole, so the file it describes was never replaced) and is ignored.

``journal`` writes them, ``reader`` reads one back, ``store`` finds and prunes them.
"""

from __future__ import annotations

import hashlib
import json
import os
import re
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from routine_workflow import dirs

VERSION = 1
JOURNAL_FILE = "journal.jsonl"
SEAL_FILE = "sealed.json"
OUR_FILES = frozenset({JOURNAL_FILE, SEAL_FILE})
#: A run id as ``new_journal_id`` (and the session's ``new_run_id``) makes them; nothing
#: else is ever read or pruned as a journal.
ID_PATTERN = re.compile(r"[0-9]{8}T[0-9]{6}Z-[0-9a-f]{6}")
CHECKSUM_LEN = 32
#: Fast, and still a third of the size of source code; the journal is written while the
#: formatters run, and it must never be what a run waits for.
ZLIB_LEVEL = 1


def new_journal_id() -> str:
    """A fresh id in the run-id format: UTC time plus a random suffix."""
    return datetime.now(timezone.utc).strftime("%Y%m%dT%H%M%SZ") + "-" + os.urandom(3).hex()


def project_journals(root: Path) -> Path:
    """The directory holding one project's journals."""
    return dirs.state_dir() / "undo" / dirs.project_id(root)


def sha256(data: bytes) -> str:
    """Hex sha256: the digest every record keeps of old and new content."""
    return hashlib.sha256(data).hexdigest()


def encode_line(entry: dict[str, Any]) -> bytes:
    """One self-validating journal line: checksum, a space, the JSON, a newline."""
    text = json.dumps(entry, separators=(",", ":"), sort_keys=True, ensure_ascii=False)
    body = text.encode("utf-8", "surrogateescape")
    return hashlib.sha256(body).hexdigest()[:CHECKSUM_LEN].encode() + b" " + body + b"\n"


def decode_line(raw: bytes) -> dict[str, Any] | None:
    """The entry of a line (without its newline), or None unless its checksum proves it whole."""
    checksum, _, body = raw.partition(b" ")
    if len(checksum) != CHECKSUM_LEN:
        return None
    if hashlib.sha256(body).hexdigest()[:CHECKSUM_LEN].encode() != checksum:
        return None
    try:
        entry = json.loads(body.decode("utf-8", "surrogateescape"))
    except ValueError:
        return None
    return entry if isinstance(entry, dict) else None
