"""Add routine-workflow's hook to a project's ``.pre-commit-config.yaml``, keeping every byte
of what is there (``pre-commit install`` of the command line).

Round-tripping YAML through a library would re-indent the file and can drop comments,
so the hook is added as text: a ``- repo: local`` entry appended to the end of the
``repos:`` list, indented like its other entries. The result is then parsed and must
be exactly the old configuration plus that one entry; if the file's layout makes
that impossible (a flow-style ``repos: [...]``, anchors, several documents), nothing
is written and the user is told to add the hook by hand. Idempotent: a file that
already has the hook is left alone.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow.errors import ConfigError
from routine_workflow.project_files import read_text, write_text

CONFIG_NAME = ".pre-commit-config.yaml"
#: The hooks of .pre-commit-hooks.yaml, as a local hook runs them (docs/pre-commit.md).
HOOKS: dict[str, dict[str, Any]] = {
    "routine-workflow-reformat": {
        "id": "routine-workflow-reformat",
        "name": "routine-workflow reformat",
        "entry": "routine-workflow reformat --wait 120",
        "language": "system",
        "types_or": ["python", "pyi"],
        "require_serial": True,
    },
    "routine-workflow-reformat-check": {
        "id": "routine-workflow-reformat-check",
        "name": "routine-workflow reformat --check",
        "entry": "routine-workflow reformat --check",
        "language": "system",
        "types_or": ["python", "pyi"],
        "require_serial": True,
    },
}
_BY_HAND = "add it by hand (docs/pre-commit.md shows the entry)"


@dataclass(frozen=True)
class Installed:
    """What ``install`` did: ``created`` the file, ``added`` the hook, or found it ``present``."""

    path: Path
    hook_id: str
    status: str


def entry_lines(hook_id: str) -> list[str]:
    """The ``- repo: local`` list entry for one hook, unindented."""
    hook = HOOKS[hook_id]
    lines = ["- repo: local", "  hooks:", f"    - id: {hook['id']}"]
    for key, value in hook.items():
        if key == "id":
            continue
        if isinstance(value, bool):
            text = "true" if value else "false"
        elif isinstance(value, list):
            text = "[" + ", ".join(value) + "]"
        else:
            text = str(value)
        lines.append(f"      {key}: {text}")
    return lines


def install(root: Path, hook_id: str) -> Installed:
    """Add hook ``hook_id`` to ``root/.pre-commit-config.yaml`` unless it is there already."""
    path = root / CONFIG_NAME
    text = read_text(path)
    if text is None:
        new = "\n".join(["repos:", *("  " + line for line in entry_lines(hook_id))]) + "\n"
        return Installed(write_text(path, new, new=True), hook_id, "created")
    data = _parse(text, path)
    if _has_hook(data, hook_id):
        return Installed(path, hook_id, "present")
    new = _with_entry(text, data, hook_id, path)
    expected = dict(data or {})
    expected["repos"] = [*(expected.get("repos") or []), _entry(hook_id)]
    if _parse(new, path) != expected:  # the layout fooled the text edit: write nothing
        raise ConfigError(f"{path}: cannot add {hook_id} without disturbing the file; {_BY_HAND}")
    return Installed(write_text(path, new, new=False), hook_id, "added")


def _entry(hook_id: str) -> dict[str, Any]:
    return {"repo": "local", "hooks": [HOOKS[hook_id]]}


def _parse(text: str, path: Path) -> dict[str, Any] | None:
    import yaml  # deferred: only this command reads YAML

    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        reason = " ".join(str(exc).split())
        raise ConfigError(f"{path}: not valid YAML: {reason}") from None
    if data is not None and not isinstance(data, dict):
        raise ConfigError(f"{path}: expected a mapping with a repos: list; {_BY_HAND}")
    repos = (data or {}).get("repos")
    if repos is not None and not isinstance(repos, list):
        raise ConfigError(f"{path}: repos: is not a list; {_BY_HAND}")
    return data


def _has_hook(data: dict[str, Any] | None, hook_id: str) -> bool:
    for repo in (data or {}).get("repos") or []:
        hooks = repo.get("hooks") if isinstance(repo, dict) else None
        if any(isinstance(h, dict) and h.get("id") == hook_id for h in hooks or []):
            return True
    return False


_TOP_KEY = re.compile(r"^[^\s#-]")  # a line that starts a new top-level key (or ---/...)
_REPOS = re.compile(r"^repos\s*:\s*(#.*)?$")


def _with_entry(text: str, data: dict[str, Any] | None, hook_id: str, path: Path) -> str:
    """``text`` with the entry appended to its ``repos:`` block list (or a new one)."""
    nl = "\r\n" if "\r\n" in text else "\n"  # the file's own line ending
    lines = text.splitlines(keepends=True)
    if lines and not lines[-1].endswith(("\n", "\r")):
        lines[-1] += nl
    start = next((i for i, line in enumerate(lines) if _REPOS.match(line.rstrip("\r\n"))), None)
    if start is None:
        if data and "repos" in data:  # flow style, or a key spelt in quotes
            raise ConfigError(f"{path}: repos: is not a block list; {_BY_HAND}")
        block = ["repos:", *("  " + line for line in entry_lines(hook_id))]
        return "".join(lines) + "".join(line + nl for line in block)
    end = start + 1
    last_item = start  # the last line that belongs to the list (not blank, not a comment)
    indent = None
    while end < len(lines) and not _TOP_KEY.match(lines[end]):
        stripped = lines[end].strip()
        if stripped and not stripped.startswith("#"):
            last_item = end
            if indent is None and stripped.startswith("- "):
                indent = lines[end][: len(lines[end]) - len(lines[end].lstrip())]
        end += 1
    pad = "  " if indent is None else indent
    entry = "".join(pad + line + nl for line in entry_lines(hook_id))
    return "".join(lines[: last_item + 1]) + entry + "".join(lines[last_item + 1 :])
