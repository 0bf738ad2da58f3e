"""The ``ruff`` reformat engine: ``ruff check --fix --select F401,I``, then ``ruff format``.

For users who prefer speed to black-exact output (``reformat_engine = "ruff"``). The
rest of the pass (discovery, cache, writes, report) is ``run``'s, which reaches this
module through ``engines.RuffEngine``; ``outcomes`` turns the files that need work into
``Outcome``\\ s, as ``pipeline`` does for black:

1. each file is read and hashed; it must be UTF-8 (all ruff reads) and compile with
   this interpreter, else it is failed and gets no tool at all;
2. the files that pass are copied into a temporary *mirror*: a directory that repeats
   the project's absolute path (``<tmp>/<absolute path of the project>/...``) and holds every ruff
   configuration file of the project and of its parent directories at its place (and
   what their ``extend`` settings point to). Relative paths, exclusion patterns, nested
   configurations and ``extend`` chains resolve in the mirror as in the project;
3. in the mirror's copy of the project root, ``ruff check --show-files .`` tells which
   files ruff's own settings leave out (*excluded*); then
   ``ruff check --fix --select F401,I .`` and ``ruff format .`` run there: the very
   commands a user types in the project root, on a copy, each over all files at once
   (ruff is multi-threaded itself);
4. each result is read back: the same bytes are *unchanged*; otherwise the output must
   compile, else the file is failed and left as it is.

Nothing in the project is written here: ``run`` writes changed files
atomically, and only if they still hold the bytes that were read.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.errors import ConfigError, RoutineError
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
from routine_workflow.reformat.workers import Checker

#: What ``ruff check --fix`` is asked to fix: unused imports (pyflakes' F401) and isort's rules.
SELECT = "F401,I"
#: Files ruff reads its settings from, at every directory level.
CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
#: A line of the source excerpt in an error message ("  |", "2 | line-length = ...").
_EXCERPT = re.compile(r"^\s*\d*\s*\|")
MISSING = 'reformat_engine = "ruff" needs ruff installed: pip install ruff'
EXCLUDED_REASON = "ruff: excluded by its settings (exclude, extend-exclude or include)"


def find_ruff() -> str:
    """The ruff executable: next to this interpreter (the environment we run from), else on PATH.

    Raises ConfigError with one actionable line when there is none.
    """
    local = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("ruff")
    if found is None:
        raise ConfigError(MISSING)
    return found


@dataclass(frozen=True)
class Ruff:
    """One ruff executable and its version."""

    exe: str
    version: str

    @classmethod
    def find(cls) -> Ruff:
        """The installed ruff (ConfigError if there is none or it does not run)."""
        exe = find_ruff()
        try:
            done = subprocess.run(
                [exe, "--version"], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"{exe} --version: {exc}") from None
        if done.returncode != 0:
            raise ConfigError(f"{exe} --version failed: {_first_line(done.stderr)}")
        return cls(exe, done.stdout.strip().removeprefix("ruff").strip())

    def versions(self) -> dict[str, str]:
        """What goes into the cache fingerprint: ruff's version and the interpreter's
        (which decides what compiles)."""
        return {"python": ".".join(str(p) for p in sys.version_info[:3]), "ruff": self.version}


def config_files(root: Path, nested: Iterable[Path]) -> list[Path]:
    """Every file ruff may read settings from for files under ``root``.

    ``nested`` are the configuration files found in the project (by discovery);
    to them come those of the parent directories, the user-level ones, and every
    file an ``extend`` setting points to, followed from file to file.
    """
    candidates = [*nested, *(d / n for d in root.parents for n in CONFIG_NAMES)]
    found: dict[Path, None] = {}
    while candidates:
        path = candidates.pop(0)
        if path in found or not path.is_file():
            continue
        found[path] = None
        target = _extends(path)
        if target is not None:
            candidates.append(target)
    return [*found, *(p for p in _user_configs() if p not in found)]


def _user_configs() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return [base / "ruff" / name for name in CONFIG_NAMES if (base / "ruff" / name).is_file()]


def _extends(path: Path) -> Path | None:
    """The file ``path``'s ``extend`` setting names, if any (relative to ``path``'s directory)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # ruff reports a broken file itself, as one configuration error
    table = data.get("tool", {}).get("ruff", {}) if path.name == "pyproject.toml" else data
    value = table.get("extend") if isinstance(table, dict) else None
    if not isinstance(value, str):
        return None
    return path.parent / os.path.expanduser(os.path.expandvars(value))


# --- one pass --------------------------------------------------------------------------------


@dataclass
class _Ready:
    """A file copied into the mirror: what was read, and how it decodes."""

    digest: str
    encoding: str


