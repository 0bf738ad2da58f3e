"""An unchanged project is told from file stats alone: no project file is opened.

After a run that wrote (or compared and kept) a dump, a manifest of what it was made
from is recorded (``dumps.inputs``); the next run with the same walk, the same stats
and the same settings keeps the newest dump without reading a file. Every other case
(a change that keeps size and mtime, settings, another commit, a damaged manifest, a
racy file) falls back to building and comparing the dump in full.

Inputs must be older than the racy window (2 s) to be recorded: the projects are made
in one batch per module and aged once (``aged``), rather than each test sleeping.
A run that opens no project file is observed from outside in a real process, with an
audit hook listing every path it opens (``run_audited``), and in the step's ``read`` count.
"""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.dumps import inputs
from routine_workflow.dumps import names as dumpnames
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.dumps import DumpsStep

PYPROJECT = '[project]\nname = "demo"\n\n[tool.routine-workflow]\ndump_engine = "builtin"\n'
GITHUB_TOKEN = "ghp_" + "A1b2C3d4E5f6G7h8I9j0K1l2M3n4O5p6Q7r8"
FILES = {
    "app.py": b"print('hello')\n",
    "docs/index.md": b"# Demo\n\n```\ncode\n```\n",
    "conf/settings.json": b'{"token": "' + GITHUB_TOKEN.encode() + b'"}\n',
    "latin1.txt": b"caf\xe9 au lait\n",
    "blob.dat": b"\x00\x01\x02",
    "img/logo.png": b"\x89PNG\r\n",  # left out by name: never read
    ".env": b"API_KEY=hunter2\n",
}
#: Files a full run opens: pyproject.toml and FILES but the two left out by name (blob.dat
#: is binary by its NUL bytes, which reading finds).
READ = len(FILES) + 1 - 2
POOL = 32
YEAR_NS = 365 * 24 * 3600 * 10**9


def _make(root: Path) -> Path:
    for rel, data in {"pyproject.toml": PYPROJECT.encode(), **FILES}.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


@pytest.fixture(scope="module")
def pool(tmp_path_factory: pytest.TempPathFactory) -> Iterator[list[Path]]:
    base = tmp_path_factory.mktemp("aged")
    projects = [_make(base / f"app{n}") for n in range(POOL)]
    future = projects[0] / "app.py"  # mtime a year ahead (a skewed clock), ctime now
    os.utime(future, ns=(time.time_ns(), time.time_ns() + YEAR_NS))
    time.sleep(inputs.RACY_WINDOW_NS / 1e9 + 0.2)  # every input now older than the window
    yield projects  # projects[0] is ``future_root``'s; ``aged`` pops from the end


@pytest.fixture(scope="module")
def future_root(pool: list[Path]) -> Path:
    """A project like the others, but app.py's mtime is a year ahead."""
    return pool[0]


@pytest.fixture
def aged(pool: list[Path]) -> Path:
    """A project whose files are all older than the racy window."""
    assert len(pool) > 1, "raise POOL"
    return pool.pop()


def config_for(root: Path, **flags: object) -> WorkflowConfig:
    return load_config({"project_root": root, **flags}, cwd=root)


def run_step(config: WorkflowConfig) -> StepResult:
    return DumpsStep().run(StepContext(config, logging.getLogger("test.dumps.inputs")))


def dumps_in(config: WorkflowConfig) -> list[Path]:
    return sorted(
        p
        for p in config.dump_dir.iterdir()
        if dumpnames.parse_dump_name(p.name, config.project_root)
    )


def recorded_run(root: Path, **flags: object) -> tuple[WorkflowConfig, StepResult]:
    config = config_for(root, **flags)
    first = run_step(config)
    assert first.status is Status.CHANGED, first.summary
    assert inputs.manifest_path(config).is_file()
    return config, first


def test_an_unchanged_run_keeps_the_dump_from_stats_and_reports_the_same(aged: Path) -> None:
    config, first = recorded_run(aged)
    [dump] = dumps_in(config)
    assert first.counts["read"] == READ

    fast = run_step(config)
    assert fast.status is Status.OK, fast.summary
    assert fast.counts["read"] == 0
    assert fast.summary.startswith(f"dumps unchanged - {dump.name} kept")

    inputs.manifest_path(config).unlink()  # the same run, compared in full
    full = run_step(config)
    assert full.status is Status.OK and full.counts["read"] == READ
    assert fast.summary == full.summary
    assert fast.details == full.details == first.details  # the secret, the non-UTF-8 file
    assert {**fast.counts, "read": 0} == {**full.counts, "read": 0}
    assert fast.counts["secrets"] == 2 and fast.counts["not_utf8"] == 1
    assert fast.counts["skipped"] == 4  # .env, settings.json, blob.dat, logo.png
    assert dumps_in(config) == [dump]

    (aged / "app.py").touch()  # a new mtime (and ctime): read again, then kept
    touched = run_step(config)
    assert touched.status is Status.OK and touched.counts["read"] == READ


