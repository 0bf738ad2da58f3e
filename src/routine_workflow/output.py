"""All console output goes through here: results to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
import re
from typing import Any

from routine_workflow import streams

# What a line of text must not carry raw: control characters (a line break would forge a
# log line, an escape sequence would drive the terminal), lone surrogates (the bytes of a
# file name that is not UTF-8, which no UTF-8 stream can encode), line and paragraph
# separators, and the bidirectional controls that make text read otherwise than it is.
_UNSAFE = re.compile(
    "[\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028-\u202e\u2066-\u2069\ud800-\udfff]"
)
_SURROGATE = re.compile("[\ud800-\udfff]")
_SHORT = {"\n": "\\n", "\r": "\\r", "\t": "\\t", "\b": "\\b", "\f": "\\f"}


def _escape(match: re.Match[str]) -> str:
    char = match.group()
    return _SHORT.get(char) or f"\\u{ord(char):04x}"


def printable(text: str) -> str:
    """``text`` safe to show as (part of) one line: every unsafe character escaped as the
    JSON log escapes it (``\\n``, ``\\u001b``; the byte ``\\xff`` of a file name that is not
    UTF-8 as ``\\udcff``). Other text, accented letters included, is left as it is."""
    return _UNSAFE.sub(_escape, text)


def without_surrogates(text: str) -> str:
    """``text`` with lone surrogates (undecodable file-name bytes) escaped and nothing else:
    for multi-line output, which no encoder may then refuse."""
    return _SURROGATE.sub(_escape, text)


def write_line(text: str = "") -> None:
    """Results on stdout (discarded if nobody reads it any more).

    ``text`` may span lines (a diff, a graph) and is written as it is, but for the bytes of
    undecodable file names, escaped: a strict stdout encoder would refuse them. A caller
    putting a path or other outside text into one line passes it through ``printable``.
    """
    streams.write("stdout", without_surrogates(text) + "\n")


def error_line(text: str) -> None:
    """One line of diagnostics on stderr (discarded if nobody reads it any more); whatever
    it quotes (a path in an error message) is escaped with ``printable``."""
    streams.write("stderr", printable(text) + "\n")


def write_json(data: Any) -> None:
    """One JSON document on stdout, for scripts."""
    write_line(json.dumps(data, indent=2, sort_keys=False, default=str))


def table(rows: list[list[str]], headers: list[str]) -> list[str]:
    """Left-aligned columns, as plain lines; each cell escaped with ``printable``."""
    rows = [[printable(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows
    ]
    return lines
