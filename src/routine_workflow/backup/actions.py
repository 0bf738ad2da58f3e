"""``backup list``, ``backup verify`` and ``backup restore``."""

from __future__ import annotations

import contextlib
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig


def list_backups(config: WorkflowConfig) -> list[dict[str, Any]]:
    """This project's backups, newest first, JSON-friendly."""
    from routine_workflow.backup import store

    backups = store.list_backups(config.backup_dir, config.project_root)
    return [b.as_json() for b in reversed(backups)]


def find_archive(config: WorkflowConfig, archive: Path) -> Path:
    """``archive`` as given, else in the backup directory: by name, ``latest``, or time stamp.

    A bare word that is no file is looked up among this project's backups:
    the file of that name, ``latest`` (the newest), or a time stamp
    (``20260101T120000Z``, or ``...Z-1`` for a second backup in that second)
    or a unique prefix of one (``20260101T12``). Several matches are a usage problem
    (ConfigError, exit 2); none leaves ``archive`` as given, for the caller
    to report as missing.
    """
    if archive.exists() or archive.is_absolute() or len(archive.parts) != 1:
        return archive
    candidate = config.backup_dir / archive
    if candidate.exists():
        return candidate
    from routine_workflow.backup import store
    from routine_workflow.backup.manifest import BackupError
    from routine_workflow.errors import ConfigError

    backups = store.list_backups(config.backup_dir, config.project_root)
    word = archive.name
    if word == "latest":
        if not backups:
            raise BackupError(f"latest: no backups of {config.project_root} in {config.backup_dir}")
        return backups[-1].path
    stamps = {b.path: store.stamp_of(b.path.name, config.project_root) for b in backups}
    matches = [path for path, stamp in stamps.items() if stamp == word]  # exact wins
    matches = matches or [path for path, stamp in stamps.items() if stamp.startswith(word)]
    if len(matches) > 1:
        shown = ", ".join(p.name for p in matches[-3:])
        raise ConfigError(
            f"{word}: {len(matches)} backups match (e.g. {shown}); give more of the time stamp"
        )
    return matches[0] if matches else archive


def verify_archive(config: WorkflowConfig, archive: Path) -> dict[str, Any]:
    """Verify one archive; BackupError (exit 1) names what is wrong."""
    from routine_workflow.backup.manifest import BackupError
    from routine_workflow.backup.reader import verify

    path = find_archive(config, archive)
    if not path.is_file():
        raise BackupError(f"{archive}: no such backup archive")
    # Integrity only: links leading out of the project are reported, and refused by restore.
    verified = verify(path, allow_escaping_links=True)
    return {
        "path": str(path),
        "files": verified.files,
        "bytes": verified.bytes,
        "entries": verified.entries,
        "created": verified.manifest.get("created"),
        "verified": True,
        "escaping_links": verified.escaping_links,
    }


def restore_archive(
    config: WorkflowConfig,
    archive: Path,
    target: Path | None,
    force: bool,
    skip_unsafe_links: bool = False,
) -> dict[str, Any]:
    """Restore ``archive`` into ``target`` (default: the project root).

    Restoring into the project takes the project's lock, so it never races a
    run that is reformatting the same files (busy: exit 75).
    """
    from routine_workflow.backup.manifest import BackupError
    from routine_workflow.backup.restore import restore
    from routine_workflow.fsutil import is_inside
    from routine_workflow.lock import RunLock

    path = find_archive(config, archive)
    if not path.is_file():
        raise BackupError(f"{archive}: no such backup archive")
    target = target or config.project_root
    inside = is_inside(target, config.project_root)
    with RunLock(config.lock_dir, config.project_root) if inside else contextlib.nullcontext():
        done = restore(path, target, force=force, skip_unsafe_links=skip_unsafe_links)
    return {
        "archive": str(path),
        "target": str(done.target),
        "files": done.files,
        "dirs": done.dirs,
        "symlinks": done.symlinks,
        "bytes": done.bytes,
        "skipped_links": done.skipped_links,
    }
