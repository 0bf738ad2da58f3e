"""Command processes recorded in the lock, so that a run killed with -9 leaves none running.

User scripts and command steps run in their own session (so a Ctrl-C or a
timeout can kill their whole process group). The flip side: when the run itself
is killed with SIGKILL, nothing stops them, and the next run, having broken the
stale lock, would rewrite files beside a leftover script still writing them.

So while a run holds the lock, each command it starts is recorded as
``<lock>/children/<pid>.json`` (pid = process group id, its start time, host,
argv) and the record is removed when the command ends. Whoever breaks a stale
lock stops the process groups still recorded in it, after checking each is the
same process (start time) on the same host: a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import json
import os
import time
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeGuard

from routine_workflow.fsutil import read_regular
from routine_workflow.procs.starttime import start_time

if TYPE_CHECKING:  # imported where a stale lock is broken: a run that starts none never pays
    import psutil

CHILDREN_DIR = "children"
#: Two reads of one process's start time agree to well within this (the lock's
#: liveness check uses it too).
START_TIME_TOLERANCE = 0.5
#: Larger pids exist on no platform we know; psutil refuses some of them with OverflowError.
MAX_PID = 2**31
#: Start times are seconds since the epoch; NaN and infinities fail ``0 <= t < MAX_TIME``.
MAX_TIME = 2.0**40


def valid_pid(value: object) -> TypeGuard[int]:
    """True for a pid as a record may hold one: a positive int (not a bool) that fits.

    0 and negative numbers would make ``kill``/``killpg`` signal our own group or every
    process we may signal: a record holding one is corrupt, never obeyed.
    """
    return type(value) is int and 0 < value < MAX_PID


def valid_start_time(value: object) -> TypeGuard[float]:
    """True for a process start time as recorded: a finite, non-negative number."""
    return type(value) in (int, float) and 0 <= value < MAX_TIME  # type: ignore[operator]


_records: tuple[Path, ...] = ()


@contextlib.contextmanager
def recording_in(*lock_dirs: Path) -> Iterator[None]:
    """Record the commands started meanwhile (by this process) inside each of ``lock_dirs``
    (every lock the run holds: whoever breaks any of them stops what the run left)."""
    global _records
    previous, _records = _records, tuple(d / CHILDREN_DIR for d in lock_dirs)
    try:
        yield
    finally:
        _records = previous


def note_started(pid: int, argv: list[str], *, group: bool = True) -> tuple[Path, ...]:
    """Record a command just started as its own process group (or, with ``group=False``,
    a single process such as a pool worker); nothing when not recording.

    Best effort: a record that cannot be written costs only the clean-up after a kill -9.
    No fsync: a power cut stops the command too.
    """
    if not _records:
        return ()
    try:
        create_time = start_time(pid)
    except OSError:
        return ()  # already gone (ProcessLookupError), or unreadable
    # Imported here: only runs that start commands pay for the detector's patterns.
    from routine_workflow.dumps.sensitive import redact_argv

    record = {
        "pid": pid,
        "create_time": create_time,
        "host": os.uname().nodename,  # socket.gethostname(), without importing socket
        "argv": redact_argv(argv),  # the records may outlive the run, e.g. in .git
        "group": group,
    }
    written = []
    for directory in _records:
        path = directory / f"{pid}.json"
        try:
            directory.mkdir(exist_ok=True)
            tmp = path.with_suffix(".tmp")
            tmp.write_text(json.dumps(record), encoding="utf-8")
            os.replace(tmp, path)
        except OSError:
            continue
        written.append(path)
    return tuple(written)


def note_finished(records: tuple[Path, ...]) -> None:
    """Remove the records written by ``note_started``."""
    for record in records:
        with contextlib.suppress(OSError):
            record.unlink()


def recorded(lock_dir: Path) -> list[dict[str, Any]]:
    """The commands recorded in ``lock_dir``, by pid: ``{"pid": ..., "argv": [...]}``."""
    records = [_read(path) for path in (lock_dir / CHILDREN_DIR).glob("*.json")]
    return [
        {"pid": r.pid, "argv": list(r.argv)}
        for r in sorted((r for r in records if r is not None), key=lambda r: r.pid)
    ]


def stop_leftovers(lock_dir: Path, grace: float = 2.0) -> list[str]:
    """Stop the processes a dead run left recorded in ``lock_dir``; describe each one.

    SIGTERM to the group (or the single process), then SIGKILL to whatever of it is
    left after ``grace``.
    """
    import psutil

    stopped = []
    for path in sorted((lock_dir / CHILDREN_DIR).glob("*.json")):
        record = _read(path)
        if record is None:
            continue
        members = _members(record)
        if not members:
            continue
        for member in members:
            with contextlib.suppress(psutil.Error):
                member.terminate()
        # Polled, not psutil.wait_procs: that would reap a child of ours, and its owner
        # (a Popen, a pool) would then never learn how it ended.
        deadline = time.monotonic() + grace
        while (left := _still_running(members)) and time.monotonic() < deadline:
            time.sleep(0.05)
        for member in left:
            with contextlib.suppress(psutil.Error):
                member.kill()
        stopped.append(f"pid {record.pid} ({' '.join(record.argv) or '?'})")
    return stopped


@dataclass(frozen=True)
class _Record:
    pid: int  # the process group's id when ``group``, else one process's
    created: float
    host: str
    argv: tuple[str, ...]
    group: bool


def _read(path: Path) -> _Record | None:
    try:
        data = json.loads(read_regular(path))
    except (OSError, ValueError):
        return None
    if not isinstance(data, dict):
        return None
    pid, created, host, argv = (data.get(k) for k in ("pid", "create_time", "host", "argv"))
    if not (valid_pid(pid) and valid_start_time(created) and isinstance(host, str)):
        return None
    argv = tuple(str(a) for a in argv) if isinstance(argv, list) else ()
    return _Record(pid, float(created), host, argv, data.get("group", True) is not False)


def _members(record: _Record) -> list[psutil.Process]:
    """The live processes of what ``record`` names, if it is provably still the one recorded."""
    import psutil

    pid = record.pid
    # Group 1 is init's: a command we started in its own session never has it.
    if record.host != os.uname().nodename or pid in (1, os.getpid(), os.getpgid(0)):
        return []
    try:
        # Alive: it must be the very process recorded (not a reused pid).
        process = psutil.Process(pid)
        if abs(process.create_time() - record.created) > START_TIME_TOLERANCE:
            return []
    except psutil.NoSuchProcess:
        # A group whose leader is gone: a group id is never reused while the group has
        # members, so whoever still carries it was started by the recorded command.
        return _group_members(pid) if record.group else []
    except psutil.Error:
        return []
    return _group_members(pid) if record.group else [process]


def _still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    import psutil

    running = []
    for process in processes:
        with contextlib.suppress(psutil.Error):
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                running.append(process)
    return running


def _group_members(pgid: int) -> list[psutil.Process]:
    import psutil

    members = []
    for process in psutil.process_iter():
        with contextlib.suppress(psutil.Error, ProcessLookupError, PermissionError):
            if os.getpgid(process.pid) == pgid and process.status() != psutil.STATUS_ZOMBIE:
                members.append(process)
    return members
