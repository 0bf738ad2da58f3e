"""A run with nothing changed writes no new dump: the newest one is kept, and says so.

"Nothing changed" means the dump we would write is byte for byte the newest dump of
this project, apart from its time stamp; and that dump is whole (its bytes match its
``.sha256`` sidecar). Anything else writes a new dump.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.dumps import names as dumpnames
from routine_workflow.dumps import writer as dumpwriter
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.dumps import DumpsStep


def make_project(root: Path) -> Path:
    root.mkdir()
    (root / "pyproject.toml").write_text(
        '[project]\nname = "demo"\n\n[tool.routine-workflow]\ndump_engine = "builtin"\n'
    )
    (root / "app.py").write_text("print('hello')\n")
    (root / "docs").mkdir()
    (root / "docs" / "index.md").write_text("# Demo\n\n```\ncode\n```\n")
    return root


@pytest.fixture
def app(tmp_path: Path) -> Path:
    return make_project(tmp_path / "app")


def config_for(root: Path, **flags: object) -> WorkflowConfig:
    return load_config({"project_root": root, **flags}, cwd=root)


def run_step(config: WorkflowConfig) -> StepResult:
    return DumpsStep().run(StepContext(config, logging.getLogger("test.dumps")))


def listing(directory: Path) -> dict[str, tuple[bytes, int]]:
    """Every file's bytes and mtime: a kept dump is not even touched."""
    return {p.name: (p.read_bytes(), p.stat().st_mtime_ns) for p in sorted(directory.iterdir())}


def dumps_in(config: WorkflowConfig) -> list[Path]:
    return sorted(
        p
        for p in config.dump_dir.iterdir()
        if dumpnames.parse_dump_name(p.name, config.project_root)
    )


def test_a_second_run_with_nothing_changed_keeps_the_newest_dump(app: Path) -> None:
    config = config_for(app)
    first = run_step(config)
    assert first.status is Status.CHANGED
    [dump] = dumps_in(config)
    before = listing(config.dump_dir)

    (app / "app.py").touch()  # a new mtime is not a change of content
    second = run_step(config)

    assert second.status is Status.OK
    assert second.summary.startswith(f"dumps unchanged - {dump.name} kept")
    assert listing(config.dump_dir) == before
    assert second.counts["files"] == first.counts["files"]
    assert second.counts["bytes"] == first.counts["bytes"] == dump.stat().st_size


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "app.py").write_text("print('changed')\n"),
        lambda root: (root / "new.py").write_text("x = 1\n"),
        lambda root: (root / "docs" / "index.md").unlink(),
        lambda root: os.rename(root / "app.py", root / "main.py"),
    ],
    ids=["edited", "added", "removed", "renamed"],
)
def test_any_change_of_content_writes_a_new_dump(app: Path, change) -> None:  # type: ignore[no-untyped-def]
    config = config_for(app)
    run_step(config)
    change(app)
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary
    assert len(dumps_in(config)) == 2


def test_a_change_of_dump_settings_writes_a_new_dump(app: Path) -> None:
    config = config_for(app)
    run_step(config)
    result = run_step(config.with_changes(dump_max_file_size=10))  # app.py is now skipped
    assert result.status is Status.CHANGED
    assert len(dumps_in(config)) == 2


def _corrupt_same_size(dump: Path) -> None:
    data = bytearray(dump.read_bytes())
    data[-3] ^= 0x20
    dump.write_bytes(bytes(data))


@pytest.mark.parametrize(
    "damage",
    [
        lambda dump: dump.write_bytes(dump.read_bytes()[:-1]),  # truncated
        lambda dump: dump.write_bytes(b""),  # emptied (a power cut before writeback)
        _corrupt_same_size,  # and the sidecar still names the old digest
        lambda dump: dumpnames.sidecar(dump).unlink(),
        lambda dump: dumpnames.sidecar(dump).write_text(""),
        lambda dump: dumpnames.sidecar(dump).write_text(f"{'0' * 64}  {dump.name}\n"),
    ],
    ids=["truncated", "empty", "flipped-bit", "no-sidecar", "empty-sidecar", "wrong-digest"],
)
def test_a_damaged_newest_dump_is_never_the_one_kept(app: Path, damage) -> None:  # type: ignore[no-untyped-def]
    config = config_for(app)
    run_step(config)
    [old] = dumps_in(config)
    damage(old)
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary
    new = [p for p in dumps_in(config) if p != old]
    assert len(new) == 1
    digest = hashlib.sha256(new[0].read_bytes()).hexdigest()
    assert dumpnames.sidecar(new[0]).read_text() == f"{digest}  {new[0].name}\n"


def test_a_dump_that_grew_a_tail_is_not_kept(app: Path) -> None:
    config = config_for(app)
    run_step(config)
    [old] = dumps_in(config)
    data = old.read_bytes() + b"extra\n"
    old.write_bytes(data)
    dumpnames.sidecar(old).write_text(f"{hashlib.sha256(data).hexdigest()}  {old.name}\n")
    assert run_step(config).status is Status.CHANGED


def test_only_the_newest_dump_counts(app: Path) -> None:
    config = config_for(app)
    run_step(config)
    (app / "app.py").write_text("print('two')\n")
    run_step(config)
    (app / "app.py").write_text("print('hello')\n")  # back to the first dump's content
    result = run_step(config)
    assert result.status is Status.CHANGED
    assert len(dumps_in(config)) == 3


def test_a_spilled_body_is_compared_as_well(app: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(dumpwriter, "SPOOL_LIMIT", 16)  # spill after every piece
    config = config_for(app)
    run_step(config)
    before = listing(config.dump_dir)
    assert run_step(config).status is Status.OK
    assert listing(config.dump_dir) == before
    (app / "app.py").write_text("print('changed')\n")
    assert run_step(config).status is Status.CHANGED


def test_a_dry_run_says_the_dump_would_be_kept(app: Path) -> None:
    config = config_for(app)
    run_step(config)
    [dump] = dumps_in(config)
    before = listing(config.dump_dir)
    dry = run_step(config.with_changes(dry_run=True))
    assert dry.status is Status.OK
    assert dry.summary.startswith(f"dry run: dumps unchanged - {dump.name} would be kept")
    assert listing(config.dump_dir) == before
    (app / "app.py").write_text("print('changed')\n")
    dry = run_step(config.with_changes(dry_run=True))
    assert dry.summary.startswith("dry run: would write ")
    assert listing(config.dump_dir) == before


def test_through_the_cli_an_unchanged_run_writes_nothing_new(app: Path, tmp_path: Path) -> None:
    dump_dir = tmp_path / "out"
    env = {"ROUTINE_WORKFLOW_DUMP_DIR": str(dump_dir)}
    args = ["--steps", "dumps", "--yes", "--json"]
    first = run_cli(args, app, env=env)
    assert first.returncode == 0, first.stderr
    before = listing(dump_dir)
    second = run_cli(args, app, env=env)
    assert second.returncode == 0, second.stderr
    [step] = json.loads(second.stdout)["steps"]
    assert step["status"] == "ok"
    assert step["summary"].startswith("dumps unchanged - ") and " kept" in step["summary"]
    assert listing(dump_dir) == before