AUDIT = """
import atexit, os, runpy, sys
opened = []
def hook(event, args):
    if event == "open" and isinstance(args[0], (str, bytes, os.PathLike)):
        opened.append(os.fsdecode(args[0]))
sys.addaudithook(hook)
def report():
    with open(os.environ["OPENED_LOG"], "w") as out:
        out.write("\\n".join(opened))
    with open(os.environ["OPENED_LOG"] + ".modules", "w") as out:
        out.write("\\n".join(sorted(sys.modules)))
atexit.register(report)
sys.argv = ["routine-workflow", *sys.argv[1:]]
runpy.run_module("routine_workflow", run_name="__main__", alter_sys=True)
"""


def run_audited(root: Path, log: Path, env: dict[str, str]) -> tuple[dict, list[str]]:  # type: ignore[type-arg]
    """Run the CLI in a real process that records every path it opens (audit hook), and
    the modules it imported (``<log>.modules``)."""
    proc = subprocess.run(
        [sys.executable, "-c", AUDIT, "--steps", "dumps", "--yes", "--json"],
        cwd=root,
        env={**os.environ, **env, "OPENED_LOG": str(log)},
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert proc.returncode == 0, proc.stderr
    [step] = json.loads(proc.stdout)["steps"]
    return step, log.read_text().splitlines()


@pytest.mark.slow
def test_through_the_cli_an_unchanged_run_opens_no_project_file(aged: Path, tmp_path: Path) -> None:
    env = {"ROUTINE_WORKFLOW_DUMP_DIR": str(tmp_path / "out")}
    first, opened = run_audited(aged, tmp_path / "opened1", env)
    assert first["status"] == "changed"
    assert str(aged / "app.py") in opened  # the hook does see the reads

    second, opened = run_audited(aged, tmp_path / "opened2", env)
    assert second["status"] == "ok" and " kept " in second["summary"]
    assert second["counts"]["read"] == 0
    sources = {str(aged / rel) for rel in FILES}
    assert sources.isdisjoint(opened), sorted(sources & set(opened))
    # Nor does it load what only reading and writing need: the secret rules, the writer.
    modules = set((tmp_path / "opened2.modules").read_text().splitlines())
    assert "routine_workflow.dumps.inputs" in modules
    assert {"routine_workflow.dumps.sensitive", "routine_workflow.dumps.writer"}.isdisjoint(modules)


def test_a_change_that_keeps_size_and_mtime_is_still_caught(aged: Path) -> None:
    config, _ = recorded_run(aged)
    path = aged / "app.py"
    before = path.stat()
    with open(path, "r+b") as handle:  # same inode, same size
        handle.write(b"PRINT")
    os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))  # and the old mtime back
    after = path.stat()
    assert (after.st_size, after.st_mtime_ns, after.st_ino) == (
        before.st_size,
        before.st_mtime_ns,
        before.st_ino,
    )
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary  # ctime moved: read, differs
    assert b"PRINT('hello')" in dumps_in(config)[-1].read_bytes()


def _swap_for_symlink(root: Path) -> None:
    (root / "docs" / "index.md").unlink()
    (root / "docs" / "index.md").symlink_to("../app.py")


@pytest.mark.parametrize(
    "change",
    [
        lambda root: (root / "new.py").write_text("x = 1\n"),
        lambda root: (root / "docs" / "index.md").unlink(),
        lambda root: os.rename(root / "app.py", root / "main.py"),
        lambda root: (root / ".gitignore").write_text("docs/\n"),
        _swap_for_symlink,
    ],
    ids=["added", "deleted", "renamed", "now-ignored", "now-a-symlink"],
)
def test_an_added_deleted_or_renamed_file_writes_a_new_dump(aged: Path, change) -> None:  # type: ignore[no-untyped-def]
    config, _ = recorded_run(aged)
    change(aged)
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary
    assert result.counts["read"] > 0


@pytest.mark.parametrize(
    "flags",
    [
        {"dump_max_file_size": 10},  # app.py now too large: same walk, another dump
        {"exclude_patterns": ["docs"]},
        {"dump_secret_patterns": ["*.md"]},
    ],
    ids=["max-size", "excludes", "secret-patterns"],
)
def test_a_settings_change_invalidates(aged: Path, flags: dict[str, object]) -> None:
    config, _ = recorded_run(aged)
    result = run_step(config.with_changes(**flags))
    assert result.status is Status.CHANGED, result.summary
    assert result.counts["read"] > 0


