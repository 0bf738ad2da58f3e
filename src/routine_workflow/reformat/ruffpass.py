"""One pass of the ruff engine: ``ruff check --fix --select F401,I``, then ``ruff format``.

``outcomes`` turns the files that need work into ``Outcome``\\ s, as ``pipeline`` does
for black. ruff runs on the project's own files, from the project root, so that it sees
the tree as the user's ``ruff check --fix --select F401,I . && ruff format .`` does —
which modules are first-party depends on what exists in it (issue 13) — and writes
nothing there (``--diff``):

1. each file is read and hashed; it must be UTF-8 (all ruff reads), else it is failed;
2. ``ruff check --show-files .`` tells which files ruff's own settings leave out
   (*excluded*); a broken ruff configuration is exit 2 here, before anything is written;
3. meanwhile, ``ruff check --fix --select F401,I --diff`` on the files, all at once
   (ruff is multi-threaded itself); each diff is applied to the bytes that were read
   (``unidiff``: exactly, or not at all — a file whose diff cannot be applied exactly
   goes through ``ruff check --fix --stdin-filename <its path> -``, one process each);
4. ``ruff format --diff`` on the real files for those check left alone; the others'
   content exists only here, so they are formatted in a temporary *mirror* (``ruff.Mirror``,
   with every ruff configuration file at its place): formatting depends on the
   configuration and the path alone, never on what else is in the tree;
5. every output that differs from its input is compiled (in worker processes when there
   is much of it); one that does not compile is failed and left as it is.

Nothing in the project is written here: ``run`` writes changed files atomically, and
only if they still hold the bytes that were read.
"""

from __future__ import annotations

import io
import logging
import os
import tempfile
import tokenize
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.errors import ConfigError, RoutineError
from routine_workflow.reformat import unidiff
from routine_workflow.reformat.pipeline import (
    CHANGED,
    EXCLUDED,
    FAILED,
    UNCHANGED,
    Outcome,
    decode,
    digest_bytes,
    one_line,
    unreadable,
)
from routine_workflow.reformat.ruff import (
    EXCLUDED_REASON,
    SELECT,
    Mirror,
    Ruff,
    cause,
    file_problem,
    run_ruff,
    timeout_reason,
)

#: Bytes of file names per ruff command line (far below any system's limit).
ARGS_BYTES = 64 * 1024
ODD_NAME = "excluded: the ruff engine leaves files whose names are not UTF-8 or hold line breaks"
FORMAT = ["format", "--no-cache"]


@dataclass
class _File:
    """One file ruff works on: what was read, and what it has become so far."""

    path: str
    rel: str
    data: bytes
    digest: str
    encoding: str
    now: bytes  # after the stages run so far
    failure: str = ""
    cacheable: bool = True


def outcomes(
    ruff: Ruff,
    root: Path,
    paths: Sequence[str],
    configs: Iterable[Path],
    timeout: float,
    log: logging.Logger,
    workers: int = 1,
    select: str = SELECT,
) -> Iterator[Outcome]:
    """The outcome of every file in ``paths`` (absolute, under ``root``); ``select``: the
    rules ``ruff check --fix`` fixes."""
    files: list[_File] = []
    for path in paths:
        outcome, data = _read(path)
        if outcome.status != UNCHANGED:  # failed or vanished
            yield outcome
            continue
        rel = relative(path, root)
        files.append(_File(path, rel, data, outcome.digest, outcome.encoding, data))
    if not files:
        return
    run = _Pass(ruff, root, list(configs), timeout, log, select)
    listed = _listed_while_checking(run, [f for f in files if not _odd_name(f.rel)])
    active: list[_File] = []
    for item in files:
        if listed is None:
            item.failure, item.cacheable = timeout_reason(timeout), False
        elif item.rel not in listed:
            reason = ODD_NAME if _odd_name(item.rel) else EXCLUDED_REASON
            yield Outcome(item.path, EXCLUDED, item.digest, reason=reason)
            continue
        active.append(item)
    run.format([f for f in active if not f.failure])
    yield from _results(active, workers)


