"""The reformat feature's worker processes.

* the black engine's pool: ``run_pool`` sends ``batches`` of files (largest
  first) to workers set up once by ``init_worker`` (or inherited from a parent
  that called ``prime``); ``process_batch`` runs ``Pipeline.process`` on each
  file under its own SIGALRM time limit (``FileTimeout``) and within the worker's
  memory limit (``memory_headroom``); ``worker_pid`` lets the parent and tests
  see the workers;
* the ruff engine's ``compile()`` checks: ``Checker``, a pool started only
  when there are enough sources to be worth it (``check_files`` in the workers,
  ``compile_problems`` in the parent).

Pools and their modules are imported only when a pool starts: a warm run with
nothing to do never imports them.
"""

from __future__ import annotations

import dataclasses
import gc
import os
import signal
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from types import FrameType
from typing import TYPE_CHECKING

from routine_workflow.reformat.pipeline import (
    FAILED,
    OUT_OF_MEMORY,
    Outcome,
    Pipeline,
    compile_error,
    decode,
    digest_bytes,
    one_line,
)

if TYPE_CHECKING:
    from concurrent.futures import Future, ProcessPoolExecutor

#: Small files travel to the workers in batches of about this many bytes (or files).
BATCH_BYTES = 64 * 1024
BATCH_FILES = 32
#: Below this many bytes of sources, checking them here beats starting worker processes.
POOL_BYTES = 256 * 1024
#: How much a formatting worker may grow per byte of the largest file it may get: the
#: pipeline peaks at 300 to 800 bytes per byte of source (measured on standard library
#: code: +145 MB for 0.5 MB, +730 MB for 0.94 MB; a 20 MB file reached 5.7 GB).
MEMORY_PER_SOURCE_BYTE = 2000
#: ... and at least this much, whatever the size limit.
MIN_HEADROOM = 1 << 30
#: A formatting worker collects garbage once it holds this much more memory than after its
#: last collection (black's trees are reference cycles only the collector frees), and at
#: most a ``GC_SHARE``-th of its headroom. Garbage left at the end is never collected: a
#: worker exits with ``os._exit``, and the system takes its memory back whole.
GC_BUDGET = 128 << 20
GC_SHARE = 8


class FileTimeout(BaseException):
    """Raised inside a worker when one file exceeds its time limit.

    A BaseException so that no ``except Exception`` inside a tool can swallow it.
    """


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


# --- inside a formatting worker --------------------------------------------------------------

_PIPELINE: Pipeline | None = None
_FILE_TIMEOUT = 0.0
_HEADROOM = 0
_TIMED = False  # --profile: each outcome carries its seconds
_GC_ALLOWANCE = 0  # bytes of growth since the last collection that trigger the next one
_COLLECTED_AT = 0  # resident bytes just after the last collection
_UNCOLLECTED = 0  # files formatted since the last collection


def _on_alarm(_signum: int, _frame: FrameType | None) -> None:
    raise FileTimeout(f"took longer than the per-file limit of {_FILE_TIMEOUT:g}s; left as is")


def prime(root: Path, keep_unused_imports: bool = False) -> Pipeline:
    """Build the pipeline in this process (raising ConfigError on bad tool settings).

    Forked workers inherit it, so each does not import and configure the tools again.
    """
    global _PIPELINE
    _PIPELINE = Pipeline(Path(root), keep_unused_imports)
    return _PIPELINE


