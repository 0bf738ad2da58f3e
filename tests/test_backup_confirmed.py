"""Once a run has confirmed the project against its backup, the next runs compare stats only.

The run after a reformatting run keeps the backup by following the undo journals and
hashing the reformatted files (tests/test_backup_after_reformat.py). Having done so, it
records what it confirmed: each path's type, size, mode, mtime, inode and ctime, next to
the archive it confirms. A later run whose scan finds exactly those stats keeps the
backup without reading a journal, the sidecar manifest or any file. Anything else (a
stat that moved, a confirmed state or manifest that was edited, a newer archive) goes
back to the full check.
"""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree
from test_backup_after_reformat import (
    CLEAN,
    PYPROJECT,
    UGLY,
    _archives,
    _journals,
    _run,
)

from routine_workflow import dirs

pytestmark = pytest.mark.slow

#: Longer than the racy window (manifest.RACY_WINDOW_NS): a file written within it of a
#: scan is never confirmed by its stats alone.
SETTLE = 2.2


def _state(root: Path) -> Path:
    return dirs.data_dir(root, "backups") / f".{dirs.project_id(root)}.confirmed"


def _confirmed(tmp_path: Path) -> tuple[Path, str]:
    """A project backed up, reformatted, then confirmed by a second run (full check)."""
    root = write_tree(tmp_path / "project", {**UGLY, **CLEAN}, PYPROJECT)
    assert _run(root)["backup"]["status"] == "changed"
    [run_id] = [p.name for p in _journals(root).iterdir()]
    time.sleep(SETTLE)
    second = _run(root)["backup"]
    assert second["status"] == "ok", second
    assert second["counts"]["hashed"] >= 2  # the two reformatted files
    assert "stat_only" not in second["counts"]
    assert _state(root).is_file()
    return root, run_id


def _stat_only(step: dict) -> bool:  # type: ignore[type-arg]
    return step["counts"].get("stat_only") == 1


def test_the_third_run_compares_stats_only(tmp_path: Path) -> None:
    root, run_id = _confirmed(tmp_path)
    archives = _archives(root)
    # Observable from outside: without the journals, the full check would take a new
    # backup (test_without_the_journal_a_new_backup_is_taken); the stat check never
    # reads them.
    away = tmp_path / "journals-away"
    shutil.move(_journals(root), away)

    backup = _run(root)["backup"]

    assert backup["status"] == "ok", backup
    assert _stat_only(backup)
    assert backup["counts"]["hashed"] == 0
    assert backup["summary"] == (
        f"unchanged since {Path(archives[0]).name} (verified) apart from 2 files "
        f"run {run_id} reformatted; no new backup needed"
    )
    assert any("confirmed" in line for line in backup["details"])
    assert _archives(root) == archives


def test_a_run_with_nothing_changed_writes_no_confirmed_state(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    before = _state(root).stat()
    assert _stat_only(_run(root)["backup"])
    after = _state(root).stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


def test_a_same_size_same_mtime_edit_of_a_reformatted_file_is_caught(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    core = root / "pkg" / "core.py"
    info = core.stat()
    data = core.read_bytes()
    core.write_bytes(data.replace(b"a + b", b"b + a"))
    os.utime(core, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert core.stat().st_size == info.st_size

    backup = _run(root)["backup"]

    assert backup["status"] == "changed"
    assert "pkg/core.py changed" in backup["summary"]
    assert not _stat_only(backup)
    restored = tmp_path / "restored"
    done = run_cli(["backup", "restore", _archives(root)[0], "--to", str(restored)], root)
    assert done.returncode == 0, done.stderr
    assert (restored / "pkg" / "core.py").read_bytes() == core.read_bytes()


def test_a_same_size_same_mtime_edit_elsewhere_takes_the_full_check(tmp_path: Path) -> None:
    # The stat check adds ctime and inode to what the manifest check compares: the
    # edit is seen, and the full check decides (by size and mtime, black's assumption).
    root, _ = _confirmed(tmp_path)
    readme = root / "README.md"
    info = readme.stat()
    readme.write_bytes(b"# omed\n")
    os.utime(readme, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert not _stat_only(_run(root)["backup"])


@pytest.mark.parametrize(
    "damage",
    [
        lambda data: data[: len(data) // 2],
        lambda data: data.replace(b'"ours":', b'"ours": ', 1),
        lambda data: b"",
    ],
    ids=["truncated", "edited", "empty"],
)
def test_a_damaged_confirmed_state_is_ignored(tmp_path: Path, damage) -> None:  # type: ignore[no-untyped-def]
    root, _ = _confirmed(tmp_path)
    state = _state(root)
    state.write_bytes(damage(state.read_bytes()))

    backup = _run(root)["backup"]

    assert backup["status"] == "ok"
    assert not _stat_only(backup)
    assert backup["counts"]["hashed"] >= 2
    # The full check confirmed the project again: the next run is cheap again.
    time.sleep(SETTLE)
    assert _stat_only(_run(root)["backup"])


def test_an_edited_manifest_sidecar_takes_the_full_check(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    [archive] = _archives(root)
    sidecar = Path(archive + ".manifest.json")
    doc = json.loads(sidecar.read_bytes())
    doc["verified"] = False
    sidecar.write_text(json.dumps(doc))

    backup = _run(root)["backup"]

    assert not _stat_only(backup)
    assert backup["status"] == "changed"  # a backup not marked verified is no restore point


def test_a_damaged_archive_is_never_kept_by_the_stat_check(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    [archive] = _archives(root)
    data = bytearray(Path(archive).read_bytes())
    data[len(data) // 2] ^= 0xFF
    Path(archive).write_bytes(bytes(data))

    backup = _run(root)["backup"]

    assert backup["status"] == "changed"
    assert "damaged" in backup["summary"]


def test_a_new_file_takes_a_new_backup(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    (root / "new.txt").write_text("new\n")
    backup = _run(root)["backup"]
    assert backup["status"] == "changed"
    assert len(_archives(root)) == 2


def test_an_undo_after_confirmation_is_seen(tmp_path: Path) -> None:
    root, run_id = _confirmed(tmp_path)
    reformatted = snapshot(root)
    assert run_cli(["undo", run_id], root).returncode == 0
    steps = _run(root)
    # Back at the backed-up content: still that backup, by the full check; reformatted again.
    assert steps["backup"]["status"] == "ok"
    assert not _stat_only(steps["backup"])
    assert snapshot(root) == reformatted


def test_a_dry_run_uses_the_stat_check_and_writes_nothing(tmp_path: Path) -> None:
    root, _ = _confirmed(tmp_path)
    state = _state(root).read_bytes()
    backup = _run(root, "--dry-run")["backup"]
    assert backup["status"] == "ok"
    assert _stat_only(backup)
    assert _state(root).read_bytes() == state


def test_a_racily_new_file_is_never_confirmed_by_its_stats(tmp_path: Path) -> None:
    # A file written within the racy window of the scan could change again in the same
    # timestamp tick with the same stats: such a state is not recorded, and every run
    # takes the full check until it is old enough. (A future mtime is always that new.)
    root, _ = _confirmed(tmp_path)
    state = _state(root).read_bytes()
    readme = root / "README.md"
    future = time.time_ns() + 3600 * 10**9
    os.utime(readme, ns=(future, future))

    for _ in range(2):
        backup = _run(root)["backup"]
        assert backup["status"] == "ok"
        assert not _stat_only(backup)
        assert "README.md" not in backup["summary"]
    assert _state(root).read_bytes() == state
