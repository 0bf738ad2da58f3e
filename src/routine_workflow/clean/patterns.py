"""The clean_caches pattern language: which names are caches.

Patterns are gitignore-like shell patterns (``fnmatch``), matched against an entry's
name, or against its path relative to the root when the pattern holds a ``/``. A
trailing ``/`` (or a name in ``DIR_ONLY``) selects directories only; names in
``FILE_ONLY`` select files only. Patterns that would match (nearly) everything
are refused.

- ``parse_pattern`` / ``patterns_for``: configured text to ``Pattern`` objects;
- ``Matcher``: all patterns at once, for the walk.
"""

from __future__ import annotations

import fnmatch
import re
from dataclasses import dataclass

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import ConfigError

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
