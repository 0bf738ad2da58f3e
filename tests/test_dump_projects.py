"""Whose dump is it: two projects in folders of the same name share one dump_dir safely.

Dump names carry the project id (folder name + a hash of its path), so prune_dumps
counts and deletes only this project's dumps. Names without the id (dumps from before
it, create-dump's) are only this project's in its own default dump directory.
"""

from __future__ import annotations

import json
import os
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpers import run_cli

from routine_workflow.config import load_config
from routine_workflow.dirs import project_id
from routine_workflow.dumps.names import dump_name, parse_dump_name, sidecar

START = datetime(2026, 1, 1, 9, 30, tzinfo=timezone.utc)


def make_app(
    parent: Path, dump_dir: Path | None, keep: int = 1, engine: str = 'dump_engine = "builtin"'
) -> Path:
    root = parent / "app"
    root.mkdir(parents=True)
    (root / "main.py").write_text(f"WHERE = {str(parent)!r}\n")
    setting = f'dump_dir = "{dump_dir.as_posix()}"\n' if dump_dir else ""
    (root / "pyproject.toml").write_text(
        f"[tool.routine-workflow]\n{engine}\nkeep_dumps = {keep}\n{setting}"
    )
    return root


def run(root: Path, *steps: str) -> dict:  # type: ignore[type-arg]
    proc = run_cli(["--steps", ",".join(steps), "--yes", "--json"], root)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    (step,) = json.loads(proc.stdout)["steps"]
    return step  # type: ignore[no-any-return]


def listing(directory: Path) -> dict[str, bytes]:
    return {p.name: p.read_bytes() for p in directory.iterdir()}


def legacy_dumps(directory: Path, folder: str, count: int) -> list[str]:
    """Old-style dumps (``<folder>_dump_<stamp>.md`` + sidecar), oldest first."""
    directory.mkdir(parents=True, exist_ok=True)
    names = []
    for i in range(count):
        name = f"{folder}_dump_{(START + timedelta(hours=i)).strftime('%Y%m%dT%H%M%SZ')}.md"
        (directory / name).write_text(f"# Code dump: {folder}\n")
        sidecar(directory / name).write_text(f"checksum {i}\n")
        names.append(name)
    return names


def test_pruning_one_app_never_touches_another_apps_dumps_in_a_shared_dir(tmp_path: Path) -> None:
    shared = tmp_path / "shared-dumps"
    x, y = make_app(tmp_path / "x", shared), make_app(tmp_path / "y", shared)
    written: dict[Path, set[str]] = {x: set(), y: set()}
    for number in range(2):
        for root in (x, y):
            (root / "main.py").write_text(f"RUN = {number}\n")  # unchanged: no new dump
            before = set(os.listdir(shared)) if shared.exists() else set()
            assert run(root, "dumps")["status"] == "changed"
            written[root] |= set(os.listdir(shared)) - before
    assert len(written[x]) == len(written[y]) == 4  # two dumps, two sidecars each
    theirs = {n: d for n, d in listing(shared).items() if n in written[y]}

    step = run(x, "prune_dumps")  # keep_dumps = 1: x has 2, y's are not x's to count

    assert {n: d for n, d in listing(shared).items() if n in written[y]} == theirs
    assert step["status"] == "changed"
    assert (step["counts"]["kept"], step["counts"]["removed"]) == (1, 1)
    assert len(set(os.listdir(shared)) & written[x]) == 2  # x's newest and its sidecar
    # and y, pruning in turn, sees only its own two
    theirs_step = run(y, "prune_dumps")
    assert (theirs_step["counts"]["kept"], theirs_step["counts"]["removed"]) == (1, 1)
    assert len([n for n in listing(shared) if n.endswith(".md")]) == 2


def test_dump_names_carry_the_project_id(tmp_path: Path) -> None:
    x, y = tmp_path / "x" / "app", tmp_path / "y" / "app"
    for root in (x, y):
        root.mkdir(parents=True)
    name = dump_name(x, START)
    assert name == f"{project_id(x)}_dump_20260101T093000Z.md"
    assert name.startswith("app-") and name != dump_name(y, START)
    assert parse_dump_name(name, x) == START and parse_dump_name(name, y) is None
    link = tmp_path / "link"
    link.symlink_to(x)  # the same project through another path: the same id
    assert parse_dump_name(name, link) == START


def test_old_style_dumps_in_a_shared_dir_are_left_alone_and_named(tmp_path: Path) -> None:
    shared = tmp_path / "shared-dumps"
    x = make_app(tmp_path / "x", shared)
    old = legacy_dumps(shared, "app", 3)  # x's or y's? the name cannot tell
    run(x, "dumps")
    before = {n: d for n, d in listing(shared).items() if n.startswith("app_")}

    step = run(x, "prune_dumps")

    assert {n: d for n, d in listing(shared).items() if n.startswith("app_")} == before
    assert step["status"] == "ok" and step["counts"]["kept"] == 1
    assert step["counts"]["left_alone"] == 3
    [note] = [d for d in step["details"] if d.startswith("left alone 3 dumps")]
    assert all(name in note for name in old)


def test_old_style_dumps_in_the_projects_own_dump_dir_are_still_pruned(tmp_path: Path) -> None:
    x = make_app(tmp_path / "x", None)
    own = load_config({"project_root": x}).dump_dir
    assert own.name == project_id(x)  # the default: one directory per project
    old = legacy_dumps(own, "app", 3)
    run(x, "dumps")

    step = run(x, "prune_dumps")

    assert step["counts"]["removed"] == 3 and "left_alone" not in step["counts"]
    remaining = sorted(os.listdir(own))
    assert not set(old) & set(remaining)
    assert len(remaining) == 2 and remaining[0].startswith(project_id(x))


def test_create_dump_names_in_a_shared_dir_are_left_alone(tmp_path: Path) -> None:
    shared = tmp_path / "shared-dumps"
    x = make_app(tmp_path / "x", shared, engine='create_dump_run_cmd = "true"')
    shared.mkdir()
    for hour in range(3):
        (shared / f"app_all_create_dump_20260101_{hour:02d}0000.md").write_text("d")
    before = listing(shared)

    step = run(x, "prune_dumps")

    assert listing(shared) == before
    assert step["counts"]["left_alone"] == 3 and step["counts"]["kept"] == 0


def test_an_old_style_dump_in_the_project_is_not_dumped_again(tmp_path: Path) -> None:
    x = make_app(tmp_path / "x", None)
    (x / "pyproject.toml").write_text(
        '[tool.routine-workflow]\ndump_engine = "builtin"\ndump_dir = "dumps"\n'
    )
    [old] = legacy_dumps(x, "app", 1)  # copied into the tree by hand, say
    run(x, "dumps")
    [new] = list((x / "dumps").glob(f"{project_id(x)}_dump_*.md"))
    text = new.read_text(encoding="utf-8")
    assert f"- `{old}`: an earlier dump" in text and f"### `{old}`" not in text
