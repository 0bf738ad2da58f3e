"""All console output goes through here: results to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
import os
import re
import sys
from collections.abc import Sequence
from typing import Any

from routine_workflow import streams

COLOR_MODES = ("auto", "always", "never")
_color_mode = "auto"
#: How each status word is shown on a terminal (click.style arguments). Success reads
#: green, a change cyan, anything left undone yellow, anything that went wrong red.
STATUS_STYLES: dict[str, dict[str, Any]] = {
    "ok": {"fg": "green"},
    "changed": {"fg": "cyan"},
    "skipped": {"fg": "yellow"},
    "failed": {"fg": "red", "bold": True},
    "interrupted": {"fg": "red", "bold": True},
    "timeout": {"fg": "red", "bold": True},
    "error": {"fg": "red", "bold": True},
}
LABEL_STYLES: dict[str, dict[str, Any]] = {
    "error": {"fg": "red", "bold": True},
    "warning": {"fg": "yellow", "bold": True},
}
_LABEL = re.compile(r"[\w.-]+: (error|warning):")

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
    it quotes (a path in an error message) is escaped with ``printable``; its ``error:``
    or ``warning:`` label is coloured when stderr takes colour."""
    streams.write("stderr", colored_label(printable(text), "stderr") + "\n")


def write_json(data: Any) -> None:
    """One JSON document on stdout, for scripts."""
    write_line(json.dumps(data, indent=2, sort_keys=False, default=str))


def table(
    rows: Sequence[Sequence[str]], headers: list[str], status_column: int | None = None
) -> list[str]:
    """Left-aligned columns, as plain lines; each cell escaped with ``printable``.

    The cells of ``status_column`` are status words, coloured by ``status_word`` (the
    padding is added outside the colour codes, so the columns still line up).
    """
    cells = [[printable(cell) for cell in row] for row in rows]
    widths = [len(h) for h in headers]
    for row in cells:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]

    def shown(index: int, cell: str, width: int) -> str:
        if index != status_column:
            return cell.ljust(width)
        return status_word(cell) + " " * (width - len(cell))

    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(
            shown(i, c, w) for i, (c, w) in enumerate(zip(row, widths, strict=False))
        ).rstrip()
        for row in cells
    ]
    return lines


def fit_column(
    rows: Sequence[Sequence[str]], headers: list[str], column: int, width: int
) -> tuple[list[list[str]], bool]:
    """``rows`` with the cells of ``column`` cut in the middle (``...``) so that ``table``
    lines fit in ``width`` characters; and whether any cell was cut. The other columns
    stay whole; a cut cell keeps its start and its end (where a path names its file)."""
    cells = [[printable(cell) for cell in row] for row in rows]
    others = sum(
        max([len(headers[i]), *(len(row[i]) for row in cells)])
        for i in range(len(headers))
        if i != column
    )
    room = max(width - others - 2 * (len(headers) - 1), len(headers[column]), 12)
    cut = False
    for row in cells:
        if len(row[column]) > room:
            head = (room - 3) // 2
            row[column] = row[column][:head] + "..." + row[column][head + 3 - room :]
            cut = True
    return cells, cut


# --- colour --------------------------------------------------------------------------------


def set_color(mode: str) -> None:
    """``--color``: ``auto`` (the default: on a terminal), ``always`` or ``never``."""
    global _color_mode
    if mode not in COLOR_MODES:
        raise ValueError(f"unknown colour mode {mode!r}")
    _color_mode = mode


def color_enabled(stream_name: str = "stdout") -> bool:
    """Whether text for ``sys.<stream_name>`` may carry colour.

    ``--color always|never`` decides; else a non-empty ``NO_COLOR`` turns colour off
    (no-color.org), a non-empty ``FORCE_COLOR`` on, even in a pipe (force-color.org);
    else colour only on a terminal that is not ``TERM=dumb``: never in a pipe, a file
    or cron mail. JSON is never coloured whatever this says (``write_json``).
    """
    if _color_mode != "auto":
        return _color_mode == "always"
    if os.environ.get("NO_COLOR"):
        return False
    if os.environ.get("FORCE_COLOR"):
        return True
    if os.environ.get("TERM") == "dumb":
        return False
    stream = getattr(sys, stream_name, None)
    try:  # click's own test (click._compat.isatty): a closed or odd stream is no terminal
        return bool(stream is not None and stream.isatty())
    except (OSError, ValueError, AttributeError):
        return False


def status_word(word: str, stream_name: str = "stdout") -> str:
    """``word`` (ok, changed, skipped, failed, ...) in its colour when colour is on."""
    style = STATUS_STYLES.get(word)
    if style is None or not color_enabled(stream_name):
        return word
    import click  # the CLI has it loaded already; this module stays importable without

    return click.style(word, **style)


def colored_label(line: str, stream_name: str = "stderr") -> str:
    """``prog: error: ...`` with ``error`` (or ``warning``) coloured when colour is on.

    ``line`` is already escaped (``printable``): the only escape codes in the result
    are the ones added here.
    """
    match = _LABEL.match(line)
    if match is None or not color_enabled(stream_name):
        return line
    import click

    word = match.group(1)
    return line[: match.start(1)] + click.style(word, **LABEL_STYLES[word]) + line[match.end(1) :]


def plural(count: int, word: str, many: str | None = None) -> str:
    """``1 file``, ``2 files`` (``many``: the plural when it is not ``word + "s"``)."""
    return f"{count} {word if count == 1 else many or word + 's'}"
