"""Checks on the configuration as a whole, beyond one value's type and range.

- ``closest(name, known)``, ``did_you_mean(name, known)``: the hint for a misspelt name.
- ``home_error(value)``: what is wrong with ``ROUTINE_WORKFLOW_HOME``, if anything.
- ``state_location_error(label, path, is_file, root)``: a state directory may not be the
  project root or contain it.
- ``near_miss_tables(pyproject)``, ``unknown_variables(env, known)``: warnings for names
  the tool would otherwise ignore without a word.

Plain values in, strings out: ``config`` turns them into errors and warnings.
"""

from __future__ import annotations

import os
from collections.abc import Iterable, Mapping
from pathlib import Path
from typing import Any

from routine_workflow.fields import ENV_PREFIX, TABLE

TABLE_NAME = TABLE.split(".", 1)[1]  # "routine-workflow"


#: How alike two names must be to call one a typo of the other (difflib's ratio).
CUTOFF = 0.6


def closest(name: str, known: Iterable[str]) -> str | None:
    """The known name closest to ``name``, if one is close enough to be a typo of it."""
    # difflib.get_close_matches tries these same two upper bounds of the ratio first;
    # applied here, the names of every run's pyproject.toml ([project], [build-system],
    # [tool.black]...) are told apart from ours without importing difflib at all.
    candidates = [k for k in known if _may_be_close(name, k)]
    if not candidates:
        return None
    import difflib  # here: only a name that might be misspelt pays for it

    close = difflib.get_close_matches(name, candidates, n=1, cutoff=CUTOFF)
    return close[0] if close else None


def _may_be_close(a: str, b: str) -> bool:
    """difflib's ``real_quick_ratio() >= CUTOFF and quick_ratio() >= CUTOFF``: by length,
    then by the characters the two names share (both bound the real ratio from above)."""
    total = len(a) + len(b)
    if not total:
        return True
    if 2.0 * min(len(a), len(b)) / total < CUTOFF:
        return False
    left: dict[str, int] = {}
    for char in b:
        left[char] = left.get(char, 0) + 1
    shared = 0
    for char in a:
        if left.get(char, 0) > 0:
            left[char] -= 1
            shared += 1
    return 2.0 * shared / total >= CUTOFF


def did_you_mean(name: str, known: Iterable[str]) -> str:
    """``" (did you mean 'x'?)"`` for the closest known name, or "" if none is close."""
    close = closest(name, known)
    return f" (did you mean {close!r}?)" if close else ""


def home_error(value: str | None) -> str:
    """Why ``ROUTINE_WORKFLOW_HOME=value`` is refused, or "" (unset or empty: not used)."""
    if value and not Path(os.path.expanduser(value)).is_absolute():
        # Relative, it would follow the current directory: cron's (/), or the project's,
        # where backups would land inside the tree they back up.
        return f"{value!r} is not an absolute path"
    return ""


def state_location_error(
    label: str, path: Path, is_file: bool, root: Path, *, inside_ok: bool = True
) -> str:
    """Why the state location ``path`` (set as ``label``) cannot be used with ``root``, or "".

    A state directory *inside* the project is allowed (discovery leaves the tool's own
    directories out of every step) unless ``inside_ok`` is false; at the root it cannot be
    left out, and one that contains the project would be archived, walked or removed with
    it (a lock directory is removed whole when it is released, or broken when stale: inside
    the project, a lock directory named like one of the user's would take it along).
    """
    directory = (path.parent if is_file else path).resolve()
    if not inside_ok and root in directory.parents:
        return (
            f"{label}: {str(path)!r} is inside the project {str(root)!r}; the lock directory "
            "is removed whole when a run ends, so it must live outside the project"
        )
    if directory == root:
        where = "puts a file directly in" if is_file else "is"
        return (
            f"{label}: {str(path)!r} {where} the project root {str(root)!r}; the tool's own "
            "files must live outside the project (or in a directory of their own inside it)"
        )
    # A file beside the project (a log in its parent directory) is never walked with it.
    if not is_file and directory in root.parents:
        return (
            f"{label}: {str(path)!r} contains the project {str(root)!r}; the tool's own "
            "files must live outside the project (or in a directory of their own inside it)"
        )
    return ""


def near_miss_tables(pyproject: Mapping[str, Any]) -> list[str]:
    """Warnings for tables that look like ``[tool.routine-workflow]`` but are not read."""
    found = []
    tool = pyproject.get("tool")
    candidates = [("tool." + k, k) for k in tool] if isinstance(tool, dict) else []
    candidates += [(k, k) for k in pyproject if k != "tool"]
    for shown, key in candidates:
        if shown == TABLE:  # ours
            continue
        if _normalised(key) == _normalised(TABLE_NAME) or closest(key, [TABLE_NAME]):
            found.append(
                f"pyproject.toml: [{shown}] is not read; did you mean [tool.{TABLE_NAME}]?"
            )
    return found


def _normalised(name: str) -> str:
    return name.lower().replace("_", "-").replace(".", "-")


def unknown_variables(env: Mapping[str, str], known: Iterable[str]) -> list[str]:
    """Warnings for ``ROUTINE_WORKFLOW_*`` variables that no setting reads."""
    known = set(known)
    found = []
    for name in sorted(env):
        if name.startswith(ENV_PREFIX) and name not in known:
            close = closest(name, sorted(known))
            found.append(
                f"environment variable {name} is not a setting and is ignored"
                + (f"; did you mean {close}?" if close else "")
            )
    return found
