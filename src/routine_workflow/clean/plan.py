"""What clean_caches would remove: one walk, one question to git, a scan of each cache.

Nothing is removed here (that is ``remove``); the plan is made in three phases:

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
   *targets*.

- ``plan_clean``: all three phases for a configuration, as a ``Plan``;
- ``scan_project`` (phase 1) and ``make_plan`` (phases 2 and 3 from their inputs).
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from routine_workflow.clean.gitfiles import tracked_under
from routine_workflow.clean.patterns import Matcher, Pattern
from routine_workflow.config import WorkflowConfig
from routine_workflow.discovery import VCS_DIRS, Discovery

if TYPE_CHECKING:
    from routine_workflow.walkrecord import WalkRecord

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
    #: Directories listed (0: an unchanged tree's record said there was nothing to clean).
    listed: int = 0


def scan_project(
    config: WorkflowConfig, matcher: Matcher, record: WalkRecord | None = None
) -> Scan:
    """Walk the project once, pruned at excluded directories; never follow a symlink.

    With ``record``, a walk that found nothing to clean is recorded, and replayed (listing
    nothing) while every directory it listed is unchanged (``routine_workflow.walkrecord``):
    a new cache entry changes the directory it appears in.

    Directory decisions are ``Discovery``'s (``excluded_by_name``, exclude patterns),
    made here without building a ``Path`` per directory: paths under the resolved
    root are canonical because no symlink is followed, so the tool's own dirs are
    found by string comparison, and a virtualenv by ``pyvenv.cfg`` in the listing
    we read anyway.
    """
    own = {str(p.resolve()) for p in config.own_dirs()}
    settings = {
        "walk": "clean",
        "root": str(config.project_root),
        "excludes": list(config.exclude_patterns),
        "own": sorted(own),
        "patterns": [p.text for p in matcher.patterns],
    }
    if record is not None and record.replay(str(config.project_root), settings) is not None:
        return Scan()
    scan = _walk(config, matcher, own, record)
    if record is not None and not scan.candidates:
        record.save(settings, {})
    return scan


def _walk(
    config: WorkflowConfig, matcher: Matcher, own: set[str], record: WalkRecord | None
) -> Scan:
    discovery = Discovery(config, keep_caches=True, use_gitignore=False)
    user_excludes = bool(config.exclude_patterns)
    scan = Scan()
    stack: list[tuple[str, str]] = [(str(config.project_root), "")]
    while stack:
        directory, rel_dir = stack.pop()
        scan.listed += 1
        try:
            if record is not None:  # stats before the listing: a change after it shows
                record.note_dir(rel_dir, os.stat(directory))
            with os.scandir(directory) as it:
                entries = list(it)
        except OSError as exc:
            if record is not None:
                record.spoil()
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

    @property
    def shown(self) -> str:
        """The relative path as a listing shows it: a directory's ends with ``/``."""
        return self.rel + "/" if self.kind == "dir" else self.rel


@dataclass
class Plan:
    """The removal plan, and what was kept because git tracks it (or it must survive)."""

    targets: list[Target] = field(default_factory=list)
    kept: list[str] = field(default_factory=list)
    #: How many entries the walk matched (0: nothing to clean, and git was not asked).
    candidates: int = 0
    #: Directories the walk could not read, as ``rel: reason``.
    unreadable: list[str] = field(default_factory=list)
    #: Directories the walk listed (0: the tree was unchanged since a walk found nothing).
    listed: int = 0

    def paths(self) -> list[str]:
        """Every target's relative path, a directory's with a trailing ``/``."""
        return [t.shown for t in self.targets]

    def by_pattern(self) -> dict[str, list[int]]:
        """Per pattern, in the order targets first use it: [how many targets, their bytes]."""
        per: dict[str, list[int]] = {}
        for target in self.targets:
            tally = per.setdefault(target.pattern, [0, 0])
            tally[0] += 1
            tally[1] += target.size
        return per


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


def plan_clean(
    config: WorkflowConfig, patterns: list[Pattern], record: WalkRecord | None = None
) -> Plan:
    """Walk the project, ask git, scan the candidates: what a clean would remove and keep.

    ``record``: see ``scan_project``. Raises ``GitError`` when git cannot say which files
    it tracks: then nothing may go.
    """
    scan = scan_project(config, Matcher(patterns), record)
    if not scan.candidates:
        return Plan(unreadable=scan.unreadable, listed=scan.listed)
    root = config.project_root
    tracked = tracked_under(root, scan.nested_repos)
    own = {p.resolve() for p in config.own_dirs()}
    plan = make_plan(root, scan.candidates, tracked, own)
    plan.candidates = len(scan.candidates)
    plan.unreadable = scan.unreadable
    plan.listed = scan.listed
    return plan
