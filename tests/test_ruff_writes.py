"""Writing in batches (``reformat.writes``): one undo-journal sync per batch, the files'
own syncs overlapping, and still every promise of a single write — only unmodified files,
identity kept, each original durable before its file is replaced (even under kill -9)."""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
from pathlib import Path

import pytest
from helpers import popen_cli, run_cli, snapshot, wait_until, write_tree

from routine_workflow import dirs
from routine_workflow.config import load_config
from routine_workflow.fsutil import NotRewritable
from routine_workflow.reformat.pipeline import digest_bytes
from routine_workflow.reformat.writes import write_many_if_unmodified
from routine_workflow.undo.journal import recording
from routine_workflow.undo.layout import new_journal_id, project_journals
from routine_workflow.undo.reader import read_journal

PYPROJECT = '[project]\nname = "demo"\n\n[tool.routine-workflow]\nreformat-engine = "ruff"\n'


def test_a_batch_writes_what_is_unmodified_and_journals_only_that(tmp_path: Path) -> None:
    files = {f"m{i}.py": b"x=%d\n" % i for i in range(6)}
    root = write_tree(tmp_path / "p", files, '[project]\nname = "demo"\n')
    (root / "link.py").hardlink_to(root / "m5.py")
    items = [
        (root / rel, digest_bytes(data), data.replace(b"=", b" = ")) for rel, data in files.items()
    ]
    (root / "m1.py").write_bytes(b"edited = 1\n")  # after the engine read it
    (root / "m2.py").unlink()
    config = load_config({"project_root": root})
    run_id = new_journal_id()
    with recording(config, run_id):
        results = write_many_if_unmodified(items, [root])
    assert results[:5] == [True, False, False, True, True]
    assert isinstance(results[5], NotRewritable)  # hard-linked: left alone, never journaled
    after = snapshot(root)
    assert after["m0.py"] == b"x = 0\n" and after["m1.py"] == b"edited = 1\n"
    assert "m2.py" not in after and after["m5.py"] == b"x=5\n" == after["link.py"]
    journal = read_journal(project_journals(root) / run_id)
    assert [r.path for r in journal.records] == ["m0.py", "m3.py", "m4.py"]
    assert journal.damage == [] and journal.sealed


def test_a_run_of_many_files_is_journaled_and_undone_whole(tmp_path: Path) -> None:
    files = {f"pkg{i % 3}/m{i}.py": b"import os\ndef f( a ):\n  return a\n" for i in range(300)}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert "300 changed" in result.stdout
    [journal] = list(project_journals(root).iterdir())
    assert len(read_journal(journal).records) == 300  # three batches
    undone = run_cli(["undo"], root)
    assert undone.returncode == 0, undone.stderr
    assert {rel: snapshot(root)[rel] for rel in files} == files


def _journals(root: Path) -> Path:
    return dirs.state_dir() / "undo" / dirs.project_id(root)


def _ended_or_recorded(run: subprocess.Popen[str], root: Path, records: int) -> bool:
    """True once ``run`` has ended or its journal holds ``records`` file records."""
    found = list(_journals(root).glob("*/journal.jsonl"))
    return run.poll() is not None or (
        bool(found) and found[0].read_bytes().count(b"\n") - 1 >= records
    )


@pytest.mark.slow
def test_kill_9_during_the_batched_writes_then_undo(tmp_path: Path) -> None:
    """Killed at random instants while the ruff engine writes its batches: every file is
    its old or its new self, and undo brings every old one back."""
    rng = random.Random(20261218)  # noqa: S311 (reproducible instants, not secrets)
    files = {
        f"pkg{n % 7}/m{n}.py": "".join(
            f"import os\ndef f{i}( a,b ):\n    return {{'k':a+b,'n':{n}}}\n"
            for i in range(rng.randint(2, 12))
        ).encode()
        for n in range(400)
    }
    pristine = write_tree(tmp_path / "pristine", files, PYPROJECT)
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    assert run_cli(["reformat"], reference).returncode == 0
    final = snapshot(reference)
    for kill in range(3):
        root = tmp_path / f"run{kill}"
        shutil.copytree(pristine, root)
        target = rng.randint(1, 399)
        run = popen_cli(["--yes", "--steps", "reformat"], root)

        wait_until(lambda: _ended_or_recorded(run, root, target), 120, "the writes")  # noqa: B023
        os.kill(run.pid, signal.SIGKILL)
        run.communicate(timeout=60)
        killed = snapshot(root)
        for rel, data in files.items():
            assert killed[rel] in (data, final[rel]), f"kill {kill}: {rel} is neither old nor new"
        undone = run_cli(["undo"], root)
        assert undone.returncode == 0, (kill, undone.stdout, undone.stderr)
        assert {rel: snapshot(root)[rel] for rel in files} == files, f"kill {kill}"


def test_every_file_of_a_batch_is_checked_for_being_inside(tmp_path: Path) -> None:
    """The inside-the-project check, made once per directory, still refuses the batch
    with a file outside, whichever directory it shares with the others."""
    from routine_workflow.fsutil import UnsafePath

    root = write_tree(tmp_path / "p", {"a/x.py": b"x=1\n", "a/y.py": b"y=1\n"}, PYPROJECT)
    outside = tmp_path / "elsewhere"
    outside.mkdir()
    (outside / "z.py").write_bytes(b"z=1\n")
    (root / "a" / "link").symlink_to(outside, target_is_directory=True)
    items = [
        (root / "a" / rel, digest_bytes(b"x=1\n" if rel == "x.py" else b"y=1\n"), b"new\n")
        for rel in ("x.py", "y.py")
    ]
    escape = [(root / "a" / "link" / "z.py", digest_bytes(b"z=1\n"), b"new\n")]
    for batch in (items + escape, escape + items, [items[0], *escape, items[1]]):
        with pytest.raises(UnsafePath):
            write_many_if_unmodified(batch, [root])
    assert (outside / "z.py").read_bytes() == b"z=1\n"
    assert write_many_if_unmodified(items, [root]) == [True, True]
