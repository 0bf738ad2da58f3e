"""The ``[tool.routine-workflow]`` table ``config init`` writes, and writing it into
pyproject.toml without disturbing the rest of the file.

tomlkit keeps comments, order and formatting of everything it does not touch. The
edit is then checked: the new file, parsed, must be the old one plus (or with a
replaced) ``[tool.routine-workflow]`` table; anything else and nothing is written.
"""

from __future__ import annotations

import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.config import TABLE
from routine_workflow.errors import ConfigError
from routine_workflow.project_files import read_text, write_text

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (exercised on 3.10 only)
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

KEY = "routine-workflow"


@dataclass(frozen=True)
class InitPlan:
    """What ``config init`` will write: settings, and which steps to switch on or off."""

    settings: Mapping[str, Any]  # field name -> value, in the order to write them
    disabled: Sequence[str] = ()  # built-in steps switched off (enabled = false)
    checks: Sequence[str] = ()  # optional check steps switched on (enabled = true)
    notes: Sequence[str] = field(default=())  # comments written at the top of the table


def render(plan: InitPlan) -> str:
    """The table as it will appear in pyproject.toml."""
    import tomlkit

    document = tomlkit.document()
    tool = tomlkit.table(is_super_table=True)
    tool.add(KEY, _table(plan))
    document.add("tool", tool)
    return tomlkit.dumps(document).strip("\n") + "\n"


def _table(plan: InitPlan, keep_steps: Mapping[str, Any] | None = None) -> Any:
    import tomlkit

    table = tomlkit.table()
    for note in plan.notes:
        table.add(tomlkit.comment(note))
    for name, value in plan.settings.items():
        table.add(name, value)
    steps = dict(keep_steps or {})
    steps.update({name: {"enabled": False} for name in plan.disabled})
    steps.update({name: {"enabled": True} for name in plan.checks})
    if steps:
        super_table = tomlkit.table(is_super_table=True)
        for name, body in steps.items():
            sub = tomlkit.table()
            sub.update(body)
            super_table.add(name, sub)
        table.add("steps", super_table)
    return table


def has_table(root: Path) -> bool:
    """True if the project's pyproject.toml already has a ``[tool.routine-workflow]`` table."""
    text = read_text(root / "pyproject.toml")
    return text is not None and KEY in _parse(text, root / "pyproject.toml").get("tool", {})


def write(root: Path, plan: InitPlan, *, force: bool) -> tuple[Path, bool]:
    """Write the table into ``root/pyproject.toml`` (created if missing); return the file
    and whether an existing table was replaced. Without ``force`` an existing table is
    a ConfigError; with it, the project's own command steps (tables with ``run``) stay."""
    import tomlkit

    path = root / "pyproject.toml"
    text = read_text(path)
    before = _parse(text or "", path)
    tool_before = before.get("tool", {})
    replaced = isinstance(tool_before, dict) and KEY in tool_before
    if replaced and not force:
        raise ConfigError(
            f"{path}: [{TABLE}] exists already; `config init --force` replaces it "
            "(or edit it, and `config check`)"
        )
    document = tomlkit.parse(text or "")
    if "tool" not in document:
        document.add("tool", tomlkit.table(is_super_table=True))
    old_steps = tool_before.get(KEY, {}).get("steps", {}) if replaced else {}
    own = {n: t for n, t in old_steps.items() if isinstance(t, dict) and "run" in t}
    document["tool"][KEY] = _table(plan, own)
    new_text = tomlkit.dumps(document)
    _check_only_our_table_changed(before, _parse(new_text, path), path)
    return write_text(path, new_text, new=text is None), replaced


def _parse(text: str, path: Path) -> dict[str, Any]:
    try:
        data: dict[str, Any] = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    return data


def _check_only_our_table_changed(
    before: dict[str, Any], after: dict[str, Any], path: Path
) -> None:
    def others(data: dict[str, Any]) -> dict[str, Any]:
        tool = {k: v for k, v in data.get("tool", {}).items() if k != KEY}
        return {**{k: v for k, v in data.items() if k != "tool"}, "tool": tool}

    if others(before) != others(after):
        raise ConfigError(
            f"{path}: cannot add [{TABLE}] without disturbing the rest of the file; "
            "add the table shown by `config init --dry-run` by hand"
        )
