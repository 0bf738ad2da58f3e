"""Backups against hostile input, on real archives and real processes.

A damaged sidecar never blocks the next backup; malformed, huge or deeply
nested manifests, oversized headers and tar bombs get one line and exit 1
within a fixed memory budget; a restore checks the target before writing
anything; ``restore latest`` and a time-stamp prefix find an archive.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import io
import itertools
import json
import logging
import random
import shutil
import subprocess
import sys
import tarfile
from collections.abc import Iterable
from pathlib import Path
from typing import Any

import pytest
from helpers import run_cli

from routine_workflow.backup import store
from routine_workflow.backup.manifest import (
    MANIFEST_MEMBER,
    MAX_ENTRIES,
    MAX_NAME_CHARS,
    BackupError,
    Budget,
    Item,
    dump,
    manifest_doc,
)
from routine_workflow.backup.reader import verify
from routine_workflow.config import load_config
from routine_workflow.steps.backup import take_backup
from routine_workflow.steps.base import StepContext

GiB = 1 << 30
MEMORY_BUDGET_MB = 200


def _ctx(project: Path) -> StepContext:
    return StepContext(load_config({"project_root": project}), logging.getLogger("test"), "t")


# --- building archives -----------------------------------------------------------------------


class _Repeat:
    """``size`` bytes of ``byte``, produced as read: a 1 GiB member never sits in memory."""

    def __init__(self, byte: bytes, size: int) -> None:
        self._byte, self._left = byte, size

    def read(self, size: int = -1) -> bytes:
        size = self._left if size < 0 else min(size, self._left)
        self._left -= size
        return self._byte * size


Member = tuple[tarfile.TarInfo, Any]  # (header, file-like content or None)


def _file(name: str, data: bytes = b"data\n", mode: int = 0o644) -> Member:
    info = tarfile.TarInfo(name)
    info.size, info.mode = len(data), mode
    return info, io.BytesIO(data)


def _dir(name: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.mode = tarfile.DIRTYPE, 0o755
    return info, None


def _link(name: str, target: str) -> Member:
    info = tarfile.TarInfo(name)
    info.type, info.linkname, info.mode = tarfile.SYMTYPE, target, 0o777
    return info, None


def _items(members: Iterable[Member]) -> list[Item]:
    """The manifest entries matching ``members`` (content read from BytesIO members)."""
    items = []
    for info, content in members:
        if info.isreg():
            data = content.getvalue()
            items.append(Item(info.name, "file", len(data), info.mode, 0, _sha(data)))
        elif info.isdir():
            items.append(Item(info.name, "dir", 0, info.mode, 0))
        else:
            items.append(Item(info.name, "symlink", 0, info.mode, 0, target=info.linkname))
    return items


def _sha(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _write(
    path: Path, members: Iterable[Member], manifest: bytes | Member | None, fmt: int = 2
) -> Path:
    """Stream a tar.gz of ``members`` then ``manifest`` (bytes, or a crafted member)."""
    with (
        gzip.open(path, "wb", compresslevel=1) as gz,
        tarfile.open(fileobj=gz, mode="w|", format=fmt, copybufsize=1 << 20) as tar,
    ):
        for info, content in members:
            tar.addfile(info, content)
        if isinstance(manifest, bytes):
            tar.addfile(*_file(MANIFEST_MEMBER, manifest))
        elif manifest is not None:
            tar.addfile(*manifest)
    return path


def _archive(path: Path, members: list[Member], doc: Any = None, **meta: Any) -> Path:
    """An archive with a manifest that matches ``members`` unless ``doc`` is given."""
    if doc is None:
        doc = manifest_doc(_items(members), project_root="/elsewhere", **meta)
    for _info, content in members:
        if content is not None:
            content.seek(0)
    data = doc if isinstance(doc, bytes) else json.dumps(doc).encode()
    return _write(path, members, data)


def _base_members() -> list[Member]:
    return [
        _file("a.txt", b"a\n"),
        _dir("sub"),
        _file("sub/b.txt", b"b\n", 0o600),
        _link("link", "a.txt"),
    ]


def _one_line_refusal(result: subprocess.CompletedProcess[str]) -> str:
    assert result.returncode == 1, (result.stdout, result.stderr)
    assert "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    return lines[0]


def _peak_rss(args: list[str], cwd: Path) -> tuple[subprocess.CompletedProcess[str], float]:
    """Run the CLI under a fresh parent and return its result and its peak RSS in MiB.

    ``RUSAGE_CHILDREN`` is the maximum over every child a process ever waited
    for, so the measuring parent has this one child only.
    """
    code = (
        "import json, resource, subprocess, sys\n"
        "r = subprocess.run(sys.argv[1:], capture_output=True, text=True)\n"
        "peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss\n"
        "print(json.dumps([r.returncode, r.stdout, r.stderr, peak]))\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code, sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
        timeout=110,
        check=True,
    )
    code_, stdout, stderr, peak_kib = json.loads(out.stdout)
    result = subprocess.CompletedProcess(args, code_, stdout, stderr)
    return result, peak_kib / 1024


# --- (2) a damaged sidecar never blocks the next backup --------------------------------------


def _damage_entry_key(doc: dict[str, Any]) -> None:
    del doc["entries"][0]["type"]


SIDECAR_DAMAGE = {
    "entry-lacks-type": _damage_entry_key,
    "size-is-a-string": lambda d: d["entries"][0].update(size="3"),
    "path-is-a-list": lambda d: d["entries"][0].update(path=["a.txt"]),
    "entry-is-a-number": lambda d: d["entries"].__setitem__(0, 7),
    "entries-is-an-object": lambda d: d.update(entries={}),
    "scan-started-is-text": lambda d: d.update(scan_started_ns="soon"),
    "totals-disagree": lambda d: d.update(files=99),
    "unsafe-path": lambda d: d["entries"][0].update(path="../a.txt"),
}


@pytest.mark.parametrize("damage", sorted(SIDECAR_DAMAGE))
def test_a_damaged_sidecar_means_a_fresh_backup(damage: str, project: Path) -> None:
    (project / "a.txt").write_text("a\n")
    assert run_cli(["--steps", "backup", "--yes"], project).returncode == 0
    ctx = _ctx(project)
    [first] = store.list_backups(ctx.config.backup_dir, ctx.root)
    sidecar = store.sidecar_path(first.path)
    doc = json.loads(sidecar.read_bytes())
    doc["entries"].sort(key=lambda e: e["path"])  # a.txt first
    SIDECAR_DAMAGE[damage](doc)
    sidecar.write_text(json.dumps(doc))

    result = run_cli(["--steps", "backup", "--yes"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert f"previous backup {first.path.name} is unusable" in result.stdout
    assert "internal error" not in result.stdout + result.stderr
    # The fresh backup is a good restore point: the next run skips.
    result = run_cli(["--steps", "backup", "--yes"], project)
    assert result.returncode == 0 and "unchanged since" in result.stdout


def test_an_unparseable_or_huge_sidecar_is_not_taken_for_ours(project: Path) -> None:
    (project / "a.txt").write_text("a\n")
    ctx = _ctx(project)
    take_backup(ctx)
    for data in (b"[" * 100_000, b"{" + b" " * (store.MAX_SIDECAR_BYTES + 1) + b"}"):
        newest = store.list_backups(ctx.config.backup_dir, ctx.root)[-1]
        store.sidecar_path(newest.path).write_bytes(data)
        result = take_backup(ctx)
        assert result.status.value == "changed", result.summary
    assert take_backup(ctx).status.value == "ok"


@pytest.mark.slow
def test_sidecar_fuzz_never_fails_the_backup(project: Path) -> None:
    (project / "a.txt").write_text("a\n")
    (project / "d").mkdir()
    (project / "d" / "l").symlink_to("../a.txt")
    ctx = _ctx(project)
    take_backup(ctx)
    [good] = store.list_backups(ctx.config.backup_dir, ctx.root)
    original = json.loads(store.sidecar_path(good.path).read_bytes())
    rng = random.Random(14)  # noqa: S311 (a reproducible fuzz, not a secret)
    for _ in range(150):
        doc = copy.deepcopy(original)
        _mutate(rng, doc)
        store.sidecar_path(good.path).write_text(json.dumps(doc))
        result = take_backup(ctx)  # must not raise, and must not fail
        assert result.status.value in ("ok", "changed"), result.summary
        for path in store.list_backups(ctx.config.backup_dir, ctx.root):
            if path.path != good.path:  # keep the damaged one the newest
                path.path.unlink()
                store.sidecar_path(path.path).unlink()


# --- (3) malformed manifests: one line, exit 1 -----------------------------------------------


def _members_for_depth() -> list[Member]:
    # Enough members that a 100 KB manifest is plausible by size: the parser must cope.
    return [_dir(f"d{i:03d}") for i in range(400)]


MALFORMED = {
    "entry-lacks-keys": lambda d: [e.pop("mode") for e in d["entries"]],
    "entries-are-numbers": lambda d: d.update(entries=[1, 2, 3, 4]),
    "path-is-a-list": lambda d: d["entries"][0].update(path=["a.txt"]),
    "nested-100k": None,
}


@pytest.mark.parametrize("case", sorted(MALFORMED))
@pytest.mark.parametrize("command", ["verify", "restore"])
def test_malformed_manifests_get_one_line(
    case: str, command: str, project: Path, tmp_path: Path
) -> None:
    members = _base_members()
    if case == "nested-100k":
        members += _members_for_depth()
        doc: Any = b'{"entries":[' + b"[" * 100_000
    else:
        doc = manifest_doc(_items(members))
        MALFORMED[case](doc)
    archive = _archive(tmp_path / f"{case}.tar.gz", members, doc)
    args = ["backup", command, str(archive)]
    target = tmp_path / "out"
    if command == "restore":
        args += ["--to", str(target)]
    line = _one_line_refusal(run_cli(args, project))
    assert f"{archive}: not a routine-workflow backup (" in line
    assert not target.exists()


_STRINGS = [
    *("", "a.txt", "../up", "/abs", "a/./b", "a//b", "x\x00y", "é", "\udcff", "y" * 5000),
    *("file", "dir", "symlink", "fifo", "0" * 64, "g" * 64, MANIFEST_MEMBER),
]


def _random_json(rng: random.Random, depth: int = 0) -> Any:
    pick = rng.randrange(12 if depth < 3 else 8)
    if pick == 0:
        return rng.choice([0, 1, -1, 420, 0o7777 + 1, 1 << 63, -(1 << 63) - 1, 10**30])
    if pick == 1:
        return rng.choice([1.5, -0.0, float("nan"), float("inf"), 1e308])
    if pick == 2:
        return rng.choice([True, False, None])
    if pick in (3, 4, 5):
        return rng.choice(_STRINGS)
    if pick in (6, 7):
        return rng.randrange(-5, 1 << 20)
    if pick in (8, 9):
        return [_random_json(rng, depth + 1) for _ in range(rng.randrange(4))]
    keys = ["path", "type", "size", "mode", "mtime_ns", "sha256", "target", "x"]
    return {rng.choice(keys): _random_json(rng, depth + 1) for _ in range(rng.randrange(5))}


def _mutate(rng: random.Random, doc: dict[str, Any]) -> None:
    """One random change to a manifest's structure."""
    entries = doc["entries"]
    entry = rng.choice(entries)
    key = rng.choice(sorted(entry))
    top = rng.choice(sorted(k for k in doc if k != "entries"))
    action = rng.randrange(9)
    if action == 0:
        entry[key] = _random_json(rng)
    elif action == 1:
        del entry[key]
    elif action == 2:
        entry[rng.choice(["extra", "sha256", "target"])] = _random_json(rng)
    elif action == 3:
        entries[entries.index(entry)] = _random_json(rng)
    elif action == 4:
        doc["entries"] = _random_json(rng)
    elif action == 5:
        doc[top] = _random_json(rng)
    elif action == 6:
        del doc[top]
    elif action == 7:
        entries.append(copy.deepcopy(entry))
    else:
        fmt = doc.get("format")
        doc.clear()
        doc.update({"format": fmt, "entries": _random_json(rng)})


