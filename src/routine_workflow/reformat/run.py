"""One reformat pass over a project: autoflake, isort and black on its Python files.

The per-file work is ``formatting.Pipeline`` (pure: bytes in, bytes out), run in
a pool of ``max_workers`` processes, largest files first, each file under a time
limit. Around it: discovery, the content-hash cache (``reformat_cache``) and the
writes, which happen here in the parent, atomically, and only if the file still
holds the bytes the pipeline read. Heavy imports happen only when a file needs
work, so a warm run with nothing to do never imports the formatters.

The step (``steps/reformat.py``) and the ``reformat`` command both call ``reformat``.
"""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import ConfigError
from routine_workflow.progress import ProgressFactory, no_progress
from routine_workflow.reformat import pipeline as formatting
from routine_workflow.reformat.cache import ReformatCache, fingerprint, tool_versions
from routine_workflow.reformat.pipeline import CHANGED, EXCLUDED, FAILED, Outcome, digest_bytes

if TYPE_CHECKING:
    from concurrent.futures import Future

SUFFIXES = (".py", ".pyi")
#: Small files travel to the workers in batches of about this many bytes (or files).
BATCH_BYTES = 64 * 1024
BATCH_FILES = 32


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
    failed: list[Failure] = field(default_factory=list)
    modified: list[str] = field(default_factory=list)  # changed by someone else meanwhile
    diffs: list[str] = field(default_factory=list)
    duration: float = 0.0

    def counts(self) -> dict[str, int]:
        """The numbers a summary, the history and ``--json`` show."""
        return {
            "seen": self.seen,
            "changed": len(self.changed),
            "unchanged": self.unchanged,
            "cached": self.cached,
            "failed": len(self.failed),
            "excluded": len(self.excluded),
            "modified": len(self.modified),
        }

    def summary(self) -> str:
        """One line: the counts and the time."""
        verb = "would change" if self.check else "changed"
        parts = [
            f"{self.seen} files",
            f"{len(self.changed)} {verb}",
            f"{self.unchanged} unchanged",
            f"{self.cached} cached",
            f"{len(self.failed)} failed",
        ]
        if self.excluded:
            parts.append(f"{len(self.excluded)} excluded by tool settings")
        if self.modified:
            parts.append(f"{len(self.modified)} modified during the run (skipped)")
        return ", ".join(parts) + f" in {self.duration:.2f}s"

    def detail_lines(self) -> list[str]:
        """One line per file that needs the user's attention."""
        verb = "would reformat" if self.check else "reformatted"
        lines = [f"{verb} {rel}" for rel in sorted(self.changed)]
        lines += [f"error: {f.rel}: {f.reason}" for f in sorted(self.failed, key=lambda f: f.rel)]
        lines += [f"skipped {rel}: modified since it was read" for rel in sorted(self.modified)]
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
    engine = _Engine.for_config(config, paths, versions)
    entries = engine.entries
    cache = ReformatCache.load(config.cache_dir, engine.fingerprint)
    todo: list[tuple[str, int]] = []
    report.seen = len(entries)
    for rel, path in entries:
        try:
            with open(path, "rb") as handle:
                data = handle.read()
        except OSError as exc:
            report.failed.append(Failure(rel, f"cannot read: {exc.strerror}"))
            continue
        hit = cache.lookup(rel, digest_bytes(data))
        if hit is None:
            todo.append((path, len(data)))
            continue
        report.cached += 1
        _count(report, rel, hit.status, hit.reason)
    try:
        if todo:
            with progress(len(todo), "reformatting") as advance:
                for outcome in engine.run(todo, log):
                    _settle(outcome, report, cache, config, check=check, diff=diff, log=log)
                    advance(1)
    finally:
        try:
            cache.save(keep=None if paths else (rel for rel, _ in entries))
        except OSError as exc:
            log.warning("could not save the reformat cache %s: %s", cache.path, exc.strerror)
        report.duration = time.monotonic() - started
    return report


