"""Step clean_caches: remove caches such as ``__pycache__`` and ``.pytest_cache``.

What may go is decided in three phases, and nothing is removed before all three are done:

1. **One walk** of the project (``os.scandir``, symlinks never followed) collects
   *candidates*: entries whose name matches a pattern. It never enters ``.git``,
   virtualenvs, build output, the tool's own directories or ``exclude_patterns``
   (the decisions come from ``Discovery``), and it does not descend into a
   candidate directory. ``.gitignore`` does not protect anything here: caches are
   normally git-ignored, and that is exactly what we remove.
2. **git is asked once** per repository (``git ls-files -z``) which files it
   tracks. A tracked file is never removed; a cache directory holding one is
   not removed wholesale, only its untracked parts are.
3. Each candidate directory is scanned (sizes, and anything that must survive
   inside it: tracked files, a ``.git``, a virtualenv), giving the final list of
   *targets*. A dry run lists them with sizes; a real run removes them, each
   checked again to be inside the root and unchanged in kind.

A target that cannot be removed (permissions, busy) is reported by path and the
step goes on; the step then ends ``failed``, because something that should have
gone is still there. Caches that git tracks are *kept* on purpose and do not fail it.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import os
import re
import shutil
import stat
import sys
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import VCS_DIRS, Discovery
from routine_workflow.errors import ConfigError, RoutineError
from routine_workflow.fsutil import UnsafePath, human_size
from routine_workflow.steps.base import Status, Step, StepContext, StepResult
from routine_workflow.steps.script import ScriptStep

NAME = "clean_caches"
DESCRIPTION = "Remove caches such as __pycache__ and .pytest_cache."

#: Patterns that name directories only: a *file* called ``__pycache__`` or ``htmlcov`` is
#: somebody's file, not a cache. A user pattern ending in ``/`` means the same.
DIR_ONLY = frozenset(
    {
        "__pycache__",
        ".pytest_cache",
        ".mypy_cache",
        ".ruff_cache",
        ".hypothesis",
        "htmlcov",
        ".tox",
        ".nox",
        "*.egg-info",
        ".ipynb_checkpoints",
        ".eggs",
    }
)
#: Patterns that name files only (a directory called ``x.pyc`` is left alone).
FILE_ONLY = frozenset({"*.pyc", "*.pyo", ".coverage", ".coverage.*", "*$py.class"})
#: Patterns made only of these characters would match (nearly) everything.
_TOO_BROAD = re.compile(r"[*?./\[\]!]*")

#: How many paths a detail list shows before saying "... and N more".
MAX_LISTED = 50


# --- patterns ------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pattern:
    """One clean pattern: gitignore-like, matched against a name (or, with a ``/``, the path)."""

    text: str
    regex: re.Pattern[str]
    dirs: bool
    files: bool
    on_path: bool

    def matches(self, name: str, rel: str, is_dir: bool, is_link: bool) -> bool:
        """True if this pattern selects the entry (a symlink matches by name, not by target)."""
        if not is_link and not (self.dirs if is_dir else self.files):
            return False
        return self.regex.match(rel if self.on_path else name) is not None


def parse_pattern(text: str) -> Pattern:
    """Turn a configured pattern into a ``Pattern``; refuse ones that would match everything."""
    raw = text.strip()
    body = raw.rstrip("/").lstrip("/")
    if not body or _TOO_BROAD.fullmatch(body) or ".." in body.split("/"):
        raise ConfigError(
            f"clean_patterns: refusing pattern {text!r}: it would match (nearly) everything"
        )
    dirs_only = raw.endswith("/") or body in DIR_ONLY
    files_only = not raw.endswith("/") and body in FILE_ONLY
    return Pattern(
        text=raw,
        regex=re.compile(fnmatch.translate(body)),
        dirs=not files_only,
        files=not dirs_only,
        on_path="/" in body,
    )


def patterns_for(config: WorkflowConfig) -> list[Pattern]:
    """``clean_patterns`` then ``clean_extra_patterns``, duplicates dropped, order kept."""
    texts = dict.fromkeys([*config.clean_patterns, *config.clean_extra_patterns])
    return [parse_pattern(t) for t in texts]


class Matcher:
    """All patterns at once: one combined regex rejects most names in a single call."""

    def __init__(self, patterns: list[Pattern]) -> None:
        self.patterns = patterns
        by_name = [p.regex.pattern for p in patterns if not p.on_path]
        self._quick = re.compile("|".join(f"(?:{r})" for r in by_name)) if by_name else None
        self._on_path = any(p.on_path for p in patterns)

    def match(self, name: str, rel: str, is_dir: bool, is_link: bool) -> Pattern | None:
        """The first pattern selecting this entry, or None."""
        if not self._on_path and (self._quick is None or self._quick.match(name) is None):
            return None
        for pattern in self.patterns:
            if pattern.matches(name, rel, is_dir, is_link):
                return pattern
        return None


# --- phase 1: the walk ---------------------------------------------------------------------


@dataclass
class Candidate:
    """An entry whose name matched, before git and its content have had their say."""

    rel: str
    kind: str  # "dir" | "file" | "symlink"
    size: int
    pattern: str


@dataclass
class Scan:
    """What the walk found: candidates, nested repositories, directories it could not read."""

    candidates: list[Candidate] = field(default_factory=list)
    nested_repos: list[str] = field(default_factory=list)
    unreadable: list[str] = field(default_factory=list)


def scan_project(config: WorkflowConfig, matcher: Matcher) -> Scan:
    """Walk the project once, pruned at excluded directories; never follow a symlink.

    Directory decisions are ``Discovery``'s (``excluded_by_name``, exclude patterns),
    made here without building a ``Path`` per directory: paths under the resolved
    root are canonical because no symlink is followed, so the tool's own dirs are
    found by string comparison, and a virtualenv by ``pyvenv.cfg`` in the listing
    we read anyway.
    """
    discovery = Discovery(config, keep_caches=True, use_gitignore=False)
    user_excludes = bool(config.exclude_patterns)
    own = {str(p.resolve()) for p in config.own_dirs()}
    scan = Scan()
    stack: list[tuple[str, str]] = [(str(config.project_root), "")]
    while stack:
        directory, rel_dir = stack.pop()
        try:
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            scan.unreadable.append(f"{rel_dir or '.'}: {exc.strerror}")
            continue
        if rel_dir and _is_virtualenv(entries):
            continue
        for entry in entries:
            _visit(entry, rel_dir, scan, stack, matcher, discovery, user_excludes, own)
    return scan


def _is_virtualenv(entries: list[os.DirEntry[str]]) -> bool:
    return any(e.name == "pyvenv.cfg" and e.is_file(follow_symlinks=False) for e in entries)


def _visit(
    entry: os.DirEntry[str],
    rel_dir: str,
    scan: Scan,
    stack: list[tuple[str, str]],
    matcher: Matcher,
    discovery: Discovery,
    user_excludes: bool,
    own: set[str],
) -> None:
    """Decide about one entry of the walk: candidate, descend, or leave alone."""
    name = entry.name
    rel = f"{rel_dir}/{name}" if rel_dir else name
    if name in VCS_DIRS:  # .git (dir, or file in worktrees/submodules) is never touched
        if name == ".git" and rel_dir:
            scan.nested_repos.append(rel_dir)
        return
    try:
        is_link = entry.is_symlink()
        is_dir = not is_link and entry.is_dir(follow_symlinks=False)
    except OSError:  # pragma: no cover (d_type is known on the file systems we run on)
        return
    if user_excludes and discovery.ignored(rel, is_dir):
        return
    pattern = matcher.match(name, rel, is_dir, is_link)
    if is_dir:
        if entry.path in own:
            return
        if pattern is not None:  # a virtualenv inside is found when the candidate is scanned
            scan.candidates.append(Candidate(rel, "dir", 0, pattern.text))
        elif not discovery.excluded_by_name(name):
            stack.append((entry.path, rel))
    elif pattern is not None:
        scan.candidates.append(_file_candidate(entry, rel, is_link, pattern.text))


def _file_candidate(entry: os.DirEntry[str], rel: str, is_link: bool, pattern: str) -> Candidate:
    if is_link:
        return Candidate(rel, "symlink", 0, pattern)
    try:
        size = entry.stat(follow_symlinks=False).st_size
    except OSError:
        size = 0
    return Candidate(rel, "file", size, pattern)


# --- phases 2 and 3: what survives, what goes --------------------------------------------


@dataclass(frozen=True)
class Target:
    """One thing to remove: a whole directory, a file or a symlink."""

    rel: str
    kind: str
    size: int
    pattern: str
    #: For a directory of plain files only: their names, so removal need not list it again.
    flat: tuple[str, ...] | None = field(default=None, compare=False, repr=False)


@dataclass
class Plan:
    """The removal plan, and what was kept because git tracks it (or it must survive)."""

    targets: list[Target] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)


def _ancestors(rel: str) -> Iterator[str]:
    """``a/b/c`` -> ``a/b``, ``a``."""
    while "/" in rel:
        rel = rel.rsplit("/", 1)[0]
        yield rel


def make_plan(
    root: Path, candidates: Iterable[Candidate], tracked: set[str], own_dirs: set[Path]
) -> Plan:
    """Turn candidates into targets, leaving tracked files and what holds them."""
    plan = Plan()
    candidates = list(candidates)
    dir_rels = {c.rel for c in candidates if c.kind == "dir"}
    dir_names = {rel.rsplit("/", 1)[-1] for rel in dir_rels}
    tracked_inside: dict[str, set[str]] = {}
    for path in tracked:
        parts = path.split("/")
        if dir_names.isdisjoint(parts[:-1]):
            continue  # no candidate dir's name on its path: cheap test for the common case
        for parent in _ancestors(path):
            if parent in dir_rels:
                tracked_inside.setdefault(parent, set()).add(path)
    for cand in candidates:
        if cand.kind != "dir" or cand.rel in tracked:  # a tracked dir entry: a submodule
            if cand.rel in tracked:
                plan.kept.append(cand.rel)
            else:
                plan.targets.append(Target(cand.rel, cand.kind, cand.size, cand.pattern))
            continue
        _plan_dir(root, cand, tracked_inside.get(cand.rel, set()), own_dirs, plan)
    plan.targets.sort(key=lambda t: t.rel)
    plan.kept.sort()
    return plan


@dataclass
class _Tree:
    """A scanned candidate directory: children per directory, sizes per entry."""

    children: dict[str, list[tuple[str, str]]] = field(default_factory=dict)
    sizes: dict[str, int] = field(default_factory=dict)
    must_keep: set[str] = field(default_factory=set)

    def subtree_size(self, rel: str) -> int:
        return self.sizes.get(rel, 0) + sum(
            self.subtree_size(child) for child, _ in self.children.get(rel, ())
        )


def _scan_tree(root: Path, top: str, own_dirs: set[Path]) -> _Tree:
    """Everything under ``top`` (not following symlinks), noting what must survive there."""
    tree = _Tree()
    stack = [top]
    while stack:
        rel_dir = stack.pop()
        kids: list[tuple[str, str]] = []
        tree.children[rel_dir] = kids
        try:
            with os.scandir(root / rel_dir) as it:
                entries = list(it)
        except OSError:
            continue  # unreadable: removal will report it
        for entry in entries:
            rel = f"{rel_dir}/{entry.name}"
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            if stat.S_ISDIR(info.st_mode):
                kids.append((rel, "dir"))
                # Paths here are canonical (resolved root, symlinks never followed): no resolve().
                if entry.name in VCS_DIRS or Path(entry.path) in own_dirs:
                    tree.must_keep.add(rel)  # a repository or our own dir: never swept
                else:
                    stack.append(rel)
            else:
                kids.append((rel, "symlink" if stat.S_ISLNK(info.st_mode) else "file"))
                tree.sizes[rel] = info.st_size if stat.S_ISREG(info.st_mode) else 0
                if entry.name == "pyvenv.cfg" and stat.S_ISREG(info.st_mode):
                    tree.must_keep.add(rel_dir)  # a virtualenv is never a cache
    return tree


def _quick_size(top: str, own_dirs: set[Path]) -> tuple[int, tuple[str, ...] | None] | None:
    """(bytes, names if it holds only plain files) for a cache dir; None: use ``_scan_tree``.

    The common case (a ``__pycache__`` of plain files) costs one ``scandir`` and a
    ``stat`` per file, with no bookkeeping; a ``.git``, a virtualenv, one of our own
    dirs or an unreadable directory inside sends it to the careful scan.
    """
    total = 0
    names: list[str] | None = []
    stack = [top]
    while stack:
        try:
            with os.scandir(stack.pop()) as it:
                for entry in it:
                    if entry.is_dir(follow_symlinks=False):
                        if entry.name in VCS_DIRS or Path(entry.path) in own_dirs:
                            return None
                        stack.append(entry.path)
                        names = None
                    elif entry.name == "pyvenv.cfg":
                        return None
                    elif entry.is_file(follow_symlinks=False):
                        total += entry.stat(follow_symlinks=False).st_size
                        if names is not None:
                            names.append(entry.name)
                    else:
                        names = None  # symlinks and the like: rmtree handles them
        except OSError:
            return None
    return total, (tuple(names) if names is not None else None)


def _plan_dir(
    root: Path, cand: Candidate, tracked: set[str], own_dirs: set[Path], plan: Plan
) -> None:
    if not tracked:
        quick = _quick_size(str(root / cand.rel), own_dirs)
        if quick is not None:
            plan.targets.append(Target(cand.rel, "dir", quick[0], cand.pattern, quick[1]))
            return
    tree = _scan_tree(root, cand.rel, own_dirs)
    keep = tracked | tree.must_keep
    if not keep:
        plan.targets.append(Target(cand.rel, "dir", tree.subtree_size(cand.rel), cand.pattern))
        return
    if cand.rel in keep:  # the candidate itself is a virtualenv
        plan.kept.append(cand.rel)
        return
    plan.kept.extend(sorted(keep))
    holders = {a for k in keep for a in _ancestors(k)}

    def split(rel_dir: str) -> None:
        for rel, kind in tree.children.get(rel_dir, ()):
            if rel in keep:
                continue
            if rel in holders:
                split(rel)
            else:
                size = tree.subtree_size(rel)
                plan.targets.append(Target(rel, kind, size, cand.pattern))

    split(cand.rel)


# --- phase 4: removal ---------------------------------------------------------------------


@dataclass
class Outcome:
    """Per pattern: how many entries went and how many bytes they held; and what failed."""

    removed: dict[str, list[int]] = field(default_factory=dict)  # pattern -> [count, bytes]
    failures: list[str] = field(default_factory=list)

    def add(self, pattern: str, size: int) -> None:
        tally = self.removed.setdefault(pattern, [0, 0])
        tally[0] += 1
        tally[1] += size


_KIND_CHECK = {"dir": stat.S_ISDIR, "symlink": stat.S_ISLNK}


def remove_target(root: Path, target: Target) -> tuple[int, str | None]:
    """Remove one target; return (bytes freed, error or None). Never follows a symlink.

    ``root`` must be resolved (``config.project_root`` is). The target's parent is
    opened and must be exactly where the walk found it (a parent swapped for a
    symlink since the scan is refused); the target is then checked and removed
    relative to that open directory, so no later swap can redirect the removal.
    """
    path = root / target.rel
    parent, name = os.path.split(path)
    try:
        parent_fd = open_verified_dir(parent)
    except FileNotFoundError:
        return 0, None  # gone already (another process cleaned it): nothing to do
    except (OSError, RoutineError) as exc:
        return 0, str(exc)
    try:
        return _remove_at(parent_fd, name, path, target)
    finally:
        os.close(parent_fd)


def open_verified_dir(path: str) -> int:
    """A descriptor of directory ``path``, which must be canonical; UnsafePath if it is not.

    One ``open`` and, on Linux, one ``readlink`` of ``/proc/self/fd/N`` (what the
    kernel actually opened), instead of an ``lstat`` per path component.
    """
    try:
        fd = os.open(path, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW)
    except OSError as exc:
        if exc.errno in (errno.ELOOP, errno.ENOTDIR):  # a symlink (or file) in its place
            raise UnsafePath(f"{path}: refusing: no longer a directory (a symlink now?)") from None
        raise
    try:
        try:
            actual = os.readlink(f"/proc/self/fd/{fd}")
        except OSError:  # pragma: no cover (no /proc: not Linux)
            actual = os.path.realpath(path)
        if actual != path:
            raise UnsafePath(f"{path}: refusing: not where the scan found it (a symlink now?)")
    except BaseException:
        os.close(fd)
        raise
    return fd


def _remove_at(parent_fd: int, name: str, path: Path, target: Target) -> tuple[int, str | None]:
    try:
        info = os.lstat(name, dir_fd=parent_fd)
    except FileNotFoundError:
        return 0, None
    except OSError as exc:
        return 0, exc.strerror or str(exc)
    check = _KIND_CHECK.get(target.kind)
    if check is not None:
        same_kind = check(info.st_mode)
    else:  # a file (or fifo, socket): anything but a directory or a symlink
        same_kind = not (stat.S_ISDIR(info.st_mode) or stat.S_ISLNK(info.st_mode))
    if not same_kind:
        return 0, "changed since it was scanned; left alone"
    if target.kind != "dir":
        try:
            os.unlink(name, dir_fd=parent_fd)
        except OSError as exc:
            return 0, exc.strerror or str(exc)
        return target.size, None
    if target.flat is not None and _remove_flat(parent_fd, name, target.flat):
        return target.size, None
    errors: list[str] = []
    _rmtree(path, errors)
    if not errors:
        return target.size, None
    left = _remaining_size(path)
    return max(target.size - left, 0), errors[0]


def _remove_flat(parent_fd: int, name: str, names: tuple[str, ...]) -> bool:
    """Unlink the files the scan listed, then the directory; False if rmtree must finish.

    Everything is relative to open descriptors and the directory is opened with
    O_NOFOLLOW, so a directory swapped for a symlink since the scan is never entered.
    Anything unexpected (a new file, a permission error) leaves the rest to ``_rmtree``,
    which reports errors properly.
    """
    try:
        fd = os.open(name, os.O_RDONLY | os.O_DIRECTORY | os.O_NOFOLLOW, dir_fd=parent_fd)
    except OSError:
        return False
    try:
        for entry in names:
            os.unlink(entry, dir_fd=fd)
    except FileNotFoundError:
        pass  # someone else is cleaning too; rmtree finishes the job
    except OSError:
        return False
    finally:
        os.close(fd)
    try:
        os.rmdir(name, dir_fd=parent_fd)
    except OSError:
        return False
    return True


def _remove_all(
    root: Path, targets: list[Target], workers: int
) -> Iterator[tuple[Target, tuple[int, str | None]]]:
    """Remove targets in a few threads: deleting is system calls that wait on the disk.

    On an interruption (signal, timeout) queued removals are cancelled; the ones
    in flight finish (a half-removed cache directory is still just a cache).
    """
    from concurrent.futures import ThreadPoolExecutor

    pool = ThreadPoolExecutor(
        max_workers=max(1, min(workers, 4)), thread_name_prefix="clean_caches"
    )
    try:
        futures = [(t, pool.submit(remove_target, root, t)) for t in targets]
        for target, future in futures:
            yield target, future.result()
    finally:
        pool.shutdown(wait=True, cancel_futures=True)


def _rmtree(path: Path, errors: list[str]) -> None:
    """``shutil.rmtree`` that records every error and carries on (it never follows links)."""

    def record(_func: object, failed: str, exc: BaseException) -> None:
        reason = getattr(exc, "strerror", None) or str(exc)
        errors.append(f"{reason}: {failed}")

    if sys.version_info >= (3, 12):  # pragma: no cover (3.12+; onerror is deprecated there)
        shutil.rmtree(path, onexc=record)
    else:  # pragma: no cover (3.10 and 3.11)
        shutil.rmtree(path, onerror=lambda f, p, info: record(f, p, info[1]))


def _remaining_size(path: Path) -> int:
    from routine_workflow.fsutil import tree_size

    with contextlib.suppress(OSError):
        if os.path.lexists(path):
            return tree_size(path)
    return 0


# --- the step -------------------------------------------------------------------------------


def _limited(lines: list[str]) -> list[str]:
    if len(lines) <= MAX_LISTED:
        return lines
    return [*lines[:MAX_LISTED], f"... and {len(lines) - MAX_LISTED} more"]


@dataclass
class CleanCachesStep:
    """The built-in clean_caches step."""

    patterns: list[Pattern]
    name: str = NAME
    description: str = DESCRIPTION
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Find caches, keep what git tracks, then remove the rest (or list it in a dry run)."""
        from routine_workflow.clean.gitfiles import GitError, tracked_under

        config = ctx.config
        matcher = Matcher(self.patterns)
        scan = scan_project(config, matcher)
        if not scan.candidates:
            return StepResult(Status.OK, "nothing to clean", _unreadable(scan), {"removed": 0})
        try:
            tracked = tracked_under(ctx.root, scan.nested_repos)
        except GitError as exc:
            return StepResult.failed(f"nothing removed: {exc}")
        own = {p.resolve() for p in config.own_dirs()}
        plan = make_plan(ctx.root, scan.candidates, tracked, own)
        kept = [
            f"kept (git-tracked, or a repository/virtualenv inside a cache): {k}" for k in plan.kept
        ]
        if ctx.dry_run:
            result = _dry_run_result(plan, kept + _unreadable(scan))
            for line in result.details:  # the list is the point of a dry run: show it
                ctx.logger.info("%s", line, extra={"step": NAME})
            return result
        outcome = Outcome()
        for target, (freed, error) in _remove_all(ctx.root, plan.targets, config.max_workers):
            if error is None:
                outcome.add(target.pattern, freed)
                ctx.logger.debug(
                    "removed %s (%s)", target.rel, human_size(freed), extra={"step": NAME}
                )
            else:
                outcome.failures.append(f"could not remove {target.rel}: {error}")
                ctx.logger.warning("%s", outcome.failures[-1], extra={"step": NAME})
        return _result(outcome, plan, kept + _unreadable(scan))