def _mangle_text(rng: random.Random, data: bytes) -> bytes:
    """One random change to a manifest's bytes."""
    at = rng.randrange(len(data) + 1)
    action = rng.randrange(5)
    if action == 0:
        return data[:at]
    if action == 1:
        return data[:at] + bytes([rng.randrange(256)]) + data[at + 1 :]
    if action == 2:
        return data[:at] + b"[" * rng.choice([10, 5000, 100_000]) + data[at:]
    if action == 3:
        return data[:at] + json.dumps(_random_json(rng)).encode() + data[at:]
    return data + rng.choice([b" ", b"x", b"{}", b"\x00"])


@pytest.mark.slow
@pytest.mark.timeout(900)  # 600 archives: minutes on a loaded machine, never a hang
def test_manifest_fuzz_only_ever_gets_one_line(tmp_path: Path) -> None:
    members = _base_members() + _members_for_depth()
    original = manifest_doc(_items(members), project_root="/p", created="now")
    rng = random.Random(20260101)  # noqa: S311 (a reproducible fuzz, not a secret)
    outcomes = {"refused": 0, "accepted": 0}
    for i in range(600):
        if i % 3 == 2:
            doc: Any = _mangle_text(rng, dump(original))
        else:
            doc = copy.deepcopy(original)
            _mutate(rng, doc)
            doc = json.dumps(doc).encode()
        archive = _archive(tmp_path / "fuzz.tar.gz", members, doc)
        try:
            verify(archive)
        except BackupError as exc:
            message = str(exc)
            assert "\n" not in message and str(archive) in message, message
            outcomes["refused"] += 1
        else:  # e.g. an unknown top-level field, or whitespace
            outcomes["accepted"] += 1
    assert outcomes["refused"] > 500, outcomes


