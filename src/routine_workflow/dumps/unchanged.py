"""Is the dump about to be written the newest dump again? Compared while it is built.

A run with nothing changed must write nothing, so before a new dump is written it is
compared with this project's newest dump: if the two are byte for byte the same apart
from the time in the header, and the newest dump still matches its ``.sha256`` sidecar
(a dump that was damaged, truncated or edited is never the one kept), that dump is
kept and nothing is written.

``Matcher`` is a sink: it passes every piece of the body on (to the spool, or to the
byte counter of a dry run) and compares it with the newest dump's bytes, read in
1 MiB blocks and hashed as they are read. No second copy is held: once a piece
differs, comparing stops. ``kept`` then checks the header, rendered with the newest
dump's own time, and the digest.
"""

from __future__ import annotations

import hashlib
import os
import re
import stat
from collections.abc import Callable
from datetime import datetime, timezone
from pathlib import Path
from typing import Protocol

from routine_workflow.dumps import names as dumpnames
from routine_workflow.dumps.inputs import signature
from routine_workflow.dumps.prune import find_dumps
from routine_workflow.fsutil import open_regular

#: Read the newest dump in blocks this large.
BLOCK = 1 << 20
#: A header (its tree lists every file) longer than this is not compared: a new dump is written.
MAX_HEAD = 64 << 20
#: The body starts with this line; no line of the header can be it (see builtin.render_head).
BODY_START = b"\n## Files\n"
_CREATED = re.compile(rb"\n- \*\*Created \(UTC\):\*\* (\d{4}-\d\d-\d\dT\d\d:\d\d:\d\dZ)\n")
_SIDECAR = re.compile(r"([0-9a-f]{64})  (.+)\n")
_OPEN_FLAGS = (
    os.O_RDONLY
    | getattr(os, "O_NOFOLLOW", 0)
    | getattr(os, "O_CLOEXEC", 0)
    | getattr(os, "O_NONBLOCK", 0)
)


class _Sink(Protocol):
    """What ``Matcher`` writes through to: a spool, or a dry run's byte counter."""

    def write(self, data: bytes, /) -> int:
        """Write ``data``; return how many bytes."""


def newest_dump(dump_dir: Path, root: Path) -> Path | None:
    """This project's newest dump (by the time in its name; ours only), or None."""
    try:
        dumps = find_dumps(dump_dir, root, create_dump=False, owned=False)
    except OSError:  # no dump_dir yet, or not a directory: nothing to compare with
        return None
    return dumps[0].path if dumps else None


class Matcher:
    """A sink that passes the body on and compares it with an earlier dump's body."""

    def __init__(self, previous: Path | None, inner: _Sink) -> None:
        """Compare with ``previous`` (None: nothing to compare with); write through to ``inner``."""
        self.previous = previous
        self.inner = inner
        self.same = False
        self.created: datetime | None = None
        self.size = 0
        #: The earlier dump's stat, taken before it was read (``inputs.signature``).
        self.sig: tuple[int, ...] | None = None
        self._fd: int | None = None
        self._head = b""
        self._digest = ""
        self._hash = hashlib.sha256()
        self._buf = b""
        self._off = 0

    def __enter__(self) -> Matcher:
        if self.previous is not None:
            try:
                self.same = self._open(self.previous)
            except (OSError, ValueError):  # unreadable, not UTF-8, a bad date: not comparable
                self.same = False
            if not self.same:
                self._stop()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop()

    def _open(self, path: Path) -> bool:
        """Read the sidecar's digest and the dump's header; False if it cannot be compared."""
        with open_regular(dumpnames.sidecar(path)) as handle:
            line = handle.read(4096).decode("utf-8")
        match = _SIDECAR.fullmatch(line)
        if match is None or match.group(2) != path.name:
            return False
        self._digest = match.group(1)
        self._fd = os.open(path, _OPEN_FLAGS)
        info = os.fstat(self._fd)
        if not stat.S_ISREG(info.st_mode):
            return False
        self.size = info.st_size
        self.sig = signature(info)
        head_end = self._read_head(self._fd)
        if head_end < 0:
            return False
        self._head, self._buf = self._buf[:head_end], self._buf[head_end:]
        created = _CREATED.search(self._head)
        if created is None:
            return False
        stamp = created.group(1).decode("ascii")
        self.created = datetime.strptime(stamp, "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=timezone.utc)
        return True

    def _read_head(self, fd: int) -> int:
        """Read until the body's first line; the header's length, or -1 if none is found."""
        while len(self._buf) <= MAX_HEAD:
            block = self._read(fd)
            if not block:
                return -1
            searched = max(0, len(self._buf) - len(BODY_START))
            self._buf += block
            found = self._buf.find(BODY_START, searched)
            if found >= 0:
                return found + 1
        return -1

    def _read(self, fd: int) -> bytes:
        block = os.read(fd, BLOCK)
        self._hash.update(block)  # every byte of the file is read, and hashed, exactly once
        return block

    def _stop(self) -> None:
        self.same = False
        self._buf = b""
        if self._fd is not None:
            os.close(self._fd)
            self._fd = None

    def write(self, data: bytes, /) -> int:
        """Pass ``data`` on; compare it with the earlier dump's next bytes."""
        self.inner.write(data)
        if self.same:
            self._compare(data)
        return len(data)

    def _compare(self, data: bytes) -> None:
        size, fd = len(data), self._fd
        while fd is not None and len(self._buf) - self._off < size:
            block = self._read(fd)
            if not block:  # the earlier dump ends here: ours is longer
                break
            self._buf = self._buf[self._off :] + block
            self._off = 0
        if self._buf[self._off : self._off + size] == data:
            self._off += size
        else:
            self._stop()

    def kept(self, head_at: Callable[[datetime], bytes]) -> bool:
        """True if the earlier dump is whole and is the dump we would write.

        ``head_at(when)`` renders our header as if written at ``when``: called with the
        earlier dump's own time, the two must be identical too.
        """
        fd = self._fd
        if not self.same or fd is None or self.created is None or self._off != len(self._buf):
            return False
        try:
            if self._read(fd):  # the earlier dump goes on after our body's end
                return False
        except OSError:
            return False
        return head_at(self.created) == self._head and self._hash.hexdigest() == self._digest

    @property
    def digest(self) -> str:
        """The earlier dump's sha256, as its sidecar names it (checked by ``kept``)."""
        return self._digest
