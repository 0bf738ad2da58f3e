"""`routine-workflow undo`: what a run rewrote comes back exactly, with real runs and files."""

from __future__ import annotations

import json
import os
import random
import re
import shutil
import signal
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import alive, popen_cli, run_cli, snapshot, wait_until, write_tree

from routine_workflow import dirs
from routine_workflow.fsutil import is_temp_name

PYPROJECT = '[project]\nname = "demo"\n'
#: Files black rewrites (unformatted) and one it leaves alone.
UGLY = {
    "pkg/__init__.py": b"x = {  'a':1 }\n",
    "pkg/core.py": b"def f(a,b):\n  return a+b\n",
    "pkg/exec.py": b"#!/usr/bin/env python\nprint( 'hi' )\n",
    "pkg/crlf.py": b"y = [1,2,\r\n  3]\r\n",
    "top.py": b"import os\nz=os.sep\n",
}
CLEAN = {"pkg/fine.py": b'x = {"a": 1}\n'}
#: A past instant (ns) each original file is given, so a restored mtime is recognisable.
OLD_MTIME = 1_600_000_000_123_456_789


def _project(tmp_path: Path, files: dict[str, bytes] | None = None) -> Path:
    root = write_tree(tmp_path / "project", files or {**UGLY, **CLEAN}, PYPROJECT)
    if (root / "pkg/exec.py").exists():
        (root / "pkg/exec.py").chmod(0o750)
    for n, path in enumerate(sorted(root.rglob("*.py"))):
        os.utime(path, ns=(OLD_MTIME + n, OLD_MTIME + n))
    return root


def _stats(root: Path) -> dict[str, tuple[int, int]]:
    """Mode and mtime (ns) of every Python file."""
    return {
        p.relative_to(root).as_posix(): (stat.S_IMODE(p.stat().st_mode), p.stat().st_mtime_ns)
        for p in root.rglob("*.py")
    }


def _run(root: Path, *extra: str) -> subprocess.CompletedProcess[str]:
    done = run_cli(["--yes", "--steps", "reformat", *extra], root, timeout=120)
    assert done.returncode == 0, done.stderr
    return done


def _undo(root: Path, *args: str) -> subprocess.CompletedProcess[str]:
    return run_cli(["undo", *args], root, timeout=120)


def _journals(root: Path) -> Path:
    return dirs.state_dir() / "undo" / dirs.project_id(root)


def _last_run_id(root: Path) -> str:
    runs = json.loads(run_cli(["history", "--json"], root).stdout)
    return str(next(run["run_id"] for run in runs if run["kind"] == "run"))


def _one_error_line(stderr: str) -> str:
    lines = [line for line in stderr.splitlines() if line.strip()]
    assert len(lines) == 1, stderr
    assert "Traceback" not in stderr
    return lines[0]


# --- the round trip ---------------------------------------------------------------------------


