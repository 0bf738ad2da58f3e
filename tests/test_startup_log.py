"""The run's log rotates as ``logging.handlers.RotatingFileHandler`` does, without
importing it (it brings pickle, socket and queue into every run's start-up): the same
files with the same bytes, each 0600; a real run never imports ``logging.handlers``.
"""

from __future__ import annotations

import logging
import logging.handlers
import os
import stat
import subprocess
from pathlib import Path

import pytest
from helpers import modules_after_run, write_tree

from routine_workflow.logs import PrivateRotatingFileHandler


def _records(count: int) -> list[logging.LogRecord]:
    return [
        logging.LogRecord("t", logging.INFO, __file__, 1, "line %d %s", (i, "x" * (i % 37)), None)
        for i in range(count)
    ]


def _files(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in sorted(directory.iterdir())}


# Every case starts from a non-empty file and no record fills a file alone: the rule is
# then the same in every Python we support (3.12.4 stopped rotating empty files).
@pytest.mark.parametrize(("max_bytes", "backups"), [(300, 3), (300, 0), (0, 2), (150, 1)])
def test_rotation_matches_the_standard_librarys(
    tmp_path: Path, max_bytes: int, backups: int
) -> None:
    ours_dir, theirs_dir = tmp_path / "ours", tmp_path / "theirs"
    ours_dir.mkdir()
    theirs_dir.mkdir()
    (ours_dir / "run.log").write_text("an older run's line\n" * 5)
    (theirs_dir / "run.log").write_text("an older run's line\n" * 5)
    ours = PrivateRotatingFileHandler(ours_dir / "run.log", max_bytes, backups)
    theirs = logging.handlers.RotatingFileHandler(
        theirs_dir / "run.log",
        maxBytes=max_bytes,
        backupCount=backups,
        encoding="utf-8",
        errors="backslashreplace",
    )
    for handler in (ours, theirs):
        for record in _records(60):
            handler.handle(record)
        handler.close()
    assert _files(ours_dir) == _files(theirs_dir)
    if max_bytes and backups:
        assert len(_files(ours_dir)) == backups + 1  # it did rotate
    for path in ours_dir.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path


def test_an_empty_log_is_never_rotated(tmp_path: Path) -> None:
    # max_bytes 1: every record fills a file, so each file holds exactly one record and
    # no rotated file is empty (an empty one would have pushed an older log out).
    handler = PrivateRotatingFileHandler(tmp_path / "run.log", 1, 2)
    for record in _records(3):
        handler.handle(record)
    handler.close()
    files = _files(tmp_path)
    assert sorted(files) == ["run.log", "run.log.1", "run.log.2"]
    assert [files[n].count(b"\n") for n in ("run.log.2", "run.log.1", "run.log")] == [1, 1, 1]
    assert files["run.log.2"].startswith(b"line 0") and files["run.log"].startswith(b"line 2")


def test_a_log_path_that_is_not_a_regular_file_never_rotates(tmp_path: Path) -> None:
    fifo = tmp_path / "log.fifo"
    os.mkfifo(fifo)
    reader = os.open(fifo, os.O_RDONLY | os.O_NONBLOCK)  # so that opening for writing works
    try:
        handler = PrivateRotatingFileHandler(fifo, 10, 2)
        for record in _records(3):
            handler.handle(record)
        handler.close()
        assert sorted(p.name for p in tmp_path.iterdir()) == ["log.fifo"]
    finally:
        os.close(reader)


def test_a_run_logs_and_rotates_without_logging_handlers(tmp_path: Path) -> None:
    logs = tmp_path / "logs"
    root = write_tree(
        tmp_path / "p",
        {"app.py": b"x = 1\n"},
        f"[tool.routine-workflow]\nlog_dir = '{logs}'\nlog_max_bytes = 1200\nlog_backup_count = 2\n",
    )
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    for _ in range(4):  # about 500 bytes each
        code, modules, out = modules_after_run(
            ["--dry-run", "--yes", "--steps", "clean_caches"], root
        )
        assert code == 0 and "logging.handlers" not in modules, out
    names = sorted(p.name for p in logs.iterdir())
    assert names[0] == "routine-workflow.log" and len(names) >= 2  # rotated
    for path in logs.iterdir():
        assert stat.S_IMODE(path.stat().st_mode) == 0o600, path
    assert "clean_caches" in (logs / "routine-workflow.log").read_text()
