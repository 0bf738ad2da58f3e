"""The built-in code dump: one Markdown file with a header, a tree and every text source file.

Layout (``docs/dumps.md`` documents it for readers and for parsers)::

    # Code dump: <project>            header: project, git commit, UTC time, counts, size,
                                      and the files left out as secrets (name and rule)
    ## Tree                           the files below (and the skipped ones, marked)
    ## Skipped                        what was left out and why
    ## Files
    ### `<path>`
    ```<language>                     a longer fence when the file itself contains ```
    <the file's exact bytes>
    ```
    \\ No newline at end of file       only when the file does not end with one

UTF-8 files are copied byte for byte, so a dump can be read back exactly.
Files that are not UTF-8 are decoded with replacement characters and flagged.
Credential files (by name) and files holding a secret (by content) are left out.

Sections: planning (which files, from names alone), reading (binary sniffing,
decoding), rendering (file sections, header, tree); ``build.build_dump`` puts them
together. Name tables live in ``languages``; what counts as a secret in
``sensitive``; writing to disk in ``writer``.
"""

from __future__ import annotations

import os
import re
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Protocol

from routine_workflow import __version__, fsutil
from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import Discovery, Entry
from routine_workflow.dumps import names as dumpnames
from routine_workflow.dumps.inputs import signature
from routine_workflow.dumps.languages import BINARY_SUFFIXES, language

NO_NEWLINE = "\\ No newline at end of file"
NOT_UTF8 = "> Not valid UTF-8: decoded with replacement characters (U+FFFD); not byte-exact."
#: A file whose decoded text is more than this share of junk is binary, NUL or not.
JUNK_RATIO = 0.3
#: How many files left out as secrets the header names (all are under ``## Skipped``).
MAX_HEADER_SECRETS = 20


_TICK_RUNS = re.compile(rb"```+")


def fence_for(data: bytes) -> bytes:
    """A backtick fence longer than any backtick run in ``data`` (CommonMark closes on >=)."""
    # Most files hold no backtick at all, and a one-byte search is a memchr; where there
    # are some, one regex scan (literal prefix) beats repeated substring searches.
    if b"`" not in data:
        return b"```"
    runs = _TICK_RUNS.findall(data)
    return b"`" * (max(map(len, runs)) + 1 if runs else 3)


def code_span(text: str) -> str:
    """``text`` as an inline code span, whatever backticks or spaces it holds."""
    runs = re.findall(r"`+", text) if "`" in text else []
    ticks = "`" * (max(map(len, runs)) + 1 if runs else 1)
    # CommonMark strips one space from each side when both are there, so pad to keep them.
    spaced = text[:1] == " " and text[-1:] == " " and text.strip(" ") != ""
    if (runs and (text[0] == "`" or text[-1] == "`")) or spaced:
        text = f" {text} "
    return f"{ticks}{text}{ticks}"


# --- planning: which files, without reading them ----------------------------------------------


@dataclass(slots=True)
class Item:
    """One path shown in the dump: inlined (``reason`` None) or skipped with a reason."""

    path: str | os.PathLike[str]
    rel: str
    reason: str | None = None
    flagged: bool = False  # decoded with replacement characters
    secret: bool = False  # left out as a (likely) secret: by name, place or content
    #: The file's identity when it was read (``inputs.signature`` of the descriptor's fstat,
    #: or of an lstat when it could not be opened; ``()`` when neither worked); None: not read.
    sig: tuple[int, ...] | None = None


@dataclass
class Plan:
    """Everything discovery found, in walk order (depth-first, by name)."""

    items: list[Item] = field(default_factory=list)

    @property
    def skipped(self) -> list[Item]:
        """Items left out, each with its reason."""
        return [i for i in self.items if i.reason is not None]

    @property
    def secrets(self) -> list[Item]:
        """Items left out because they hold, or by name may hold, secrets."""
        return [i for i in self.items if i.secret]


def _is_earlier_dump(name: str, root: Path) -> bool:
    if "_dump_" not in name:  # the cheap test first: this runs for every file
        return False
    # Dumps written into the project itself (dump_dir == root, or copied around) never
    # end up inside the next dump; nor do sidecars or a temp file a SIGKILL left behind.
    if name.endswith(dumpnames.SIDECAR_SUFFIX):
        name = name[: -len(dumpnames.SIDECAR_SUFFIX)]
    elif name.startswith(".") and name.endswith(".rw-tmp"):
        name = name[1:].split(".md.", 1)[0] + ".md"
    return (
        dumpnames.parse_dump_name(name, root) is not None
        or dumpnames.parse_legacy_dump_name(name, root) is not None
    )


def plan_dump(config: WorkflowConfig) -> Plan:
    """Walk the project and decide, from names alone, what goes in the dump."""
    return Plan(list(plan_items(config)))