def _unreadable(scan: Scan) -> list[str]:
    return [f"could not read {u}" for u in scan.unreadable]


def _dry_run_result(plan: Plan, notes: list[str]) -> StepResult:
    total = sum(t.size for t in plan.targets)
    per: dict[str, list[int]] = {}
    for t in plan.targets:
        tally = per.setdefault(t.pattern, [0, 0])
        tally[0] += 1
        tally[1] += t.size
    details = [f"would remove {t.kind} {t.rel} ({human_size(t.size)})" for t in plan.targets]
    details += [f"{p}: {n} ({human_size(b)})" for p, (n, b) in per.items()]
    return StepResult(
        Status.OK,
        f"dry run: would remove {len(plan.targets)} cache entries, {human_size(total)}",
        details + notes,
        {"would_remove": len(plan.targets), "bytes": total, "kept": len(plan.kept)},
    )


def _result(outcome: Outcome, plan: Plan, notes: list[str]) -> StepResult:
    count = sum(n for n, _ in outcome.removed.values())
    freed = sum(b for _, b in outcome.removed.values())
    details = [f"{p}: removed {n} ({human_size(b)})" for p, (n, b) in outcome.removed.items()]
    details += _limited(notes) + outcome.failures
    counts = {
        "removed": count,
        "bytes": freed,
        "failed": len(outcome.failures),
        "kept": len(plan.kept),
    }
    done = f"removed {count} cache entries, {human_size(freed)}"
    if outcome.failures:
        first = outcome.failures[0]
        return StepResult(
            Status.FAILED,
            f"could not remove {len(outcome.failures)} of {len(plan.targets)} "
            f"({done}); {first}",
            details,
            counts,
        )
    if count == 0:
        return StepResult(Status.OK, "nothing to clean", details, counts)
    return StepResult(Status.CHANGED, done, details, counts)


def make(config: WorkflowConfig) -> Step:
    """The clean_caches step for this configuration (the user's script if one is set)."""
    if config.clean_script is not None:
        return ScriptStep(NAME, config.clean_script)
    # Patterns are checked here: a bad one is a configuration error (exit 2) before any step runs.
    return CleanCachesStep(patterns_for(config))