def init_worker(
    root: str,
    file_timeout: float,
    headroom: int = 0,
    keep_unused_imports: bool = False,
    timed: bool = False,
) -> None:
    """Pool initializer: signals as the parent wants, tools imported and configured once,
    (``headroom`` > 0) at most that many bytes more address space than now, and
    (``timed``) each file's seconds measured."""
    from routine_workflow.procs.children import worker_initializer

    global _FILE_TIMEOUT, _HEADROOM, _TIMED, _GC_ALLOWANCE
    worker_initializer()
    _FILE_TIMEOUT = file_timeout
    _TIMED = timed
    _HEADROOM = headroom if headroom > 0 and _limit_memory(headroom) else 0
    signal.signal(signal.SIGALRM, _on_alarm)
    if (
        _PIPELINE is None
        or _PIPELINE.root != Path(root).resolve()
        or _PIPELINE.keep_unused_imports != keep_unused_imports
    ):
        prime(
            Path(root), keep_unused_imports
        )  # not forked from a primed parent (spawn start method)
    # black builds large trees full of reference cycles; the cyclic collector running
    # during formatting traverses them again and again (docs/reformat.md, "Measured").
    # Workers collect between files instead, once the garbage reaches ``GC_BUDGET``,
    # with the imported modules frozen out of every collection.
    _GC_ALLOWANCE = min(GC_BUDGET, _HEADROOM // GC_SHARE) if _HEADROOM else GC_BUDGET
    _collect()
    gc.freeze()
    gc.disable()


def process_batch(paths: list[str]) -> list[Outcome]:
    """Worker entry point: each file of a batch, each under its own time limit.

    Timed (``--profile``), each outcome has its ``seconds``: from the end of the previous
    file (one clock read per file), including the collection after it, which that file's
    trees made necessary. Untimed, no clock is read.
    """
    pipeline = _PIPELINE
    if pipeline is None:
        raise RuntimeError("process_batch() runs in a pool whose initializer is init_worker()")
    outcomes = []
    mark = time.monotonic() if _TIMED else 0.0
    for path in paths:
        outcome = _process_one(pipeline, path)
        if outcome.reason == OUT_OF_MEMORY and _UNCOLLECTED:
            # The garbage of earlier files may be what left too little room: try once more
            # with none.
            _collect()
            outcome = _process_one(pipeline, path)
        _collect_if_grown()
        if outcome.reason == OUT_OF_MEMORY and _HEADROOM:
            reason = (
                f"out of memory (a reformat worker may grow by {_HEADROOM >> 20} MB); left as is"
            )
            outcome = dataclasses.replace(outcome, reason=reason)
        if _TIMED:
            now = time.monotonic()
            outcome = dataclasses.replace(outcome, seconds=now - mark)
            mark = now
        outcomes.append(outcome)
    return outcomes


def _process_one(pipeline: Pipeline, path: str) -> Outcome:
    """``pipeline.process(path)`` under the per-file time limit; never raises for the file."""
    global _UNCOLLECTED
    _UNCOLLECTED += 1
    if _FILE_TIMEOUT > 0:
        signal.setitimer(signal.ITIMER_REAL, _FILE_TIMEOUT)
    try:
        return pipeline.process(path)
    except FileTimeout as exc:
        return Outcome(path, FAILED, reason=str(exc), cacheable=False)
    except MemoryError:  # reading it, say: the tools' own are the pipeline's outcome
        return Outcome(path, FAILED, reason=OUT_OF_MEMORY, cacheable=False)
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)


def _collect_if_grown() -> None:
    """Collect garbage if this worker has grown by ``_GC_ALLOWANCE`` since the last time
    (after every file where its size cannot be read)."""
    resident = _resident_bytes()
    if resident is None or resident - _COLLECTED_AT > _GC_ALLOWANCE:
        _collect()


def _collect() -> None:
    global _COLLECTED_AT, _UNCOLLECTED
    gc.collect()
    _COLLECTED_AT = _resident_bytes() or 0
    _UNCOLLECTED = 0


def _resident_bytes() -> int | None:
    """This process's resident memory (None where ``/proc`` does not tell)."""
    try:
        with open("/proc/self/statm", "rb") as statm:
            return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")
    except (OSError, ValueError, IndexError, AttributeError):
        return None


def memory_headroom(max_file_size: int, workers: int) -> int:
    """How many bytes a formatting worker may grow by: enough for the largest file it may
    get (``MEMORY_PER_SOURCE_BYTE``, at least ``MIN_HEADROOM``), but never more than its
    share of the machine's memory, so that ``workers`` of them cannot exhaust it. 0: unknown
    (no limit)."""
    try:
        total = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES")
    except (AttributeError, ValueError, OSError):  # not a POSIX system
        total = 0
    share = total // (max(1, workers) + 1)
    if not max_file_size:
        return share
    wanted = max(MIN_HEADROOM, MEMORY_PER_SOURCE_BYTE * max_file_size)
    return min(wanted, share) if share else wanted


def _limit_memory(headroom: int) -> bool:
    """Cap this process's address space at its current size plus ``headroom`` (a
    MemoryError, reported per file, instead of a machine driven into swap or the OOM
    killer). False where the platform does not enforce such a limit."""
    try:
        import resource

        import psutil

        limit = psutil.Process().memory_info().vms + headroom
        soft, hard = resource.getrlimit(resource.RLIMIT_AS)
        if hard != resource.RLIM_INFINITY:
            limit = min(limit, hard)
        if soft == resource.RLIM_INFINITY or soft > limit:
            resource.setrlimit(resource.RLIMIT_AS, (limit, hard))
    except (ImportError, AttributeError, ValueError, OSError):
        return False
    return True


def worker_pid() -> int:
    """The worker's pid (lets the parent warm the pool up and tests see the workers)."""
    return os.getpid()


# --- the formatting pool ---------------------------------------------------------------------


