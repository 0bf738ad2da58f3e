"""Step prune_dumps: delete old code dumps, keeping the newest ``keep_dumps``.

Only files whose *names* parse as a dump of this project are ever touched:

- ours (``dumpnames``): ``<project>_dump_<YYYYmmddTHHMMSSZ>.md`` + ``.md.sha256``;
- create-dump's, when create-dump is the dump tool (as the dumps step decides:
  ``dump_engine``, ``--create-dump-script``, ``--create-dump-run-cmd``, or
  ``create-dump`` on PATH):
  ``<project folder>_all_create_dump_<YYYYmmdd_HHMMSS>.md`` (or ``.md.gz``) with a
  ``.sha256`` sidecar, either beside the full name or in place of the suffix.

Age comes from the timestamp in the name (mtime only breaks ties), so copying
or touching a dump does not change which ones are kept. Anything else in the
dump directory (``notes.md``, ``my_dump_final.md``, another project's dumps, a
symlink or directory with a dump's name) is left alone.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from routine_workflow.config import WorkflowConfig
from routine_workflow.dumps.names import (
    SIDECAR_SUFFIX,
    parse_create_dump_name,
    parse_dump_name,
    sidecar,
)
from routine_workflow.errors import RoutineError
from routine_workflow.fsutil import remove_path
from routine_workflow.steps.base import Status, Step, StepContext, StepResult

NAME = "prune_dumps"
DESCRIPTION = "Delete old code dumps, keeping the newest keep_dumps."


@dataclass(frozen=True)
class Dump:
    """A dump file found in the dump directory, its time, and its existing sidecars."""

    path: Path
    when: datetime
    mtime: float
    sidecars: tuple[Path, ...]

    @property
    def files(self) -> tuple[Path, ...]:
        """The dump and its checksum files: what goes when it is pruned."""
        return (self.path, *self.sidecars)


def create_dump_in_use(config: WorkflowConfig) -> bool:
    """True when the dumps step hands over to create-dump (or a configured dump command).

    Asks the dumps step itself, so the two steps can never disagree; a create-dump
    that is wanted but cannot run still counts (its old dumps are still its own).
    """
    from routine_workflow.steps.dumps import external_commands

    try:
        return external_commands(config) is not None
    except ValueError:
        return True


def _create_dump_sidecars(path: Path) -> tuple[Path, ...]:
    stem = path.name.split("_all_create_dump_")[0]
    stamp = path.name[len(stem) + len("_all_create_dump_") :].split(".")[0]
    return (
        path.with_name(path.name + SIDECAR_SUFFIX),
        path.with_name(f"{stem}_all_create_dump_{stamp}{SIDECAR_SUFFIX}"),
    )


def _is_regular(path: Path) -> bool:
    try:
        return stat.S_ISREG(os.lstat(path).st_mode)
    except OSError:
        return False


def find_dumps(dump_dir: Path, root: Path, create_dump: bool) -> list[Dump]:
    """Dumps of ``root`` in ``dump_dir``, newest first. Only regular files whose names parse."""
    dumps: list[Dump] = []
    with os.scandir(dump_dir) as it:
        entries = sorted(it, key=lambda e: e.name)
    for entry in entries:
        when = parse_dump_name(entry.name, root)
        candidates: tuple[Path, ...] = (sidecar(Path(entry.path)),)
        if when is None and create_dump:
            when = parse_create_dump_name(entry.name, root)
            candidates = _create_dump_sidecars(Path(entry.path))
        if when is None:
            continue
        try:
            info = entry.stat(follow_symlinks=False)
        except OSError:
            continue
        if not stat.S_ISREG(info.st_mode):
            continue  # a symlink or directory with a dump's name is not ours to delete
        sidecars = tuple(dict.fromkeys(p for p in candidates if _is_regular(p)))
        dumps.append(Dump(Path(entry.path), when, info.st_mtime, sidecars))
    dumps.sort(key=lambda d: (d.when, d.mtime, d.path.name), reverse=True)
    return dumps


@dataclass
class PruneDumpsStep:
    """The built-in prune_dumps step."""

    name: str = NAME
    description: str = DESCRIPTION
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Delete all but the newest ``keep_dumps`` dumps (or list them, in a dry run)."""
        config = ctx.config
        dump_dir = config.dump_dir
        if not dump_dir.exists():
            return StepResult.skipped("no dumps yet")
        if not dump_dir.is_dir():
            return StepResult.failed(f"dump_dir {dump_dir} is not a directory")
        dumps = find_dumps(dump_dir, ctx.root, create_dump_in_use(config))
        old = dumps[config.keep_dumps :]
        kept = len(dumps) - len(old)
        if not old:
            return StepResult(
                Status.OK,
                f"{kept} dump(s), keeping up to {config.keep_dumps}",
                counts={"kept": kept, "removed": 0},
            )
        names = [f"{p.name}" for d in old for p in d.files]
        if ctx.dry_run:
            summary = f"dry run: would delete {len(old)} old dump(s), keep {kept}"
            for name in names:
                ctx.logger.info("would delete %s", name, extra={"step": NAME})
            return StepResult(
                Status.OK,
                summary,
                [f"would delete {n}" for n in names],
                {"kept": kept, "would_remove": len(old)},
            )
        return _delete(ctx, old, kept)


def _delete(ctx: StepContext, old: list[Dump], kept: int) -> StepResult:
    removed, freed = 0, 0
    failures: list[str] = []
    for dump in old:
        before = len(failures)
        for path in dump.files:
            try:
                freed += remove_path(path, ctx.allowed_roots())
            except FileNotFoundError:
                continue  # already gone: the goal is reached
            except OSError as exc:
                failures.append(f"could not delete {path}: {exc.strerror or exc}")
            except RoutineError as exc:  # UnsafePath: never expected, never ignored
                failures.append(str(exc))
        if len(failures) == before:
            removed += 1
            ctx.logger.debug("deleted dump %s", dump.path.name)
    counts = {"kept": kept, "removed": removed, "bytes": freed, "failed": len(failures)}
    if failures:
        return StepResult(Status.FAILED, failures[0], failures, counts)
    return StepResult(
        Status.CHANGED,
        f"deleted {removed} old dump(s), kept {kept}",
        [f"deleted {p.name}" for d in old for p in d.files],
        counts,
    )


def make(config: WorkflowConfig) -> Step:
    """The prune_dumps step for this configuration."""
    return PruneDumpsStep()
