"""The run after a reformatting run takes no new backup, and the restore point still holds.

A run backs up, then reformats: its backup holds the files as they were before it
rewrote them, and its undo journal records, for each file, the digest of what it held
(the backup's content) and of what it wrote. The next run finds the project different
from that backup only by files whose content is exactly what our own journaled runs
wrote from the backed-up content, so it keeps that backup as its restore point instead
of archiving the same project again. Anything else — an edit of yours, a journal that
is gone or damaged — takes a new backup.
"""

from __future__ import annotations

import json
import shutil
import subprocess
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow import dirs

pytestmark = pytest.mark.slow

PYPROJECT = '[project]\nname = "demo"\n'
UGLY = {"pkg/core.py": b"def f(a,b):\n  return a+b\n", "top.py": b"x = {  'a':1 }\n"}
CLEAN = {"pkg/fine.py": b'x = {"a": 1}\n', "README.md": b"# demo\n"}
STEPS = "backup,reformat"


def _project(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", {**UGLY, **CLEAN}, PYPROJECT)


def _run(root: Path, *extra: str) -> dict[str, dict]:  # type: ignore[type-arg]
    done = run_cli(["--yes", "--json", "--steps", STEPS, *extra], root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    return {step["name"]: step for step in json.loads(done.stdout)["steps"]}


def _archives(root: Path) -> list[str]:
    listed = run_cli(["backup", "list", "--json"], root)
    assert listed.returncode == 0, listed.stderr
    return [entry["path"] for entry in json.loads(listed.stdout)]


def _journals(root: Path) -> Path:
    return dirs.state_dir() / "undo" / dirs.project_id(root)


def _cold(tmp_path: Path) -> tuple[Path, dict[str, bytes], str]:
    """A project after its first run: backed up, then reformatted (and journaled)."""
    root = _project(tmp_path)
    original = snapshot(root)
    steps = _run(root)
    assert steps["backup"]["status"] == "changed"
    assert steps["reformat"]["status"] == "changed"
    [run_id] = [p.name for p in _journals(root).iterdir()]
    return root, original, run_id


def test_the_run_after_a_reformatting_run_keeps_its_backup(tmp_path: Path) -> None:
    root, _, run_id = _cold(tmp_path)
    archives = _archives(root)

    steps = _run(root)

    assert steps["backup"]["status"] == "ok"
    summary = steps["backup"]["summary"]
    assert summary.startswith(f"unchanged since {Path(archives[0]).name} (verified) apart from")
    assert f"2 files run {run_id} reformatted" in summary
    assert steps["reformat"]["status"] == "ok"
    assert _archives(root) == archives
    # and the third run is the same
    assert _run(root)["backup"]["status"] == "ok"
    assert _archives(root) == archives


def test_the_kept_restore_point_gives_back_every_byte(tmp_path: Path) -> None:
    root, original, run_id = _cold(tmp_path)
    reformatted = snapshot(root)
    assert _run(root)["backup"]["status"] == "ok"
    [archive] = _archives(root)

    # The backup is the project before the reformatting...
    restored = tmp_path / "restored"
    done = run_cli(["backup", "restore", archive, "--to", str(restored)], root)
    assert done.returncode == 0, done.stderr
    assert snapshot(restored) == original
    # ...and the undo journal takes the project itself back to it, byte for byte.
    undone = run_cli(["undo", run_id], root)
    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == original
    # Back where the backup is: still no new one; and the reformat is redone exactly.
    steps = _run(root)
    assert (steps["backup"]["status"], steps["reformat"]["status"]) == ("ok", "changed")
    assert "apart from" not in steps["backup"]["summary"]
    assert snapshot(root) == reformatted
    assert _archives(root) == [archive]


def test_an_edit_of_yours_after_the_reformat_takes_a_new_backup(tmp_path: Path) -> None:
    root, _, _ = _cold(tmp_path)
    (root / "README.md").write_text("# demo, edited\n")
    steps = _run(root)
    assert steps["backup"]["status"] == "changed"
    assert "README.md changed" in steps["backup"]["summary"]
    assert len(_archives(root)) == 2


def test_an_edit_of_a_reformatted_file_takes_a_new_backup(tmp_path: Path) -> None:
    root, _, _ = _cold(tmp_path)
    core = root / "pkg" / "core.py"
    core.write_bytes(core.read_bytes() + b"\n\ny = 2\n")
    steps = _run(root)
    assert steps["backup"]["status"] == "changed"
    assert "pkg/core.py changed" in steps["backup"]["summary"]
    restored = tmp_path / "restored"
    newest = _archives(root)[0]
    assert run_cli(["backup", "restore", newest, "--to", str(restored)], root).returncode == 0
    assert (restored / "pkg" / "core.py").read_bytes().endswith(b"y = 2\n")


def test_a_mode_change_of_a_reformatted_file_takes_a_new_backup(tmp_path: Path) -> None:
    root, _, _ = _cold(tmp_path)
    (root / "top.py").chmod(0o755)
    assert _run(root)["backup"]["status"] == "changed"


def test_without_the_journal_a_new_backup_is_taken(tmp_path: Path) -> None:
    root, _, run_id = _cold(tmp_path)
    shutil.rmtree(_journals(root) / run_id)
    assert _run(root)["backup"]["status"] == "changed"
    assert len(_archives(root)) == 2


def test_a_damaged_journal_record_takes_a_new_backup(tmp_path: Path) -> None:
    root, _, run_id = _cold(tmp_path)
    journal = _journals(root) / run_id / "journal.jsonl"
    lines = journal.read_bytes().split(b"\n")
    lines[1] = lines[1].replace(b'"new":"', b'"new":"0', 1)[:-1] + b"}"  # checksum now fails
    journal.write_bytes(b"\n".join(lines))
    steps = _run(root)
    assert steps["backup"]["status"] == "changed"


def test_a_journal_from_before_the_backup_explains_nothing(tmp_path: Path) -> None:
    # Reformat alone (journaled, no backup), then a backup of the reformatted project,
    # then the original content back by hand: the old journal does not make the
    # project "the backup plus our own rewrites".
    root = _project(tmp_path)
    original = snapshot(root)
    done = run_cli(["--yes", "--steps", "reformat"], root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert _run(root)["backup"]["status"] == "changed"
    for rel, data in original.items():
        (root / rel).write_bytes(data)
    done = run_cli(["--yes", "--json", "--steps", "backup"], root, timeout=120)
    [step] = json.loads(done.stdout)["steps"]
    assert step["status"] == "changed"


def test_a_dry_run_agrees(tmp_path: Path) -> None:
    root, _, _ = _cold(tmp_path)
    done = run_cli(["--yes", "--json", "--dry-run", "--steps", STEPS], root, timeout=120)
    assert done.returncode == 0, done.stderr
    steps = {step["name"]: step for step in json.loads(done.stdout)["steps"]}
    assert steps["backup"]["status"] == "ok"
    assert "apart from" in steps["backup"]["summary"]


def test_tar_restores_the_backup_by_hand(tmp_path: Path) -> None:
    root, original, _ = _cold(tmp_path)
    [archive] = _archives(root)
    out = tmp_path / "by-hand"
    out.mkdir()
    subprocess.run(["tar", "xzf", archive, "-C", str(out)], check=True)
    (out / ".routine-workflow-backup.json").unlink()
    assert snapshot(out) == original
