"""A reformatted file keeps its identity: owner, group, mode, extended attributes, ACLs.

Every write goes through a temporary file renamed over the original (crash-safe), so
the new inode must be given the old one's identity; a file whose identity cannot be kept
that way (hard links, no write permission) is left alone and reported.
"""

from __future__ import annotations

import os
import stat
import struct
from pathlib import Path

import pytest
from helpers import run_cli, write_tree

ROOT = os.geteuid() == 0
UGLY = b"import os\nx=1\n"
PRETTY = b"x = 1\n"
#: A uid and gid no account on the machine is likely to have: the user who owns the checkout.
USER, GROUP = 4321, 8765


def reported(stderr: str, rel: str, reason: str) -> bool:
    """``rel`` named with ``reason`` on one line (the pass may prefix the reason)."""
    return any(rel + ": " in line and line.endswith(reason) for line in stderr.splitlines())


def project(root: Path, files: dict[str, bytes]) -> Path:
    return write_tree(root, files, '[project]\nname = "demo"\n')


def xattrs_supported(directory: Path) -> bool:
    probe = directory / ".xattr-probe"
    probe.write_bytes(b"")
    try:
        os.setxattr(probe, "user.probe", b"1")
        return True
    except (OSError, AttributeError):  # tmpfs before Linux 6.6; platforms without xattrs
        return False
    finally:
        probe.unlink()


def posix_acl(*entries: tuple[int, int, int]) -> bytes:
    """``system.posix_acl_access`` in the kernel's format (version 2, then tag/perm/id)."""
    return struct.pack("<I", 2) + b"".join(struct.pack("<HHI", *entry) for entry in entries)


NO_ID = 0xFFFFFFFF
# user::rw- user:65534:r-- group::r-- mask::r-- other::---
ACL = posix_acl((1, 6, NO_ID), (2, 4, 65534), (4, 4, NO_ID), (0x10, 4, NO_ID), (0x20, 0, NO_ID))


@pytest.mark.skipif(not ROOT, reason="giving a file to another user needs root")
def test_root_gives_the_file_back_to_its_owner(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"mine.py": UGLY})
    target = root / "mine.py"
    os.chown(target, USER, GROUP)
    target.chmod(0o640)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == PRETTY
    info = target.stat()
    assert (info.st_uid, info.st_gid) == (USER, GROUP)
    assert stat.S_IMODE(info.st_mode) == 0o640


@pytest.mark.skipif(not ROOT, reason="setgid and setuid bits on another user's file need root")
def test_special_mode_bits_survive_the_change_of_owner(tmp_path: Path) -> None:
    # chown clears setuid/setgid: the mode must be set after the owner.
    root = project(tmp_path / "p", {"tool.py": UGLY})
    target = root / "tool.py"
    os.chown(target, USER, GROUP)
    target.chmod(0o6755)
    assert run_cli(["reformat"], root).returncode == 0
    assert stat.S_IMODE(target.stat().st_mode) == 0o6755
    assert target.read_bytes() == PRETTY


def test_extended_attributes_and_acls_are_kept(tmp_path: Path) -> None:
    if not hasattr(os, "setxattr") or not xattrs_supported(tmp_path):
        pytest.skip("no user extended attributes on this file system")
    root = project(tmp_path / "p", {"tagged.py": UGLY})
    target = root / "tagged.py"
    os.setxattr(target, "user.origin", b"downloaded from somewhere")
    os.setxattr(target, "system.posix_acl_access", ACL)
    before = {name: os.getxattr(target, name) for name in os.listxattr(target)}
    mode = stat.S_IMODE(target.stat().st_mode)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert target.read_bytes() == PRETTY
    assert {name: os.getxattr(target, name) for name in os.listxattr(target)} == before
    assert stat.S_IMODE(target.stat().st_mode) == mode


def test_a_hard_linked_file_is_left_alone_and_reported(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"linked.py": UGLY, "other.py": UGLY})
    os.link(root / "linked.py", tmp_path / "elsewhere.py")
    result = run_cli(["reformat"], root)
    assert result.returncode == 1
    assert reported(result.stderr, "linked.py", "has 2 hard links, not rewritten")
    # Both names still name one file, with its old content; the rest was processed.
    assert os.path.samefile(root / "linked.py", tmp_path / "elsewhere.py")
    assert (root / "linked.py").read_bytes() == UGLY
    assert (root / "other.py").read_bytes() == PRETTY
    assert "Traceback" not in result.stderr


def test_a_read_only_file_is_left_alone_and_reported(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"frozen.py": UGLY, "other.py": UGLY})
    (root / "frozen.py").chmod(0o444)
    result = run_cli(["reformat"], root)
    assert result.returncode == 1
    assert reported(result.stderr, "frozen.py", "read-only, not rewritten")
    assert (root / "frozen.py").read_bytes() == UGLY
    assert (root / "other.py").read_bytes() == PRETTY
    # Nothing to do for it next time either: it is not cached as done.
    again = run_cli(["reformat"], root)
    assert reported(again.stderr, "frozen.py", "read-only, not rewritten")


def test_a_read_only_file_with_nothing_to_change_is_fine(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"frozen.py": PRETTY})
    (root / "frozen.py").chmod(0o444)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert run_cli(["reformat", "--check"], root).returncode == 0


def test_check_still_names_a_read_only_file_that_needs_work(tmp_path: Path) -> None:
    root = project(tmp_path / "p", {"frozen.py": UGLY})
    (root / "frozen.py").chmod(0o444)
    result = run_cli(["reformat", "--check"], root)
    assert result.returncode == 1
    assert "would reformat frozen.py" in result.stdout + result.stderr
