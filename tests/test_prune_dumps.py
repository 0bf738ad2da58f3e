"""prune_dumps: keeps the newest keep_dumps dumps; never touches anything not named like one."""

from __future__ import annotations

import hashlib
import json
import logging
import os
from collections.abc import Callable
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from helpers import run_cli, unremovable  # noqa: F401 (unremovable: a fixture)

from routine_workflow.config import load_config
from routine_workflow.dumps.external import create_dump_in_use
from routine_workflow.dumps.names import dump_name, parse_create_dump_name, sidecar
from routine_workflow.dumps.prune import find_dumps
from routine_workflow.steps import prune_dumps
from routine_workflow.steps.base import Status, StepContext, StepResult

START = datetime(2026, 1, 1, 9, 30, tzinfo=timezone.utc)


def run_step(root: Path, **flags: object) -> StepResult:
    config = load_config({"project_root": root, **flags})
    return prune_dumps.make(config).run(StepContext(config, logging.getLogger("test")))


def digests(directory: Path) -> dict[str, str]:
    return {
        p.name: ("link" if p.is_symlink() else hashlib.sha256(p.read_bytes()).hexdigest())
        for p in directory.iterdir()
    }


def seed(project: Path, dump_dir: Path, count: int = 12) -> list[str]:
    """``count`` dumps an hour apart, with sidecars; mtimes run backwards to prove names win."""
    dump_dir.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        when = START + timedelta(hours=i)
        path = dump_dir / dump_name(project, when)
        path.write_text(f"dump {i}")
        sidecar(path).write_text(f"checksum {i}")
        stamp = (START - timedelta(days=i)).timestamp()
        os.utime(path, (stamp, stamp))
        names.append(path.name)
    return names


LOOK_ALIKES = [
    "notes.md",
    "my_dump_final.md",
    "otherproject_dump_20200101T000000Z.md",  # another project's dump
    "project_dump_20201301T000000Z.md",  # month 13: does not parse
    "project_dump_2020-01-01.md",
]


def seed_look_alikes(dump_dir: Path) -> None:
    for name in LOOK_ALIKES:
        (dump_dir / name).write_text(f"user file {name}")
    (dump_dir / "otherproject_dump_20200101T000000Z.md.sha256").write_text("theirs")


def test_keeps_exactly_the_five_newest_and_never_touches_look_alikes(
    project: Path, tmp_path: Path
) -> None:
    dump_dir = tmp_path / "dumps"
    names = seed(project, dump_dir)
    seed_look_alikes(dump_dir)
    others = {k: v for k, v in digests(dump_dir).items() if k.removesuffix(".sha256") not in names}
    assert len(others) == len(LOOK_ALIKES) + 1

    result = run_step(project, dump_dir=dump_dir)

    assert result.status is Status.CHANGED
    newest = names[-5:]
    expected = {*newest, *(n + ".sha256" for n in newest), *others}
    assert set(os.listdir(dump_dir)) == expected
    assert {k: v for k, v in digests(dump_dir).items() if k in others} == others
    assert result.counts == {
        "kept": 5,
        "removed": 7,
        "bytes": sum(len(f"dump {i}") + len(f"checksum {i}") for i in range(7)),
        "failed": 0,
    }


