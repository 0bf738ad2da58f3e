"""A PID-validated directory lock: one run per project at a time.

Acquire is ``mkdir`` (atomic on every local file system) followed by an atomic
write of ``owner.json``. A lock whose owner is provably gone is broken under a
``filelock.FileLock`` guard, so two waiters never both break it and both win.

Staleness fails closed, as filelock's ``_identity.owner_is_stale`` does (and
PostgreSQL's postmaster.pid, Qt's QLockFile and Mercurial's lock before it): an
owner on another host, or one whose start time cannot be read, counts as live.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import time
from dataclasses import asdict, dataclass
from datetime import datetime, timezone
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # annotations only: typing.Self is 3.11+
    from typing_extensions import Self

from routine_workflow import __version__
from routine_workflow.dirs import private_dir
from routine_workflow.errors import LockBusy, LockError
from routine_workflow.fsutil import atomic_write, is_temp_name, read_regular
from routine_workflow.procs import orphans
from routine_workflow.procs.starttime import start_time
from routine_workflow.treelock import tree_lock_path

OWNER_FILE = "owner.json"
#: A lock directory without a readable owner may be mid-acquire (between mkdir and
#: the owner write); it is only judged stale once it is older than this.
DEFAULT_GRACE = 10.0
#: A holder that has made the directory writes its record within milliseconds; a
#: contender that sees no record yet looks again for this long before giving up,
#: so that "busy" can name the holder.
SETTLE = 2.0


@dataclass(frozen=True)
class Owner:
    """Who holds a lock, as recorded in owner.json."""

    pid: int
    create_time: float
    hostname: str
    started: str
    argv: tuple[str, ...]
    version: str

    @classmethod
    def current(cls) -> Owner:
        """The record for this process."""
        return cls(
            pid=os.getpid(),
            create_time=start_time(os.getpid()),  # psutil's figure, without psutil
            # socket.gethostname()'s answer on POSIX (both read the kernel's node name),
            # without importing socket at every start (tests/test_startup_run.py).
            hostname=os.uname().nodename,
            started=datetime.now(timezone.utc).isoformat(timespec="seconds"),
            argv=tuple(sys.argv),
            version=__version__,
        )

    @classmethod
    def from_json(cls, data: Any) -> Owner:
        """Parse a record; raises ValueError if it is not a valid one.

        Strict on purpose: a hand-edited or corrupted record (a pid of -1, a string,
        a float, a missing key) is "unreadable", never a crash and never a guess.
        """
        if not isinstance(data, dict):
            raise ValueError("owner record is not an object")
        pid, create_time = data.get("pid"), data.get("create_time")
        if not orphans.valid_pid(pid):
            raise ValueError(f"owner record has no valid pid: {pid!r:.40}")
        if not orphans.valid_start_time(create_time):
            raise ValueError(f"owner record has no valid start time: {create_time!r:.40}")
        argv = data.get("argv", [])
        if not isinstance(argv, list) or not all(isinstance(a, str) for a in argv):
            raise ValueError("owner record has an invalid argv")
        text = {key: data.get(key, "") for key in ("hostname", "started", "version")}
        if not all(isinstance(value, str) for value in text.values()) or not text["hostname"]:
            raise ValueError("owner record has an invalid hostname, start or version")
        return cls(pid, float(create_time), argv=tuple(argv), **text)

    def to_json(self) -> dict[str, Any]:
        """The record as stored."""
        data = asdict(self)
        data["argv"] = list(self.argv)
        return data

    def describe(self) -> str:
        """One human line: pid, host, start time and command line."""
        command = " ".join(self.argv) or "?"
        return f"pid {self.pid} on {self.hostname}, started {self.started}: {command}"


@dataclass(frozen=True)
class Verdict:
    """Whether a lock is stale, and why (for messages)."""

    stale: bool
    reason: str
    #: True only for a holder seen running on this host with its recorded start time.
    verified_alive: bool = False


def judge(
    owner: Owner | None, age: float, grace: float = DEFAULT_GRACE, *, forbidden: bool = False
) -> Verdict:
    """Decide whether a holder is gone. Anything uncertain counts as live."""
    if forbidden:  # never "no record, so stale": it may be root's run, alive
        return Verdict(False, "owner record not readable by this user")
    if owner is None:
        if age > grace:
            return Verdict(True, f"no readable owner record for {age:.0f}s")
        return Verdict(False, "being acquired (no owner record yet)")
    if owner.hostname != os.uname().nodename:
        return Verdict(False, f"held on another host ({owner.hostname})")
    import psutil  # only a contended or stale lock is judged: a free one never pays for it

    try:
        process = psutil.Process(owner.pid)
        if process.status() == psutil.STATUS_ZOMBIE:
            return Verdict(True, f"pid {owner.pid} has exited")
        create_time = process.create_time()
    except psutil.NoSuchProcess:
        return Verdict(True, f"pid {owner.pid} is not running")
    except psutil.Error:
        return Verdict(False, f"pid {owner.pid} is running (start time unreadable)")
    if abs(create_time - owner.create_time) > orphans.START_TIME_TOLERANCE:
        return Verdict(True, f"pid {owner.pid} now belongs to another process (PID reuse)")
    return Verdict(False, f"pid {owner.pid} is running", verified_alive=True)


@dataclass(frozen=True)
class Snapshot:
    """What a lock directory held at one moment: identity, owner, age."""

    inode: int
    owner: Owner | None
    age: float
    #: The owner record exists but this user may not read it (another user's run).
    forbidden: bool = False


class _Held:
    """``with lock:`` acquires (without waiting) and always releases."""

    def acquire(self, wait: float = 0.0) -> None:
        raise NotImplementedError

    def release(self) -> None:
        raise NotImplementedError

    def __enter__(self) -> Self:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


class ProjectLock(_Held):
    """The lock directory of one project. Use as a context manager or acquire/release."""

    def __init__(self, path: Path, grace: float = DEFAULT_GRACE) -> None:
        self.path = Path(path)
        self.grace = grace
        self._me: Owner | None = None
        #: Set when acquire broke a stale lock: the verdict explaining why.
        self.recovered: tuple[Owner | None, Verdict] | None = None
        #: Commands the dead holder left running, stopped when its lock was broken.
        self.stopped: list[str] = []

    # -- reading ----------------------------------------------------------------------------

    def snapshot(self) -> Snapshot | None:
        """The lock's current state, or None if nobody holds it."""
        return _snapshot(self.path)

    def verdict(self, snap: Snapshot) -> Verdict:
        """Judge a snapshot with this lock's grace period."""
        return judge(snap.owner, snap.age, self.grace, forbidden=snap.forbidden)

    @property
    def held_by_me(self) -> bool:
        """True while this object holds the lock."""
        return self._me is not None

    # -- acquiring --------------------------------------------------------------------------

    def acquire(self, wait: float = 0.0, poll: float = 0.2) -> None:
        """Take the lock, breaking a provably stale one; wait up to ``wait`` seconds.

        Raises LockBusy (exit 75) naming the holder if it stays held.
        """
        deadline = time.monotonic() + wait
        try:
            private_dir(self.path.parent)
        except OSError as exc:
            raise LockError(
                f"{self.path.parent}: cannot create lock directory: {exc.strerror}"
            ) from None
        settle_until: float | None = None
        while True:
            if self._try_create():
                return
            snap = self.snapshot()
            if snap is None:
                continue  # released between our mkdir and our look: try again at once
            verdict = self.verdict(snap)
            if verdict.stale and self._break_if_stale():
                continue
            if snap.owner is None and not verdict.stale:
                # Someone is mid-acquire: their record is milliseconds away.
                settle_until = settle_until or time.monotonic() + SETTLE
                deadline = max(deadline, settle_until)
            if time.monotonic() >= deadline:
                raise LockBusy(self._busy_message(snap, verdict))
            time.sleep(max(0.01, min(poll, deadline - time.monotonic())))

    def _try_create(self) -> bool:
        # The record is made before the directory: between the two, contenders see a lock
        # with no owner, so that window holds nothing but the write (on a loaded machine a
        # psutil call there could outlast their SETTLE and leave "busy" unable to name us).
        me = Owner.current()
        try:
            os.mkdir(self.path)
        except FileExistsError:
            return False
        except OSError as exc:
            raise LockError(f"{self.path}: cannot create lock: {exc.strerror}") from None
        self._me = me
        try:
            # Not fsynced: after a power cut every recorded pid is dead, and a lock whose
            # record was lost is stale once older than the grace period. Either way the
            # next run recovers it, without two disk flushes at every start.
            record = json.dumps(me.to_json()).encode()
            atomic_write(self.path / OWNER_FILE, record, durable=False)
        except BaseException as exc:
            self._me = None
            # Without an owner record the directory would look half-acquired to others
            # until the grace period ends; take it away now.
            _remove_ours(self.path)
            if isinstance(exc, OSError):
                raise LockError(f"{self.path}: cannot write lock owner: {exc.strerror}") from None
            raise
        return True

    def _break_if_stale(self, *, force: bool = False) -> bool:
        """Under the guard: re-read, re-judge, and break only the lock judged stale."""
        # filelock is imported only here: it costs every start ~15 ms and is needed only
        # when a lock is left behind.
        import filelock

        guard = filelock.FileLock(str(self.path.parent / f"{self.path.name}.guard"))
        try:
            with guard.acquire(timeout=30):
                snap = self.snapshot()
                if snap is None:
                    return True  # gone already: the caller retries mkdir
                verdict = self.verdict(snap)
                if verdict.verified_alive or not (force or verdict.stale):
                    return False
                if not self._remove_if_same(snap, stop_leftovers=verdict.stale):
                    return False
                self.recovered = (snap.owner, verdict)
                return True
        except filelock.Timeout:
            return False

    def _remove_if_same(self, snap: Snapshot, *, stop_leftovers: bool) -> bool:
        # Rename first: the lock disappears in one step, and we can then check that
        # what we moved is the very directory we judged, not one a rival just made.
        aside = self.path.with_name(f"{self.path.name}.stale-{os.getpid()}-{os.urandom(4).hex()}")
        try:
            os.rename(self.path, aside)
        except FileNotFoundError:
            return True
        moved = _snapshot(aside)
        foreign = _foreign_entries(aside)
        if moved is None or moved.inode != snap.inode or moved.owner != snap.owner or foreign:
            with contextlib.suppress(OSError):  # put it back where it was
                os.rename(aside, self.path)
            if foreign:
                raise LockError(
                    f"{self.path}: not a lock directory (it holds {', '.join(foreign[:3])}); "
                    "refusing to remove it: give --lock-dir a directory of its own"
                )
            return False
        if stop_leftovers:  # the holder is dead: so must be the commands it started
            self.stopped = orphans.stop_leftovers(aside)
        _remove_ours(aside)
        return True

    def _busy_message(self, snap: Snapshot, verdict: Verdict) -> str:
        holder = snap.owner.describe() if snap.owner else "an unknown process"
        return f"another run holds the lock {self.path}: {holder} ({verdict.reason})"

    # -- releasing --------------------------------------------------------------------------

    def release(self) -> None:
        """Remove the lock if, and only if, this object holds it. Safe to call twice."""
        me, self._me = self._me, None
        if me is None:
            return
        snap = self.snapshot()
        if snap is None or snap.owner != me:
            return  # broken by someone with --force; theirs now, not ours to remove
        aside = self.path.with_name(f"{self.path.name}.released-{os.getpid()}")
        try:
            os.rename(self.path, aside)
        except OSError:
            return
        _remove_ours(aside)

    def state(self) -> dict[str, Any]:
        """The lock's path, holder and verdict, JSON-friendly (``lock status``, ``doctor``)."""
        snap = self.snapshot()
        if snap is None:
            return {"path": str(self.path), "held": False}
        verdict = self.verdict(snap)
        return {
            "path": str(self.path),
            "held": True,
            "holder": snap.owner.describe() if snap.owner else "an unknown process",
            "owner": snap.owner.to_json() if snap.owner else None,
            "stale": verdict.stale,
            "alive": verdict.verified_alive,
            # between mkdir and the owner record: a run starting this very moment
            "acquiring": snap.owner is None and not snap.forbidden,
            "reason": verdict.reason,
            # what the holder is running now (or, when stale, what a break would stop)
            "commands": orphans.recorded(self.path),
        }

    def break_lock(self, *, force: bool = False) -> tuple[Owner | None, Verdict] | None:
        """``lock break``: remove a stale lock; with ``force``, also one whose liveness is unknown.

        A holder verified alive on this host is never evicted. Returns what was
        broken, or None if there was no lock.
        """
        snap = self.snapshot()
        if snap is None:
            return None
        verdict = self.verdict(snap)
        if not verdict.stale and (not force or verdict.verified_alive):
            hint = "" if force or verdict.verified_alive else "; --force breaks it anyway"
            raise LockError(f"{self.path}: refusing to break a live lock ({verdict.reason}){hint}")
        if not self._break_if_stale(force=force):
            raise LockError(f"{self.path}: the lock changed while breaking it; look again")
        return snap.owner, verdict


