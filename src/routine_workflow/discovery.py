"""Which files belong to the project. One module decides, every step asks it.

Left out: version-control and tool directories, virtualenvs (by name or by a
``pyvenv.cfg`` inside), build output, caches, the tool's own directories,
whatever ``.gitignore`` files (root and nested, plus ``.git/info/exclude``)
ignore, and ``exclude_patterns``. Symlinks are reported as symlinks and never
followed.
"""

from __future__ import annotations

import os
import stat
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import pathspec

from routine_workflow.config import WorkflowConfig

VCS_DIRS = frozenset({".git", ".hg", ".svn", ".bzr"})
VENV_DIRS = frozenset({".venv", "venv", ".virtualenv", "virtualenv", "__pypackages__", ".tox", ".nox"})
BUILD_DIRS = frozenset({"build", "dist", "node_modules", ".eggs", ".direnv"})
CACHE_DIRS = frozenset({
    "__pycache__", ".mypy_cache", ".pytest_cache", ".ruff_cache", ".hypothesis",
    ".ipynb_checkpoints", "htmlcov", ".cache",
})


@dataclass(frozen=True)
class Entry:
    """One thing found under the root. ``rel`` is a POSIX path relative to the root."""

    path: Path
    rel: str
    kind: str  # "file" | "dir" | "symlink" | "other"
    size: int


class Discovery:
    """Walks a project once, pruned at excluded directories.

    ``keep_caches`` lets clean_caches see cache directories (it still never
    enters virtualenvs, VCS or ignored trees); ``include_git`` lets the backup
    keep ``.git/``.
    """

    def __init__(
        self,
        config: WorkflowConfig,
        *,
        keep_caches: bool = False,
        include_git: bool = False,
        use_gitignore: bool = True,
        extra_excludes: Iterable[str] = (),
    ) -> None:
        self.root = config.project_root
        self.keep_caches = keep_caches
        self.include_git = include_git
        self.use_gitignore = use_gitignore
        self._patterns = pathspec.GitIgnoreSpec.from_lines([*config.exclude_patterns, *extra_excludes])
        self._own = {p.resolve() for p in config.own_dirs()}
        self._specs: dict[str, pathspec.GitIgnoreSpec] = {}
        if use_gitignore:
            self._load_ignore("", self.root / ".git" / "info" / "exclude")

    # -- decisions ---------------------------------------------------------------------------

    def excluded_name(self, name: str, path: Path) -> bool:
        """Directories left out by name or nature, wherever they are."""
        if name in VCS_DIRS:
            return not (self.include_git and name == ".git")
        if name in VENV_DIRS or name in BUILD_DIRS or name.endswith(".egg-info"):
            return True
        if name in CACHE_DIRS:
            return not self.keep_caches
        # The walk starts at the resolved root and never follows a symlink, so ``path`` is
        # already canonical: no resolve() (a realpath per directory) is needed.
        return path in self._own or (path / "pyvenv.cfg").is_file()

    def ignored(self, rel: str, is_dir: bool) -> bool:
        """True if gitignore rules or ``exclude_patterns`` leave ``rel`` out."""
        probe = rel + "/" if is_dir else rel
        if self._patterns.match_file(probe):
            return True
        decision = False
        for base, spec in self._specs.items():
            if base and not rel.startswith(base + "/"):
                continue
            result = spec.check_file(probe[len(base) + 1:] if base else probe)
            if result.include is not None:
                decision = result.include
        return decision

    def _load_ignore(self, base: str, path: Path) -> None:
        try:
            lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
        except OSError:
            return
        if lines:
            spec = pathspec.GitIgnoreSpec.from_lines(lines)
            self._specs[base] = spec if base not in self._specs else self._specs[base] + spec

    # -- walking ------------------------------------------------------------------------------

    def walk(self, file_suffixes: tuple[str, ...] | None = None) -> Iterator[Entry]:
        """Every included entry, depth-first, sorted by name, directories before their content.

        With ``file_suffixes``, non-directory entries whose names end otherwise are not
        reported (and cost no ignore-rule matching).
        """
        yield from self._walk_dir(self.root, "", file_suffixes)

    def _walk_dir(self, directory: Path, rel_dir: str,
                  suffixes: tuple[str, ...] | None = None) -> Iterator[Entry]:
        if self.use_gitignore and (directory / ".gitignore").is_file():
            self._load_ignore(rel_dir, directory / ".gitignore")
        try:
            with os.scandir(directory) as it:
                entries = sorted(it, key=lambda e: e.name)
        except OSError:
            return
        for entry in entries:
            if suffixes is not None and not entry.name.endswith(suffixes) and not entry.is_dir(
                    follow_symlinks=False):
                continue
            rel = f"{rel_dir}/{entry.name}" if rel_dir else entry.name
            try:
                info = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            path = Path(entry.path)
            if stat.S_ISLNK(info.st_mode):
                if not self.ignored(rel, is_dir=False):
                    yield Entry(path, rel, "symlink", 0)
            elif stat.S_ISDIR(info.st_mode):
                if self.excluded_name(entry.name, path) or self.ignored(rel, is_dir=True):
                    continue
                yield Entry(path, rel, "dir", 0)
                yield from self._walk_dir(path, rel, suffixes)
            elif not self.ignored(rel, is_dir=False):
                kind = "file" if stat.S_ISREG(info.st_mode) else "other"
                yield Entry(path, rel, kind, info.st_size)

    def files(self, suffixes: Iterable[str] | None = None) -> list[Entry]:
        """Regular files (not symlinks), optionally only those with one of ``suffixes``."""
        wanted = tuple(suffixes) if suffixes is not None else None
        return [e for e in self.walk(wanted) if e.kind == "file"]


def python_files(config: WorkflowConfig) -> list[Entry]:
    """The project's ``.py`` and ``.pyi`` files."""
    return Discovery(config).files((".py", ".pyi"))