def run_pool(
    root: Path,
    todo: Sequence[tuple[str, int]],
    workers: int,
    file_timeout: float,
    headroom: int = 0,
    keep_unused_imports: bool = False,
    timed: bool = False,
) -> Iterator[Outcome]:
    """Outcomes of every file in ``todo`` ((path, size) pairs), as workers finish them;
    each worker may grow by ``headroom`` bytes (0: no limit); ``keep_unused_imports``:
    autoflake removes none (``watch``); ``timed``: with ``seconds``."""
    from concurrent.futures import as_completed
    from concurrent.futures.process import BrokenProcessPool

    from routine_workflow.procs.children import kill_children_unreaped

    # Configure the tools here first: a bad [tool.black] is one clear error, and forked
    # workers inherit the imported, configured pipeline instead of importing it again.
    prime(root, keep_unused_imports)
    groups = batches(todo)
    pool = _pool(
        max(1, min(workers, len(groups))),
        init_worker,
        (str(root), file_timeout, headroom, keep_unused_imports, timed),
    )
    futures: dict[Future[list[Outcome]], list[str]] = {
        pool.submit(process_batch, group): group for group in groups
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


def _pool(
    workers: int, initializer: Callable[..., object], initargs: tuple[object, ...] = ()
) -> ProcessPoolExecutor:
    """A process pool that forks where it can (workers inherit what the parent imported)."""
    import multiprocessing
    from concurrent.futures import ProcessPoolExecutor

    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context("fork" if "fork" in methods else None)
    return ProcessPoolExecutor(
        max_workers=workers, mp_context=context, initializer=initializer, initargs=initargs
    )


# --- compile() checks (the ruff engine's) ----------------------------------------------------


def compile_problems(items: list[tuple[str, bytes]]) -> list[str]:
    """Why each (path, source) does not compile with this interpreter ("" if it does)."""
    out = []
    for path, data in items:
        try:
            out.append(compile_error(decode(data)[1], path))
        except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
            out.append(one_line(exc))
    return out


def check_files(items: list[tuple[str, str, str]]) -> list[str | None]:
    """Worker: ``compile_problems`` of (name, file to read, expected sha256) items.

    Workers read the files themselves, so only names cross the pipe (a pipe full of
    sources would block the pool's feeder thread forever once its workers are killed).
    None: the file no longer holds the expected bytes; the parent checks its own copy.
    """
    out: list[str | None] = []
    for name, where, digest in items:
        try:
            data = Path(where).read_bytes()
        except OSError:
            data = b""
        out.append(compile_problems([(name, data)])[0] if digest_bytes(data) == digest else None)
    return out


class Checker:
    """``compile()`` checks, in a process pool (started on first need) when there are many."""

    def __init__(self, workers: int) -> None:
        self.workers = max(1, workers)
        self.pool: ProcessPoolExecutor | None = None

    def __enter__(self) -> Checker:
        return self

    def __exit__(self, kind: object, exc: object, tb: object) -> None:
        if self.pool is not None:
            if exc is not None and not isinstance(exc, Exception):
                from routine_workflow.procs.children import kill_children_unreaped

                kill_children_unreaped()  # interrupted: don't wait for the checks in flight
            self.pool.shutdown(wait=True)

    def start(self, size: int) -> None:
        """Start the workers now if checking ``size`` bytes of sources is worth a pool."""
        if self.workers == 1 or size < POOL_BYTES:
            return
        from routine_workflow.procs.children import worker_initializer

        self.pool = _pool(self.workers, worker_initializer)
        # The first task makes the executor start every worker (with fork, all at once).
        self.pool.submit(int).result()

    def problems(self, items: list[tuple[str, Path, bytes]]) -> dict[str, str]:
        """Name -> why its source does not compile ("" if it does), for (name, a file
        holding the source, the source) items."""
        if self.pool is None or sum(len(data) for _, _, data in items) < POOL_BYTES:
            pairs = [(name, data) for name, _, data in items]
            return dict(zip((name for name, _ in pairs), compile_problems(pairs), strict=True))
        by_name = {name: (str(where), data) for name, where, data in items}
        groups = batches([(name, len(data)) for name, _, data in items])
        chunks = [[(n, by_name[n][0], digest_bytes(by_name[n][1])) for n in g] for g in groups]
        # Futures, not pool.map: map cancels what is pending when interrupted, racing the
        # executor (which fails them as "broken" once we kill the workers) into a traceback.
        futures = [self.pool.submit(check_files, chunk) for chunk in chunks]
        found: dict[str, str] = {}
        for chunk, future in zip(chunks, futures, strict=True):
            for (name, _, _), problem in zip(chunk, future.result(), strict=True):
                if problem is None:  # changed under the worker: check our own copy
                    problem = compile_problems([(name, by_name[name][1])])[0]
                found[name] = problem
        return found
