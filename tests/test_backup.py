"""The backup step and `backup list|verify|restore`, on real files, real processes, real signals."""

from __future__ import annotations

import gzip
import hashlib
import io
import json
import logging
import os
import resource
import signal
import stat
import subprocess
import tarfile
import time
from pathlib import Path

import pytest
from helpers import popen_cli, run_cli

from routine_workflow.backup import store
from routine_workflow.backup.manifest import MANIFEST_MEMBER, Item, dump, manifest_doc
from routine_workflow.config import load_config
from routine_workflow.steps.backup import take_backup
from routine_workflow.steps.base import StepContext


def backup_dir(home: Path) -> Path:
    """The per-project backup directory under the isolated home (there is one project)."""
    dirs = list((home / "rw" / "data" / "backups").iterdir())
    assert len(dirs) == 1, dirs
    return dirs[0]


def archives(directory: Path) -> list[Path]:
    return sorted(p for p in directory.iterdir() if p.name.endswith(".tar.gz"))


def snapshot(root: Path) -> dict[str, tuple[str, int, bytes | str | None]]:
    """Every path under ``root``: (type, permission bits, content or link target)."""
    found: dict[str, tuple[str, int, bytes | str | None]] = {}
    for dirpath, dirnames, filenames in os.walk(root):
        for name in dirnames + filenames:
            path = Path(dirpath) / name
            rel = path.relative_to(root).as_posix()
            info = path.lstat()
            if stat.S_ISLNK(info.st_mode):
                found[rel] = ("symlink", 0, os.readlink(path))
            elif stat.S_ISDIR(info.st_mode):
                found[rel] = ("dir", stat.S_IMODE(info.st_mode), None)
            else:
                found[rel] = ("file", stat.S_IMODE(info.st_mode), path.read_bytes())
    return found


@pytest.fixture
def rich_project(project: Path) -> Path:
    """A project with modes, binary and empty files, empty dirs, symlinks and excluded trees."""
    (project / "pkg").mkdir()
    (project / "pkg" / "__init__.py").write_text("x = 1\n")
    (project / "pkg" / "tool.sh").write_text("#!/bin/sh\necho hi\n")
    (project / "pkg" / "tool.sh").chmod(0o755)
    (project / "secret.txt").write_text("private\n")
    (project / "secret.txt").chmod(0o600)
    (project / "shared.txt").write_text("group\n")
    (project / "shared.txt").chmod(0o640)
    (project / "blob.bin").write_bytes(bytes(range(256)) * 400)
    (project / "empty.txt").write_bytes(b"")
    (project / "empty_dir" / "nested_empty").mkdir(parents=True)
    (project / "locked").mkdir()
    (project / "locked" / "ro.txt").write_text("read only\n")
    (project / "locked").chmod(0o555)
    (project / "link_to_file").symlink_to("pkg/__init__.py")
    (project / "link_to_dir").symlink_to("pkg")
    (project / "pkg" / "up").symlink_to("../secret.txt")
    (project / "dangling").symlink_to("does-not-exist")
    (project / "unicode-é.txt").write_text("ünïcode\n", encoding="utf-8")
    (project / os.fsdecode(b"not-utf8-\xff.txt")).write_bytes(b"bytes\n")
    (project / "c:looks-like-a-drive.txt").write_text("an ordinary POSIX name\n")
    # Left out: .gitignore'd, virtualenv, caches.
    (project / ".gitignore").write_text("*.log\n")
    (project / "debug.log").write_text("noise\n")
    (project / ".venv" / "lib").mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr\n")
    (project / "pkg" / "__pycache__").mkdir()
    (project / "pkg" / "__pycache__" / "x.pyc").write_bytes(b"\0")
    subprocess.run(["git", "init", "-q", str(project)], check=True)
    yield project
    (project / "locked").chmod(0o755)


EXCLUDED = ("debug.log", ".venv", "pkg/__pycache__")