def _is_ours(name: str) -> bool:
    # owner.json, the temporary file of its atomic write, and the children's records.
    return name in (OWNER_FILE, orphans.CHILDREN_DIR) or (
        name.startswith(f".{OWNER_FILE}.") and is_temp_name(name)
    )


def _foreign_entries(path: Path) -> list[str]:
    """What a lock directory holds that a lock never does (someone's files: never ours to
    delete, as when ``--lock-dir`` names a directory in use)."""
    try:
        names = sorted(os.listdir(path))
    except OSError:
        return []
    foreign = [name for name in names if not _is_ours(name)]
    children = path / orphans.CHILDREN_DIR
    if orphans.CHILDREN_DIR in names and children.is_dir() and not children.is_symlink():
        foreign += [
            f"{orphans.CHILDREN_DIR}/{name}"
            for name in sorted(os.listdir(children))
            if not name.endswith((".json", ".tmp"))
        ]
    return foreign


def _remove_ours(path: Path) -> None:
    """Remove a lock directory: our own entries only, then the directory if that empties it."""
    children = path / orphans.CHILDREN_DIR
    if children.is_dir() and not children.is_symlink():
        for name in os.listdir(children):
            if name.endswith((".json", ".tmp")):
                with contextlib.suppress(OSError):
                    os.unlink(children / name)
        with contextlib.suppress(OSError):
            os.rmdir(children)
    with contextlib.suppress(OSError):
        for name in os.listdir(path):
            if _is_ours(name) and name != orphans.CHILDREN_DIR:
                with contextlib.suppress(OSError):
                    os.unlink(path / name)
    with contextlib.suppress(OSError):
        os.rmdir(path)