# --- (4) bounded memory whatever the archive ---------------------------------------------------


@pytest.mark.slow
def test_a_one_gib_manifest_is_refused_before_it_is_read(project: Path, tmp_path: Path) -> None:
    info = tarfile.TarInfo(MANIFEST_MEMBER)
    info.size = GiB
    archive = _write(tmp_path / "spaces.tar.gz", _base_members(), (info, _Repeat(b" ", GiB)))
    assert archive.stat().st_size < 8 << 20  # a small file...
    for command in (["verify"], ["restore", "--to", str(tmp_path / "out")]):
        result, peak = _peak_rss(["backup", command[0], str(archive), *command[1:]], project)
        line = _one_line_refusal(result)
        assert "not a routine-workflow backup (its manifest is 1.0 GiB" in line
        assert peak < MEMORY_BUDGET_MB, f"{command[0]}: {peak:.0f} MiB"  # ...not 2 GB of RSS
    assert not (tmp_path / "out").exists()


@pytest.mark.slow
@pytest.mark.parametrize("kind", [tarfile.XHDTYPE, tarfile.GNUTYPE_LONGNAME])
def test_huge_extended_headers_are_refused_before_they_are_read(
    kind: bytes, project: Path, tmp_path: Path
) -> None:
    info = tarfile.TarInfo("././@LongHeader")
    info.type, info.size = kind, GiB // 2
    header = (info, _Repeat(b"a", info.size))
    archive = _write(tmp_path / "header.tar.gz", [_file("a.txt"), header, _file("b")], None, 1)
    result, peak = _peak_rss(["backup", "verify", str(archive)], project)
    assert "extended header of 512.0 MiB; refusing it" in _one_line_refusal(result)
    assert peak < MEMORY_BUDGET_MB, f"{peak:.0f} MiB"