@dataclass
class _Engine:
    """The chosen engine: the files it works on, its cache fingerprint, and how it runs."""

    config: WorkflowConfig
    entries: list[tuple[str, str]]
    fingerprint: str
    ruff: Any = None  # ruff_engine.Ruff for the ruff engine
    ruff_configs: list[Path] = field(default_factory=list)

    @classmethod
    def for_config(
        cls,
        config: WorkflowConfig,
        paths: Sequence[Path] | None,
        versions: dict[str, str] | None,
    ) -> _Engine:
        """Set up ``config.reformat_engine`` (ConfigError if it cannot run here)."""
        root = config.project_root
        if config.reformat_engine != "ruff":
            entries, _ = _project_files(config, paths)
            fp = fingerprint(root, versions or tool_versions(), {"engine": "black"})
            return cls(config, entries, fp)
        from routine_workflow.reformat import ruff as ruff_engine

        ruff = ruff_engine.Ruff.find()
        entries, nested = _project_files(config, paths, ruff_engine.CONFIG_NAMES)
        configs = ruff_engine.config_files(root, nested)
        settings = {"engine": "ruff", "select": ruff_engine.SELECT}
        fp = fingerprint(root, versions or ruff.versions(), settings, configs)
        return cls(config, entries, fp, ruff, configs)

    def run(self, todo: Sequence[tuple[str, int]], log: logging.Logger) -> Iterator[Outcome]:
        """The outcome of every file in ``todo``, as they become known."""
        config = self.config
        if self.ruff is None:
            return _run_pool(
                config.project_root, todo, config.max_workers, config.reformat_file_timeout
            )
        from routine_workflow.reformat import ruff as ruff_engine

        return ruff_engine.outcomes(
            self.ruff,
            config.project_root,
            [path for path, _ in todo],
            self.ruff_configs,
            config.reformat_file_timeout,
            log,
            config.max_workers,
        )


def _project_files(
    config: WorkflowConfig, paths: Sequence[Path] | None, config_names: Sequence[str] = ()
) -> tuple[list[tuple[str, str]], list[Path]]:
    """(relative path, absolute path) of every project Python file, limited to ``paths`` if
    given, and the files named ``config_names`` met on the same walk (never limited)."""
    from routine_workflow.discovery import Discovery

    # Plain path strings: a Path per file was a fifth of a warm run.
    found: list[tuple[str, str]] = []
    configs: list[Path] = []
    for entry in Discovery(config).files((*SUFFIXES, *config_names)):
        name = entry.rel.rpartition("/")[2]
        if name in config_names:
            configs.append(entry.path)
        elif name.endswith(SUFFIXES):
            found.append((entry.rel, entry.abspath))
    if not paths:
        return found, configs
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
    return [
        (rel, path)
        for rel, path in found
        if any(w in (".", rel) or rel.startswith(w + "/") for w in wanted)
    ], configs


def _count(report: ReformatReport, rel: str, status: str, reason: str) -> None:
    if status == FAILED:
        report.failed.append(Failure(rel, reason))
    elif status == EXCLUDED:
        report.excluded.append(rel)
    else:
        report.unchanged += 1


def _settle(
    outcome: Outcome,
    report: ReformatReport,
    cache: ReformatCache,
    config: WorkflowConfig,
    *,
    check: bool,
    diff: bool,
    log: logging.Logger,
) -> None:
    """Count one outcome, write it (unless checking) and teach the cache what is final."""
    path = Path(outcome.path)
    rel = path.relative_to(config.project_root).as_posix()
    if outcome.status != CHANGED:
        _count(report, rel, outcome.status, outcome.reason)
        if outcome.status == FAILED:
            log.debug("%s: %s", rel, outcome.reason, extra={"event": "reformat_failed"})
        if outcome.cacheable and outcome.digest:
            cache.record(rel, outcome.digest, outcome.status, outcome.reason)
        return
    new = outcome.new or b""
    if diff:
        report.diffs.append(unified_diff(rel, path.read_bytes(), new, outcome.encoding))
    if check:
        report.changed.append(rel)
        return
    try:
        written = write_if_unmodified(path, outcome.digest, new, (config.project_root,))
    except OSError as exc:  # a read-only file or directory: report it, go on with the rest
        report.failed.append(Failure(rel, f"cannot write: {exc.strerror}"))
        return
    if written:
        report.changed.append(rel)
        log.debug("reformatted %s", rel, extra={"event": "reformatted"})
        # Like black's cache: the pipeline's output is taken to be its own fixed point.
        cache.record(rel, digest_bytes(new), formatting.UNCHANGED)
    else:
        report.modified.append(rel)
        cache.forget(rel)
        log.debug(
            "%s: modified since it was read; left as is", rel, extra={"event": "reformat_skipped"}
        )


