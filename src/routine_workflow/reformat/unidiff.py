"""Read ruff's ``--diff`` output back into the new content of each file, exactly or not at all.

The ruff engine runs ruff on the project's real files with ``--diff``, so that ruff
sees the tree as it is and writes nothing; the diffs are then applied here to the bytes
that were read. Application is strict: every context and removed line must be the
original's, byte for byte, at its place, hunks in order, counts as announced. Anything
else raises ``Unparsable`` and the engine takes a slower road that needs no diff
(``ruff.py``); a wrong result is never produced silently.

What ruff prints (its ``similar`` crate): per file ``--- <path>``, ``+++ <path>``, hunks
``@@ -a,b +c,d @@`` of lines prefixed by `` ``, ``-`` or ``+``, each ending in its own
line ending; a last line without one is followed by ``\\n\\ No newline at end of file``;
an empty line after each file; ``check`` ends with a summary ("Would fix 3 errors.").
Line endings are ``\\n``, ``\\r\\n`` and a lone ``\\r``; this module only accepts
sources without a lone ``\\r`` (``splittable``), where lines end at ``\\n`` alone.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

_HUNK = re.compile(rb"@@ -(\d+)(?:,(\d+))? \+(\d+)(?:,(\d+))? @@")
_NO_NEWLINE = b"\\ No newline at end of file"
#: What ``ruff check --diff`` prints after the diffs (the "fix" summary).
_TRAILERS = (b"Would fix", b"No errors would be fixed", b"Fixed ")


class Unparsable(ValueError):
    """The diff is not one this module can apply exactly."""


@dataclass(frozen=True)
class Hunk:
    """One hunk: where it starts in the old file (1-based), its old and new lines."""

    old_start: int
    old: tuple[bytes, ...]
    new: tuple[bytes, ...]


def splittable(data: bytes) -> bool:
    """True if ``data``'s lines end at ``\\n`` alone (no lone ``\\r``): diffs of it apply here."""
    return data.count(b"\r") == data.count(b"\r\n")


def lines_of(data: bytes) -> list[bytes]:
    """``data`` cut after each ``\\n`` (the last line may have none)."""
    out = [line + b"\n" for line in data.split(b"\n")]
    out[-1] = out[-1][:-1]
    if not out[-1]:
        out.pop()
    return out


def parse(output: bytes, names: Iterable[str]) -> dict[str, list[Hunk]]:
    """The hunks of each file in ruff's ``--diff`` ``output``, by name.

    ``names`` are the paths ruff was given (relative to its working directory, as it
    prints them); a header naming any other file raises ``Unparsable``.
    """
    known = {name.encode("utf-8"): name for name in names}
    lines = output.split(b"\n")
    found: dict[str, list[Hunk]] = {}
    at = 0
    while at < len(lines):
        line = lines[at]
        if not line:
            at += 1
            continue
        if line.startswith(_TRAILERS) and not any(rest for rest in lines[at + 1 :]):
            break  # the summary ends the output
        name = line[4:] if line.startswith(b"--- ") else None
        if name is None or name not in known or at + 1 >= len(lines):
            raise Unparsable(f"unexpected line {line[:80]!r}")
        if lines[at + 1] != b"+++ " + name or known[name] in found:
            raise Unparsable(f"bad header for {known[name]}")
        at, hunks = _hunks(lines, at + 2)
        if not hunks:
            raise Unparsable(f"no hunk for {known[name]}")
        found[known[name]] = hunks
    return found


def _hunks(lines: list[bytes], at: int) -> tuple[int, list[Hunk]]:
    """The hunks starting at ``lines[at]``; the index after them."""
    hunks: list[Hunk] = []
    while at < len(lines) and lines[at].startswith(b"@@ "):
        match = _HUNK.fullmatch(lines[at])
        if match is None:
            raise Unparsable(f"bad hunk header {lines[at][:80]!r}")
        old_len = int(match[2]) if match[2] is not None else 1
        new_len = int(match[4]) if match[4] is not None else 1
        old: list[bytes] = []
        new: list[bytes] = []
        at += 1
        while len(old) < old_len or len(new) < new_len:
            if at >= len(lines) or not lines[at]:
                raise Unparsable("hunk shorter than announced")
            tag, body = lines[at][:1], lines[at][1:] + b"\n"
            at += 1
            if at < len(lines) and lines[at] == _NO_NEWLINE:
                body = body[:-1]
                at += 1
            if tag in (b" ", b"-"):
                old.append(body)
            if tag in (b" ", b"+"):
                new.append(body)
            if tag not in (b" ", b"-", b"+"):
                raise Unparsable(f"bad hunk line {lines[at - 1][:80]!r}")
        if len(old) != old_len or len(new) != new_len:
            raise Unparsable("hunk longer than announced")
        hunks.append(Hunk(int(match[1]), tuple(old), tuple(new)))
    return at, hunks


def apply(original: bytes, hunks: list[Hunk]) -> bytes:
    """``original`` with ``hunks`` applied; ``Unparsable`` unless every hunk fits exactly."""
    if not splittable(original):
        raise Unparsable("the source has a lone carriage return")
    old = lines_of(original)
    out: list[bytes] = []
    done = 0  # lines of ``old`` consumed so far
    for hunk in hunks:
        # An empty old side starts *after* line old_start; otherwise at it (1-based).
        start = hunk.old_start if not hunk.old else hunk.old_start - 1
        if start < done or tuple(old[start : start + len(hunk.old)]) != hunk.old:
            raise Unparsable(f"hunk at line {hunk.old_start} does not match the source")
        out += old[done:start]
        out += hunk.new
        done = start + len(hunk.old)
    out += old[done:]
    result = b"".join(out)
    # A line without its ending is only allowed last. Every line holds at most one
    # ``\n``, at its end (``lines_of``, ``_hunks``), so counting them says it at C speed.
    endings = result.count(b"\n")
    if endings != len(out) and not (endings == len(out) - 1 and not out[-1].endswith(b"\n")):
        raise Unparsable("a line without an ending inside the result")
    return result
