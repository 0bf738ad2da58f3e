"""Take a backup: skip if nothing changed, else write, verify, publish, prune.

``back_up(config, run_id)`` does it and returns a ``BackupOutcome`` (what was
done, a one-line summary, warnings and notes); the backup step reports it.
"""

from __future__ import annotations

import contextlib
import enum
import errno
import os
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from routine_workflow import __version__
from routine_workflow.backup import confirmed, store
from routine_workflow.backup.journaled import rewrites_since
from routine_workflow.backup.manifest import BackupError, Scan, dump, first_change, scan
from routine_workflow.config import WorkflowConfig
from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir
from routine_workflow.fsutil import _fsync_dir, atomic_write, human_size, sha256_file
from routine_workflow.output import plural


class Action(enum.Enum):
    """What ``back_up`` did."""

    UNCHANGED = "unchanged"  # the newest verified backup still matches: nothing written
    WRITTEN = "written"  # a new backup was written, verified and published
    DRY_RUN = "dry_run"  # nothing written; the summary says what would be


@dataclass
class BackupOutcome:
    """What a backup did: a one-line summary, lines worth a warning, notes, and counts."""

    action: Action
    summary: str
    warnings: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)


def back_up(config: WorkflowConfig, run_id: str = "") -> BackupOutcome:
    """Back up ``config``'s project into its backup_dir (in a dry run, only say what would be).

    Raises BackupError, with one line that says nothing in the project changed
    when the backup directory cannot be written.
    """
    directory = config.backup_dir
    try:
        return _take(config, run_id, directory)
    except OSError as exc:
        where = exc.filename or directory
        raise BackupError(
            f"cannot write backup to {directory}: {where}: "
            f"{exc.strerror or exc}; nothing was changed in the project"
        ) from None


def _take(config: WorkflowConfig, run_id: str, directory: Path) -> BackupOutcome:
    root = config.project_root
    current = scan(config)
    counts = {"files": current.files, "bytes": current.bytes}
    kept = _confirmed(config, directory, current, counts)
    if kept is not None:
        return kept
    latest, why_not = _previous(directory, root)
    ours: dict[str, str] = {}
    runs: list[str] = []
    change: str | None = why_not
    hashed: list[str] = []
    if latest is not None:
        # What our own journaled runs rewrote since is no change (docs/backup.md).
        ours, runs = rewrites_since(root, latest.sidecar)
        change = first_change(current, latest.sidecar, root, ours, hashed)
    counts["hashed"] = len(hashed)
    if change is None and latest is not None:
        stuck: list[str] = []
        if not config.dry_run:
            _, stuck = _prune(directory, root, config.keep_backups)
            _record(directory, root, latest, current, (len(ours), runs), run_id)
        return BackupOutcome(
            Action.UNCHANGED, _unchanged(latest.path, len(ours), runs), stuck, counts=counts
        )
    if config.dry_run:
        _check_writable(directory)
        return BackupOutcome(
            Action.DRY_RUN,
            f"dry run: would archive {plural(current.files, 'file')} "
            f"({human_size(current.bytes)}) into {directory} ({change})",
        )
    # Imported only to write: a run with nothing to back up never loads them.
    from routine_workflow.backup.reader import escaping_links

    private_dir(directory)
    leftovers = store.remove_leftovers(directory, root)
    final, archive_size, left_out = _write(config, run_id, directory, current)
    pruned, stuck = _prune(directory, root, config.keep_backups, protect=final)
    warnings = [f"left out {line}" for line in [*current.left_out, *left_out]] + stuck
    warnings += [
        f"symlink {name} points outside the project: restoring this backup needs "
        "--skip-unsafe-links (the link is then left out)"
        for name in escaping_links(current.items)
    ]
    notes = [f"removed leftover {name}" for name in leftovers]
    notes += [f"removed old backup {p.name}" for p in pruned]
    counts.update({"archive_bytes": archive_size, "pruned": len(pruned)})
    summary = (
        f"{final.name}: {plural(current.files, 'file')}, {human_size(current.bytes)} -> "
        f"{human_size(archive_size)}, verified ({change})"
    )
    if left_out or current.left_out:
        summary += (
            f"; {plural(len(left_out) + len(current.left_out), 'path')} left out (see the log)"
        )
    return BackupOutcome(Action.WRITTEN, summary, warnings, notes, counts)


def _confirmed(
    config: WorkflowConfig, directory: Path, current: Scan, counts: dict[str, int]
) -> BackupOutcome | None:
    """The outcome if the scan matches the state the last full check confirmed, else None.

    The archive is still hashed: a damaged backup is never kept (``_previous``).
    """
    found = confirmed.match(directory, config.project_root, current)
    if found is None:
        return None
    try:
        if sha256_file(found.archive) != found.archive_sha256:
            return None  # the full check says it is damaged, and takes a new one
    except OSError:
        return None
    stuck: list[str] = []
    if not config.dry_run:
        _, stuck = _prune(directory, config.project_root, config.keep_backups)
    note = (
        f"compared by stat with the state confirmed at {found.confirmed_at}"
        f"{f' by run {found.confirmed_by}' if found.confirmed_by else ''}"
    )
    return BackupOutcome(
        Action.UNCHANGED,
        _unchanged(found.archive, found.ours, found.runs),
        stuck,
        [note],
        counts={**counts, "hashed": 0, "stat_only": 1},
    )


