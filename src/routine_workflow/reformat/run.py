"""One reformat pass over a project: every Python file the engine should see, once.

* ``reformat``: discovery (``_project_files``, limited to the given paths), the
  content-hash cache (``cache``), the files that need work handed to the engine
  (``engines``: autoflake -> isort -> black in the worker pool, or ruff), each
  outcome settled (``_settle``): counted, written, taught to the cache;
* ``write_if_unmodified``: the atomic write, only if the file still holds the bytes
  that were read; ``unified_diff`` for ``--diff``;
* ``ReformatReport``: what the pass found and did.

Writes happen here in the parent. Heavy imports happen only when a file needs work,
so a warm run with nothing to do never imports the formatters. The step
(``steps/reformat.py``) and the ``reformat`` command (``command``) both call ``reformat``.
"""

from __future__ import annotations

import heapq
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from logging import Logger
from pathlib import Path

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import ConfigError
from routine_workflow.fsutil import NotRewritable, remove_leftover_temps
from routine_workflow.output import plural, printable
from routine_workflow.progress import ProgressFactory, no_progress
from routine_workflow.reformat import engines
from routine_workflow.reformat.cache import (
    Entry,
    ReformatCache,
    StatKey,
    stat_key,
    trusted_stat,
)
from routine_workflow.reformat.pipeline import (
    CHANGED,
    EXCLUDED,
    FAILED,
    UNCHANGED,
    VANISHED,
    VANISHED_REASON,
    Outcome,
    digest_bytes,
    unreadable,
)

SUFFIXES = (".py", ".pyi")
#: In ``cache_dir``: the outcome of the last walk (``routine_workflow.walkrecord``).
WALK_RECORD_NAME = "walk-reformat.json"


@dataclass
class Failure:
    """A file left untouched, and why."""

    rel: str
    reason: str


@dataclass
class ReformatReport:
    """What one reformat pass found and did."""

    check: bool
    seen: int = 0
    changed: list[str] = field(default_factory=list)  # written, or would be with --check
    unchanged: int = 0
    excluded: list[str] = field(default_factory=list)  # left out by a tool's own settings
    cached: int = 0
    #: files read and hashed (the others were answered from their stats alone)
    hashed: int = 0
    #: directories listed by discovery (0: the last walk's record was replayed)
    listed: int = 0
    failed: list[Failure] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)  # changed by someone else meanwhile
    vanished: list[str] = field(default_factory=list)  # deleted by someone else meanwhile
    diffs: list[str] = field(default_factory=list)
    duration: float = 0.0
    #: (file, a worker's seconds on it) for each file the engine timed; only with --profile
    timings: list[tuple[str, float]] = field(default_factory=list)

    def slowest(self, n: int = 10) -> list[tuple[str, float]]:
        """The ``n`` files that took a worker longest, slowest first (``timings``)."""
        return heapq.nlargest(n, self.timings, key=lambda item: item[1])

    def counts(self) -> dict[str, int]:
        """The numbers a summary, the history and ``--json`` show."""
        return {
            "seen": self.seen,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "cached": self.cached,
            "hashed": self.hashed,
            "listed": self.listed,
            "failed": len(self.failed),
            "excluded": len(self.excluded),
            "modified": len(self.modified),
            "vanished": len(self.vanished),
        }

    def summary(self) -> str:
        """One line: the counts and the time."""
        verb = "would change" if self.check else "changed"
        parts = [
            plural(self.seen, "file"),
            f"{len(self.changed)} {verb}",
            f"{self.unchanged} unchanged",
            f"{self.cached} cached",
            f"{len(self.failed)} failed",
        ]
        if self.excluded:
            parts.append(f"{len(self.excluded)} excluded by tool settings")
        if self.modified:
            parts.append(f"{len(self.modified)} modified during the run (skipped)")
        if self.vanished:
            parts.append(f"{len(self.vanished)} vanished during the run")
        return ", ".join(parts) + f" in {self.duration:.2f}s"

    def detail_lines(self) -> list[str]:
        """One line per file that needs the user's attention."""
        verb = "would reformat" if self.check else "reformatted"
        lines = [f"{verb} {rel}" for rel in sorted(self.changed)]
        lines += [f"error: {f.rel}: {f.reason}" for f in sorted(self.failed, key=lambda f: f.rel)]
        lines += [f"skipped {rel}: modified since it was read" for rel in sorted(self.modified)]
        lines += [f"skipped {rel}: {VANISHED_REASON}" for rel in sorted(self.vanished)]
        return lines