def _listed_while_checking(run: _Pass, files: list[_File]) -> set[str] | None:
    """``_listed``, while ``ruff check`` already works on ``files`` in a thread (its
    results for files ruff turns out to exclude are simply not used). A broken
    configuration is reported as such, whatever check made of it."""
    with ThreadPoolExecutor(1, thread_name_prefix="ruff") as thread:
        checking = thread.submit(run.check, files)
        try:
            try:
                listed = _listed(run.ruff, run.root, run.timeout, run.log)
            finally:
                checking.exception()  # wait for it, whatever happened here
        except Exception:
            raise
        except BaseException:  # interrupted: ruff too, or the thread would wait for it
            from routine_workflow.procs.children import kill_children_unreaped

            kill_children_unreaped()
            raise
        checking.result()  # check's own error, if it had one
    return listed


def relative(path: str, root: Path) -> str:
    """``path`` relative to ``root``, with ``/``: ``os.path.relpath``'s answer, without its
    cost (two ``abspath``) for the usual case, a clean path below the root."""
    prefix = os.path.join(str(root), "")
    rest = path[len(prefix) :]
    if path.startswith(prefix) and os.path.normpath(rest) == rest and not os.path.isabs(rest):
        return rest.replace(os.sep, "/")
    return os.path.relpath(path, root).replace(os.sep, "/")


def _read(path: str) -> tuple[Outcome, bytes]:
    """Read one file: (a failed or vanished Outcome if ruff cannot have it (unreadable, gone,
    not UTF-8), else an unchanged one with its digest and encoding; the bytes)."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        return unreadable(path, exc), b""
    digest = digest_bytes(data)
    try:
        encoding = decode(data)[0]
    except (SyntaxError, LookupError, UnicodeDecodeError) as exc:
        return Outcome(path, FAILED, digest, reason=f"cannot decode: {one_line(exc)}"), b""
    try:
        if encoding not in _UTF8:  # else decoding it just now was the UTF-8 check
            data.decode("utf-8")
    except UnicodeDecodeError:
        reason = f"cannot decode: ruff reads only UTF-8 (this file is {encoding})"
        return Outcome(path, FAILED, digest, reason=reason, encoding=encoding), b""
    return Outcome(path, UNCHANGED, digest, encoding=encoding), data


#: Encodings whose decoding proves a file is UTF-8 (``utf-8-sig`` only drops a BOM).
_UTF8 = ("utf-8", "utf-8-sig")


def _odd_name(rel: str) -> bool:
    """A name ruff's line-by-line output cannot carry exactly."""
    if "\n" in rel or "\r" in rel:
        return True
    try:
        rel.encode("utf-8")
    except UnicodeEncodeError:  # undecodable bytes, kept as surrogates
        return True
    return False


def _listed(ruff: Ruff, root: Path, timeout: float, log: logging.Logger) -> set[str] | None:
    """The files ``ruff check .`` looks at in the project, relative to it (None on a
    time-out). Also where a broken ruff configuration surfaces: exit 2, nothing touched."""
    code, out, err = run_ruff([ruff.exe, "check", "--show-files", "."], root, timeout, log)
    if code is None:
        return None
    if code != 0:
        raise ConfigError(f"ruff configuration: {cause(err.decode('utf-8', 'replace'))}")
    # ruff prints absolute paths from its working directory, which the OS gives resolved.
    base = os.path.realpath(root) + os.sep
    text = out.decode("utf-8", "surrogateescape")
    return {
        line[len(base) :].replace(os.sep, "/")
        for line in text.splitlines()
        if line.startswith(base)
    }