def outcomes(
    ruff: Ruff,
    root: Path,
    paths: Sequence[str],
    configs: Iterable[Path],
    timeout: float,
    log: logging.Logger,
    workers: int = 1,
) -> Iterator[Outcome]:
    """The outcome of every file in ``paths`` (absolute, under ``root``).

    ``compile()`` checks of what was read and of what ruff wrote run in ``workers``
    processes; those of the inputs while ruff works on the mirror.
    """
    with tempfile.TemporaryDirectory(prefix="rw-ruff-") as tmp, Checker(workers) as checker:
        # Resolved: ruff lists files by their real path (/tmp may be a symlink, as on macOS).
        mirror = Mirror(Path(tmp).resolve())
        for config in configs:
            mirror.copy(config)
        ready: dict[str, _Ready] = {}
        sources: list[tuple[str, Path, bytes]] = []
        for path in paths:
            outcome, data = _read(path)
            if outcome.status != UNCHANGED:  # failed or vanished
                yield outcome
                continue
            mirror.write(Path(path), data)
            ready[path] = _Ready(outcome.digest, outcome.encoding)
            sources.append((path, Path(path), data))
        if not ready:
            return
        # Workers are forked now, before the ruff thread exists: a fork taken while another
        # thread holds a lock (logging's, say) leaves that lock held forever in the child.
        checker.start(sum(len(data) for _, _, data in sources))
        with ThreadPoolExecutor(1, thread_name_prefix="ruff") as thread:
            try:
                running = thread.submit(_run_ruff, ruff, mirror, root, ready, timeout, log)
                broken = checker.problems(sources)
                listed, failures = running.result()
            except Exception:
                raise
            except BaseException:  # interrupted: ruff too, or the thread would wait for it
                _stop_children()
                raise
        del sources
        yield from _results(mirror, ready, broken, listed, failures, checker, timeout)


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
        data.decode("utf-8")
    except UnicodeDecodeError:
        reason = f"cannot decode: ruff reads only UTF-8 (this file is {encoding})"
        return Outcome(path, FAILED, digest, reason=reason, encoding=encoding), b""
    return Outcome(path, UNCHANGED, digest, encoding=encoding), data


def _results(
    mirror: Mirror,
    ready: dict[str, _Ready],
    broken: dict[str, str],
    listed: set[str] | None,
    failures: dict[str, str],
    checker: Checker,
    timeout: float,
) -> Iterator[Outcome]:
    """One Outcome per file ruff had: failed, excluded, unchanged or changed (if it compiles)."""
    changed: dict[str, bytes] = {}
    for path, item in ready.items():
        if broken[path]:
            reason = f"does not compile: {broken[path]}"
            yield Outcome(path, FAILED, item.digest, reason=reason, encoding=item.encoding)
        elif path in failures:
            cacheable = failures[path] != _timeout_reason(timeout)
            yield Outcome(
                path,
                FAILED,
                item.digest,
                reason=failures[path],
                encoding=item.encoding,
                cacheable=cacheable,
            )
        elif listed is not None and str(mirror.of(Path(path))) not in listed:
            yield Outcome(path, EXCLUDED, item.digest, reason=EXCLUDED_REASON)
        else:
            new = mirror.of(Path(path)).read_bytes()
            if digest_bytes(new) == item.digest:
                yield Outcome(path, UNCHANGED, item.digest, encoding=item.encoding)
            else:
                changed[path] = new
    # Never accept output that does not compile (the input did).
    problems = checker.problems([(p, mirror.of(Path(p)), new) for p, new in changed.items()])
    for path, new in changed.items():
        item = ready[path]
        if problems[path]:
            reason = f"ruff's output would not compile ({problems[path]}); left as is"
            yield Outcome(path, FAILED, item.digest, reason=reason, encoding=item.encoding)
        else:
            yield Outcome(path, CHANGED, item.digest, new, encoding=decode(new)[0])


def _run_ruff(
    ruff: Ruff,
    mirror: Mirror,
    root: Path,
    ready: dict[str, _Ready],
    timeout: float,
    log: logging.Logger,
) -> tuple[set[str] | None, dict[str, str]]:
    """Run ruff in the mirror: (the files it looks at, or None on a time-out; failures)."""
    cwd = mirror.of(root)
    listed = _show_files(ruff, mirror, cwd, timeout, log)
    if listed is None:
        return None, dict.fromkeys(ready, _timeout_reason(timeout))
    failures: dict[str, str] = {}
    for command in (
        [
            ruff.exe,
            "check",
            "--fix",
            "--select",
            SELECT,
            "--no-cache",
            "--output-format",
            "concise",
            ".",
        ],
        [ruff.exe, "format", "--no-cache", "."],
    ):
        failures.update(_run_stage(command, mirror, cwd, ready, failures, timeout, log))
    return listed, failures