# --- the pass --------------------------------------------------------------------------------


def reformat(
    config: WorkflowConfig,
    *,
    paths: Sequence[Path] | None = None,
    check: bool = False,
    diff: bool = False,
    logger: logging.Logger | None = None,
    versions: dict[str, str] | None = None,
    progress: ProgressFactory = no_progress,
) -> ReformatReport:
    """One reformat pass over the project (or ``paths``). Raises ConfigError on bad settings.

    ``versions`` overrides the tool versions that go into the cache fingerprint
    (the installed ones by default).
    """
    log = logger or logging.getLogger("routine_workflow")
    started = time.monotonic()
    report = ReformatReport(check=check)
    engine = engines.for_config(config)
    entries, found, leftovers, report.listed = _project_files(config, paths, engine.config_names)
    if leftovers and not check:  # writing: we hold the project's lock
        for path in remove_leftover_temps(leftovers, [config.project_root]):
            log.warning("removed %s, a temporary file left by a killed run", path)
    fingerprint = engine.fingerprint(found, versions)
    cache = ReformatCache.load(config.cache_dir, fingerprint, engines.cache_name(config))
    report.seen = len(entries)
    reads = _Reads(cache, config.reformat_max_file_size)
    todo = reads.consult(entries, report)
    batch = _Batch(report, cache, config, log)
    try:
        if todo:
            with progress(len(todo), "reformatting") as advance:
                for outcome in engine.outcomes(todo, log):
                    if _settle(outcome, report, reads, config, check=check, diff=diff, log=log):
                        batch.add(outcome)
                    advance(1)
    finally:
        batch.flush()  # what is already known is written, even on the way out of an error
        try:
            cache.save(keep=None if paths else (rel for rel, _ in entries))
        except OSError as exc:
            log.warning("could not save the reformat cache %s: %s", cache.path, exc.strerror)
        report.duration = time.monotonic() - started
    return report


class _Reads:
    """The cache consulted for each file, stats first (``ReformatCache.lookup_stat``), then
    the content's hash; remembers what was read of each file left for the engine."""

    def __init__(self, cache: ReformatCache, limit: int) -> None:
        self.cache, self.limit = cache, limit
        #: Only a change older than this by ``RACY_NS`` is sure to show in a file's stats.
        self.started_ns = time.time_ns()
        #: absolute path -> (digest read, stats taken before reading), for files to do
        self.read: dict[str, tuple[str, os.stat_result]] = {}

    def consult(
        self, entries: list[tuple[str, str]], report: ReformatReport
    ) -> list[tuple[str, int]]:
        """Count every file the cache answers; return (path, size) of those it does not."""
        todo: list[tuple[str, int]] = []
        for rel, path in entries:
            hit = self._by_stat(rel, path)
            if hit is None:
                hit = self._by_content(rel, path, report, todo)
                if hit is None:  # left for the engine, or counted already
                    continue
            report.cached += 1
            _count(report, rel, hit.status, hit.reason)
        return todo

    def _by_stat(self, rel: str, path: str) -> Entry | None:
        if rel not in self.cache.entries:
            return None  # a stat is cheaper than open, read and hash, but not free
        try:
            key = stat_key(os.stat(path))
        except OSError:
            return None  # the read says why
        if self.limit and key[0] > self.limit:
            return None  # the read reports it too large (the limit is no part of the cache)
        return self.cache.lookup_stat(rel, key)

    def _by_content(
        self, rel: str, path: str, report: ReformatReport, todo: list[tuple[str, int]]
    ) -> Entry | None:
        limit = self.limit
        try:
            with open(path, "rb") as handle:
                # Stats before the read: a change made after them shows in the ctime.
                st = os.fstat(handle.fileno())
                # Never more than the limit in memory, even if the file grows meanwhile.
                data = handle.read(limit + 1) if limit else handle.read()
        except OSError as exc:  # a vanished file is no failure: see ``unreadable``
            gone = unreadable(path, exc)
            _count(report, rel, gone.status, gone.reason)
            return None
        report.hashed += 1
        if limit and len(data) > limit:
            report.failed.append(Failure(rel, _too_large(max(st.st_size, len(data)), limit)))
            return None
        digest = digest_bytes(data)
        hit = self.cache.lookup(rel, digest)
        if hit is None:
            todo.append((path, len(data)))
            self.read[path] = (digest, st)
        else:
            self.cache.remember_stat(rel, st, self.started_ns)
        return hit

    def trusted_stat(self, path: str, digest: str) -> StatKey | None:
        """The stats to record with the engine's verdict on ``path`` about content ``digest``:
        those taken before our own read, if the engine judged the same content."""
        read = self.read.get(path)
        if read is None or read[0] != digest:
            return None
        return trusted_stat(read[1], self.started_ns)