@pytest.mark.parametrize("kind", ["global-header", "sparse"])
def test_global_and_sparse_headers_are_refused(kind: str, project: Path, tmp_path: Path) -> None:
    if kind == "global-header":
        members = [_file("a.txt")]
        path = tmp_path / "g.tar.gz"
        with (
            gzip.open(path, "wb") as gz,
            tarfile.open(fileobj=gz, mode="w|", format=2, pax_headers={"x": "1"}) as tar,
        ):
            tar.addfile(*members[0])
    else:
        info = tarfile.TarInfo("sparse")
        info.type = tarfile.GNUTYPE_SPARSE
        path = _write(tmp_path / "s.tar.gz", [(info, None)], None, tarfile.GNU_FORMAT)
    line = _one_line_refusal(run_cli(["backup", "verify", str(path)], project))
    assert "refusing it" in line


@pytest.mark.slow
def test_a_content_bomb_is_verified_in_constant_memory(project: Path, tmp_path: Path) -> None:
    """1 GiB of zeros (about 1 MB compressed), consistent with its manifest."""
    info = tarfile.TarInfo("zeros.bin")
    info.size = GiB
    digest = hashlib.sha256()
    zeros = b"\0" * (1 << 20)
    for _ in range(1024):
        digest.update(zeros)
    doc = manifest_doc([Item("zeros.bin", "file", GiB, 0o644, 0, digest.hexdigest())])
    archive = _write(tmp_path / "bomb.tar.gz", [(info, _Repeat(b"\0", GiB))], dump(doc))
    result, peak = _peak_rss(["backup", "verify", str(archive)], project)
    assert result.returncode == 0, result.stderr
    assert peak < MEMORY_BUDGET_MB, f"{peak:.0f} MiB"


