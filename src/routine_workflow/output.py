"""All console output goes through here: results to stdout, diagnostics to stderr."""

from __future__ import annotations

import json
from typing import Any

from routine_workflow import streams


def write_line(text: str = "") -> None:
    """A line of results on stdout (discarded if nobody reads it any more)."""
    streams.write("stdout", text + "\n")


def error_line(text: str) -> None:
    """A line of diagnostics on stderr (discarded if nobody reads it any more)."""
    streams.write("stderr", text + "\n")


def write_json(data: Any) -> None:
    """One JSON document on stdout, for scripts."""
    write_line(json.dumps(data, indent=2, sort_keys=False, default=str))


def table(rows: list[list[str]], headers: list[str]) -> list[str]:
    """Left-aligned columns, as plain lines."""
    widths = [len(h) for h in headers]
    for row in rows:
        widths = [max(w, len(cell)) for w, cell in zip(widths, row, strict=False)]
    lines = ["  ".join(h.ljust(w) for h, w in zip(headers, widths, strict=True)).rstrip()]
    lines += [
        "  ".join(c.ljust(w) for c, w in zip(row, widths, strict=False)).rstrip() for row in rows
    ]
    return lines