def plan_items(config: WorkflowConfig, entries: Iterable[Entry] | None = None) -> Iterator[Item]:
    """The files discovery finds (or ``entries``), in walk order, skip reasons from their names.

    Sizes are learnt when a file is opened (``read_source``), not by a stat per file here.
    """
    from routine_workflow.dumps import sensitive  # not needed when stats show no change

    root = config.project_root
    secrets = sensitive.SecretNames(config.dump_secret_patterns)
    for entry in Discovery(config).walk() if entries is None else entries:
        if entry.kind == "dir":
            continue
        item = Item(entry.abspath, entry.rel)
        name = entry.rel.rsplit("/", 1)[-1]
        if entry.kind == "symlink":
            item.reason = "symlink (not followed)"
        elif entry.kind != "file":
            item.reason = "not a regular file"
        elif "\n" in entry.rel or "\r" in entry.rel:
            item.reason = "name contains a line break"
        elif _is_earlier_dump(name, root):
            item.reason = "an earlier dump"
        elif (why := secrets.reason(entry.rel, name)) is not None:
            item.reason, item.secret = why, True
        elif name[name.rfind(".") :].lower() in BINARY_SUFFIXES:
            item.reason = "binary (by extension)"
        yield item


# --- reading: sniff binaries, decode ----------------------------------------------------------


def read_source(item: Item, limit: int) -> bytes | None:
    """The file's bytes ready to inline, or None with ``item.reason`` set (binary, too big...)."""
    try:
        data = _read_regular(item, limit)
    except _TooLarge as big:
        item.reason = f"larger than {limit:,} bytes ({big.size:,} bytes)"
        return None
    except OSError as exc:
        item.reason = f"unreadable: {exc.strerror or exc}"
        if item.sig is None:  # not even opened: what it was, for the inputs manifest
            try:
                item.sig = signature(os.lstat(item.path))
            except OSError:
                item.sig = ()
        return None
    if data is None:
        item.reason = "not a regular file"
        return None
    if len(data) > limit:  # it grew while we read it
        item.reason = f"larger than {limit:,} bytes"
        return None
    if b"\0" in data:  # git's own test for binary content
        item.reason = "binary (contains NUL bytes)"
        return None
    if data.isascii():
        return data
    try:
        data.decode("utf-8")
        return data
    except UnicodeDecodeError:
        pass
    text = data.decode("utf-8", "replace")
    sample = text[:8192]  # enough to judge, and a 1 MB file is not scanned char by char
    junk = sum(1 for ch in sample if ch == "\ufffd" or (ch < " " and ch not in "\t\n\r\f\x1b"))
    if junk > JUNK_RATIO * len(sample):
        item.reason = "binary (not decodable as text)"
        return None
    item.flagged = True
    return text.encode("utf-8")


class _TooLarge(Exception):
    def __init__(self, size: int) -> None:
        super().__init__(size)
        self.size = size


_OPEN_FLAGS = os.O_RDONLY | getattr(os, "O_NOFOLLOW", 0) | getattr(os, "O_NONBLOCK", 0)


def _read_regular(item: Item, limit: int) -> bytes | None:
    # O_NOFOLLOW and O_NONBLOCK: a file swapped for a symlink or a FIFO since the walk is
    # neither followed nor waited on; fstat then tells what was really opened. Raw os.read
    # calls: no buffered file object per file, which is most of the cost of small files.
    fd = os.open(item.path, _OPEN_FLAGS)
    try:
        info = os.fstat(fd)
        # Taken before reading: a change after this moves ctime, so the next run's stat
        # differs from the recorded one and it reads the file again (dumps.inputs).
        item.sig = signature(info)
        if not stat.S_ISREG(info.st_mode):
            return None
        if info.st_size > limit:  # the size comes from here, not from a stat in the walk
            raise _TooLarge(info.st_size)
        want, got = limit + 1, 0
        blocks = []
        while want > 0:
            ask = min(want, max(info.st_size + 1, 1 << 16))
            block = os.read(fd, ask)
            blocks.append(block)
            want -= len(block)
            got += len(block)
            # A short read that reached the size fstat gave is the end: no extra read to see
            # EOF (one syscall per file saved). A short read before it (NFS, FUSE) reads on.
            if not block or (len(block) < ask and got >= info.st_size):
                break
        return blocks[0] if len(blocks) == 1 else b"".join(blocks)
    finally:
        os.close(fd)


# --- rendering --------------------------------------------------------------------------------


class Sink(Protocol):
    """Where the file sections go: a file, or a byte counter in a dry run."""

    def write(self, data: bytes, /) -> int:
        """Write ``data``; return how many bytes."""


@dataclass
class DumpMeta:
    """What the header says about the dump."""

    project: str
    commit: str | None
    created: datetime


@dataclass
class BodyStats:
    """Counts gathered while the file sections are written."""

    files: int = 0
    source_bytes: int = 0
    flagged: int = 0

    def add(self, item: Item, size: int) -> None:
        """Count one inlined file of ``size`` bytes."""
        self.files += 1
        self.source_bytes += size
        self.flagged += item.flagged