def test_backup_then_restore_reproduces_every_file(
    rich_project: Path, tmp_path: Path, isolated_home: Path
) -> None:
    result = run_cli(["--steps", "backup", "--yes"], rich_project)
    assert result.returncode == 0, result.stderr
    assert "verified" in result.stdout
    [archive] = archives(backup_dir(isolated_home))
    # Plain tar can read it (a restore must not depend on this tool).
    listing = subprocess.run(
        ["tar", "tzf", str(archive)], capture_output=True, text=True, check=True
    ).stdout.split()
    assert "pkg/tool.sh" in listing and MANIFEST_MEMBER in listing

    out = tmp_path / "restored"
    result = run_cli(["backup", "restore", str(archive), "--to", str(out)], rich_project)
    assert result.returncode == 0, result.stderr
    assert "restored" in result.stdout and "symlinks" in result.stdout

    expected = snapshot(rich_project)
    for rel in list(expected):
        if any(rel == e or rel.startswith(e + "/") for e in EXCLUDED):
            del expected[rel]
    assert snapshot(out) == expected
    assert (out / "pkg" / "up").is_symlink()
    assert (out / "empty_dir" / "nested_empty").is_dir()
    assert stat.S_IMODE((out / "pkg" / "tool.sh").stat().st_mode) == 0o755
    assert (out / ".git" / "HEAD").is_file()  # .git is included by default
    (out / "locked").chmod(0o755)


def test_unchanged_project_is_skipped_and_says_so(rich_project: Path, isolated_home: Path) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    directory = backup_dir(isolated_home)
    before = archives(directory)
    # A touch changes the mtime but not the content: hashing shows nothing changed.
    os.utime(rich_project / "blob.bin", ns=(time.time_ns(), time.time_ns() + 10**9))
    result = run_cli(["--steps", "backup", "--yes"], rich_project)
    assert result.returncode == 0
    assert "unchanged since" in result.stdout and "no new backup" in result.stdout
    assert archives(directory) == before

    # Same size, different content: a new backup.
    data = (rich_project / "blob.bin").read_bytes()
    (rich_project / "blob.bin").write_bytes(data[::-1])
    result = run_cli(["--steps", "backup", "--yes"], rich_project)
    assert "changed" in result.stdout and len(archives(directory)) == 2


def test_dry_run_reports_and_writes_nothing(rich_project: Path, isolated_home: Path) -> None:
    result = run_cli(["--steps", "backup", "--dry-run"], rich_project)
    assert result.returncode == 0, result.stderr
    assert "dry run: would archive" in result.stdout and "files" in result.stdout
    assert not (isolated_home / "rw" / "data" / "backups").exists()


def test_list_and_verify(rich_project: Path, isolated_home: Path) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    result = run_cli(["backup", "list", "--json"], rich_project)
    [entry] = json.loads(result.stdout)
    assert {"path", "created", "size", "files", "verified"} <= entry.keys()
    assert entry["verified"] is True and entry["files"] >= 8
    text = run_cli(["backup", "list"], rich_project).stdout
    assert Path(entry["path"]).name in text
    # By name, resolved in the backup directory.
    result = run_cli(["backup", "verify", Path(entry["path"]).name], rich_project)
    assert result.returncode == 0 and "OK" in result.stdout
    result = run_cli(["backup", "verify", "--json", entry["path"]], rich_project)
    assert json.loads(result.stdout)["verified"] is True
    result = run_cli(["backup", "verify", "nope.tar.gz"], rich_project)
    assert result.returncode == 1 and "no such backup" in result.stderr


# --- corruption ------------------------------------------------------------------------------


def _flip_in_member(archive: Path, member: str) -> None:
    """Change one byte of ``member``'s content, keeping a valid gzip stream."""
    data = bytearray(gzip.decompress(archive.read_bytes()))
    with tarfile.open(fileobj=io.BytesIO(bytes(data))) as tar:
        offset = tar.getmember(member).offset_data
    data[offset] ^= 0xFF
    archive.write_bytes(gzip.compress(bytes(data)))


