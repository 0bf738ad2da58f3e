"""Atomic writes and guarded deletes on real files."""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest

from routine_workflow.fsutil import (
    NotRewritable,
    UnsafePath,
    atomic_write,
    atomic_writer,
    ensure_inside,
    human_size,
    is_inside,
    remove_path,
    rewrite_refusal,
    rewrite_user_file,
    sha256_file,
)

ROOT = os.geteuid() == 0
NO_ID = 0xFFFFFFFF


def posix_acl(*entries: tuple[int, int, int]) -> bytes:
    """An ACL in the kernel's xattr format: version 2, then (tag, perm, id) entries."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


# user::rw- user:65534:r-- group::r-- mask::r-- other::r--
ACL = posix_acl((1, 6, NO_ID), (2, 4, 65534), (4, 4, NO_ID), (0x10, 4, NO_ID), (0x20, 4, NO_ID))


def xattrs(path: Path) -> dict[str, bytes]:
    return {name: os.getxattr(path, name) for name in os.listxattr(path)}


def needs_user_xattrs(directory: Path) -> None:
    probe = directory / ".probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
    except (OSError, AttributeError):
        pytest.skip("no user extended attributes here (tmpfs before Linux 6.6, not Linux)")
    finally:
        probe.unlink()


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


@pytest.mark.skipif(not ROOT, reason="giving a file to another owner needs root")
def test_atomic_write_gives_the_new_file_the_old_owner(tmp_path: Path) -> None:
    target = tmp_path / "theirs.txt"
    target.write_bytes(b"old")
    os.chown(target, 4321, 8765)
    target.chmod(0o2750)  # setgid: chown after chmod would clear it
    atomic_write(target, b"new", durable=False)
    info = target.stat()
    assert (info.st_uid, info.st_gid, stat.S_IMODE(info.st_mode)) == (4321, 8765, 0o2750)


def test_atomic_write_keeps_extended_attributes_and_acls(tmp_path: Path) -> None:
    needs_user_xattrs(tmp_path)
    target = tmp_path / "tagged.txt"
    target.write_bytes(b"old")
    os.setxattr(target, "user.checksum", b"abc")
    os.setxattr(target, "system.posix_acl_access", ACL)
    before, mode = xattrs(target), target.stat().st_mode
    rewrite_user_file(target, b"new")
    assert target.read_bytes() == b"new"
    assert xattrs(target) == before
    assert target.stat().st_mode == mode


def test_an_acl_inherited_by_the_temporary_file_is_not_added(tmp_path: Path) -> None:
    needs_user_xattrs(tmp_path)
    target = tmp_path / "plain.txt"
    target.write_bytes(b"old")
    target.chmod(0o600)
    # A default ACL set on the directory later: new files (the temporary one) inherit it.
    os.setxattr(tmp_path, "system.posix_acl_default", ACL)
    rewrite_user_file(target, b"new")
    assert "system.posix_acl_access" not in os.listxattr(target)
    assert stat.S_IMODE(target.stat().st_mode) == 0o600


def test_rewrite_refusals_name_the_reason(tmp_path: Path) -> None:
    linked, frozen, fine = tmp_path / "linked", tmp_path / "frozen", tmp_path / "fine"
    for path in (linked, frozen, fine):
        path.write_bytes(b"old")
    os.link(linked, tmp_path / "sibling")
    frozen.chmod(0o444)
    assert rewrite_refusal(linked) == "has 2 hard links, not rewritten"
    assert rewrite_refusal(frozen) == "read-only, not rewritten"
    assert rewrite_refusal(fine) is None
    for path in (linked, frozen):
        with pytest.raises(NotRewritable) as caught:
            rewrite_user_file(path, b"new")
        assert caught.value.strerror == rewrite_refusal(path)
        assert path.read_bytes() == b"old"
    assert os.path.samefile(linked, tmp_path / "sibling")
    assert sorted(os.listdir(tmp_path)) == ["fine", "frozen", "linked", "sibling"]


@pytest.mark.skipif(ROOT, reason="root can give a file to anyone")
def test_a_file_of_another_user_is_refused_when_not_root(tmp_path: Path) -> None:
    # Another user's file this user cannot write.
    foreign = Path("/etc/passwd")
    assert rewrite_refusal(foreign) is not None
