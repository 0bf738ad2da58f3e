"""Which files belong to the project. One module decides, every step asks it.

Left out: version-control and tool directories, virtualenvs (by name or by a
``pyvenv.cfg`` inside), build output, caches, the tool's own directories,
whatever ``.gitignore`` files (root and nested, plus ``.git/info/exclude``)
ignore, and ``exclude_patterns``; git submodules and nested git repositories
(a directory below the root holding a ``.git`` file or directory: someone else's
code, pinned by commit) unless ``include_nested_repos``. Symlinks are reported as
symlinks and never followed.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.dirs import TREE_LOCK_NAME
from routine_workflow.fsutil import TEMP_SUFFIXES, is_temp_name
from routine_workflow.logs import LOGGER_NAME

if TYPE_CHECKING:
    import pathspec

    from routine_workflow.walkrecord import WalkRecord

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
VENV_DIRS = frozenset(
    {".venv", "venv", ".virtualenv", "virtualenv", "__pypackages__", ".tox", ".nox"}
)
BUILD_DIRS = frozenset({"build", "dist", "node_modules", ".eggs", ".direnv"})
CACHE_DIRS = frozenset(
    {
        "__pycache__",
        ".mypy_cache",
        ".pytest_cache",
        ".ruff_cache",
        ".hypothesis",
        ".ipynb_checkpoints",
        "htmlcov",
        ".cache",
    }
)


class Entry:
    """One thing found under the root. ``rel`` is a POSIX path relative to the root.

    A plain slotted class: a walk makes one per file, and a frozen dataclass or a
    ``Path`` per entry was a third of the time of walking a large tree. No size: the
    kind comes from the directory listing, and a stat per file (which no step used,
    each reads or stats what it keeps) was another third.
    """

    __slots__ = ("abspath", "kind", "rel")

    def __init__(self, abspath: str, rel: str, kind: str) -> None:
        self.abspath = abspath  # root joined with rel, symlinks not resolved
        self.rel = rel
        self.kind = kind  # "file" | "dir" | "symlink" | "other"

    @property
    def path(self) -> Path:
        """``abspath`` as a Path."""
        return Path(self.abspath)

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, Entry):
            return NotImplemented
        return (self.abspath, self.rel, self.kind) == (other.abspath, other.rel, other.kind)

    def __hash__(self) -> int:
        return hash((self.abspath, self.rel, self.kind))

    def __repr__(self) -> str:
        return f"Entry({self.rel!r}, {self.kind})"


class Discovery:
    """Walks a project once, pruned at excluded directories.

    ``keep_caches`` lets clean_caches see cache directories (it still never
    enters virtualenvs, VCS or ignored trees); ``include_git`` lets the backup
    keep ``.git/``; ``include_nested_repos`` (default: the setting of that name) lets
    the backup keep submodules and nested repositories; with ``record``, a walk of a
    tree whose directories and ignore files are unchanged since the recorded one
    replays its outcome instead of listing (``routine_workflow.walkrecord``).
    """

    def __init__(
        self,
        config: WorkflowConfig,
        *,
        keep_caches: bool = False,
        include_git: bool = False,
        use_gitignore: bool = True,
        extra_excludes: Iterable[str] = (),
        include_nested_repos: bool | None = None,
        record: WalkRecord | None = None,
    ) -> None:
        self.root = config.project_root
        self._record = record
        self.keep_caches = keep_caches
        self.include_git = include_git
        self.include_nested_repos = (
            config.include_nested_repos if include_nested_repos is None else include_nested_repos
        )
        self.use_gitignore = use_gitignore
        excludes = [*config.exclude_patterns, *extra_excludes]
        self._excludes = excludes
        self._patterns = _spec(excludes) if excludes else None
        self._own = {p.resolve() for p in config.own_dirs()}
        self._own_str = {str(p) for p in self._own}
        # Walked paths are the root joined with names, symlinks never followed: when the
        # root is canonical they are too, and resolving each directory (slow) is not needed.
        self._canonical_root = self.root == self.root.resolve()
        self._specs: dict[str, pathspec.GitIgnoreSpec] = {}
        self._entered: set[str] = set()  # directories whose .gitignore is loaded
        #: Our own temporary files met by ``walk`` (left by a killed run): never reported as
        #: project files; whoever holds the lock may remove them.
        self.leftover_temps: list[str] = []
        #: Directories ``walk`` could not list ("rel/: reason"): their content is missing.
        self.unreadable: list[str] = []
        #: Submodules and nested repositories ``walk`` left out (relative paths).
        self.other_repos: list[str] = []
        #: Directories ``walk`` listed (none when it replayed a record).
        self.listed = 0
        if use_gitignore:
            self._load_ignore("", self.root / ".git" / "info" / "exclude")

    # -- decisions ---------------------------------------------------------------------------

    def excluded_name(self, name: str, path: Path) -> bool:
        """Directories left out by name or nature, wherever they are."""
        if self.excluded_by_name(name):
            return True
        if name in VCS_DIRS or name in CACHE_DIRS:
            return False  # let in on purpose (include_git, keep_caches)
        return self.protected_dir(path)

    def excluded_by_name(self, name: str) -> bool:
        """The part of ``excluded_name`` that needs no file-system access (clean_caches'
        walk checks virtualenvs and the tool's own dirs itself, from listings it reads anyway)."""
        if name in VCS_DIRS:
            return not (self.include_git and name == ".git")
        if name in VENV_DIRS or name in BUILD_DIRS or name.endswith(".egg-info"):
            return True
        return name in CACHE_DIRS and not self.keep_caches

    def protected_dir(self, path: Path) -> bool:
        """A virtualenv (``pyvenv.cfg`` inside), one of the tool's own dirs, whatever its
        name, or another repository (``.git`` inside) unless ``include_nested_repos``.

        ``path`` is one found by walking from the root (symlinks not followed).
        """
        if os.path.isfile(os.path.join(path, "pyvenv.cfg")):
            return True
        if not self.include_nested_repos and os.path.lexists(os.path.join(path, ".git")):
            return True
        return (path if self._canonical_root else path.resolve()) in self._own

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """True if gitignore rules or ``exclude_patterns`` leave ``rel`` out."""
        probe = rel + "/" if is_dir else rel
        if self._patterns is not None and self._patterns.match_file(probe):
            return True
        if rel == ".git" or rel.startswith(".git/"):
            return False  # git never applies .gitignore to its own directory (e.g. "logs/")
        decision = False
        for base, spec in self._specs.items():
            if base and not rel.startswith(base + "/"):
                continue
            result = spec.check_file(probe[len(base) + 1 :] if base else probe)
            if result.include is not None:
                decision = result.include
        return decision

    def excluded(self, rel: str) -> bool:
        """True if the entry at ``rel`` (POSIX, relative to the root) is not part of the project.

        Decides as ``walk`` would without walking: each directory above it is
        checked by name and gitignore rules (loading nested ``.gitignore`` files
        on the way), then the entry itself. For watchers, which hear of one path
        at a time.
        """
        parts = [part for part in rel.split("/") if part]
        directory = self.root
        self._enter(directory, "")
        for depth, name in enumerate(parts[:-1], start=1):
            directory = directory / name
            rel_dir = "/".join(parts[:depth])
            if self.excluded_name(name, directory) or self.ignored(rel_dir, is_dir=True):
                return True
            self._enter(directory, rel_dir)
        if not parts:
            return False
        path = self.root / rel
        is_dir = path.is_dir() and not path.is_symlink()
        return (is_dir and self.excluded_name(parts[-1], path)) or self.ignored(
            "/".join(parts), is_dir
        )

    def _enter(self, directory: Path, rel_dir: str) -> None:
        if self.use_gitignore and rel_dir not in self._entered:
            self._entered.add(rel_dir)
            if (directory / ".gitignore").is_file():
                self._load_ignore(rel_dir, directory / ".gitignore")

    def _load_ignore(self, base: str, path: Path) -> None:
        record = self._record
        try:
            data = path.read_bytes()
        except OSError as exc:
            if record is not None:
                record.note_file(path.relative_to(self.root).as_posix(), None)
                if not isinstance(exc, (FileNotFoundError, NotADirectoryError)):
                    record.spoil()
            return
        if record is not None:
            record.note_file(path.relative_to(self.root).as_posix(), data)
        lines = data.decode("utf-8", errors="replace").splitlines()
        # Only comments and blank lines (``git init``'s info/exclude): nothing to match,
        # and no pathspec to import (docs/performance.md).
        if any(line.strip() and not line.startswith("#") for line in lines):
            spec = self._ignore_spec(lines, path)
            self._specs[base] = spec if base not in self._specs else self._specs[base] + spec

    def _ignore_spec(self, lines: list[str], path: Path) -> pathspec.GitIgnoreSpec:
        try:
            return _spec(lines)
        except (ValueError, re.error):
            if self._record is not None:
                self._record.spoil()  # its warning is logged by every walk, never replayed
            return _tolerant_spec(lines, path, self.root)

    # -- walking ------------------------------------------------------------------------------

    def walk(self, file_suffixes: tuple[str, ...] | None = None) -> Iterator[Entry]:
        """Every included entry, depth-first, sorted by name, directories before their content.

        With ``file_suffixes``, non-directory entries whose names end otherwise are not
        reported (and cost no ignore-rule matching).
        """
        if self._record is None:
            yield from self._walk(file_suffixes)
            return
        settings = self._settings(file_suffixes)
        replayed = self._record.replay(str(self.root), settings)
        if replayed is not None:
            yield from self._replay(replayed)
            return
        found = []
        for entry in self._walk(file_suffixes):
            found.append([entry.rel, entry.kind])
            yield entry
        outcome = {
            "entries": found,
            "leftover_temps": self.leftover_temps,
            "other_repos": self.other_repos,
        }
        self._record.save(settings, outcome)

    def _settings(self, file_suffixes: tuple[str, ...] | None) -> dict[str, object]:
        """Everything besides the tree that decides what ``walk`` yields."""
        return {
            "root": str(self.root),
            "suffixes": file_suffixes,
            "keep_caches": self.keep_caches,
            "include_git": self.include_git,
            "include_nested_repos": self.include_nested_repos,
            "use_gitignore": self.use_gitignore,
            "excludes": self._excludes,
            "own": sorted(self._own_str),
        }

    def _replay(self, outcome: dict[str, list[Any]]) -> Iterator[Entry]:
        base = str(self.root)
        base = base if base.endswith("/") else base + "/"
        self.leftover_temps.extend(outcome["leftover_temps"])
        self.other_repos.extend(outcome["other_repos"])
        for rel, kind in outcome["entries"]:
            yield Entry(base + rel, rel, kind)

    def _walk(self, file_suffixes: tuple[str, ...] | None) -> Iterator[Entry]:
        # An explicit stack of per-directory scans rather than recursive generators, so each
        # entry is yielded once instead of being passed up through every level above it.
        root = str(self.root)
        stack = [self._scan(root, "", self._listing(root, ""), file_suffixes)]
        while stack:
            found = next(stack[-1], None)
            if found is None:
                stack.pop()
                continue
            entry, children = found
            yield entry
            if children is not None:
                stack.append(self._scan(entry.abspath, entry.rel, children, file_suffixes))

    def _scan(
        self,
        directory: str,
        rel_dir: str,
        entries: list[os.DirEntry[str]],
        suffixes: tuple[str, ...] | None = None,
    ) -> Iterator[tuple[Entry, list[os.DirEntry[str]] | None]]:
        """The included entries of one directory listing, each directory with its own listing."""
        # Look for .gitignore in the listing we already have rather than with a stat per
        # directory; excluded() may have loaded it already.
        if self.use_gitignore and rel_dir not in self._entered:
            self._entered.add(rel_dir)
            ignore = next((e for e in entries if e.name == ".gitignore"), None)
            if ignore is not None and ignore.is_symlink() and self._record is not None:
                self._record.spoil()  # its target may come and go with no listing changing
            if ignore is not None and ignore.is_file():
                self._load_ignore(rel_dir, Path(directory) / ".gitignore")
        prefix = rel_dir + "/" if rel_dir else ""
        for entry in entries:
            if entry.name.endswith(TEMP_SUFFIXES) and is_temp_name(entry.name):
                self.leftover_temps.append(entry.path)  # a killed run's, never the user's
                continue
            if rel_dir == ".git" and entry.name.startswith(TREE_LOCK_NAME):
                continue  # our lock (include_git): a run's state, never part of a backup
            if (
                suffixes is not None
                and not entry.name.endswith(suffixes)
                and not entry.is_dir(follow_symlinks=False)
            ):
                continue
            rel = prefix + entry.name
            try:
                # is_symlink/is_dir come from the directory listing (d_type): no stat call.
                if entry.is_symlink():
                    if not self.ignored(rel, is_dir=False):
                        yield Entry(entry.path, rel, "symlink"), None
                elif entry.is_dir(follow_symlinks=False):
                    if self.excluded_by_name(entry.name) or self.ignored(rel, is_dir=True):
                        continue
                    # The directory's own listing tells whether it is a virtualenv (no stat
                    # for pyvenv.cfg per directory), and is the one we descend with.
                    children = self._listing(entry.path, rel)
                    if not self._walked_protected(entry, rel, children):
                        yield Entry(entry.path, rel, "dir"), children
                elif not self.ignored(rel, is_dir=False):
                    # d_type again (an lstat only where the file system does not say)
                    kind = "file" if entry.is_file(follow_symlinks=False) else "other"
                    yield Entry(entry.path, rel, kind), None
            except OSError:  # vanished or unreadable since the listing
                continue

    def _listing(self, directory: str, rel: str) -> list[os.DirEntry[str]]:
        """The entries of ``directory`` sorted by name; empty, and noted in ``unreadable``,
        when it cannot be listed."""
        self.listed += 1
        try:
            if self._record is not None:  # stats before the listing: a change after shows
                self._record.note_dir(rel, os.stat(directory))
            with os.scandir(directory) as it:
                return sorted(it, key=lambda e: e.name)
        except FileNotFoundError:
            self._spoil()
            return []  # vanished since its parent was listed: nothing was there to miss
        except OSError as exc:
            self._spoil()
            self.unreadable.append(f"{rel or '.'}/: {exc.strerror}")
            return []

    def _spoil(self) -> None:
        if self._record is not None:
            self._record.spoil()

    def _walked_protected(
        self, entry: os.DirEntry[str], rel: str, children: list[os.DirEntry[str]]
    ) -> bool:
        # protected_dir() for a directory met by walk(), answered from its listing.
        if entry.name in VCS_DIRS or entry.name in CACHE_DIRS:
            return False  # let in on purpose (include_git, keep_caches)
        for child in children:
            if child.name == "pyvenv.cfg":
                if child.is_symlink():
                    self._spoil()  # its target may come and go with no listing changing
                if child.is_file():
                    return True
            # A submodule's .git is a file, a nested clone's a directory: either will do.
            if child.name == ".git" and not self.include_nested_repos:
                self.other_repos.append(rel)
                return True
        path = entry.path if self._canonical_root else os.path.realpath(entry.path)
        if path not in self._own_str:
            return False
        if self._record is not None:  # ours whatever it holds, and written to by this run
            self._record.drop_dir(rel)
        return True

    def files(self, suffixes: Iterable[str] | None = None) -> list[Entry]:
        """Regular files (not symlinks), optionally only those with one of ``suffixes``."""
        wanted = tuple(suffixes) if suffixes is not None else None
        return [e for e in self.walk(wanted) if e.kind == "file"]


def _spec(lines: list[str]) -> pathspec.GitIgnoreSpec:
    # pathspec is imported on first use: a tree without .gitignore files or exclude
    # patterns never needs it, and importing the step modules stays cheap.
    import pathspec

    return pathspec.GitIgnoreSpec.from_lines(lines)


def gitignore_of(directory: Path, root: Path) -> pathspec.GitIgnoreSpec:
    """``directory/.gitignore`` as git reads it (empty when absent or unreadable); for
    black's gitignore handling, which would stop at the first pattern git tolerates."""
    source = directory / ".gitignore"
    try:
        lines = source.read_text(encoding="utf-8", errors="replace").splitlines()
    except OSError:
        lines = []
    return _tolerant_spec(lines, source, root)


def _tolerant_spec(lines: list[str], source: Path, root: Path) -> pathspec.GitIgnoreSpec:
    """``lines`` of an ignore file compiled as git reads them: a pattern that does not
    compile (``!``, a trailing backslash, ``[z-a]``) never matches, and the rest apply."""
    try:
        return _spec(lines)
    except (ValueError, re.error):  # GitIgnorePatternError; re.error for a bad range
        pass
    good = []
    for number, line in enumerate(lines, start=1):
        try:
            _spec([line])
        except (ValueError, re.error):
            _warn_once(source, number, line, root)
            line = ""  # keep numbering; an empty line is no pattern
        good.append(line)
    return _spec(good)


_warned: set[tuple[str, int]] = set()


def _warn_once(source: Path, number: int, line: str, root: Path) -> None:
    # Once per process: every step of a run walks the tree again.
    key = (str(source), number)
    if key in _warned:
        return
    _warned.add(key)
    try:
        shown = source.relative_to(root).as_posix()
    except ValueError:
        shown = str(source)
    logging.getLogger(LOGGER_NAME).warning(
        "%s:%d: ignoring a pattern git would not use either: %r", shown, number, line
    )


def python_files(config: WorkflowConfig) -> list[Entry]:
    """The project's ``.py`` and ``.pyi`` files."""
    return Discovery(config).files((".py", ".pyi"))