def render_file(item: Item, limit: int) -> tuple[bytes, bytes, bytes] | None:
    """One file's section as (heading and opening fence, content, closing fence).

    None, with ``item.reason`` set, when reading shows it cannot be inlined.
    """
    data = read_source(item, limit)
    if data is None:
        return None
    from routine_workflow.dumps.sensitive import describe, find_secrets

    findings = find_secrets(data)
    if findings:
        item.reason, item.secret = describe(findings), True
        return None
    fence = fence_for(data)
    head = f"\n### {code_span(item.rel)}\n\n" + (NOT_UTF8 + "\n\n" if item.flagged else "")
    if data and not data.endswith(b"\n"):
        tail = b"\n" + fence + b"\n" + NO_NEWLINE.encode("ascii") + b"\n"
    else:
        tail = fence + b"\n"
    return _utf8(head) + fence + language(item.rel).encode("ascii") + b"\n", data, tail


def write_body(
    plan: Plan, sink: Sink, limit: int, items: Iterable[Item] | None = None
) -> BodyStats:
    """Write the ``## Files`` section to ``sink``; sets skip reasons found while reading.

    With ``items``, the plan is filled from it as the files are written.
    """
    stats = BodyStats()
    sink.write(b"## Files\n")
    for item in plan.items if items is None else _recorded(plan, items):
        if item.reason is None and (parts := render_file(item, limit)) is not None:
            for part in parts:
                sink.write(part)
            stats.add(item, len(parts[1]))
    return stats


def _recorded(plan: Plan, items: Iterable[Item]) -> Iterator[Item]:
    for item in items:
        plan.items.append(item)
        yield item


def render_head(meta: DumpMeta, plan: Plan, stats: BodyStats) -> bytes:
    """Header, tree and the list of skipped files (everything before ``## Files``)."""
    skipped = plan.skipped
    commit = code_span(meta.commit) if meta.commit else "none (not a git checkout)"
    total = f"{fsutil.human_size(stats.source_bytes)} ({stats.source_bytes:,} bytes of source)"
    lines = [
        f"# Code dump: {meta.project}",
        "",
        f"- **Project:** {meta.project}",
        f"- **Git commit:** {commit}",
        f"- **Created (UTC):** {meta.created.strftime('%Y-%m-%dT%H:%M:%SZ')}",
        f"- **Files:** {stats.files:,} inlined, {len(skipped):,} skipped",
        f"- **Total size:** {total}",
    ]
    if stats.flagged:
        lines.append(
            f"- **Not UTF-8:** {stats.flagged:,} file(s), decoded with replacement " "characters"
        )
    lines += _secrets_lines(plan.secrets)
    lines += [f"- **Generator:** routine-workflow {__version__}", "", "## Tree", ""]
    tree = render_tree(meta.project, ((i.rel, i.reason) for i in plan.items))
    fence = fence_for(_utf8(tree)).decode("ascii")
    lines += [fence + "text", tree, fence, "", "## Skipped", ""]
    lines += [f"- {code_span(i.rel)}: {i.reason}" for i in skipped] or ["Nothing was skipped."]
    lines.append("")
    return _utf8("\n".join(lines) + "\n")


def _secrets_lines(secrets: list[Item]) -> list[str]:
    """The header's list of files left out as secrets: name and rule, never the secret."""
    if not secrets:
        return []
    lines = [f"- **Secrets left out:** {len(secrets):,} file(s), content not copied:"]
    lines += [f"  - {code_span(i.rel)}: {i.reason}" for i in secrets[:MAX_HEADER_SECRETS]]
    if len(secrets) > MAX_HEADER_SECRETS:
        lines.append(f"  - ... and {len(secrets) - MAX_HEADER_SECRETS:,} more under Skipped")
    return lines


def _utf8(text: str) -> bytes:
    # File names that are not valid UTF-8 reach us with surrogate escapes; show their odd
    # bytes as \xNN-style escapes rather than fail or write invalid UTF-8.
    return text.encode("utf-8", "backslashreplace")


def render_tree(project: str, paths: Iterable[tuple[str, str | None]]) -> str:
    """A ``tree``-style drawing of ``paths`` in the given order; skipped ones are marked."""
    top: dict[str, dict | str | None] = {}  # type: ignore[type-arg]
    for rel, reason in paths:
        node = top
        *parents, name = rel.split("/")
        for part in parents:
            node = node.setdefault(part, {})  # type: ignore[assignment]
        node[name] = reason
    out = [f"{project}/"]
    _draw(top, "", out)
    return "\n".join(out)


def _draw(node: dict, prefix: str, out: list[str]) -> None:  # type: ignore[type-arg]
    names = list(node)
    for index, name in enumerate(names):
        last = index == len(names) - 1
        child = node[name]
        branch = "└── " if last else "├── "
        if isinstance(child, dict):
            out.append(f"{prefix}{branch}{name}/")
            _draw(child, prefix + ("    " if last else "│   "), out)
        else:
            out.append(f"{prefix}{branch}{name}" + (f"  [skipped: {child}]" if child else ""))
