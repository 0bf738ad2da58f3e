"""Doctor checks on the project's own state: effective configuration, state directories, locks."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.doctor.findings import Section, human_size
from routine_workflow.fields import STATE_LOCATIONS
from routine_workflow.lock import ProjectLock
from routine_workflow.treelock import tree_lock_path

PROG = "routine-workflow"


def config_section(config: WorkflowConfig) -> Section:
    """Every setting with its source (as ``config show``); the lines show those not at defaults.

    A name the tool would otherwise ignore (a misspelt table or variable) is a problem.
    """
    values = config.as_dict()
    data = {
        name: {"value": value, "source": config.sources[name]} for name, value in values.items()
    }
    section = Section("config", "configuration", data)
    changed = [(k, v) for k, v in values.items() if config.sources[k] != "default"]
    for name, value in changed:
        section.lines.append(f"{name} = {_short(value)}  ({config.sources[name]})")
    left = len(values) - len(changed)
    section.lines.append(f"{left} more at their defaults (`{PROG} config show` lists all)")
    for warning in config.warnings:
        section.problem(warning, "rename or remove it (a name nothing reads)")
    return section


def _short(value: Any, width: int = 48) -> str:
    text = ", ".join(value) if isinstance(value, list) else str(value)
    return text if len(text) <= width else text[: width - 3] + "..."


def dirs_section(config: WorkflowConfig) -> Section:
    """Where the tool keeps its files for this project, their sizes, and whether it can write there."""
    data: dict[str, dict[str, Any]] = {}
    section = Section("dirs", "state directories", data)
    for name, is_file in STATE_LOCATIONS.items():
        path: Path = getattr(config, name)
        exists = path.exists()
        size = _size(path) if exists else 0
        data[name] = {"path": str(path), "exists": exists, "bytes": size}
        shown = human_size(size) if exists else "not created yet"
        shared = ", shared by all projects" if name == "history_db" else ""
        section.lines.append(f"{name}: {path} ({shown}{shared})")
        blocker = _unwritable(path.parent if is_file else path)
        if blocker is not None:
            data[name]["writable"] = False
            section.problem(
                f"{name} {path} cannot be written ({blocker} is not writable by you)",
                f"chmod u+rwx {blocker}, or set {name} to a directory you own",
            )
    return section


def _size(path: Path) -> int:
    """Bytes under ``path`` (a file: itself and SQLite's -wal/-shm beside it); links not followed."""
    if path.is_file():
        return sum(_file_size(Path(f"{path}{suffix}")) for suffix in ("", "-wal", "-shm"))
    total = 0
    for directory, _dirs, files in os.walk(path):
        total += sum(_file_size(Path(directory, name)) for name in files)
    return total


def _file_size(path: Path) -> int:
    try:
        return path.lstat().st_size
    except OSError:
        return 0


def _unwritable(directory: Path) -> Path | None:
    """The directory that stops the tool writing in ``directory`` (itself, or the nearest
    existing ancestor it would be created in), or None if it can."""
    for candidate in (directory, *directory.parents):
        if candidate.exists():
            return None if os.access(candidate, os.W_OK | os.X_OK) else candidate
    return None  # pragma: no cover (the filesystem root always exists)


def lock_section(config: WorkflowConfig) -> Section:
    """The project lock and the work tree's lock: free, or who holds them and whether alive."""
    locks = [("project lock", ProjectLock(config.lock_dir), f"{PROG} lock break --force")]
    tree = tree_lock_path(config.project_root)
    if tree is not None:
        locks.append(("work-tree lock", ProjectLock(tree), f"rm -r {tree}"))
    data: list[dict[str, Any]] = []
    section = Section("lock", "locks", data)
    for label, lock, remedy in locks:
        state = lock.state()
        data.append({"which": label, **state})
        if not state["held"]:
            section.lines.append(f"{label} {lock.path}: free")
            continue
        section.lines.append(f"{label} {lock.path}: held by {state['holder']} ({state['reason']})")
        if state["stale"]:
            section.lines.append("  stale: the next run breaks it by itself")
        elif not state["alive"] and not state["acquiring"]:
            section.problem(
                f"the {label} {lock.path} is held by {state['holder']} ({state['reason']}), "
                "which cannot be checked from here; every run exits 75 until it is released",
                f"if no run is in progress there, {remedy}",
            )
    return section
