"""The stats digest of a confirmed state: what it compares, and what it leaves out."""

from __future__ import annotations

import dataclasses

import pytest

from routine_workflow.backup.confirmed import stats_digest
from routine_workflow.backup.manifest import Item, Scan


def _scan(**changes: object) -> Scan:
    items = [
        Item("pkg", "dir", 0, 0o755, 1_000),
        Item("pkg/a.py", "file", 10, 0o644, 2_000),
        Item("link", "symlink", 0, 0o777, 3_000, target="pkg/a.py"),
    ]
    stamps = {"pkg/a.py": (42, 2_500)}
    scan = Scan(items, 5_000, [], stamps)
    for key, value in changes.items():
        if key in ("ino", "ctime_ns"):
            ino, ctime = stamps["pkg/a.py"]
            stamps["pkg/a.py"] = (value, ctime) if key == "ino" else (ino, value)  # type: ignore[assignment]
        else:
            items[1] = dataclasses.replace(items[1], **{key: value})
    return scan


@pytest.mark.parametrize(
    "change",
    [
        {"size": 11},
        {"mode": 0o600},
        {"mtime_ns": 2_001},
        {"ino": 43},
        {"ctime_ns": 2_501},
        {"path": "pkg/b.py"},
    ],
    ids=lambda c: next(iter(c)),
)
def test_any_stat_of_a_file_changes_the_digest(change: dict[str, object]) -> None:
    before = _scan()
    after = _scan(**change)
    if "path" in change:
        after.stamps[str(change["path"])] = after.stamps.pop("pkg/a.py")
    assert stats_digest(after) != stats_digest(before)


def test_a_directory_mtime_is_left_out_and_a_link_target_is_not() -> None:
    base = stats_digest(_scan())
    moved = _scan()
    moved.items[0] = dataclasses.replace(moved.items[0], mtime_ns=9_999)
    assert stats_digest(moved) == base
    relinked = _scan()
    relinked.items[2] = dataclasses.replace(relinked.items[2], target="elsewhere")
    assert stats_digest(relinked) != base


def test_records_cannot_run_into_each_other() -> None:
    # Names may hold spaces and newlines (never a NUL): one path that looks like two
    # records is still another scan.
    one = Scan([Item("a", "dir", 0, 0o755, 0), Item("b", "dir", 0, 0o755, 0)], 0, [])
    other = Scan([Item("a d 493\nb", "dir", 0, 0o755, 0)], 0, [])
    linked = Scan([Item("a", "symlink", 0, 0o777, 0, target="x\nb d 493")], 0, [])
    assert len({stats_digest(one), stats_digest(other), stats_digest(linked)}) == 3