def _project_files(
    config: WorkflowConfig, paths: Sequence[Path] | None, config_names: Sequence[str] = ()
) -> tuple[list[tuple[str, str]], list[Path], list[str], int]:
    """(relative path, absolute path) of every project Python file, limited to ``paths`` if
    given; the files named ``config_names`` met on the same walk (never limited); the
    temporary files a killed run left (see ``Discovery.leftover_temps``); and how many
    directories the walk listed."""
    from routine_workflow.discovery import Discovery
    from routine_workflow.walkrecord import WalkRecord

    # Plain path strings, not a Path per file: the warm path (docs/reformat.md, "Measured").
    found: list[tuple[str, str]] = []
    configs: list[Path] = []
    # The walk replays the last one's outcome while the tree's directories are unchanged.
    record = WalkRecord(config.cache_dir / WALK_RECORD_NAME)
    discovery = Discovery(config, record=record)
    for entry in discovery.files((*SUFFIXES, *config_names)):
        name = entry.rel.rpartition("/")[2]
        if name in config_names:
            configs.append(entry.path)
        elif name.endswith(SUFFIXES):
            found.append((entry.rel, entry.abspath))
    if not paths:
        return found, configs, discovery.leftover_temps, discovery.listed
    root = config.project_root
    wanted = []
    for given in paths:
        # As the shell meant it: relative to the current directory, ".." taken
        # lexically, symlinks not resolved (discovery never follows them either).
        absolute = Path(os.path.normpath(Path.cwd() / given))
        if absolute != root and root not in absolute.parents:
            raise ConfigError(f"{given}: not inside the project root {root}")
        if not absolute.exists():
            raise ConfigError(f"{given}: no such file or directory")
        wanted.append(absolute.relative_to(root).as_posix())
    return (
        [
            (rel, path)
            for rel, path in found
            if any(w in (".", rel) or rel.startswith(w + "/") for w in wanted)
        ],
        configs,
        discovery.leftover_temps,
        discovery.listed,
    )


def _too_large(size: int, limit: int) -> str:
    # The pipeline needs 300-800 bytes of memory per byte of source (docs/reformat.md).
    return (
        f"too large to reformat ({size:,} bytes, over reformat_max_file_size = {limit:,}); "
        "left as is"
    )


def _count(report: ReformatReport, rel: str, status: str, reason: str) -> None:
    if status == FAILED:
        report.failed.append(Failure(rel, reason))
    elif status == VANISHED:
        report.vanished.append(rel)
    elif status == EXCLUDED:
        report.excluded.append(rel)
    else:
        report.unchanged += 1


def _settle(
    outcome: Outcome,
    report: ReformatReport,
    reads: _Reads,
    config: WorkflowConfig,
    *,
    check: bool,
    diff: bool,
    log: logging.Logger,
) -> bool:
    """Count one outcome and teach the cache what is final; True if it is a change to
    write (``_Batch``)."""
    path = Path(outcome.path)
    rel = path.relative_to(config.project_root).as_posix()
    if config.profile and outcome.seconds:  # the ruff engine times no single file
        report.timings.append((rel, outcome.seconds))
    if outcome.status != CHANGED:
        _count(report, rel, outcome.status, outcome.reason)
        if outcome.status == FAILED:
            log.debug("%s: %s", rel, outcome.reason, extra={"event": "reformat_failed"})
        if outcome.cacheable and outcome.digest:
            stat = reads.trusted_stat(outcome.path, outcome.digest)
            reads.cache.record(rel, outcome.digest, outcome.status, outcome.reason, stat)
        return False
    new = outcome.new or b""
    if diff:
        try:
            report.diffs.append(unified_diff(rel, path.read_bytes(), new, outcome.encoding))
        except OSError as exc:
            gone = unreadable(str(path), exc)
            _count(report, rel, gone.status, gone.reason)
            return False
    if check:
        report.changed.append(rel)
        return False
    return True