@pytest.mark.slow
def test_too_many_members_are_refused_within_the_memory_budget(
    project: Path, tmp_path: Path
) -> None:
    # Long-ish names too: the record kept per member is the worst case here.
    names = (f"{'d' * 40}/{i:09d}-{'n' * 20}" for i in range(MAX_ENTRIES + 1))
    archive = _write(tmp_path / "many.tar.gz", (_dir(n) for n in names), None)
    result, peak = _peak_rss(["backup", "verify", str(archive)], project)
    line = _one_line_refusal(result)
    assert f"not a routine-workflow backup (more than {MAX_ENTRIES:,} paths)" in line
    assert peak < MEMORY_BUDGET_MB, f"{peak:.0f} MiB"


def test_names_longer_than_the_budget_are_refused(project: Path, tmp_path: Path) -> None:
    count = MAX_NAME_CHARS // 4000 + 1
    names = (f"{i:08d}-{'x' * 3991}" for i in range(count))
    archive = _write(tmp_path / "long.tar.gz", (_dir(n) for n in names), None)
    line = _one_line_refusal(run_cli(["backup", "verify", str(archive)], project))
    assert "paths and link targets longer than" in line


def test_chains_of_long_symlinks_are_refused_quickly(project: Path, tmp_path: Path) -> None:
    # Each link sits 600 directories deep and points, through the root, at
    # the next link of its chain: resolving them all would take minutes.
    deep = "y/" * 600
    members = [_file("end.txt")]
    for chain in range(8):
        names = [f"{deep}c{chain}l{i}" for i in range(41)] + ["end.txt"]
        members += [_link(n, "../" * 600 + nxt) for n, nxt in itertools.pairwise(names)]
    archive = _archive(tmp_path / "links.tar.gz", members)
    line = _one_line_refusal(run_cli(["backup", "verify", str(archive)], project, timeout=30))
    assert "symlinks too many or too deep to check" in line


