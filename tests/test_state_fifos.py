"""A named pipe (or a device) where one of our state files belongs never hangs a command.

Opening a FIFO for reading waits for a writer that never comes: a cron run, `backup
list` or `doctor` would hang forever. Every state file is opened without blocking
and must be a regular file; one that is not is treated as missing or damaged, as a
truncated one already is.
"""

from __future__ import annotations

import os
import stat
import subprocess
import time
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

PYPROJECT = '[project]\nname = "demo"\n'
FILES = {"pkg/a.py": b"x = {  'a':1 }\n", "pkg/b.py": b"y = 2\n"}
COMMANDS = (["--yes", "--quiet"], ["backup", "list"], ["history"], ["doctor"], ["undo", "--list"])


def _newest(home: Path, pattern: str) -> Path:
    found = sorted(home.rglob(pattern))
    assert found, f"no {pattern} under {home}"
    return found[-1]


#: Which state file, found how (the newest of each kind after two runs).
KINDS = {
    "backup archive": "*.tar.gz",
    "backup sidecar": "*.tar.gz.manifest.json",
    "backup confirmed state": ".*.confirmed",
    "dump sidecar": "*_dump_*.md.sha256",
    "dump": "*_dump_*.md",
    "dump inputs manifest": "dump-inputs-*.json",
    "reformat cache": "reformat-cache.json",
    "reformat walk record": "walk-reformat.json",
    "clean_caches walk record": "walk-clean.json",
    "undo journal": "journal.jsonl",
    "undo seal": "sealed.json",
}


@pytest.mark.slow
@pytest.mark.parametrize("kind", sorted(KINDS))
def test_a_fifo_for_a_state_file_never_hangs_a_command(
    kind: str, tmp_path: Path, isolated_home: Path
) -> None:
    root = write_tree(tmp_path / "project", FILES, PYPROJECT)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    assert run_cli(["--yes", "--quiet"], root).returncode == 0
    # Files changed in the last 2 s are "racy": no stat-only state is recorded for them.
    time.sleep(2.5)
    for _ in range(2):  # these record the dump's inputs and confirm the backup
        assert run_cli(["--yes", "--quiet"], root).returncode == 0
    before = snapshot(root)
    target = _newest(isolated_home, KINDS[kind])
    target.unlink()
    os.mkfifo(target)
    for args in COMMANDS:
        try:
            done = run_cli(args, root, timeout=30)
        except subprocess.TimeoutExpired:
            pytest.fail(f"`{' '.join(args)}` hung on a FIFO for the {kind} ({target.name})")
        assert "Traceback" not in done.stderr, done.stderr
        assert done.returncode in (0, 1), (args, done.stdout, done.stderr)
    assert snapshot(root) == before


def _logged_project(tmp_path: Path, isolated_home: Path) -> tuple[Path, Path]:
    """A project after one run, and that run's log file, removed for the test to replace."""
    root = write_tree(tmp_path / "project", FILES, PYPROJECT)
    assert run_cli(["--yes", "--quiet", "--steps", "reformat"], root).returncode == 0
    log = _newest(isolated_home, "routine-workflow.log")
    log.unlink()
    return root, log


def test_a_fifo_for_the_log_file_is_one_line_not_a_hang(
    tmp_path: Path, isolated_home: Path
) -> None:
    root, log = _logged_project(tmp_path, isolated_home)
    os.mkfifo(log)
    before = snapshot(root)
    try:
        done = run_cli(["--yes", "--quiet"], root, timeout=30)
    except subprocess.TimeoutExpired:
        pytest.fail("a run hung on a FIFO nobody reads in place of its log file")
    assert done.returncode == 2, done.stderr
    assert done.stderr.strip().splitlines() == [
        f"routine-workflow: error: log file {log}: cannot open: a named pipe nobody reads"
    ]
    assert snapshot(root) == before


@pytest.mark.skipif(os.geteuid() != 0, reason="making a device node needs root")
def test_a_device_for_the_log_file_is_written_to_and_never_chmodded(
    tmp_path: Path, isolated_home: Path
) -> None:
    # A log pointed at a null device (e.g. a symlink to /dev/null): a run as root used
    # to chmod the device itself to 0600. Here a private node of the same device.
    root, log = _logged_project(tmp_path, isolated_home)
    node = tmp_path / "null"
    os.mknod(node, 0o644 | stat.S_IFCHR, os.makedev(1, 3))
    os.chmod(node, 0o644)  # whatever the umask made of it
    log.symlink_to(node)
    done = run_cli(["--yes", "--quiet"], root, timeout=60)
    assert done.returncode == 0, done.stderr
    assert stat.S_IMODE(node.stat().st_mode) == 0o644