def _show_files(
    ruff: Ruff, mirror: Mirror, cwd: Path, timeout: float, log: logging.Logger
) -> set[str] | None:
    """The files ``ruff check .`` would look at in the mirror (None on a time-out).

    Also where a broken ruff configuration surfaces: exit 2 before any file is touched.
    """
    code, out, err = _run([ruff.exe, "check", "--show-files", "."], cwd, timeout, log)
    if code is None:
        return None
    if code != 0:
        raise ConfigError(f"ruff configuration: {_cause(mirror.unmirror(err))}")
    return set(out.splitlines())


def _run_stage(
    argv: list[str],
    mirror: Mirror,
    cwd: Path,
    ready: dict[str, _Ready],
    failed: dict[str, str],
    timeout: float,
    log: logging.Logger,
) -> dict[str, str]:
    """Run one ruff command in the mirror; the files it failed on, with the reason."""
    code, _out, err = _run(argv, cwd, timeout, log)
    if code is None:
        return dict.fromkeys(ready, _timeout_reason(timeout))
    # Per-file problems: "error: Failed to format a/b.py: <why>" (paths relative to cwd).
    by_rel = {mirror.of(Path(p)).relative_to(cwd).as_posix(): p for p in ready}
    found: dict[str, str] = {}
    for line in err.splitlines():
        hit = _file_problem(line, by_rel)
        if hit is not None and hit[0] not in failed:
            found[hit[0]] = hit[1]
    # check exits 1 for violations it cannot fix (F401 in an __init__.py, say); 2 is an error.
    if code >= 2 and not found:
        raise RoutineError(f"ruff {argv[1]}: {_cause(mirror.unmirror(err))}")
    return found


def _file_problem(line: str, by_rel: dict[str, str]) -> tuple[str, str] | None:
    """(path, reason) if ``line`` is ruff's report of a problem with one of our files."""
    for prefix in ("error: Failed to ", "warning: Failed to "):
        if not line.startswith(prefix):
            continue
        verb, _, rest = line[len(prefix) :].partition(" ")
        # The path may contain ": " itself; try each split until one names a file of ours.
        at = rest.find(":")
        while at >= 0:
            if rest[:at] in by_rel:
                return by_rel[rest[:at]], f"ruff cannot {verb} it:{rest[at + 1 :]}"
            at = rest.find(":", at + 1)
    return None


def _timeout_reason(timeout: float) -> str:
    return f"ruff took longer than the limit of {timeout:g}s; left as is"


def _stop_children() -> None:
    """Kill ruff and the pool's workers, leaving their reaping to their owners."""
    from routine_workflow.procs.children import kill_children_unreaped

    kill_children_unreaped()


# --- the mirror ------------------------------------------------------------------------------


class Mirror:
    """A temporary directory that repeats absolute paths below itself."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def of(self, path: Path) -> Path:
        """Where ``path`` (absolute) lives in the mirror."""
        return self.base / path.relative_to(path.anchor)

    def write(self, path: Path, data: bytes) -> None:
        """Put ``data`` at ``path``'s place in the mirror."""
        target = self.of(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def copy(self, path: Path) -> None:
        """Copy one configuration file to its place (a vanished one is simply left out)."""
        with contextlib.suppress(OSError):
            self.write(path, path.read_bytes())

    def unmirror(self, text: str) -> str:
        """``text`` with mirrored paths turned back into the project's own."""
        return text.replace(str(self.base) + os.sep, os.sep)


def _run(
    argv: Sequence[str], cwd: Path, timeout: float, log: logging.Logger
) -> tuple[int | None, str, str]:
    """(exit code or None on a time-out, stdout, stderr) of one ruff command, which never
    outlives the run (``procs.run_captured``)."""
    from routine_workflow.procs.children import run_captured

    log.debug("running %s in %s", " ".join(argv), cwd, extra={"event": "ruff_start"})
    code, out, err = run_captured(argv, cwd, timeout)
    text = err.decode("utf-8", "replace")
    for line in text.splitlines():
        log.debug("ruff | %s", line, extra={"event": "ruff_output"})
    return code, out.decode("utf-8", "surrogateescape"), text


def _cause(stderr: str) -> str:
    """ruff's error output as one line: its "Cause:" lines and the final message, without
    the "ruff failed" header and the source excerpt of a TOML error."""
    useful = [
        line.strip().removeprefix("Cause:").strip()
        for line in stderr.splitlines()
        if line.strip() and line.strip() != "ruff failed" and not _EXCERPT.match(line)
    ]
    return "; ".join(useful)[:500] or "ruff failed"


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "").strip()