def test_dry_run_lists_and_removes_nothing(project: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "dumps"
    names = seed(project, dump_dir)
    seed_look_alikes(dump_dir)
    before = digests(dump_dir)

    result = run_step(project, dump_dir=dump_dir, dry_run=True)

    assert digests(dump_dir) == before
    assert result.status is Status.OK
    listed = sorted(d.removeprefix("would delete ") for d in result.details)
    assert listed == sorted([*names[:7], *(n + ".sha256" for n in names[:7])])


def test_missing_dump_dir_is_skipped(project: Path, tmp_path: Path) -> None:
    result = run_step(project, dump_dir=tmp_path / "never-written")
    assert result.status is Status.SKIPPED
    assert result.summary == "no dumps yet"


def test_dump_dir_that_is_a_file_fails(project: Path, tmp_path: Path) -> None:
    (tmp_path / "dumps").write_text("oops")
    result = run_step(project, dump_dir=tmp_path / "dumps")
    assert result.status is Status.FAILED


def test_fewer_dumps_than_kept_is_ok(project: Path, tmp_path: Path) -> None:
    seed(project, tmp_path / "dumps", count=3)
    result = run_step(project, dump_dir=tmp_path / "dumps")
    assert result.status is Status.OK
    assert len(os.listdir(tmp_path / "dumps")) == 6


def test_symlink_named_like_a_dump_is_left_alone(project: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "dumps"
    seed(project, dump_dir, count=2)
    target = tmp_path / "precious.md"
    target.write_text("precious")
    oldest = dump_dir / dump_name(project, START - timedelta(days=30))
    oldest.symlink_to(target)
    run_step(project, dump_dir=dump_dir, keep_dumps=1)
    assert oldest.is_symlink() and target.read_text() == "precious"
    assert len([p for p in dump_dir.iterdir() if not p.is_symlink()]) == 2  # newest + sidecar


def test_create_dump_names_only_when_create_dump_is_the_tool(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))  # no create-dump on PATH
    # The project's own dump directory: create-dump's names do not say which "project"
    # folder wrote them, so elsewhere they are left alone (test_dump_projects.py).
    dump_dir = load_config({"project_root": project}).dump_dir
    dump_dir.mkdir(parents=True)
    made = []
    for hour in range(4):
        stem = f"project_all_create_dump_20260101_{hour:02d}0000"
        (dump_dir / f"{stem}.md").write_text("d")
        (dump_dir / f"{stem}.sha256").write_text("s")
        made.append(stem)
    (dump_dir / "project_all_create_dump_20260101_000000.md.gz").write_text("z")
    (dump_dir / "project_all_create_dump_20260101_000000.md.gz.sha256").write_text("zs")
    (dump_dir / "other_all_create_dump_20200101_000000.md").write_text("theirs")

    untouched = run_step(project, dump_dir=dump_dir, keep_dumps=1)
    assert untouched.status is Status.OK
    assert len(os.listdir(dump_dir)) == 11

    result = run_step(project, dump_dir=dump_dir, keep_dumps=1, create_dump_run_cmd="true")
    assert result.status is Status.CHANGED
    assert sorted(os.listdir(dump_dir)) == sorted(
        [f"{made[-1]}.md", f"{made[-1]}.sha256", "other_all_create_dump_20200101_000000.md"]
    )


def test_parse_create_dump_name(project: Path) -> None:
    assert parse_create_dump_name(
        "project_all_create_dump_20250101_121045.md", project
    ) == datetime(2025, 1, 1, 12, 10, 45, tzinfo=timezone.utc)
    for name in (
        "project_all_create_dump_20251301_121045.md",
        "xproject_all_create_dump_" "20250101_121045.md",
        "project_all_create_dump_20250101_121045.json",
    ):
        assert parse_create_dump_name(name, project) is None


def test_same_timestamp_ties_broken_by_mtime(project: Path, tmp_path: Path) -> None:
    dump_dir = load_config({"project_root": project}).dump_dir  # its own: create-dump's count
    dump_dir.mkdir(parents=True)
    ours = dump_dir / dump_name(project, START)
    theirs = dump_dir / "project_all_create_dump_20260101_093000.md"
    for i, path in enumerate((ours, theirs)):
        path.write_text("d")
        os.utime(path, (1000 + i, 1000 + i))
    dumps = find_dumps(dump_dir, project, create_dump=True)
    assert [d.path.name for d in dumps] == [theirs.name, ours.name]


def test_cli_end_to_end(project: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "dumps"
    names = seed(project, dump_dir)
    seed_look_alikes(dump_dir)
    (project / "pyproject.toml").write_text(
        f'[tool.routine-workflow]\ndump_dir = "{dump_dir.as_posix()}"\nkeep_dumps = 2\n'
    )
    proc = run_cli(["--steps", "prune_dumps", "--yes", "--json"], project)
    assert proc.returncode == 0, proc.stderr
    (step,) = json.loads(proc.stdout)["steps"]
    assert step["status"] == "changed" and step["counts"]["removed"] == 10
    remaining = set(os.listdir(dump_dir))
    assert {*names[-2:], *LOOK_ALIKES} <= remaining
    assert not remaining & set(names[:-2])


def test_dump_that_cannot_be_deleted_fails_the_step(
    project: Path, tmp_path: Path, unremovable: Callable[[Path], None]  # noqa: F811 (the fixture)
) -> None:
    dump_dir = tmp_path / "dumps"
    names = seed(project, dump_dir, count=3)
    unremovable(dump_dir)
    result = run_step(project, dump_dir=dump_dir, keep_dumps=1)
    assert result.status is Status.FAILED
    assert names[1] in result.summary  # newest of the old ones comes first
    assert result.counts["removed"] == 0 and result.counts["failed"] == 4
    assert len(os.listdir(dump_dir)) == 6


@pytest.mark.parametrize(
    ("flags", "expected"),
    [
        ({}, False),  # nothing configured, create-dump not on PATH: the built-in writes dumps
        ({"create_dump_run_cmd": "true"}, True),
        ({"create_dump_run_cmd": "true", "dump_engine": "builtin"}, False),
        ({"dump_engine": "create-dump"}, True),  # wanted but not installed: its names still count
    ],
)
def test_create_dump_in_use_agrees_with_the_dumps_step(
    project: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    flags: dict[str, str],
    expected: bool,
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path / "empty-bin"))
    config = load_config({"project_root": project, **flags})
    assert create_dump_in_use(config) is expected