def test_undo_puts_back_every_byte_mode_and_mtime(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before, before_stats = snapshot(root), _stats(root)
    clean_inode = (root / "pkg/fine.py").stat().st_ino
    _run(root)
    after = snapshot(root)
    assert {rel for rel in after if after[rel] != before[rel]} == set(UGLY)

    undone = _undo(root)

    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == before
    assert _stats(root) == before_stats
    assert (root / "pkg/fine.py").stat().st_ino == clean_inode  # never touched
    for rel in UGLY:
        assert f"restored {rel}" in undone.stdout
    assert "fine.py" not in undone.stdout


def test_undoing_twice_says_nothing_to_undo(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    assert _undo(root).returncode == 0

    again = _undo(root)

    assert again.returncode == 0, again.stderr
    assert "nothing to undo" in again.stdout
    assert snapshot(root) == before


def test_a_file_edited_since_the_run_is_refused_and_listed(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    edited = b"# my own edit after the run\n"
    (root / "pkg/core.py").write_bytes(edited)

    undone = _undo(root)

    assert undone.returncode == 1, undone.stderr
    assert "pkg/core.py" in undone.stdout + undone.stderr
    assert "restored pkg/core.py" not in undone.stdout
    assert (root / "pkg/core.py").read_bytes() == edited
    now = snapshot(root)
    assert {rel for rel in now if now[rel] != before[rel]} == {"pkg/core.py"}


def test_force_restores_edited_files_and_the_undo_can_be_undone(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    edited = b"# my own edit after the run\n"
    (root / "pkg/core.py").write_bytes(edited)
    after_edit = snapshot(root)

    forced = _undo(root, "--force")

    assert forced.returncode == 0, forced.stderr
    assert snapshot(root) == before
    assert "restored pkg/core.py" in forced.stdout
    undo_id = _undo_id(forced.stdout)

    redo = _undo(root, undo_id)

    assert redo.returncode == 0, redo.stderr
    assert snapshot(root) == after_edit  # the run's output, and the user's own edit
    # The bare command still means "the newest run": already undone, so nothing to do.
    assert snapshot(root) != before


def _undo_id(stdout: str) -> str:
    found = re.search(r"routine-workflow undo ([0-9]{8}T[0-9]{6}Z-[0-9a-f]{6})", stdout)
    assert found, f"no undo id in {stdout!r}"
    return found.group(1)


def test_a_deleted_file_is_refused_and_force_brings_it_back(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    (root / "top.py").unlink()

    refused = _undo(root)
    assert refused.returncode == 1
    assert not (root / "top.py").exists()

    forced = _undo(root, "--force")
    assert forced.returncode == 0, forced.stderr
    assert snapshot(root) == before
    # Undoing that undo deletes it again: the state it found is what it keeps.
    assert _undo(root, _undo_id(forced.stdout)).returncode == 0
    assert not (root / "top.py").exists()


def test_what_is_no_longer_a_regular_file_is_refused_even_with_force(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    (root / "top.py").unlink()
    (root / "top.py").mkdir()  # a directory where the file was
    (root / "pkg/core.py").unlink()
    (root / "pkg/core.py").symlink_to(root / "pkg/fine.py")

    done = _undo(root, "--force")

    assert done.returncode == 1
    assert "refused top.py: it is no longer a regular file" in done.stdout
    assert "refused pkg/core.py: it is no longer a regular file" in done.stdout
    assert (root / "top.py").is_dir() and (root / "pkg/core.py").is_symlink()
    assert (root / "pkg/fine.py").read_bytes() == before["pkg/fine.py"]
    assert (root / "pkg/__init__.py").read_bytes() == before["pkg/__init__.py"]


def test_never_writes_through_a_directory_that_now_leads_elsewhere(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    outside = tmp_path / "outside"
    shutil.move(root / "pkg", outside)  # the run's output, now outside the project
    (root / "pkg").symlink_to(outside)
    outside_before = snapshot(outside)

    done = _undo(root, "--force")

    assert done.returncode == 1
    assert "refused pkg/core.py: a directory on its path now leads out of the project" in (
        done.stdout
    )
    assert snapshot(outside) == outside_before


def test_saved_content_that_fails_its_digest_is_damage(tmp_path: Path) -> None:
    from routine_workflow.undo.layout import encode_line

    root = _project(tmp_path)
    _run(root)
    after = snapshot(root)
    path = _journal_file(root)
    lines = path.read_bytes().splitlines(keepends=True)
    entry = json.loads(lines[1].split(b" ", 1)[1])
    entry["data"] = entry["data"][:-8] + "AAAAAAA="  # a valid line, its saved content broken
    lines[1] = encode_line(entry)
    path.write_bytes(b"".join(lines))
    (path.parent / "sealed.json").unlink()  # sizes changed: only the content check is left

    done = _undo(root)

    assert done.returncode == 1
    assert entry["path"] in _one_error_line(done.stderr)
    assert (root / entry["path"]).read_bytes() == after[entry["path"]]


@pytest.mark.skipif(os.geteuid() != 0, reason="only root can give a file to another user")
def test_the_owner_comes_back(tmp_path: Path) -> None:
    root = _project(tmp_path)
    os.chown(root / "pkg/core.py", 12345, 23456)
    _run(root)
    done = _undo(root)
    assert done.returncode == 0, done.stderr
    info = (root / "pkg/core.py").stat()
    assert (info.st_uid, info.st_gid) == (12345, 23456)


def test_dry_run_shows_and_changes_nothing(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    after, after_stats = snapshot(root), _stats(root)
    (root / "top.py").write_bytes(b"# edited\n")

    shown = _undo(root, "--dry-run")

    assert shown.returncode == 1  # what the real undo would exit with: one file refused
    assert "would restore pkg/core.py" in shown.stdout
    assert "top.py" in shown.stdout + shown.stderr
    now = snapshot(root)
    assert now == {**after, "top.py": b"# edited\n"}
    assert {k: v for k, v in _stats(root).items() if k != "top.py"} == {
        k: v for k, v in after_stats.items() if k != "top.py"
    }


def test_json_lists_what_was_restored(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    done = _undo(root, "--json")
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    assert sorted(report["restored"]) == sorted(UGLY)
    assert report["refused"] == []
    assert report["run_id"] == _last_run_id(root)


def test_list_shows_runs_and_undos_newest_first(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    run_id = _last_run_id(root)
    undo_id = _undo_id(_undo(root).stdout)

    listed = run_cli(["undo", "--list", "--json"], root)

    assert listed.returncode == 0, listed.stderr
    rows = json.loads(listed.stdout)
    assert [(r["id"], r["kind"], r["undoes"]) for r in rows] == [
        (undo_id, "undo", run_id),
        (run_id, "run", None),
    ]
    assert rows[1]["files"] == len(UGLY) and rows[1]["sealed"]
    table = run_cli(["undo", "--list"], root)
    assert run_id in table.stdout and undo_id in table.stdout


def test_undo_names_a_run_by_its_id(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    run_id = _last_run_id(root)
    done = _undo(root, run_id)
    assert done.returncode == 0, done.stderr
    assert snapshot(root) == before


@pytest.mark.slow
def test_a_watch_runs_reformat_can_be_undone(tmp_path: Path) -> None:
    root = _project(tmp_path, CLEAN)
    watcher = popen_cli(["watch", "--yes", "--debounce", "100", "--max-runs", "1"], root)
    try:
        assert watcher.stderr is not None
        for line in watcher.stderr:  # the watcher says when it is watching
            if "watching" in line:
                break
        saved = b"def saved( a ):\n  return a\n"
        (root / "pkg/saved.py").write_bytes(saved)
        assert watcher.wait(timeout=120) == 0
    finally:
        if watcher.poll() is None:
            watcher.kill()
        watcher.communicate()
    assert (root / "pkg/saved.py").read_bytes() != saved  # reformatted by the watch run

    undone = _undo(root)

    assert undone.returncode == 0, undone.stderr
    assert (root / "pkg/saved.py").read_bytes() == saved


# --- what a run leaves, and usage errors ------------------------------------------------------


def test_a_run_that_changes_nothing_writes_no_journal(tmp_path: Path) -> None:
    root = _project(tmp_path, CLEAN)
    _run(root)
    assert not _journals(root).exists()
    run_id = _last_run_id(root)

    named = _undo(root, run_id)
    assert named.returncode == 2
    assert run_id in _one_error_line(named.stderr)

    bare = _undo(root)
    assert bare.returncode == 0, bare.stderr
    assert "nothing to undo" in bare.stdout


def test_a_dry_run_writes_no_journal(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    done = run_cli(["--dry-run", "--steps", "reformat"], root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert snapshot(root) == before
    assert not _journals(root).exists()


def test_a_file_whose_original_cannot_be_journaled_is_left_alone(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    # Where the project's journals go, a file: no journal can be created (even as root).
    _journals(root).parent.mkdir(parents=True)
    _journals(root).write_text("in the way")

    done = run_cli(["--yes", "--steps", "reformat"], root, timeout=120)

    assert done.returncode == 1
    assert "undo journal" in done.stdout + done.stderr
    assert snapshot(root) == before


def test_an_unknown_run_id_is_a_usage_error(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    for bad in ("20200101T000000Z-abcdef", "../../etc", "x/y"):
        done = _undo(root, bad)
        assert done.returncode == 2, (bad, done.stderr)
        _one_error_line(done.stderr)


def test_journal_is_private_and_records_the_run(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    run_id = _last_run_id(root)
    journal = _journals(root) / run_id
    assert journal.is_dir()
    for path in (journal, journal.parent, journal.parent.parent):
        assert stat.S_IMODE(path.stat().st_mode) == 0o700, path
    for path in journal.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_only_the_last_keep_undo_journals_are_kept(tmp_path: Path) -> None:
    root = _project(tmp_path)
    env = {"ROUTINE_WORKFLOW_KEEP_UNDO": "2"}
    unrelated = _journals(root).parent / "not-a-journal.txt"
    unrelated.parent.mkdir(parents=True, exist_ok=True)
    unrelated.write_text("keep me")
    ids = []
    for n in range(3):
        (root / "top.py").write_bytes(f"z=  {n}\n".encode())
        done = run_cli(["--yes", "--steps", "reformat"], root, env=env, timeout=120)
        assert done.returncode == 0, done.stderr
        ids.append(_last_run_id(root))
    kept = sorted(p.name for p in _journals(root).iterdir())
    assert kept == sorted(ids[1:])
    assert unrelated.read_text() == "keep me"


def test_the_reformat_command_can_be_undone_too(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    done = run_cli(["reformat"], root, timeout=120)
    assert done.returncode == 0, done.stderr
    assert snapshot(root) != before
    undone = _undo(root)
    assert undone.returncode == 0, undone.stderr
    assert snapshot(root) == before


# --- damaged journals -------------------------------------------------------------------------


def _journal_file(root: Path) -> Path:
    (journal,) = list(_journals(root).iterdir())
    return journal / "journal.jsonl"


def test_a_corrupt_line_is_one_line_exit_1_and_nothing_restored_from_it(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    after = snapshot(root)
    path = _journal_file(root)
    lines = path.read_bytes().splitlines(keepends=True)
    assert len(lines) == 1 + len(UGLY)  # a header, then one line per file
    victim = lines[2]
    victim_rel = json.loads(victim.split(b" ", 1)[1])["path"]
    # Flip one byte in the middle of the second file's line.
    mid = len(victim) // 2
    lines[2] = victim[:mid] + bytes([victim[mid] ^ 0x01]) + victim[mid + 1 :]
    path.write_bytes(b"".join(lines))

    done = _undo(root)

    assert done.returncode == 1
    assert "damaged" in _one_error_line(done.stderr)
    now = snapshot(root)
    assert now[victim_rel] == after[victim_rel]  # the damaged part: left as the run wrote it
    assert {rel: now[rel] for rel in now if rel != victim_rel} == {
        rel: before[rel] for rel in before if rel != victim_rel
    }


def test_a_truncated_journal_of_a_finished_run_is_detected(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    after = snapshot(root)
    path = _journal_file(root)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 40])  # the last record loses its end

    done = _undo(root)

    assert done.returncode == 1
    assert "damaged" in _one_error_line(done.stderr)
    restored = [rel for rel in after if snapshot(root)[rel] != after[rel]]
    assert len(restored) == len(UGLY) - 1


def test_garbage_instead_of_a_journal_is_one_line(tmp_path: Path) -> None:
    root = _project(tmp_path)
    _run(root)
    after = snapshot(root)
    _journal_file(root).write_bytes(b"\x00\xff not a journal at all\n" * 3)

    done = _undo(root)

    assert done.returncode == 1
    assert "damaged" in _one_error_line(done.stderr)
    assert snapshot(root) == after


def test_the_torn_last_record_of_a_killed_run_is_ignored(tmp_path: Path) -> None:
    root = _project(tmp_path)
    before = snapshot(root)
    _run(root)
    path = _journal_file(root)
    (path.parent / "sealed.json").unlink()  # as a run killed before it ended leaves it
    lines = path.read_bytes().splitlines(keepends=True)
    last_rel = json.loads(lines[-1].split(b" ", 1)[1])["path"]
    # A kill before the last record was complete: its file was never replaced, either.
    (root / last_rel).write_bytes(before[last_rel])
    path.write_bytes(b"".join(lines[:-1]) + lines[-1][:25])

    done = _undo(root)

    assert done.returncode == 0, done.stderr
    assert snapshot(root) == before


# --- the lock ---------------------------------------------------------------------------------


@pytest.mark.slow
def test_two_undos_at_once_one_gets_75_and_a_stopped_undo_can_be_finished(
    tmp_path: Path,
) -> None:
    # Many small files: the undo's time goes into its per-file fsyncs, the run's stays short.
    files = {f"pkg{n % 7}/m{n}.py": b"v = {  'a':%d }\n" % n for n in range(300)}
    root = _project(tmp_path, files)
    before = snapshot(root)
    _run(root)
    after = snapshot(root)
    lock_owner = dirs.lock_dir(root) / "owner.json"

    first = popen_cli(["undo"], root)
    try:

        def holds_lock() -> bool:
            try:
                return bool(json.loads(lock_owner.read_text())["pid"] == first.pid)
            except (OSError, ValueError, KeyError):
                return False

        wait_until(lambda: holds_lock() or first.poll() is not None, 60, "the first undo's lock")
        if first.poll() is not None:
            pytest.skip("the first undo finished before it could be caught holding the lock")
        os.kill(first.pid, signal.SIGSTOP)
        second = _undo(root)
        os.kill(first.pid, signal.SIGTERM)  # delivered when it goes on
    finally:
        if alive(first.pid):
            os.kill(first.pid, signal.SIGCONT)
        _, err = first.communicate(timeout=120)

    assert second.returncode == 75, second.stderr
    assert str(first.pid) in _one_error_line(second.stderr)
    # Stopped halfway: one line, every file whole (its original or the run's output).
    assert first.returncode == 143, err
    assert "run it again" in _one_error_line(err)
    halfway = snapshot(root)
    assert all(halfway[rel] in (before[rel], after[rel]) for rel in before)
    finished = _undo(root)
    assert finished.returncode == 0, finished.stderr
    assert snapshot(root) == before


# --- kill -9 during the run's writes ----------------------------------------------------------

KILLS = int(os.environ.get("RW_UNDO_KILLS", "4"))
SEED = int(os.environ.get("RW_UNDO_SEED", "20261218"))


def _crash_tree(root: Path, rng: random.Random, files: int = 150) -> None:
    tree = {}
    for n in range(files):
        body = "".join(
            f"def f{i}( a,b ):\n    return {{'k':a+b,'n':{n}}}\n" for i in range(rng.randint(2, 12))
        )
        tree[f"pkg{n % 9}/m{n}.py"] = body.encode()
    tree["pkg0/formatted.py"] = b"x = 1\n"
    write_tree(root, tree, PYPROJECT)
    for n, path in enumerate(sorted(root.rglob("*.py"))):
        os.utime(path, ns=(OLD_MTIME + n, OLD_MTIME + n))
        if n % 5 == 0:
            path.chmod(0o640)


def _files(root: Path) -> dict[str, tuple[bytes, int, int, int]]:
    """Bytes, mode, mtime and inode of every file but our temporary ones."""
    return {
        p.relative_to(root).as_posix(): (
            p.read_bytes(),
            stat.S_IMODE(p.stat().st_mode),
            p.stat().st_mtime_ns,
            p.stat().st_ino,
        )
        for p in sorted(root.rglob("*"))
        if p.is_file() and not is_temp_name(p.name)
    }


def _kill_after(run: subprocess.Popen[str], journals: Path, records: int) -> None:
    """SIGKILL ``run`` once its journal holds ``records`` file records (or it has ended)."""

    def recorded() -> int:
        found = list(journals.glob("*/journal.jsonl"))
        return found[0].read_bytes().count(b"\n") - 1 if found else 0

    wait_until(lambda: run.poll() is not None or recorded() >= records, 120, "the writes")
    os.kill(run.pid, signal.SIGKILL)
    run.communicate(timeout=60)


@pytest.mark.slow
def test_kill_9_at_random_instants_during_the_writes_then_undo(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 (reproducible instants, not secrets)
    pristine = tmp_path / "pristine"
    _crash_tree(pristine, rng)
    reference = tmp_path / "reference"
    shutil.copytree(pristine, reference)
    _run(reference)
    final = {rel: data for rel, (data, *_) in _files(reference).items()}

    for kill in range(KILLS):
        root = tmp_path / f"run{kill}"
        shutil.copytree(pristine, root)  # copy2: modes and mtimes too
        original = _files(root)
        target = rng.randint(0, 150)  # journal records written before the kill
        run = popen_cli(["--yes", "--steps", "reformat"], root)
        _kill_after(run, _journals(root), target)

        killed = _files(root)
        rewritten = {rel for rel in original if killed[rel][0] != original[rel][0]}
        for rel in rewritten:
            assert killed[rel][0] == final[rel], f"kill {kill}: {rel} is neither old nor new"

        undone = _undo(root)

        assert undone.returncode == 0, (kill, undone.stdout, undone.stderr)
        now = _files(root)
        assert set(now) == set(original)
        for rel, (data, mode, mtime, inode) in original.items():
            assert now[rel][:3] == (data, mode, mtime), f"kill {kill}: {rel} not as before"
            if rel not in rewritten:
                assert now[rel][3] == inode, f"kill {kill}: {rel} was touched"
        for rel in rewritten:
            assert f"restored {rel}" in undone.stdout