def test_verify_names_the_corrupt_file(
    rich_project: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    [archive] = archives(backup_dir(isolated_home))
    _flip_in_member(archive, "blob.bin")
    result = run_cli(["backup", "verify", str(archive)], rich_project)
    assert result.returncode == 1
    assert "blob.bin is corrupt" in result.stderr and len(result.stderr.splitlines()) == 1
    # A corrupt archive is never restored, not even partly.
    out = tmp_path / "out"
    assert (
        run_cli(["backup", "restore", str(archive), "--to", str(out)], rich_project).returncode == 1
    )
    assert not out.exists() or not any(out.iterdir())


def test_verify_fails_on_one_flipped_byte_of_the_gzip_stream(
    rich_project: Path, isolated_home: Path
) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    [archive] = archives(backup_dir(isolated_home))
    data = bytearray(archive.read_bytes())
    data[len(data) // 2] ^= 0x01
    archive.write_bytes(bytes(data))
    result = run_cli(["backup", "verify", str(archive)], rich_project)
    assert result.returncode == 1
    # Either the deflate stream breaks (the archive is named) or a member's hash differs.
    assert "corrupt" in result.stderr and archive.name in result.stderr


# --- hostile archives ------------------------------------------------------------------------


def _member(
    name: str, kind: str = "file", data: bytes = b"evil\n", target: str = "", mode: int = 0o644
) -> tuple[tarfile.TarInfo, bytes | None]:
    info = tarfile.TarInfo(name)
    info.mode = mode
    if kind == "file":
        info.size = len(data)
        return info, data
    info.type = {
        "dir": tarfile.DIRTYPE,
        "symlink": tarfile.SYMTYPE,
        "hardlink": tarfile.LNKTYPE,
        "device": tarfile.CHRTYPE,
    }[kind]
    info.linkname = target
    return info, None


def _hostile_archive(path: Path, members: list[tuple[tarfile.TarInfo, bytes | None]]) -> Path:
    """A tar.gz with a *matching* manifest, so only the path checks can refuse it."""
    items = []
    for info, data in members:
        kind = "file" if info.isreg() else "dir" if info.isdir() else "symlink"
        items.append(
            Item(
                info.name,
                kind,
                info.size if data is not None else 0,
                info.mode,
                0,
                hashlib.sha256(data).hexdigest() if data is not None else None,
                info.linkname if info.issym() else None,
            )
        )
    manifest = dump(manifest_doc(items, project_root="/elsewhere"))
    with tarfile.open(path, "w:gz") as tar:
        for info, data in members:
            tar.addfile(info, io.BytesIO(data) if data is not None else None)
        info = tarfile.TarInfo(MANIFEST_MEMBER)
        info.size = len(manifest)
        tar.addfile(info, io.BytesIO(manifest))
    return path


HOSTILE = {
    "dotdot": [_member("../evil")],
    "nested-dotdot": [_member("ok/../../evil")],
    "absolute": [_member("/tmp/rw-test-evil-absolute")],
    "symlink-to-root": [_member("root", "symlink", target="/")],
    "symlink-up": [_member("up", "symlink", target="..")],
    "file-through-symlink": [
        _member("sub", "dir", mode=0o755),
        _member("link", "symlink", target="sub"),
        _member("link/evil"),
    ],
    "symlink-to-root-then-file": [
        _member("root", "symlink", target="/"),
        _member("root/tmp/rw-test-evil-through"),
    ],
    # Each link looks harmless alone; together a -> sub/d/../x -> ../x.
    "link-chain": [
        _member("a", "symlink", target="sub/d/../evil"),
        _member("sub", "dir", mode=0o755),
        _member("sub/d", "symlink", target=".."),
    ],
    "hardlink": [_member("hard", "hardlink", target="/etc/passwd")],
    "device": [_member("dev", "device")],
}


@pytest.mark.parametrize("case", sorted(HOSTILE))
def test_restore_refuses_hostile_archives(case: str, project: Path, tmp_path: Path) -> None:
    archive = _hostile_archive(tmp_path / f"{case}.tar.gz", HOSTILE[case])
    arena = tmp_path / "arena"
    target = arena / "target"
    target.mkdir(parents=True)
    result = run_cli(["backup", "restore", str(archive), "--to", str(target)], project)
    assert result.returncode == 1, result.stdout
    assert "refusing" in result.stderr or "special file" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    # Nothing written anywhere: not in the target, not beside it, not in /tmp.
    assert list(target.iterdir()) == []
    assert sorted(p.name for p in arena.iterdir()) == ["target"]
    assert not (tmp_path / "evil").exists()
    assert not Path("/tmp/rw-test-evil-absolute").exists()
    assert not Path("/tmp/rw-test-evil-through").exists()


def test_restore_without_manifest_is_refused(project: Path, tmp_path: Path) -> None:
    archive = tmp_path / "plain.tar.gz"
    with tarfile.open(archive, "w:gz") as tar:
        info, data = _member("fine.txt")
        tar.addfile(info, io.BytesIO(data or b""))
    result = run_cli(["backup", "restore", str(archive), "--to", str(tmp_path / "t")], project)
    assert result.returncode == 1 and "not a routine-workflow backup" in result.stderr


def test_restore_needs_force_for_a_non_empty_target(
    rich_project: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    [archive] = archives(backup_dir(isolated_home))
    target = tmp_path / "busy"
    target.mkdir()
    (target / "mine.txt").write_text("keep me\n")
    (target / "secret.txt").write_text("old\n")
    result = run_cli(["backup", "restore", str(archive), "--to", str(target)], rich_project)
    assert result.returncode == 2 and "--force" in result.stderr
    assert (target / "secret.txt").read_text() == "old\n"

    result = run_cli(
        ["backup", "restore", str(archive), "--to", str(target), "--force"], rich_project
    )
    assert result.returncode == 0, result.stderr
    assert (target / "secret.txt").read_text() == "private\n"
    assert (target / "mine.txt").read_text() == "keep me\n"
    (target / "locked").chmod(0o755)


def test_restore_refuses_type_conflicts_before_writing(
    rich_project: Path, isolated_home: Path, tmp_path: Path
) -> None:
    assert run_cli(["--steps", "backup", "--yes"], rich_project).returncode == 0
    [archive] = archives(backup_dir(isolated_home))
    target = tmp_path / "conflict"
    (target / "secret.txt").mkdir(parents=True)  # a directory where the archive has a file
    result = run_cli(
        ["backup", "restore", str(archive), "--to", str(target), "--force"], rich_project
    )
    assert result.returncode == 1 and "secret.txt" in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["secret.txt"]


# --- interruption and failures ---------------------------------------------------------------


def _big_project(root: Path, files: int = 300, size: int = 200_000) -> None:
    data = os.urandom(size)
    for n in range(files):
        (root / f"f{n:04}.bin").write_bytes(data[n:] + data[:n])


def _wait_for_partial(proc: subprocess.Popen[str], home: Path) -> list[Path]:
    """Poll until the running backup has created its temporary archive."""
    backups = home / "rw" / "data" / "backups"
    deadline = time.monotonic() + 60
    partial: list[Path] = []
    while not partial and time.monotonic() < deadline and proc.poll() is None:
        partial = [p for p in backups.glob("*/*") if p.name.endswith(store.TEMP_SUFFIX)]
        time.sleep(0.002)
    return partial


@pytest.mark.slow
def test_kill_9_during_backup_leaves_no_archive_and_next_run_succeeds(
    project: Path, isolated_home: Path
) -> None:
    _big_project(project)
    proc = popen_cli(["--steps", "backup", "--yes"], project, start_new_session=True)
    partial = _wait_for_partial(proc, isolated_home)
    assert partial and proc.poll() is None, "the backup finished before it could be killed"
    os.killpg(proc.pid, signal.SIGKILL)
    proc.communicate()
    directory = partial[0].parent
    assert archives(directory) == []
    assert not [p for p in directory.iterdir() if p.name.endswith(store.SIDECAR_SUFFIX)]

    result = run_cli(["--steps", "backup", "--yes"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    [archive] = archives(directory)
    assert not partial[0].exists()
    assert run_cli(["backup", "verify", str(archive)], project).returncode == 0


def _limit_file_size() -> None:
    # Every file this process writes may hold at most 256 KiB: the archive hits the
    # limit mid-write and gets EFBIG, as it would ENOSPC on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_write_failure_mid_archive_leaves_nothing_and_project_untouched(
    project: Path, isolated_home: Path
) -> None:
    _big_project(project, files=20)
    before = snapshot(project)
    result = subprocess.run(
        [os.sys.executable, "-m", "routine_workflow", "--steps", "backup", "--yes"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=60,
        preexec_fn=_limit_file_size,
        stdin=subprocess.DEVNULL,
    )
    assert result.returncode == 1
    assert "cannot write backup" in result.stdout and "File too large" in result.stdout
    assert snapshot(project) == before
    assert list(backup_dir(isolated_home).iterdir()) == []


def test_unusable_backup_dir_fails_and_stops_the_run(project: Path, tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("a file where the backup dir should be\n")
    (project / "pyproject.toml").write_text(
        f'[tool.routine-workflow]\nbackup_dir = "{blocker / "backups"}"\n'
    )
    result = run_cli(["--steps", "backup,reformat", "--yes", "--fail-on-backup"], project)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    backup_line = next(line for line in lines if line.startswith("backup"))
    assert "failed" in backup_line and "cannot write backup" in backup_line
    reformat_line = next(line for line in lines if line.startswith("reformat"))
    assert "run stopped because backup failed" in reformat_line
    assert blocker.read_text().startswith("a file")


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_read_only_backup_dir_fails_cleanly(project: Path, tmp_path: Path) -> None:
    ro = tmp_path / "ro"
    ro.mkdir()
    ro.chmod(0o555)
    (project / "pyproject.toml").write_text(f'[tool.routine-workflow]\nbackup_dir = "{ro}"\n')
    result = run_cli(["--steps", "backup", "--yes"], project)
    assert result.returncode == 1 and "Permission denied" in result.stdout
    assert list(ro.iterdir()) == []


def test_backup_script_replaces_the_step(project: Path, tmp_path: Path) -> None:
    script = tmp_path / "my-backup.sh"
    script.write_text("#!/bin/sh\necho ran > backup-marker\n")
    script.chmod(0o755)
    result = run_cli(["--steps", "backup", "--yes", "--backup-script", str(script)], project)
    assert result.returncode == 0 and "succeeded" in result.stdout
    assert (project / "backup-marker").read_text() == "ran\n"


# --- retention -------------------------------------------------------------------------------


def _ctx(project: Path) -> StepContext:
    return StepContext(load_config({"project_root": project}), logging.getLogger("test"), "t")


def test_retention_keeps_newest_and_never_touches_foreign_files(project: Path) -> None:
    ctx = _ctx(project)
    directory = ctx.config.backup_dir
    directory.mkdir(parents=True)
    slug = project.name
    foreign = {
        "notes.txt": b"mine\n",
        f"{slug}-20000101T000000Z.tar.gz": b"no sidecar: not ours\n",
        "other-20000101T000000Z.tar.gz": b"another project\n",
        f"{slug}-20000102T000000Z.tar.gz.manifest.json": b"{not json",
        ".someone-else.partial": b"x",
    }
    for name, data in foreign.items():
        (directory / name).write_bytes(data)
    # Same name scheme, but the sidecar belongs to another project root.
    twin = directory / f"{slug}-20000103T000000Z.tar.gz"
    twin.write_bytes(b"twin")
    store.sidecar_path(twin).write_bytes(
        dump(
            {"format": "routine-workflow-backup/1", "project_root": "/another/root", "entries": []}
        )
    )
    made = []
    for n in range(15):
        (project / "counter.txt").write_text(f"{n}\n")
        result = take_backup(ctx)
        assert result.status.value == "changed", result.summary
        made.append(result.summary.split(":")[0])
    ours = [b.path.name for b in store.list_backups(directory, ctx.root)]
    assert ours == made[-10:]
    for name, data in foreign.items():
        assert (directory / name).read_bytes() == data
    assert twin.exists() and store.sidecar_path(twin).exists()
    for gone in made[:5]:
        assert not (directory / gone).exists()
        assert not store.sidecar_path(directory / gone).exists()


def test_reserved_manifest_name_is_left_out_and_reported(project: Path) -> None:
    (project / MANIFEST_MEMBER).write_text("{}")
    result = take_backup(_ctx(project))
    assert result.status.value == "changed"
    assert "left out" in result.summary
    assert any(MANIFEST_MEMBER in line for line in result.details)


def test_sigterm_during_backup_cleans_up(project: Path, isolated_home: Path) -> None:
    _big_project(project)
    proc = popen_cli(["--steps", "backup", "--yes"], project)
    partial = _wait_for_partial(proc, isolated_home)
    assert partial and proc.poll() is None, "the backup finished before it could be stopped"
    proc.send_signal(signal.SIGTERM)
    out, _err = proc.communicate(timeout=60)
    assert proc.returncode == 143
    assert "backup" in out and "failed" in out
    assert list(partial[0].parent.iterdir()) == []


def test_backup_dir_inside_the_project_is_not_archived(project: Path) -> None:
    (project / "src.py").write_text("x = 1\n")
    inside = project / "backups"
    ctx = StepContext(
        load_config({"project_root": project, "backup_dir": inside}), logging.getLogger("test"), "t"
    )
    assert take_backup(ctx).status.value == "changed"
    (project / "src.py").write_text("x = 2\n")
    assert take_backup(ctx).status.value == "changed"
    newest = store.list_backups(inside, ctx.root)[-1]
    with tarfile.open(newest.path) as tar:
        names = tar.getnames()
    assert "src.py" in names and not any(n.startswith("backups") for n in names)


@pytest.mark.parametrize("change", ["add", "remove", "chmod", "relink", "mkdir"])
def test_any_change_makes_a_new_backup(change: str, project: Path) -> None:
    (project / "a.txt").write_text("a\n")
    (project / "link").symlink_to("a.txt")
    ctx = _ctx(project)
    assert take_backup(ctx).status.value == "changed"
    assert take_backup(ctx).status.value == "ok"
    if change == "add":
        (project / "b.txt").write_text("b\n")
    elif change == "remove":
        (project / "a.txt").unlink()
    elif change == "chmod":
        (project / "a.txt").chmod(0o600)
    elif change == "relink":
        (project / "link").unlink()
        (project / "link").symlink_to("pyproject.toml")
    else:
        (project / "new_empty_dir").mkdir()
    result = take_backup(ctx)
    assert result.status.value == "changed", result.summary
    assert len(store.list_backups(ctx.config.backup_dir, ctx.root)) == 2


def test_restore_defaults_to_the_project_root_and_needs_force(project: Path) -> None:
    (project / "a.txt").write_text("original\n")
    ctx = _ctx(project)
    take_backup(ctx)
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)
    (project / "a.txt").write_text("ruined\n")
    (project / "extra.txt").write_text("new work\n")
    result = run_cli(["backup", "restore", backup.path.name], project)
    assert result.returncode == 2 and "--force" in result.stderr
    result = run_cli(["backup", "restore", backup.path.name, "--force", "--json"], project)
    assert result.returncode == 0, result.stderr
    assert json.loads(result.stdout)["files"] == 2
    assert (project / "a.txt").read_text() == "original\n"
    assert (project / "extra.txt").read_text() == "new work\n"


def test_restore_into_the_project_waits_for_no_one(project: Path) -> None:
    from routine_workflow.lock import ProjectLock

    (project / "a.txt").write_text("original\n")
    ctx = _ctx(project)
    take_backup(ctx)
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)
    with ProjectLock(ctx.config.lock_dir):  # a run is in progress
        result = run_cli(["backup", "restore", backup.path.name, "--force"], project)
    assert result.returncode == 75, result.stderr
    assert run_cli(["backup", "restore", backup.path.name, "--force"], project).returncode == 0


def test_names_are_ours_only_when_they_parse(project: Path) -> None:
    assert store.parse_name(f"{project.name}-20261399T000000Z.tar.gz", project) is None
    assert store.parse_name(f"{project.name}-20260101T000000Z-3.tar.gz", project) is not None
    assert store.parse_name(f"x{project.name}-20260101T000000Z.tar.gz", project) is None


def test_restore_never_writes_through_a_symlink_already_in_the_target(
    project: Path, tmp_path: Path
) -> None:
    # The archive itself is clean ("pkg/evil" has no directory entry, as some tars
    # do); the danger is the target's own symlink "pkg" pointing elsewhere.
    archive = _hostile_archive(tmp_path / "clean.tar.gz", [_member("pkg/evil")])
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "pkg").symlink_to(outside)
    result = run_cli(["backup", "restore", str(archive), "--to", str(target), "--force"], project)
    assert result.returncode == 1 and "outside" in result.stderr
    assert list(outside.iterdir()) == []


def test_restore_reports_a_missing_parent_in_one_line(project: Path, tmp_path: Path) -> None:
    archive = _hostile_archive(tmp_path / "orphan.tar.gz", [_member("no/parent/file")])
    result = run_cli(["backup", "restore", str(archive), "--to", str(tmp_path / "t")], project)
    assert result.returncode == 1 and "cannot write" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_special_and_vanished_files_are_left_out_and_reported(
    project: Path, tmp_path: Path
) -> None:
    from routine_workflow.backup.manifest import scan
    from routine_workflow.backup.reader import verify
    from routine_workflow.backup.writer import write_archive

    os.mkfifo(project / "pipe")
    (project / "gone.txt").write_text("here at scan time\n")
    (project / "kept.txt").write_text("kept\n")
    current = scan(_ctx(project).config)
    assert any(line.startswith("pipe:") for line in current.left_out)
    (project / "gone.txt").unlink()  # deleted between the scan and the archive
    out = tmp_path / "out"
    out.mkdir()
    tmp, doc, left_out = write_archive(current.items, project, out, {"created_ts": 0})
    assert left_out == ["gone.txt: No such file or directory"]
    assert sorted(e["path"] for e in doc["entries"]) == ["kept.txt", "pyproject.toml"]
    assert verify(tmp).files == 2


def test_a_damaged_last_backup_is_never_a_reason_to_skip(project: Path) -> None:
    (project / "a.txt").write_text("a\n")
    ctx = _ctx(project)
    assert take_backup(ctx).status.value == "changed"
    [first] = store.list_backups(ctx.config.backup_dir, ctx.root)
    data = bytearray(first.path.read_bytes())
    data[-20] ^= 0x01  # bit rot in the last backup; the project is unchanged
    first.path.write_bytes(bytes(data))
    result = take_backup(ctx)
    assert result.status.value == "changed"
    assert f"previous backup {first.path.name} is damaged" in result.summary
    assert take_backup(ctx).status.value == "ok"


def test_gitignore_rules_do_not_thin_out_the_git_directory(project: Path) -> None:
    # "logs/" in .gitignore must not drop .git/logs (the reflogs) from the backup.
    (project / ".gitignore").write_text("logs/\n*.pack\n")
    (project / "logs").mkdir()
    (project / "logs" / "app.txt").write_text("ignored\n")
    git = ["git", "-C", str(project), "-c", "user.name=t", "-c", "user.email=t@example.com"]
    subprocess.run([*git, "init", "-q"], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "first"], check=True)
    ctx = _ctx(project)
    assert take_backup(ctx).status.value == "changed"
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)
    paths = {e["path"] for e in backup.sidecar["entries"]}
    assert ".git/logs/HEAD" in paths
    assert "logs/app.txt" not in paths


def test_links_leaving_the_project_are_flagged_and_skippable_on_restore(
    project: Path, tmp_path: Path
) -> None:
    (project / "a.txt").write_text("a\n")
    (project / "etc").symlink_to("/etc")
    (project / "sibling").symlink_to("../elsewhere")
    (project / "inside").symlink_to("a.txt")
    ctx = _ctx(project)
    result = take_backup(ctx)
    flagged = [line for line in result.details if "--skip-unsafe-links" in line]
    assert len(flagged) == 2 and any("etc" in line for line in flagged)
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)

    out = tmp_path / "out"
    result = run_cli(["backup", "restore", str(backup.path), "--to", str(out)], project)
    assert result.returncode == 1 and "--skip-unsafe-links" in result.stderr
    assert not out.exists() or list(out.iterdir()) == []
    result = run_cli(
        ["backup", "restore", str(backup.path), "--to", str(out), "--skip-unsafe-links"], project
    )
    assert result.returncode == 0, result.stderr
    assert "left out symlink etc" in result.stdout and "left out symlink sibling" in result.stdout
    assert sorted(p.name for p in out.iterdir()) == ["a.txt", "inside", "pyproject.toml"]
    result = run_cli(["backup", "verify", str(backup.path)], project)
    assert result.returncode == 0 and "note: symlink etc points outside" in result.stdout


def test_skipping_unsafe_links_never_allows_writing_through_them(
    project: Path, tmp_path: Path
) -> None:
    archive = _hostile_archive(tmp_path / "through.tar.gz", HOSTILE["symlink-to-root-then-file"])
    target = tmp_path / "target"
    result = run_cli(
        ["backup", "restore", str(archive), "--to", str(target), "--skip-unsafe-links"], project
    )
    assert result.returncode == 1 and "written through the symlink" in result.stderr
    assert not Path("/tmp/rw-test-evil-through").exists()


def test_an_orphan_sidecar_of_ours_is_cleaned_up(project: Path) -> None:
    ctx = _ctx(project)
    take_backup(ctx)
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)
    # As if killed after writing the sidecar but before renaming the archive.
    orphan = store.sidecar_path(backup.path.with_name(f"{project.name}-20000101T000000Z.tar.gz"))
    orphan.write_bytes(store.sidecar_path(backup.path).read_bytes())
    (project / "new.txt").write_text("change\n")
    result = take_backup(ctx)
    assert f"removed leftover {orphan.name}" in result.details
    assert not orphan.exists()