class _Pass:
    """The two ruff stages over a set of files, each leaving its result in ``_File.now``."""

    def __init__(
        self,
        ruff: Ruff,
        root: Path,
        configs: list[Path],
        timeout: float,
        log: logging.Logger,
        select: str,
    ) -> None:
        self.ruff, self.root, self.configs = ruff, root, configs
        self.timeout, self.log = timeout, log
        self.check_argv = ["check", "--fix", "--select", select, "--no-cache"]

    def check(self, files: list[_File]) -> None:
        """``ruff check --fix`` on the real files (``--diff``); stdin for the rest."""
        leftover = self._diffs(self.check_argv, [f for f in files if unidiff.splittable(f.data)])
        leftover += [f for f in files if not unidiff.splittable(f.data)]
        for item in leftover:
            self._check_stdin(item)

    def format(self, files: list[_File]) -> None:
        """``ruff format``: on the real files where check changed nothing, else in a mirror."""
        untouched = [f for f in files if f.now is f.data and unidiff.splittable(f.data)]
        chosen = {id(f) for f in untouched}
        leftover = self._diffs(FORMAT, untouched)
        self._format_in_mirror([f for f in files if id(f) not in chosen] + leftover)

    def _diffs(self, stage: list[str], files: list[_File]) -> list[_File]:
        """Run ``ruff <stage> --diff`` on ``files`` in the project root and apply each diff;
        the files whose diff could not be applied exactly (to be done another way)."""
        leftover: list[_File] = []
        for chunk in _chunks(files):
            argv = [self.ruff.exe, *stage, "--diff", "--", *(f.rel for f in chunk)]
            code, out, err = run_ruff(argv, self.root, self.timeout, self.log)
            by_rel = {f.rel: f for f in chunk}
            if not self._failures(code, err, by_rel, stage[0]):
                continue
            try:
                hunks = unidiff.parse(out, by_rel)
            except unidiff.Unparsable as exc:
                self.log.debug("ruff %s --diff: %s", stage[0], exc, extra={"event": "ruff_diff"})
                leftover += [f for f in chunk if not f.failure]
                continue
            for rel, found in hunks.items():
                item = by_rel[rel]
                try:
                    item.now = unidiff.apply(item.now, found)
                except unidiff.Unparsable:
                    leftover.append(item)
        return leftover

    def _failures(self, code: int | None, err: bytes, by_rel: dict[str, _File], verb: str) -> bool:
        """Mark the files ruff reported it could not handle; False if none can go on (a
        time-out). Raises RoutineError when ruff failed as a whole."""
        if code is None:
            for item in by_rel.values():
                item.failure, item.cacheable = timeout_reason(self.timeout), False
            return False
        text = err.decode("utf-8", "replace")
        found = 0
        for line in text.splitlines():
            hit = file_problem(line, by_rel)
            if hit is not None and not by_rel[hit[0]].failure:
                by_rel[hit[0]].failure = hit[1]
                found += 1
        # check exits 1 for what it would fix; 2 is an error.
        if code >= 2 and not found:
            raise RoutineError(f"ruff {verb}: {cause(text)}")
        return True

    def _check_stdin(self, item: _File) -> None:
        argv = [self.ruff.exe, *self.check_argv, "--stdin-filename", item.rel, "-"]
        code, out, err = run_ruff(argv, self.root, self.timeout, self.log, stdin=item.data)
        if self._failures(code, err, {item.rel: item}, "check") and not item.failure:
            item.now = out

    def _format_in_mirror(self, files: list[_File]) -> None:
        files = [f for f in files if not f.failure]
        if not files:
            return
        with tempfile.TemporaryDirectory(prefix="rw-ruff-") as tmp:
            # Resolved: ruff prints paths by their real name (/tmp may be a symlink).
            mirror = Mirror(Path(tmp).resolve())
            for config in self.configs:
                mirror.copy(config)
            for item in files:
                mirror.write(Path(item.path), item.now)
            cwd = mirror.of(self.root)
            for chunk in _chunks(files):
                argv = [self.ruff.exe, *FORMAT, "--", *(f.rel for f in chunk)]
                code, _out, err = run_ruff(argv, cwd, self.timeout, self.log)
                err = mirror.unmirror(err.decode("utf-8", "replace")).encode()
                if not self._failures(code, err, {f.rel: f for f in chunk}, "format"):
                    continue
                for item in chunk:
                    if not item.failure:
                        item.now = mirror.of(Path(item.path)).read_bytes()


