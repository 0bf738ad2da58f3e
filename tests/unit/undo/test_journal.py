"""``undo.journal``: the line format, durable recording, and reading back with validation."""

from __future__ import annotations

import json
import os
import stat
from pathlib import Path

import pytest

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.undo.journal import Recorder, record_replacement, recording
from routine_workflow.undo.layout import (
    JOURNAL_FILE,
    SEAL_FILE,
    encode_line,
    new_journal_id,
    project_journals,
    sha256,
)
from routine_workflow.undo.reader import read_journal, safe_relative
from routine_workflow.undo.store import (
    JournalNotFound,
    find_journal,
    journal_summary,
    list_journals,
    prune,
)


@pytest.fixture
def config(project: Path) -> WorkflowConfig:
    return load_config({"project_root": project})


def _write(root: Path, rel: str, data: bytes) -> Path:
    path = root / rel
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_bytes(data)
    return path


def _recorded(config: WorkflowConfig, files: dict[str, bytes], run_id: str = "") -> Path:
    run_id = run_id or new_journal_id()
    with recording(config, run_id):
        for rel, data in files.items():
            path = _write(config.project_root, rel, data)
            record_replacement(path, data, data.upper())
    return project_journals(config.project_root) / run_id


def test_a_recorded_journal_reads_back_whole(config: WorkflowConfig) -> None:
    files = {"a.py": b"x = 1\n", "pkg/b.py": os.urandom(5000)}
    (config.project_root / "a.py").parent.mkdir(exist_ok=True)
    directory = _recorded(config, files)

    read = read_journal(directory)

    assert read.damage == [] and read.sealed and not read.torn_tail
    assert read.kind == "run" and read.header and read.header["root"] == str(config.project_root)
    assert [r.path for r in read.records] == list(files)
    for record in read.records:
        data = files[record.path]
        assert record.original() == data
        assert record.old == sha256(data) and record.new == sha256(data.upper())
        info = (config.project_root / record.path).stat()
        assert (record.mode, record.mtime_ns) == (stat.S_IMODE(info.st_mode), info.st_mtime_ns)


def test_nothing_recorded_means_no_journal(config: WorkflowConfig) -> None:
    with recording(config, new_journal_id()) as recorder:
        assert recorder is not None
    assert not project_journals(config.project_root).exists()


def test_outside_a_recording_nothing_is_written(config: WorkflowConfig) -> None:
    path = _write(config.project_root, "a.py", b"x\n")
    record_replacement(path, b"x\n", b"y\n")
    assert not project_journals(config.project_root).exists()


@pytest.mark.parametrize("changes", [{"keep_undo": 0}, {"dry_run": True}])
def test_keep_undo_0_and_dry_runs_record_nothing(config: WorkflowConfig, changes: dict) -> None:
    assert _recorded(config.with_changes(**changes), {"a.py": b"x\n"}).exists() is False


def test_an_unsealed_journal_ignores_its_torn_last_line(config: WorkflowConfig) -> None:
    directory = _recorded(config, {"a.py": b"a\n", "b.py": b"b\n"})
    (directory / SEAL_FILE).unlink()
    path = directory / JOURNAL_FILE
    path.write_bytes(path.read_bytes()[:-30])

    read = read_journal(directory)

    assert read.damage == [] and read.torn_tail and not read.sealed
    assert [r.path for r in read.records] == ["a.py"]


@pytest.mark.parametrize("cut", [1, 30, 200])
def test_a_sealed_journal_that_lost_its_end_is_damaged(config: WorkflowConfig, cut: int) -> None:
    directory = _recorded(config, {"a.py": b"a\n", "b.py": b"b\n"})
    path = directory / JOURNAL_FILE
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - cut])
    assert read_journal(directory).damage


def test_a_damaged_middle_line_spares_the_others(config: WorkflowConfig) -> None:
    directory = _recorded(config, {"a.py": b"a\n", "b.py": b"b\n", "c.py": b"c\n"})
    path = directory / JOURNAL_FILE
    lines = path.read_bytes().splitlines(keepends=True)
    lines[2] = lines[2].replace(b'"b.py"', b'"B.py"')
    path.write_bytes(b"".join(lines))

    read = read_journal(directory)

    assert read.damage == ["line 3 is damaged"]
    assert [r.path for r in read.records] == ["a.py", "c.py"]