class _Batch:
    """Changes waiting to be written, a batch at a time (``writes``: one journal sync per
    batch, the files' own syncs overlapping)."""

    #: Changes per batch: a batch waits for this many, or for the end of the pass.
    SIZE = 128

    def __init__(
        self, report: ReformatReport, cache: ReformatCache, config: WorkflowConfig, log: Logger
    ) -> None:
        self.report, self.cache, self.config, self.log = report, cache, config, log
        self.pending: list[Outcome] = []

    def add(self, outcome: Outcome) -> None:
        """Queue one change; write the batch once it is full."""
        self.pending.append(outcome)
        if len(self.pending) >= self.SIZE:
            self.flush()

    def flush(self) -> None:
        """Write what is queued and account for each file."""
        pending, self.pending = self.pending, []
        if not pending:
            return  # a warm run writes nothing, and needs not the writer (a thread pool)
        from routine_workflow.reformat.writes import write_many_if_unmodified

        items = [(Path(o.path), o.digest, o.new or b"") for o in pending]
        results = write_many_if_unmodified(items, (self.config.project_root,))
        for outcome, result in zip(pending, results, strict=True):
            self._account(outcome, result)

    def _account(self, outcome: Outcome, result: bool | OSError) -> None:
        report, cache = self.report, self.cache
        path = Path(outcome.path)
        rel = path.relative_to(self.config.project_root).as_posix()
        if isinstance(result, NotRewritable):  # its identity could not be kept: said why
            report.failed.append(Failure(rel, result.strerror or "not rewritten"))
        elif isinstance(result, FileNotFoundError):  # its directory went away
            report.vanished.append(rel)
            cache.forget(rel)
        elif isinstance(result, OSError):  # a read-only directory: report it, go on
            report.failed.append(Failure(rel, f"cannot write: {result.strerror}"))
        elif result:
            report.changed.append(rel)
            self.log.debug("reformatted %s", rel, extra={"event": "reformatted"})
            # The engine's output is final: the pipeline ran it again until it changed nothing.
            cache.record(rel, digest_bytes(outcome.new or b""), UNCHANGED)
        elif not os.path.lexists(path):  # deleted meanwhile: nothing was written
            report.vanished.append(rel)
            cache.forget(rel)
        else:
            report.modified.append(rel)
            cache.forget(rel)
            self.log.debug(
                "%s: modified since it was read; left as is",
                rel,
                extra={"event": "reformat_skipped"},
            )


def write_if_unmodified(path: Path, digest: str, new: bytes, roots: Iterable[Path]) -> bool:
    """Atomically replace ``path`` with ``new`` unless its content no longer hashes to ``digest``.

    The file keeps its identity: mode, owner, group, extended attributes
    (``fsutil.rewrite_user_file``); its original goes to the run's undo journal first.
    Returns False, writing nothing, when another process changed the file since the
    pipeline read it. Raises ``fsutil.NotRewritable`` (an OSError whose ``strerror`` is
    the reason) for a file left alone because a rename would change what it is:
    hard-linked, read-only, an owner this user cannot keep. ``writes`` does it for a batch.
    """
    from routine_workflow.reformat.writes import write_many_if_unmodified

    [result] = write_many_if_unmodified([(path, digest, new)], roots)
    if isinstance(result, OSError):
        raise result
    return result


def unified_diff(rel: str, old: bytes, new: bytes, encoding: str) -> str:
    """A unified diff of one file, as ``black --diff`` prints it (without timestamps)."""
    a = old.decode(encoding, "replace").splitlines(keepends=True)
    b = new.decode(encoding, "replace").splitlines(keepends=True)
    import difflib

    # The header is one line whatever the name holds (a line break would forge a diff line).
    name = printable(rel)
    lines = difflib.unified_diff(a, b, fromfile=f"a/{name}", tofile=f"b/{name}")
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )
