"""``procs.orphans``: commands recorded in the lock, stopped after a kill -9 (never a reused pid)."""

from __future__ import annotations

import contextlib
import json
import socket
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest
from helpers import alive, kill_all, wait_until

from routine_workflow.procs import orphans


@pytest.fixture
def lock(tmp_path: Path) -> Path:
    path = tmp_path / "lock"
    path.mkdir()
    return path


@pytest.fixture
def group() -> Iterator[subprocess.Popen[bytes]]:
    """A long command in a process group of its own, as the run starts every command."""
    proc = subprocess.Popen(["sleep", "300"], start_new_session=True)
    yield proc
    if proc.poll() is None:
        proc.kill()
    proc.wait()


def _record(lock: Path, proc: subprocess.Popen[bytes], argv: list[str]) -> Path:
    with orphans.recording_in(lock):
        (record,) = orphans.note_started(proc.pid, argv)
    return record


def _edit(record: Path, **changes: object) -> None:
    data = json.loads(record.read_text())
    data.update(changes)
    record.write_text(json.dumps(data))


def test_nothing_is_recorded_outside_recording_in(group: subprocess.Popen[bytes]) -> None:
    assert orphans.note_started(group.pid, ["sleep", "300"]) == ()
    orphans.note_finished(())  # and finishing "no record" is fine


def test_a_record_names_the_process_and_is_removed_when_it_ends(
    lock: Path, group: subprocess.Popen[bytes]
) -> None:
    record = _record(lock, group, ["sleep", "300"])
    assert record == lock / orphans.CHILDREN_DIR / f"{group.pid}.json"
    data = json.loads(record.read_text())
    assert data["pid"] == group.pid and data["host"] == socket.gethostname()
    assert data["create_time"] == pytest.approx(psutil.Process(group.pid).create_time())
    assert orphans.recorded(lock) == [{"pid": group.pid, "argv": ["sleep", "300"]}]
    orphans.note_finished((record,))
    assert orphans.recorded(lock) == []
    orphans.note_finished((record,))  # twice is harmless


def test_recording_in_nests_and_restores(tmp_path: Path, group: subprocess.Popen[bytes]) -> None:
    outer, inner = tmp_path / "outer", tmp_path / "inner"
    outer.mkdir()
    inner.mkdir()
    with orphans.recording_in(outer):
        with orphans.recording_in(inner):
            assert orphans.note_started(group.pid, ["a"]) != ()
        assert orphans.note_started(group.pid, ["b"]) != ()
    assert orphans.note_started(group.pid, ["c"]) == ()
    assert orphans.recorded(inner) == [{"pid": group.pid, "argv": ["a"]}]
    assert orphans.recorded(outer) == [{"pid": group.pid, "argv": ["b"]}]


def test_every_lock_held_gets_the_record(tmp_path: Path, group: subprocess.Popen[bytes]) -> None:
    """A run holding two locks (its own and the work tree's) records in both: whoever
    breaks either one stops what the dead run left."""
    mine, tree = tmp_path / "mine", tmp_path / "tree"
    mine.mkdir()
    tree.mkdir()
    with orphans.recording_in(mine, tree):
        records = orphans.note_started(group.pid, ["sleep", "300"])
    assert len(records) == 2
    assert orphans.recorded(mine) == orphans.recorded(tree) != []
    orphans.note_finished(records)
    assert orphans.recorded(mine) == orphans.recorded(tree) == []


def test_a_process_already_gone_is_not_recorded(lock: Path) -> None:
    proc = subprocess.Popen(["true"])
    proc.wait()
    with orphans.recording_in(lock):
        assert orphans.note_started(proc.pid, ["true"]) == ()


def test_unreadable_records_are_skipped(lock: Path, group: subprocess.Popen[bytes]) -> None:
    _record(lock, group, ["sleep", "300"])
    (lock / orphans.CHILDREN_DIR / "1.json").write_text("{half a rec")
    (lock / orphans.CHILDREN_DIR / "2.json").write_text('{"pid": 2}')
    assert orphans.recorded(lock) == [{"pid": group.pid, "argv": ["sleep", "300"]}]
    assert orphans.stop_leftovers(lock, grace=0.5) == [f"pid {group.pid} (sleep 300)"]


def test_stop_leftovers_stops_a_recorded_group(lock: Path, group: subprocess.Popen[bytes]) -> None:
    _record(lock, group, ["sleep", "300"])
    assert orphans.stop_leftovers(lock, grace=5.0) == [f"pid {group.pid} (sleep 300)"]
    assert group.wait(timeout=30) != 0


def test_stop_leftovers_finds_members_after_the_leader_exited(lock: Path) -> None:
    # The leader (sh) leaves, its background sleep keeps the process group alive.
    leader = subprocess.Popen(
        ["sh", "-c", "sleep 300 > /dev/null & echo $!"],
        start_new_session=True,
        stdout=subprocess.PIPE,
    )
    _record(lock, leader, ["sh", "-c", "..."])
    member = int(leader.communicate(timeout=30)[0])
    try:
        assert alive(member)
        assert orphans.stop_leftovers(lock, grace=5.0) == [f"pid {leader.pid} (sh -c ...)"]
        wait_until(lambda: not alive(member), what=f"member {member} to stop")
    finally:
        with contextlib.suppress(psutil.NoSuchProcess):
            kill_all([psutil.Process(member)])


@pytest.mark.parametrize(
    "change",
    [
        {"create_time": 1.0},  # same pid, another process: the pid was reused
        {"host": "another-host.example"},  # a process there is none of ours
    ],
)
def test_stop_leftovers_never_signals_a_process_it_cannot_prove_is_the_recorded_one(
    lock: Path, group: subprocess.Popen[bytes], change: dict[str, object]
) -> None:
    record = _record(lock, group, ["sleep", "300"])
    _edit(record, **change)
    assert orphans.stop_leftovers(lock, grace=0.5) == []
    assert group.poll() is None and alive(group.pid)


SELF_RECORD = """
import json, os, socket, sys
from pathlib import Path
import psutil
from routine_workflow.procs import orphans

lock = Path(sys.argv[1])
(lock / orphans.CHILDREN_DIR).mkdir()
me = psutil.Process()
record = {"pid": me.pid, "create_time": me.create_time(), "host": socket.gethostname(), "argv": []}
(lock / orphans.CHILDREN_DIR / f"{me.pid}.json").write_text(json.dumps(record))
print(orphans.stop_leftovers(lock, grace=0.5), flush=True)
"""


def test_stop_leftovers_never_stops_its_own_process_group(lock: Path) -> None:
    # In a process (and group) of its own: if the check broke, only that process would die.
    out = subprocess.run(
        [sys.executable, "-c", SELF_RECORD, str(lock)],
        start_new_session=True,
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert (out.returncode, out.stdout) == (0, "[]\n"), out.stderr
