"""A dry run teaches the reformat cache what is already final, and writes nothing else.

The cache is ours (``cache_dir``), not the project's: a dry run may record there that a
content needs nothing, so the dry run after it (and the real run) only hashes those
files. A content that would change is never recorded as final.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest
from helpers import modules_after_run, run_cli, snapshot, write_tree

from routine_workflow.reformat.cache import CACHE_NAME, RACY_NS

FILES = {"final.py": b"x = 1\n", "ugly.py": b"y=2\n", "pkg/also_final.py": b"z = 3\n"}


def _reformat(root: Path, *flags: str) -> dict:  # type: ignore[type-arg]
    done = run_cli(["--yes", "--json", "--steps", "reformat", *flags], root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [step] = json.loads(done.stdout)["steps"]
    return step  # type: ignore[no-any-return]


def test_a_dry_run_fills_the_cache_for_final_content_only(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", FILES, '[project]\nname = "demo"\n')
    before = snapshot(root)

    first = _reformat(root, "--dry-run")
    second = _reformat(root, "--dry-run")

    assert snapshot(root) == before
    assert (first["counts"]["cached"], first["counts"]["changed"]) == (0, 1)
    # The two final files (and pyproject's neighbours) come from the cache; ugly.py does not.
    assert second["counts"]["cached"] == second["counts"]["unchanged"] == 2
    assert second["counts"]["changed"] == 1
    real = _reformat(root)
    assert real["counts"]["cached"] == 2 and real["counts"]["changed"] == 1
    assert (root / "ugly.py").read_bytes() == b"y = 2\n"


def test_reformat_check_fills_the_cache_too(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", FILES, '[project]\nname = "demo"\n')
    for _ in range(2):
        done = run_cli(["reformat", "--check", "--json"], root, timeout=120)
        assert done.returncode == 1, done.stderr  # ugly.py would change
    report = json.loads(done.stdout)
    assert report["cached"] == 2
    assert snapshot(root)["ugly.py"] == b"y=2\n"


# --- the stat-first lookup ---------------------------------------------------------------------
#
# A file whose (size, mtime, ctime, inode) are those recorded with its verdict is answered
# without being read; ``hashed`` in ``--json`` counts the files that were read and hashed.
# Stats are only recorded for files whose times are older than the racy window
# (``cache.RACY_NS``), so these tests wait for the files to settle first.

STAT_FILES = {"a.py": b"x = 1\n", "pkg/b.py": b"y = 2\n"}


def _check(root: Path, *flags: str) -> dict:  # type: ignore[type-arg]
    done = run_cli(["reformat", "--json", *flags], root, timeout=120)
    assert done.returncode in (0, 1), done.stdout + done.stderr
    return json.loads(done.stdout)  # type: ignore[no-any-return]


def _settle(root: Path) -> None:
    """Wait until every file under ``root`` is older than the racy window."""
    newest = max(p.stat().st_ctime_ns for p in root.rglob("*"))
    time.sleep(max(0.0, (newest + RACY_NS) / 1e9 - time.time() + 0.2))


def _warm(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "p", STAT_FILES, '[project]\nname = "demo"\n')
    _settle(root)
    first = _check(root)  # the pipeline's verdicts, recorded with the files' stats
    assert (first["unchanged"], first["cached"]) == (2, 0)
    return root


@pytest.mark.slow
def test_an_unchanged_file_is_answered_from_its_stat_without_being_read(tmp_path: Path) -> None:
    root = _warm(tmp_path)
    for _ in range(2):
        again = _check(root)
        assert (again["cached"], again["unchanged"], again["hashed"]) == (2, 2, 0)


@pytest.mark.slow
def test_a_warm_run_that_learns_nothing_does_not_rewrite_the_cache(
    tmp_path: Path, isolated_home: Path
) -> None:
    root = _warm(tmp_path)
    [cache] = (isolated_home / "rw").rglob(CACHE_NAME)
    before = cache.stat()
    assert _check(root)["hashed"] == 0
    after = cache.stat()
    assert (after.st_ino, after.st_mtime_ns) == (before.st_ino, before.st_mtime_ns)


@pytest.mark.slow
def test_a_same_size_same_mtime_rewrite_in_place_is_still_read(tmp_path: Path) -> None:
    root = _warm(tmp_path)
    path = root / "a.py"
    old = path.stat()
    with open(path, "r+b") as handle:  # the same inode, the same size
        handle.write(b"x  =1\n")
    os.utime(path, ns=(old.st_atime_ns, old.st_mtime_ns))
    new = path.stat()
    assert (new.st_size, new.st_mtime_ns, new.st_ino) == (old.st_size, old.st_mtime_ns, old.st_ino)

    report = _check(root, "--check")
    assert report["hashed"] == 1 and report["changed"] == 1  # the ctime told
    assert report["changed_files"] == ["a.py"]


@pytest.mark.slow
def test_a_same_size_same_mtime_file_renamed_over_it_is_still_read(tmp_path: Path) -> None:
    root = _warm(tmp_path)
    path = root / "pkg" / "b.py"
    old = path.stat()
    other = root / "pkg" / "b.new"
    other.write_bytes(b"y  =2\n")
    os.utime(other, ns=(old.st_atime_ns, old.st_mtime_ns))
    os.replace(other, path)

    report = _check(root, "--check")
    assert report["hashed"] == 1 and report["changed_files"] == ["pkg/b.py"]


@pytest.mark.slow
def test_a_config_change_discards_the_recorded_stats(tmp_path: Path) -> None:
    root = _warm(tmp_path)
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n[tool.black]\nline-length = 90\n'
    )
    report = _check(root)
    assert (report["cached"], report["hashed"]) == (0, 2)


def test_a_file_just_written_is_not_answered_from_its_stat(tmp_path: Path) -> None:
    # Within the racy window a second change could keep every stat: always read.
    root = write_tree(tmp_path / "p", STAT_FILES, '[project]\nname = "demo"\n')
    _check(root)
    again = _check(root)
    assert (again["cached"], again["hashed"]) == (2, 2)


@pytest.mark.slow
@pytest.mark.skipif(os.geteuid() == 0, reason="root reads a file of mode 000")
def test_a_cached_file_made_unreadable_is_reported_not_answered_from_the_cache(
    tmp_path: Path,
) -> None:
    # chmod changes the ctime: the file is read again, and cannot be.
    root = _warm(tmp_path)
    (root / "a.py").chmod(0)
    done = run_cli(["reformat", "--json"], root, timeout=120)
    assert done.returncode == 1
    [failure] = json.loads(done.stdout)["failures"]
    assert failure["path"] == "a.py" and "Permission denied" in failure["reason"]


# --- the walk record: an unchanged tree is not listed again -----------------------------------


@pytest.mark.slow
def test_a_warm_run_lists_no_directory_and_still_sees_a_new_file(tmp_path: Path) -> None:
    root = _warm(tmp_path)  # the first run listed the settled tree and recorded it
    again = _check(root)
    assert (again["listed"], again["seen"], again["hashed"]) == (0, 2, 0)

    (root / "pkg" / "new.py").write_bytes(b"z=3\n")  # pkg/ changes: its listing is read
    report = _check(root, "--check")
    assert report["listed"] > 0
    assert report["seen"] == 3 and report["changed_files"] == ["pkg/new.py"]


def _clean(root: Path) -> dict:  # type: ignore[type-arg]
    done = run_cli(["--yes", "--json", "--steps", "clean_caches"], root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [step] = json.loads(done.stdout)["steps"]
    return step  # type: ignore[no-any-return]


@pytest.mark.slow
def test_clean_caches_does_not_walk_an_unchanged_clean_tree_and_sees_a_new_cache(
    tmp_path: Path,
) -> None:
    root = write_tree(tmp_path / "p", STAT_FILES, '[project]\nname = "demo"\n')
    _settle(root)
    assert _clean(root)["counts"]["listed"] > 0  # walked, nothing found: recorded
    assert _clean(root)["counts"] == {"removed": 0, "listed": 0}

    sub = root / "pkg"
    old = sub.stat()
    (sub / "__pycache__").mkdir()
    (sub / "__pycache__" / "b.cpython-311.pyc").write_bytes(b"\0")
    os.utime(sub, ns=(old.st_atime_ns, old.st_mtime_ns))  # its ctime still moves on
    step = _clean(root)
    assert step["files"]["delete"] == ["pkg/__pycache__/"]
    assert not (sub / "__pycache__").exists()


def _modules(root: Path, *args: str) -> set[str]:
    return modules_after_run(args, root)[1]


def test_a_warm_reformat_with_nothing_to_write_never_loads_the_writer(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", STAT_FILES, '[project]\nname = "demo"\n')
    _check(root)
    modules = _modules(root, "reformat")
    assert "routine_workflow.reformat.run" in modules
    assert "routine_workflow.reformat.writes" not in modules
    assert "concurrent.futures.thread" not in modules
    (root / "a.py").write_bytes(b"x=1\n")  # something to write: the writer is loaded
    assert "routine_workflow.reformat.writes" in _modules(root, "reformat")
    assert (root / "a.py").read_bytes() == b"x = 1\n"


@pytest.mark.slow
def test_a_lower_size_limit_still_sees_a_file_known_by_its_stats(tmp_path: Path) -> None:
    root = _warm(tmp_path)
    done = run_cli(
        ["reformat", "--json"], root, env={"ROUTINE_WORKFLOW_REFORMAT_MAX_FILE_SIZE": "3"}
    )
    assert done.returncode == 1, done.stdout + done.stderr
    failures = json.loads(done.stdout)["failures"]
    assert sorted(f["path"] for f in failures) == ["a.py", "pkg/b.py"]
    assert all("too large to reformat" in f["reason"] for f in failures)