def test_a_context_change_invalidates_even_if_the_files_do_not(aged: Path) -> None:
    # What the dump's bytes depend on besides the files: each part changes the digest.
    config = config_for(aged)
    base = inputs.context(config, None)
    others = [
        inputs.context(config, "0" * 40),
        inputs.context(config.with_changes(dump_max_file_size=10), None),
        inputs.context(config.with_changes(include_nested_repos=True), None),
    ]
    assert all(other != base for other in others)


def test_another_commit_writes_a_new_dump(aged: Path) -> None:
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    subprocess.run(["git", "init", "-q", str(aged)], check=True)
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "one"], cwd=aged, check=True)
    config = config_for(aged)
    run_step(config)  # .git is new, but not an input
    assert run_step(config).counts["read"] == 0
    subprocess.run([*git, "commit", "-q", "--allow-empty", "-m", "two"], cwd=aged, check=True)
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary


def _edit_count(path: Path) -> None:
    check, body = path.read_text().split("\n", 1)
    doc = json.loads(body)
    doc["files"] += 1
    path.write_text(check + "\n" + json.dumps(doc))


@pytest.mark.parametrize(
    "damage",
    [
        lambda path: path.write_bytes(path.read_bytes()[:-10]),
        lambda path: path.write_bytes(b""),
        lambda path: path.write_text("not json"),
        lambda path: path.write_text("[]"),
        _edit_count,
    ],
    ids=["truncated", "empty", "garbage", "wrong-shape", "hand-edited"],
)
def test_a_broken_manifest_falls_back_to_the_full_compare(aged: Path, damage) -> None:  # type: ignore[no-untyped-def]
    config, first = recorded_run(aged)
    manifest = inputs.manifest_path(config)
    damage(manifest)
    result = run_step(config)
    assert result.status is Status.OK, result.summary  # still kept, by comparing
    assert result.counts["read"] == first.counts["read"]
    assert result.counts["files"] == first.counts["files"]
    assert inputs.load(manifest) is not None  # and recorded again
    assert run_step(config).counts["read"] == 0


def test_a_dump_edited_after_it_was_recorded_is_not_kept(aged: Path) -> None:
    config, _ = recorded_run(aged)
    [old] = dumps_in(config)
    data = old.read_bytes() + b"extra\n"
    old.write_bytes(data)  # its sidecar still names the old digest
    result = run_step(config)
    assert result.status is Status.CHANGED, result.summary


def test_a_file_changed_during_the_racy_window_is_not_recorded(aged: Path) -> None:
    config, _ = recorded_run(aged)
    (aged / "app.py").write_text("print('fresh')\n")  # changed just now
    assert run_step(config).status is Status.CHANGED
    assert not inputs.manifest_path(config).exists()  # not vouched for: the old one is gone
    result = run_step(config)
    assert result.status is Status.OK and result.counts["read"] == READ  # compared in full


def test_a_file_dated_in_the_future_does_not_stop_the_shortcut(future_root: Path) -> None:
    # Its ctime is old; a later change would move it. A future mtime alone is no race.
    assert (future_root / "app.py").stat().st_mtime_ns > time.time_ns()
    config, _ = recorded_run(future_root)
    assert run_step(config).counts["read"] == 0


def test_a_dry_run_uses_the_manifest_but_never_writes_one(aged: Path) -> None:
    config = config_for(aged)
    dry = run_step(config.with_changes(dry_run=True))
    assert dry.summary.startswith("dry run: would write ")
    assert not inputs.manifest_path(config).exists()
    run_step(config)
    manifest = inputs.manifest_path(config)
    before = manifest.read_bytes(), manifest.stat().st_mtime_ns
    dry = run_step(config.with_changes(dry_run=True))
    assert dry.summary.startswith("dry run: dumps unchanged - ") and dry.counts["read"] == 0
    assert (manifest.read_bytes(), manifest.stat().st_mtime_ns) == before


def _resign(path: Path, edit) -> None:  # type: ignore[no-untyped-def]
    """Edit the manifest's body and write a checksum that matches it again."""
    body = json.loads(path.read_bytes().split(b"\n", 1)[1])
    edit(body)
    text = json.dumps(body).encode()
    path.write_bytes(hashlib.sha256(text).hexdigest().encode() + b"\n" + text)


@pytest.mark.parametrize(
    "edit",
    [
        lambda body: body["outcomes"].append([10**6, "x", False, False]),
        lambda body: body.update(read=body["read"].replace("1", "2")),
        lambda body: body.update(format=inputs.FORMAT + 1),
    ],
    ids=["index-out-of-range", "bad-read-set", "other-format"],
)
def test_a_manifest_inconsistent_with_itself_is_ignored(aged: Path, edit) -> None:  # type: ignore[no-untyped-def]
    config, first = recorded_run(aged)
    path = inputs.manifest_path(config)
    assert inputs.load(path) is not None
    _resign(path, edit)
    assert inputs.load(path) is None
    result = run_step(config)
    assert result.status is Status.OK and result.counts["read"] == first.counts["read"]