def _record(
    directory: Path,
    root: Path,
    latest: store.Backup,
    current: Scan,
    apart: tuple[int, list[str]],
    run_id: str,
) -> None:
    """Keep this answer for the next run to compare stats against (``backup.confirmed``).

    Only a shortcut: a state that cannot be written leaves the next run the full check.
    """
    with contextlib.suppress(OSError):
        confirmed.record(directory, root, latest, current, apart, run_id)


def _unchanged(archive: Path, ours: int, runs: list[str]) -> str:
    apart = f" apart from {plural(ours, 'file')} run {', '.join(runs)} reformatted" if ours else ""
    return f"unchanged since {archive.name} (verified){apart}; no new backup needed"


def _prune(
    directory: Path, root: Path, keep: int, protect: Path | None = None
) -> tuple[list[Path], list[str]]:
    """Retention, after the restore point is safe: what was removed, and warnings.

    An old archive that cannot be deleted (immutable, a read-only mount) is a
    warning, never a failed backup: the run's restore point exists, and
    calling the backup failed would hold the steps that need one.
    """
    errors: list[OSError] = []
    removed = store.prune(directory, root, keep, protect=protect, errors=errors)
    return removed, [
        f"cannot remove old backup {Path(exc.filename or directory).name}: {exc.strerror or exc}"
        for exc in errors
    ]


def _check_writable(directory: Path) -> None:
    """Raise the OSError that writing into ``directory`` would, without writing (a dry run).

    The directory, or the nearest of its parents that exists (the backup
    creates the rest), must be a directory this process may write: a dry run
    then says "cannot write backup", and that the run's rewriting steps would
    be held, instead of promising an archive that can never be written.
    """
    probe = directory
    while not os.path.lexists(probe) and probe != probe.parent:
        probe = probe.parent
    if not probe.is_dir():
        raise NotADirectoryError(errno.ENOTDIR, os.strerror(errno.ENOTDIR), str(probe))
    if os.statvfs(probe).f_flag & os.ST_RDONLY:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(probe))
    if not os.access(probe, os.W_OK | os.X_OK):
        raise PermissionError(errno.EACCES, os.strerror(errno.EACCES), str(probe))


def _previous(directory: Path, root: Path) -> tuple[store.Backup | None, str]:
    """The newest backup if it is still byte for byte what was verified; else None and why.

    Hashing the compressed archive is cheap (a fraction of re-verifying it) and
    means a damaged or truncated last backup is never the reason to skip.
    """
    newest = store.newest_backup(directory, root)
    if newest is None:
        return None, "no previous backup"
    if not newest.sidecar.get("archive_sha256"):
        return None, f"previous backup {newest.path.name} has no archive checksum"
    try:
        intact = sha256_file(newest.path) == newest.sidecar.get("archive_sha256")
    except OSError as exc:
        return None, f"previous backup {newest.path.name}: {exc.strerror}"
    if not (intact and newest.sidecar.get("verified")):
        return None, f"previous backup {newest.path.name} is damaged"
    return newest, ""


def _write(
    config: WorkflowConfig, run_id: str, directory: Path, current: Scan
) -> tuple[Path, int, list[str]]:
    """Write to a temp name, verify, write the sidecar, then give the archive its final name."""
    from routine_workflow.backup.reader import verify
    from routine_workflow.backup.writer import write_archive

    root = config.project_root
    when = store.now_utc()
    meta: dict[str, Any] = {
        "project_root": str(root),
        "created": when.isoformat(),
        "created_ts": int(when.timestamp()),
        "scan_started_ns": current.started_ns,
        "tool_version": __version__,
        "compression": "gzip",
        "run_id": run_id,
    }
    workers = min(config.max_workers, os.cpu_count() or 1)
    tmp, doc, left_out = write_archive(current.items, root, directory, meta, workers=workers)
    final = store.free_name(directory, root, when)
    sidecar = store.sidecar_path(final)
    try:
        # Links out of the project are the user's own; restore decides about them.
        verified = verify(tmp, allow_escaping_links=True)
        size = tmp.stat().st_size
        atomic_write(
            sidecar,
            dump(
                {
                    **doc,
                    "archive": final.name,
                    "archive_size": size,
                    "archive_sha256": verified.archive_sha256,
                    "verified": True,
                    # How many paths could not be archived (backup list shows it).
                    "left_out": len(current.left_out) + len(left_out),
                    "verified_at": _now(),
                }
            ),
            PRIVATE_FILE_MODE,  # every file name, size and digest of the project
        )
        tmp.replace(final)
    except BaseException:
        for leftover in (tmp, sidecar):
            leftover.unlink(missing_ok=True)
        raise
    _fsync_dir(directory)
    return final, size, left_out


def _now() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="seconds")