@pytest.mark.parametrize("bad", ["../x.py", "/etc/passwd", "a/../../x", "", "a//b", "a\\b", "./a"])
def test_paths_that_leave_the_root_are_never_records(config: WorkflowConfig, bad: str) -> None:
    assert not safe_relative(bad)
    directory = _recorded(config, {"a.py": b"a\n"})
    path = directory / JOURNAL_FILE
    entry = {"type": "file", "path": bad, "old": None, "new": sha256(b"")}
    path.write_bytes(path.read_bytes() + encode_line(entry))
    (directory / SEAL_FILE).unlink()
    read = read_journal(directory)
    assert read.damage == ["line 3 is damaged"]


def test_saved_content_that_does_not_match_its_digest_is_refused(config: WorkflowConfig) -> None:
    directory = _recorded(config, {"a.py": b"a\n"})
    path = directory / JOURNAL_FILE
    header, line = path.read_bytes().splitlines(keepends=True)
    entry = json.loads(line.split(b" ", 1)[1])
    entry["old"] = sha256(b"something else")
    path.write_bytes(header + encode_line(entry))
    (directory / SEAL_FILE).unlink()

    (record,) = read_journal(directory).records
    with pytest.raises(ValueError, match="digest"):
        record.original()


def test_journal_files_are_private(config: WorkflowConfig) -> None:
    old = os.umask(0)
    try:
        directory = _recorded(config, {"a.py": b"a\n"})
    finally:
        os.umask(old)
    assert stat.S_IMODE(directory.stat().st_mode) == 0o700
    assert stat.S_IMODE(directory.parent.stat().st_mode) == 0o700
    for name in (JOURNAL_FILE, SEAL_FILE):
        assert stat.S_IMODE((directory / name).stat().st_mode) == 0o600


def test_the_default_is_the_newest_run_never_an_undo(config: WorkflowConfig) -> None:
    root = config.project_root
    first = _recorded(config, {"a.py": b"a\n"})
    recorder = Recorder(project_journals(root) / new_journal_id(), root, kind="undo")
    recorder.record("a.py", None, None, sha256(b"a\n"))
    recorder.close()

    found = find_journal(root, None)

    assert found is not None and found.id == first.name
    assert [j.kind for j in list_journals(root)] == ["run", "undo"]
    with pytest.raises(JournalNotFound):
        find_journal(root, "../" + first.name)


def test_prune_keeps_the_newest_and_touches_nothing_else(config: WorkflowConfig) -> None:
    root = config.project_root
    ids = [
        _recorded(config.with_changes(keep_undo=100), {"a.py": b"%d" % n}).name for n in range(5)
    ]
    base = project_journals(root)
    (base / "notes.txt").write_text("mine")
    (base / "20200101T000000Z-abcdef").mkdir()
    (base / "20200101T000000Z-abcdef" / "photo.jpg").write_bytes(b"mine")

    removed = prune(root, 2)

    assert sorted(removed) == sorted(ids[:3])
    left = sorted(p.name for p in base.iterdir())
    assert left == sorted([*ids[3:], "notes.txt", "20200101T000000Z-abcdef"])


def test_a_failed_journal_write_is_an_oserror_naming_the_journal(config: WorkflowConfig) -> None:
    project_journals(config.project_root).parent.mkdir(parents=True)
    project_journals(config.project_root).write_text("in the way")
    path = _write(config.project_root, "a.py", b"a\n")
    with recording(config, new_journal_id()), pytest.raises(OSError, match="undo journal"):
        record_replacement(path, b"a\n", b"b\n")


def test_header_only_journal_lists_zero_files(config: WorkflowConfig) -> None:
    directory = _recorded(config, {"a.py": b"a\n"})
    (summary,) = [journal_summary(info) for info in list_journals(config.project_root)]
    assert summary["id"] == directory.name and summary["files"] == 1 and summary["sealed"]


def test_run_ids_are_journal_ids() -> None:
    from routine_workflow.undo.layout import ID_PATTERN
    from routine_workflow.workflow.session import new_run_id

    assert ID_PATTERN.fullmatch(new_run_id())
    assert ID_PATTERN.fullmatch(new_journal_id())
