"""Atomic writes and guarded deletes on real files."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from routine_workflow.fsutil import (
    UnsafePath,
    atomic_write,
    atomic_writer,
    ensure_inside,
    human_size,
    is_inside,
    remove_path,
    sha256_file,
)


@pytest.mark.parametrize("durable", [True, False])
def test_atomic_write_keeps_mode_and_leaves_no_temp(tmp_path: Path, durable: bool) -> None:
    target = tmp_path / "script.py"
    target.write_bytes(b"old")
    target.chmod(0o750)
    atomic_write(target, b"new", durable=durable)
    assert target.read_bytes() == b"new"
    assert stat.S_IMODE(target.stat().st_mode) == 0o750
    assert os.listdir(tmp_path) == ["script.py"]


def test_failed_write_keeps_old_content(tmp_path: Path) -> None:
    target = tmp_path / "f.txt"
    target.write_bytes(b"precious")
    with pytest.raises(RuntimeError), atomic_writer(target, durable=False) as handle:
        handle.write(b"half")
        raise RuntimeError("disk went away")
    assert target.read_bytes() == b"precious"
    assert os.listdir(tmp_path) == ["f.txt"]


def test_inside_checks_resolve_parent_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    root.mkdir(), outside.mkdir()
    os.symlink(outside, root / "link")
    assert is_inside(root / "a" / "b", root)
    assert is_inside(root / "link", root)  # the link itself lives in the tree
    assert not is_inside(root / "link" / "x", root)  # what is behind it does not
    assert not is_inside(root / ".." / "outside", root)
    with pytest.raises(UnsafePath, match="refusing to touch"):
        ensure_inside(tmp_path / "outside" / "f", [root])


def test_remove_path_never_follows_symlinks(tmp_path: Path) -> None:
    root, outside = tmp_path / "root", tmp_path / "outside"
    (root / "cache").mkdir(parents=True)
    outside.mkdir()
    (outside / "keep.txt").write_text("keep")
    (root / "cache" / "data.bin").write_bytes(b"12345")
    os.symlink(outside, root / "cache" / "to_outside")
    freed = remove_path(root / "cache", [root])
    assert freed == 5
    assert not (root / "cache").exists()
    assert (outside / "keep.txt").read_text() == "keep"
    os.symlink(outside, root / "link")
    remove_path(root / "link", [root])
    assert outside.exists() and not (root / "link").exists()
    with pytest.raises(UnsafePath):
        remove_path(outside / "keep.txt", [root])
    import hashlib

    assert sha256_file(outside / "keep.txt") == hashlib.sha256(b"keep").hexdigest()


def test_human_size_uses_one_unit_system() -> None:
    sizes = (0, 512, 1536, 3 << 20, 5 << 30, 7 << 40)
    assert [human_size(n) for n in sizes] == [
        "0 B",
        "512 B",
        "1.5 KiB",
        "3.0 MiB",
        "5.0 GiB",
        "7168.0 GiB",
    ]
