"""Reading and rewriting a project's own configuration files (pyproject.toml,
.pre-commit-config.yaml) for ``config init`` and ``pre-commit install``.

A rewrite is atomic and keeps the file's identity (``fsutil.rewrite_user_file``);
a symlink is written through to the file it names, so the link stays a link.
Every failure is one line naming the file (RoutineError, exit 1), or ConfigError
(exit 2) for a file that is not text.
"""

from __future__ import annotations

import os
from pathlib import Path

from routine_workflow.errors import ConfigError, RoutineError
from routine_workflow.fsutil import atomic_write, rewrite_user_file


def read_text(path: Path) -> str | None:
    """The file's text, or None if it does not exist."""
    try:
        return path.read_bytes().decode("utf-8")
    except FileNotFoundError:
        return None
    except UnicodeDecodeError as exc:
        raise ConfigError(f"{path}: not UTF-8 text ({exc.reason} at byte {exc.start})") from None
    except OSError as exc:
        raise RoutineError(f"{path}: cannot read: {exc.strerror}") from None


def write_text(path: Path, text: str, *, new: bool) -> Path:
    """Write ``text`` to ``path`` (creating it when ``new``); return the file written."""
    target = Path(os.path.realpath(path))
    try:
        if new:
            atomic_write(target, text.encode("utf-8"))
        else:
            rewrite_user_file(target, text.encode("utf-8"))
    except OSError as exc:
        raise RoutineError(f"{target}: cannot write: {exc.strerror}; nothing changed") from None
    return target