def _chunks(files: list[_File]) -> Iterator[list[_File]]:
    """``files`` in groups whose names fit on one command line."""
    chunk: list[_File] = []
    size = 0
    for item in files:
        if chunk and size + len(item.rel) + 1 > ARGS_BYTES:
            yield chunk
            chunk, size = [], 0
        chunk.append(item)
        size += len(item.rel) + 1
    if chunk:
        yield chunk


# --- results ---------------------------------------------------------------------------------


def _results(files: list[_File], workers: int) -> Iterator[Outcome]:
    """One Outcome per file: failed, unchanged or changed (if its output compiles)."""
    from routine_workflow.reformat.workers import compile_problems

    changed = {f.path: f.now for f in files if not f.failure and f.now != f.data}
    problems = _compile(changed, workers)
    for item in files:
        if item.failure:
            # A file that does not compile says so rather than ruff's view of it.
            problem = compile_problems([(item.path, item.data)])[0]
            reason = f"does not compile: {problem}" if problem else item.failure
            yield Outcome(
                item.path,
                FAILED,
                item.digest,
                reason=reason,
                encoding=item.encoding,
                cacheable=item.cacheable,
            )
        elif item.path not in changed:
            yield Outcome(item.path, UNCHANGED, item.digest, encoding=item.encoding)
        elif problems[item.path]:
            original = compile_problems([(item.path, item.data)])[0]
            reason = (
                f"does not compile: {original}"
                if original
                else f"ruff's output would not compile ({problems[item.path]}); left as is"
            )
            yield Outcome(item.path, FAILED, item.digest, reason=reason, encoding=item.encoding)
        else:
            new = item.now
            yield Outcome(item.path, CHANGED, item.digest, new, encoding=_encoding(new))


def _encoding(data: bytes) -> str:
    """The encoding ``decode`` gives ``data`` (which compiled, so it decodes), without
    decoding it all again."""
    return tokenize.detect_encoding(io.BytesIO(data).readline)[0]


#: The sources a forked compile worker checks, by name: inherited, never sent down a pipe.
_SOURCES: dict[str, bytes] = {}


def _compile(sources: dict[str, bytes], workers: int) -> dict[str, str]:
    """Path -> why its source does not compile ("" if it does): in ``workers`` forked
    processes when there is enough source for them to pay, else here."""
    import multiprocessing

    from routine_workflow.reformat.workers import POOL_BYTES, compile_problems

    total = sum(len(data) for data in sources.values())
    forks = "fork" in multiprocessing.get_all_start_methods()
    if workers <= 1 or total < POOL_BYTES or not forks:
        items = list(sources.items())
        return dict(zip(sources, compile_problems(items), strict=True))
    from concurrent.futures import ProcessPoolExecutor

    from routine_workflow.procs.children import kill_children_unreaped, worker_initializer

    _SOURCES.clear()
    _SOURCES.update(sources)
    context = multiprocessing.get_context("fork")
    names = sorted(sources, key=lambda n: -len(sources[n]))
    groups: list[list[str]] = [names[i :: workers * 4] for i in range(workers * 4)]
    pool = ProcessPoolExecutor(workers, mp_context=context, initializer=worker_initializer)
    try:
        futures = [pool.submit(_compile_named, group) for group in groups if group]
        found: dict[str, str] = {}
        for future in futures:
            found.update(future.result())
    except BaseException:
        kill_children_unreaped()  # interrupted: do not wait for the checks in flight
        pool.shutdown(wait=True)
        raise
    finally:
        _SOURCES.clear()
    pool.shutdown(wait=True)
    return found


def _compile_named(names: list[str]) -> dict[str, str]:
    """Worker: ``compile_problems`` of the inherited sources ``names``."""
    from routine_workflow.reformat.workers import compile_problems

    return dict(zip(names, compile_problems([(n, _SOURCES[n]) for n in names]), strict=True))