def write_if_unmodified(path: Path, digest: str, new: bytes, roots: Iterable[Path]) -> bool:
    """Atomically replace ``path`` with ``new`` unless its content no longer hashes to ``digest``.

    Keeps the file's mode (``fsutil.atomic_write``). Returns False, writing nothing,
    when another process changed the file since the pipeline read it.
    """
    from routine_workflow.fsutil import atomic_write, ensure_inside

    ensure_inside(path, roots)
    try:
        current = path.read_bytes()
    except OSError:
        return False
    if digest_bytes(current) != digest:
        return False
    # A writer that slips in between this check and the rename still loses its
    # bytes; the window is the length of one atomic write.
    atomic_write(path, new)
    return True


def unified_diff(rel: str, old: bytes, new: bytes, encoding: str) -> str:
    """A unified diff of one file, as ``black --diff`` prints it (without timestamps)."""
    a = old.decode(encoding, "replace").splitlines(keepends=True)
    b = new.decode(encoding, "replace").splitlines(keepends=True)
    import difflib

    lines = difflib.unified_diff(a, b, fromfile=f"a/{rel}", tofile=f"b/{rel}")
    return "".join(
        line if line.endswith("\n") else line + "\n\\ No newline at end of file\n" for line in lines
    )


# --- the pool --------------------------------------------------------------------------------


def batches(todo: Sequence[tuple[str, int]]) -> list[list[str]]:
    """Largest files first, each big file alone, small ones grouped to save round trips."""
    out: list[list[str]] = []
    current: list[str] = []
    size = 0
    for path, length in sorted(todo, key=lambda item: item[1], reverse=True):
        current.append(path)
        size += length
        if size >= BATCH_BYTES or len(current) >= BATCH_FILES:
            out.append(current)
            current, size = [], 0
    if current:
        out.append(current)
    return out


def _run_pool(
    root: Path, todo: Sequence[tuple[str, int]], workers: int, file_timeout: float
) -> Iterator[Outcome]:
    """Outcomes of every file in ``todo``, as workers finish them."""
    # Imported here: a warm run with nothing to do never starts (or imports) a pool.
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor, as_completed
    from concurrent.futures.process import BrokenProcessPool

    from routine_workflow.procs.children import kill_children_unreaped

    # Configure the tools here first: a bad [tool.black] is one clear error, and forked
    # workers inherit the imported, configured pipeline instead of importing it again.
    formatting.prime(root)
    groups = batches(todo)
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    pool = ProcessPoolExecutor(
        max_workers=max(1, min(workers, len(groups))),
        mp_context=context,
        initializer=formatting.init_worker,
        initargs=(str(root), file_timeout),
    )
    futures: dict[Future[list[Outcome]], list[str]] = {
        pool.submit(formatting.process_batch, group): group for group in groups
    }
    try:
        for future in as_completed(futures):
            try:
                yield from future.result()
            except BrokenProcessPool:
                # A worker died (killed, out of memory): its files are reported, not lost.
                for path in futures[future]:
                    yield Outcome(path, FAILED, reason="the worker process died", cacheable=False)
    except BaseException:
        # Workers first: the executor then fails what is pending as "broken" by itself
        # (cancelling futures first races its management thread into a traceback). Killed,
        # not reaped: the executor must reap them itself or its shutdown never ends.
        kill_children_unreaped()
        pool.shutdown(wait=True)
        raise
    pool.shutdown(wait=True)