def _snapshot(path: Path) -> Snapshot | None:
    try:
        info = os.lstat(path)
    except FileNotFoundError:
        return None
    owner: Owner | None = None
    forbidden = False
    try:
        owner = Owner.from_json(json.loads(read_regular(path / OWNER_FILE)))
    except PermissionError:
        forbidden = True
    except (OSError, ValueError):
        pass
    age = max(0.0, time.time() - info.st_mtime)
    return Snapshot(inode=info.st_ino, owner=owner, age=age, forbidden=forbidden)


class RunLock(_Held):
    """The locks a run that may change a project holds: its own (per user, per project,
    or ``--lock-dir``) and its work tree's (``tree_lock_path``), taken in that order.

    Busy on either: nothing is held, and LockBusy names the holder (exit 75).
    """

    def __init__(self, lock_dir: Path, root: Path | None = None) -> None:
        self.own = ProjectLock(lock_dir)
        tree = tree_lock_path(root) if root is not None else None
        self.tree = ProjectLock(tree) if tree is not None and tree != self.own.path else None

    @property
    def path(self) -> Path:
        """The run's own lock directory."""
        return self.own.path

    @property
    def paths(self) -> tuple[Path, ...]:
        """Every lock directory held (where the run records the commands it starts)."""
        return tuple(lock.path for lock in self._locks)

    @property
    def _locks(self) -> list[ProjectLock]:
        return [self.own] if self.tree is None else [self.own, self.tree]

    @property
    def recovered(self) -> list[tuple[Owner | None, Verdict]]:
        """The stale locks taking these had to break, with why."""
        return [lock.recovered for lock in self._locks if lock.recovered is not None]

    @property
    def stopped(self) -> list[str]:
        """What the dead holders of broken locks had left running, now stopped."""
        return [leftover for lock in self._locks for leftover in lock.stopped]

    def acquire(self, wait: float = 0.0) -> None:
        """Take every lock, waiting up to ``wait`` seconds in all; all or none."""
        deadline = time.monotonic() + wait
        taken: list[ProjectLock] = []
        try:
            for lock in self._locks:
                lock.acquire(max(0.0, deadline - time.monotonic()))
                taken.append(lock)
        except BaseException:
            for lock in reversed(taken):
                lock.release()
            raise

    def release(self) -> None:
        """Release what this object holds, the work tree's lock first. Safe to call twice."""
        for lock in reversed(self._locks):
            lock.release()
