"""The whole built-in dump: walk, then keep the newest dump or write a new one.

``build_dump`` tries, in order of cost:

1. ``inputs.reuse``: the newest dump's recorded inputs still match the files' stats,
   so it is kept without a project file being opened;
2. ``unchanged.Matcher``: the dump is built and compared, as it is produced, with the
   newest dump; equal apart from its time, that dump is kept;
3. otherwise the new dump is written with its ``.sha256`` sidecar (``writer``).

After 2 or 3, ``inputs.record`` notes what the kept or written dump was made from,
for the next run's step 1. A dry run may use step 1 but records nothing.
"""

from __future__ import annotations

import contextlib
import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

from routine_workflow import fsutil
from routine_workflow.config import WorkflowConfig
from routine_workflow.dirs import private_dir
from routine_workflow.discovery import Discovery, Entry
from routine_workflow.dumps import inputs, unchanged
from routine_workflow.dumps.builtin import (
    BodyStats,
    DumpMeta,
    Item,
    Plan,
    plan_items,
    render_head,
    write_body,
)
from routine_workflow.dumps.gitcommit import git_commit_result, start_git, stop_git
from routine_workflow.dumps.names import dump_name, project_slug, sidecar


@dataclass
class DumpOutcome:
    """What was (or, in a dry run, would be) written."""

    path: Path
    size: int
    plan: Plan
    stats: BodyStats
    sha256: str | None = None
    kept: bool = False  # the newest dump is this dump again: nothing was (or would be) written

    @property
    def files_read(self) -> int:
        """How many project files this run opened (0 when stats alone showed nothing changed)."""
        return sum(1 for item in self.plan.items if item.sig is not None)


class _Counter:
    """A write-only sink that only counts bytes (dry run)."""

    def __init__(self) -> None:
        self.size = 0

    def write(self, data: bytes, /) -> int:
        self.size += len(data)
        return len(data)


def free_dump_path(config: WorkflowConfig, when: datetime) -> Path:
    """A dump path in ``dump_dir`` that does not exist yet (two runs in one second)."""
    while True:
        path = config.dump_dir / dump_name(config.project_root, when)
        if not path.exists() and not sidecar(path).exists():
            return path
        when += timedelta(seconds=1)


def build_dump(config: WorkflowConfig, dry_run: bool = False) -> DumpOutcome:
    """Write the dump and its ``.sha256`` sidecar atomically, or (dry run) only measure it.

    When the dump would be the project's newest dump again, that dump is kept and
    nothing is written (``DumpOutcome.kept``), told from file stats when they allow.
    """
    created = datetime.now(timezone.utc).replace(microsecond=0)
    started_ns = time.time_ns()  # before the walk: what changed after it is racy
    git = start_git(config.project_root)
    commit = functools.cache(lambda: git_commit_result(git))
    previous = unchanged.newest_dump(config.dump_dir, config.project_root)
    try:
        entries = [entry for entry in Discovery(config).walk() if entry.kind != "dir"]
        recorded = inputs.reuse(config, previous, entries, commit)
        if recorded is not None and previous is not None:
            return _kept_as_recorded(previous, recorded, entries)
        items = list(plan_items(config, entries))
        if dry_run:
            return _measure(config, created, commit, previous, items)
        outcome, facts = _write_dump(config, created, commit, previous, items)
        inputs.record(config, facts, entries, outcome.plan.items, commit(), started_ns)
        return outcome
    finally:
        stop_git(git)  # still running only if we left early


def _kept_as_recorded(
    previous: Path, recorded: inputs.Recorded, entries: list[Entry]
) -> DumpOutcome:
    """The outcome of keeping ``previous``, every item as the recorded run left it."""
    items = [Item(entry.abspath, entry.rel) for entry in entries]
    for at, (reason, secret, flagged) in recorded.outcomes.items():
        item = items[at]  # the walk is the recorded one (same length, same digest)
        item.reason, item.secret, item.flagged = reason, secret, flagged
    stats = BodyStats(recorded.files, recorded.source_bytes, recorded.flagged)
    return DumpOutcome(previous, recorded.size, Plan(items), stats, kept=True)


def _measure(
    config: WorkflowConfig,
    created: datetime,
    commit: Callable[[], str | None],
    previous: Path | None,
    items: list[Item],
) -> DumpOutcome:
    counter = _Counter()
    with unchanged.Matcher(previous, counter) as body:
        outcome, head = _build(config, body, created, commit, items)
    if not outcome.kept:
        outcome.size = len(head) + counter.size
    return outcome


def _build(
    config: WorkflowConfig,
    body: unchanged.Matcher,
    created: datetime,
    commit: Callable[[], str | None],
    items: list[Item],
) -> tuple[DumpOutcome, bytes]:
    """Write the body into ``body``; the outcome (kept, or the new path) and the header."""
    root, plan = config.project_root, Plan()
    stats = write_body(plan, body, config.dump_max_file_size, items)
    meta = DumpMeta(project_slug(root), commit(), created)
    if body.previous is not None and body.kept(
        lambda when: render_head(replace(meta, created=when), plan, stats)
    ):
        return DumpOutcome(body.previous, body.size, plan, stats, kept=True), b""
    path = config.dump_dir / dump_name(root, created)
    return DumpOutcome(path, 0, plan, stats), render_head(meta, plan, stats)


def _write_dump(
    config: WorkflowConfig,
    created: datetime,
    commit: Callable[[], str | None],
    previous: Path | None,
    items: list[Item],
) -> tuple[DumpOutcome, inputs.DumpFacts]:
    from routine_workflow.dumps import writer  # not needed when the newest dump is kept

    private_dir(config.dump_dir)  # a dump holds the whole source: 0700, files 0600
    path = free_dump_path(config, created)
    fsutil.ensure_inside(path, config.own_dirs())
    try:
        with writer.Spool(config.dump_dir) as spool:
            with unchanged.Matcher(previous, spool) as body:
                outcome, head = _build(config, body, created, commit, items)
                if outcome.kept:
                    return outcome, _facts(outcome, body.digest, body.sig)
            digest, outcome.size = writer.write_hashed(path, head, spool.chunks_out())
        writer.write_sidecar(path, digest)
    except BaseException:
        # A dump is only complete with its checksum: whatever stopped us (an error, the
        # run's timeout, a signal, even after the sidecar's rename), leave both or neither.
        # Both names were free when we chose them and the project lock is ours.
        for written in (sidecar(path), path):
            with contextlib.suppress(OSError):
                written.unlink()
        raise
    outcome.path, outcome.sha256 = path, digest
    return outcome, _facts(outcome, digest, None)


def _facts(outcome: DumpOutcome, digest: str, sig: tuple[int, ...] | None) -> inputs.DumpFacts:
    stats = outcome.stats
    return inputs.DumpFacts(
        outcome.path, digest, stats.files, stats.source_bytes, stats.flagged, outcome.size, sig
    )