def test_a_project_beyond_the_limits_fails_the_backup_before_writing(project: Path) -> None:
    deep = project.joinpath(*["d" * 250] * 14)
    deep.mkdir(parents=True)
    name_chars = len(str(deep.relative_to(project))) + 208
    for i in range(MAX_NAME_CHARS // name_chars + 1):
        (deep / f"{i:06d}-{'f' * 200}").write_bytes(b"")
    ctx = _ctx(project)
    result = take_backup(ctx)
    assert result.status.value == "failed"
    assert "paths and link targets longer than" in result.summary
    assert "more than one backup holds" in result.summary
    assert list(ctx.config.backup_dir.iterdir()) == []


def test_the_budget_counts_paths_and_names() -> None:
    budget = Budget()
    assert budget.add("a", None) is None and budget.manifest_limit() < 1 << 20
    assert budget.add("é" * 4096) is None  # counted four per character
    assert budget.name_chars == 1 + 4 * 4096


def test_members_beyond_the_manifest_are_refused_before_writing(
    project: Path, tmp_path: Path
) -> None:
    listed = [_file("a.txt")]
    doc = manifest_doc(_items(listed))
    extra = [_file(f"bomb/{i}", b"x" * 1000) for i in range(3000)]
    archive = _archive(tmp_path / "extra.tar.gz", [*listed, _dir("bomb"), *extra], doc)
    target = tmp_path / "out"
    line = _one_line_refusal(
        run_cli(["backup", "restore", str(archive), "--to", str(target)], project)
    )
    assert "is in the archive but not in the manifest" in line
    assert not target.exists()


def _in_small_tmpfs(target: Path, args: list[str], cwd: Path) -> tuple[int, str, list[str]]:
    """Run the CLI with ``target`` a 16 MiB tmpfs (private mount namespace); what it left."""
    script = (
        'mount -t tmpfs -o size=16m tmpfs "$T" || exit 99\n'
        '"$@" 2>"$T.err"; echo "rc=$?"; cat "$T.err"; echo "--"; ls -A "$T"\n'
    )
    out = subprocess.run(
        ["unshare", "-rm", "sh", "-c", script, "sh", *args],
        cwd=cwd,
        env={**_env(), "T": str(target)},
        capture_output=True,
        text=True,
        timeout=110,
    )
    if "rc=" not in out.stdout:
        pytest.skip(f"no private tmpfs here: {out.stderr.strip()}")
    head, _, left = out.stdout.partition("--\n")
    rc_line, _, err = head.partition("\n")
    return int(rc_line.removeprefix("rc=")), err, left.split()


def _env() -> dict[str, str]:
    import os

    return dict(os.environ)


def test_a_restore_that_cannot_fit_writes_nothing(project: Path, tmp_path: Path) -> None:
    if not shutil.which("unshare"):
        pytest.skip("needs unshare(1)")
    info = tarfile.TarInfo("big.bin")
    info.size = 64 << 20
    first = _file("a.txt", b"first\n")
    doc = manifest_doc(
        [*_items([first]), Item("big.bin", "file", info.size, 0o644, 0, _sha(bytes(info.size)))]
    )
    first[1].seek(0)
    archive = _write(tmp_path / "big.tar.gz", [first, (info, _Repeat(b"\0", info.size))], dump(doc))
    target = tmp_path / "small"
    target.mkdir()
    cli = [sys.executable, "-m", "routine_workflow", "backup", "restore", str(archive)]
    rc, err, left = _in_small_tmpfs(target, [*cli, "--to", str(target)], project)
    assert rc == 1, err
    assert "only 16.0 MiB is free there; nothing written" in err
    assert left == []  # not even a.txt, which comes first


# --- (8) restore checks everything before writing anything -------------------------------------


def test_a_symlink_at_a_files_path_is_replaced_not_followed(project: Path, tmp_path: Path) -> None:
    (project / "a.txt").write_text("a\n")
    (project / "m.txt").write_text("archived\n")
    ctx = _ctx(project)
    take_backup(ctx)
    [backup] = store.list_backups(ctx.config.backup_dir, ctx.root)
    outside = tmp_path / "outside.txt"
    outside.write_text("not yours\n")
    target = tmp_path / "target"
    target.mkdir()
    (target / "a.txt").write_text("old\n")
    (target / "m.txt").symlink_to(outside)
    result = run_cli(
        ["backup", "restore", str(backup.path), "--to", str(target), "--force"], project
    )
    assert result.returncode == 0, result.stderr
    assert not (target / "m.txt").is_symlink()
    assert (target / "m.txt").read_text() == "archived\n"
    assert (target / "a.txt").read_text() == "a\n"
    assert outside.read_text() == "not yours\n"


def test_a_symlink_on_the_way_stops_the_restore_before_any_write(
    project: Path, tmp_path: Path
) -> None:
    # "a.txt" comes first; "pkg/evil" (no directory entry) would go through the
    # target's own symlink "pkg". The old restore replaced a.txt, then stopped.
    members = [_file("a.txt", b"new\n"), _file("pkg/evil")]
    archive = _archive(tmp_path / "clean.tar.gz", members)
    outside = tmp_path / "outside"
    outside.mkdir()
    target = tmp_path / "target"
    target.mkdir()
    (target / "a.txt").write_text("old\n")
    (target / "pkg").symlink_to(outside)
    result = run_cli(["backup", "restore", str(archive), "--to", str(target), "--force"], project)
    line = _one_line_refusal(result)
    assert "pkg is a symlink leading outside" in line and "nothing written" in line
    assert (target / "a.txt").read_text() == "old\n"
    assert list(outside.iterdir()) == []


def test_a_file_where_a_directory_goes_stops_the_restore_before_any_write(
    project: Path, tmp_path: Path
) -> None:
    members = [_file("a.txt", b"new\n"), _dir("d"), _file("d/x")]
    archive = _archive(tmp_path / "d.tar.gz", members)
    target = tmp_path / "target"
    target.mkdir()
    (target / "a.txt").write_text("old\n")
    (target / "d").write_text("a file\n")
    result = run_cli(["backup", "restore", str(archive), "--to", str(target), "--force"], project)
    assert "nothing written" in _one_line_refusal(result)
    assert (target / "a.txt").read_text() == "old\n"


# --- (6) restore latest, time-stamp prefixes, usage errors -------------------------------------


def _two_backups(project: Path) -> list[store.Backup]:
    ctx = _ctx(project)
    (project / "a.txt").write_text("first\n")
    take_backup(ctx)
    (project / "a.txt").write_text("second\n")
    take_backup(ctx)
    backups = store.list_backups(ctx.config.backup_dir, ctx.root)
    assert len(backups) == 2
    return backups


def test_restore_latest_and_a_time_stamp(project: Path, tmp_path: Path) -> None:
    old, _new = _two_backups(project)
    result = run_cli(["backup", "restore", "latest", "--to", str(tmp_path / "l")], project)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "l" / "a.txt").read_text() == "second\n"
    assert run_cli(["backup", "verify", "latest"], project).returncode == 0
    # A whole time stamp picks its archive even if a later one of that second
    # ("...Z-1") shares it as a prefix.
    stamp = store.stamp_of(old.path.name, project)
    result = run_cli(["backup", "restore", stamp, "--to", str(tmp_path / "p")], project)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "p" / "a.txt").read_text() == "first\n"
    result = run_cli(["backup", "verify", stamp[:-3]], project)  # to the ten seconds
    assert result.returncode in (0, 2), result.stderr  # unique, or both in those ten seconds


def test_an_ambiguous_prefix_is_a_usage_error(project: Path) -> None:
    _two_backups(project)
    result = run_cli(["backup", "verify", "2"], project)  # every stamp starts with 2
    assert result.returncode == 2, result.stderr
    assert "2 backups match" in result.stderr and len(result.stderr.splitlines()) == 1


def test_latest_without_backups_says_so(project: Path) -> None:
    result = run_cli(["backup", "restore", "latest", "--to", "x"], project)
    assert "latest: no backups of" in _one_line_refusal(result)


def test_a_non_empty_target_without_force_is_a_usage_error(project: Path, tmp_path: Path) -> None:
    _two_backups(project)
    target = tmp_path / "busy"
    target.mkdir()
    (target / "mine.txt").write_text("keep\n")
    result = run_cli(["backup", "restore", "latest", "--to", str(target)], project)
    assert result.returncode == 2 and "--force" in result.stderr
    assert sorted(p.name for p in target.iterdir()) == ["mine.txt"]
