"""Where the tool keeps its own files: per user, per project, never in the tree.

``ROUTINE_WORKFLOW_HOME`` puts everything under one directory (tests use it);
otherwise the platform's user directories from platformdirs are used.
"""

from __future__ import annotations

import hashlib
import os
import re
from collections.abc import Callable
from pathlib import Path

APP = "routine-workflow"
HOME_ENV = "ROUTINE_WORKFLOW_HOME"
#: The work tree's lock, inside its git directory (``treelock.tree_lock_path``); with its guard
#: file and the names it is renamed to while being released or broken, never project data.
TREE_LOCK_NAME = "routine-workflow.lock"


#: Modes of everything the tool creates for itself (logs, locks, backups, dumps, cache,
#: history): a dump or a manifest holds the project's source or its file names, which
#: the project's own permissions may hide from other local users. Whatever the umask.
PRIVATE_DIR_MODE = 0o700
PRIVATE_FILE_MODE = 0o600


def private_dir(path: Path) -> Path:
    """Create ``path`` and any missing parents with mode 0700; return it.

    Directories that already exist are left as they are (a shared ``dump_dir`` the
    user made is theirs to set); only what we create is private.
    """
    missing = []
    probe = Path(path)
    while not probe.exists():
        missing.append(probe)
        if probe.parent == probe:
            break
        probe = probe.parent
    for directory in reversed(missing):
        try:
            os.mkdir(directory, PRIVATE_DIR_MODE)
        except FileExistsError:
            continue  # made meanwhile by another run: theirs is private too
        os.chmod(directory, PRIVATE_DIR_MODE)  # the umask may have taken bits away
    return path


def _base(kind: str) -> Path:
    home = os.environ.get(HOME_ENV)
    if home:
        return Path(home).expanduser().absolute() / kind
    import platformdirs  # here: most runs need it once, and tests and CI never

    getters: dict[str, Callable[..., str]] = {
        "state": platformdirs.user_state_dir,
        "log": platformdirs.user_log_dir,
        "cache": platformdirs.user_cache_dir,
        "data": platformdirs.user_data_dir,
    }
    return Path(getters[kind](APP, appauthor=False))


def project_id(root: Path) -> str:
    """A readable, collision-free name for a project: its folder name plus a hash of its path."""
    resolved = str(root.resolve())
    digest = hashlib.sha256(resolved.encode("utf-8", "surrogateescape")).hexdigest()[:12]
    name = re.sub(r"[^A-Za-z0-9._-]+", "_", root.resolve().name) or "root"
    return f"{name}-{digest}"


def state_dir() -> Path:
    """Per-user state (locks, history)."""
    return _base("state")


def log_dir(root: Path) -> Path:
    """Default log directory of one project."""
    return _base("log") / project_id(root)


def cache_dir(root: Path) -> Path:
    """Default cache directory of one project (reformat cache)."""
    return _base("cache") / project_id(root)


def data_dir(root: Path, what: str) -> Path:
    """Default data directory of one project, e.g. ``backups`` or ``dumps``."""
    return _base("data") / what / project_id(root)


def lock_dir(root: Path) -> Path:
    """Default lock directory of one project."""
    return state_dir() / "locks" / project_id(root)


def history_db() -> Path:
    """The per-user run history database."""
    return state_dir() / "history.sqlite3"
