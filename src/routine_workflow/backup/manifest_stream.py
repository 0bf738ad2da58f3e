"""Parse an archive's manifest member in bounded memory, one entry at a time.

``json.loads`` holds the whole text and every object built from it at once:
a manifest of nested ``[`` or of many tiny values costs many times its size
(and 100,000 nested ``[`` raise RecursionError). Here the text is decoded in
256 KiB pieces and walked with json's own scanner one value at a time: the
top level must be an object of plain values plus ``entries``, an array of
objects, each no longer than ``WINDOW`` characters, checked by
``manifest.item_from`` and handed to the caller. Memory is a window of text
plus whatever the caller keeps per entry.
"""

from __future__ import annotations

import codecs
import json
import re
from collections.abc import Callable
from typing import IO, Any

from routine_workflow.backup.manifest import (
    MAX_ENTRIES,
    Item,
    SchemaError,
    check_meta,
    item_from,
)

#: Characters one value may span: more than the longest valid entry (a path and
#: a link target of 4,096 astral characters each, written as 12-byte escapes).
WINDOW = 128 * 1024
_CHUNK = 256 * 1024
_MAX_FIELDS = 64  # top-level fields; ours has about fifteen
_WS = re.compile(r"[ \t\n\r]*")
_DECODER = json.JSONDecoder()


class _Text:
    """The manifest's text, decoded as needed, with a read position."""

    def __init__(self, stream: IO[bytes]) -> None:
        self._stream = stream
        self._decoder = codecs.getincrementaldecoder("utf-8")()
        self._buf = ""
        self._pos = 0
        self._done = 0  # characters dropped from the front of the buffer
        self._eof = False

    @property
    def offset(self) -> int:
        """Characters read so far (for error messages)."""
        return self._done + self._pos

    def _fill(self) -> None:
        """Have at least WINDOW characters after the position buffered, or all that is left."""
        while not self._eof and len(self._buf) - self._pos < WINDOW:
            data = self._stream.read(_CHUNK)
            try:
                more = self._decoder.decode(data, final=not data)
            except UnicodeDecodeError:
                raise SchemaError(f"not UTF-8 near character {self.offset}") from None
            self._eof = not data
            self._done += self._pos
            self._buf = self._buf[self._pos :] + more
            self._pos = 0

    def peek(self) -> str:
        """The next character after any whitespace ("" at the end)."""
        while True:
            self._fill()
            self._pos = _WS.match(self._buf, self._pos).end()  # type: ignore[union-attr]
            if self._pos < len(self._buf) or self._eof:
                return self._buf[self._pos : self._pos + 1]

    def expect(self, *chars: str) -> str:
        """Consume the next character, which must be one of ``chars``."""
        found = self.peek()
        if not found or found not in chars:
            shown = repr(found) if found else "the end"
            raise SchemaError(
                f"expected {' or '.join(map(repr, chars))} at character "
                f"{self.offset}, found {shown}"
            )
        self._pos += 1
        return found

    def value(self) -> Any:
        """The next JSON value; SchemaError if it is malformed or longer than WINDOW."""
        self.peek()
        start = self._pos
        try:
            value, end = _DECODER.raw_decode(self._buf, start)
        except (ValueError, RecursionError) as exc:  # JSONDecodeError, int digits limit
            why = exc.msg if isinstance(exc, json.JSONDecodeError) else str(exc)[:60]
            raise SchemaError(f"malformed JSON near character {self.offset} ({why})") from None
        if end - start > WINDOW:
            raise SchemaError(f"a value near character {self.offset} is too long")
        self._pos = end
        return value


def read_manifest(stream: IO[bytes], on_item: Callable[[Item], None]) -> dict[str, Any]:
    """Parse the manifest in ``stream``: each entry goes to ``on_item``; the rest is returned.

    Raises SchemaError saying what is wrong (malformed JSON, an unknown shape,
    a bad field, totals that do not match the entries).
    """
    text = _Text(stream)
    meta: dict[str, Any] = {}
    totals = [0, 0, 0]  # entries, files, bytes
    text.expect("{")
    if text.peek() != "}":
        while True:
            key = text.value()
            if not isinstance(key, str) or key in meta:
                raise SchemaError(f"field {key!r} is not a name, or appears twice")
            text.expect(":")
            meta[key] = _entries(text, on_item, totals) if key == "entries" else text.value()
            if len(meta) > _MAX_FIELDS:
                raise SchemaError(f"more than {_MAX_FIELDS} fields")
            if text.expect(",", "}") == "}":
                break
    else:
        text.expect("}")
    if text.peek():
        raise SchemaError(f"data after the manifest at character {text.offset}")
    if "entries" not in meta:
        raise SchemaError("no entries")
    meta.pop("entries")
    check_meta(meta, totals[1], totals[2])
    return meta


def _entries(text: _Text, on_item: Callable[[Item], None], totals: list[int]) -> int:
    text.expect("[")
    if text.peek() == "]":
        text.expect("]")
        return 0
    while True:
        if text.peek() != "{":
            raise SchemaError(f"entry {totals[0] + 1} is not an object")
        item = item_from(text.value())
        totals[0] += 1
        if totals[0] > MAX_ENTRIES:
            raise SchemaError(f"more than {MAX_ENTRIES:,} entries")
        if item.type == "file":
            totals[1] += 1
            totals[2] += item.size
        on_item(item)
        if text.expect(",", "]") == "]":
            return totals[0]
