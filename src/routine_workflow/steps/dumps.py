"""Step dumps: write a fresh code dump of the project.

Two engines (``dump_engine``): the external ``create-dump`` program when it is
installed or configured (``create_dump_script``, ``create_dump_run_cmd``,
``create_dump_clean_cmd``), else the built-in Markdown dump (``codedump.py``).
"""

from __future__ import annotations

import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.config import WorkflowConfig
from routine_workflow.errors import ConfigError
from routine_workflow.procs.children import command_argv, run_command, script_argv
from routine_workflow.steps.base import Status, Step, StepContext, StepResult

NAME = "dumps"
DESCRIPTION = "Write a fresh code dump of the project."
#: How many skipped files a step result lists before summarising the rest.
MAX_DETAILS = 50


def create_dump_argv(executable: list[str], dump_dir: Path) -> list[str]:
    """create-dump's ``single`` mode on the project root, written to ``dump_dir``.

    ``--yes`` because nobody is there to answer its prompts; ``--no-progress``
    because its output goes to our log, not to a terminal.
    """
    return [*executable, "single", ".", "--dest", str(dump_dir), "--yes", "--no-progress"]


def external_commands(
    config: WorkflowConfig, which: Callable[[str], str | None] = shutil.which
) -> list[tuple[str, list[str]]] | None:
    """The commands that write the dump instead of the built-in, or None for the built-in.

    Each is ``(label, argv)``. Raises ValueError when create-dump is wanted but
    cannot be run, or a configured command cannot be parsed.
    """
    if config.dump_engine == "builtin":
        return None
    script = config.create_dump_script
    executable = script_argv(script) if script else _found(which("create-dump"))
    configured = bool(script or config.create_dump_run_cmd or config.create_dump_clean_cmd)
    if config.dump_engine == "auto" and not configured and executable is None:
        return None
    commands = []
    if config.create_dump_clean_cmd:
        commands.append(
            ("create_dump_clean_cmd", _parse(config.create_dump_clean_cmd, "create_dump_clean_cmd"))
        )
    if config.create_dump_run_cmd:
        commands.append(
            ("create_dump_run_cmd", _parse(config.create_dump_run_cmd, "create_dump_run_cmd"))
        )
    elif executable is not None:
        commands.append(("create-dump", create_dump_argv(executable, config.dump_dir)))
    else:
        raise ValueError(
            "create-dump is not installed (not on PATH); install it, set "
            "create_dump_script or create_dump_run_cmd, or set "
            'dump_engine = "builtin"'
        )
    return commands


def _found(path: str | None) -> list[str] | None:
    return [path] if path else None


def _parse(command: str, key: str) -> list[str]:
    try:
        argv = command_argv(command)
    except ValueError as exc:
        raise ValueError(f"{key}: cannot parse {command!r}: {exc}") from None
    if not argv:
        raise ValueError(f"{key}: empty command")
    return argv


@dataclass
class DumpsStep:
    """Write a code dump with create-dump or the built-in writer."""

    name: str = NAME
    description: str = DESCRIPTION
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Dump the project (or, in a dry run, say what would be dumped)."""
        try:
            commands = external_commands(ctx.config)
        except ValueError as exc:
            return StepResult.failed(str(exc))
        if commands is None:
            return run_builtin(ctx)
        return run_external(ctx, commands)


def run_external(ctx: StepContext, commands: list[tuple[str, list[str]]]) -> StepResult:
    """Run create-dump (and the configured clean command first) from the project root."""
    shown = "; ".join(shlex.join(argv) for _, argv in commands)
    if ctx.dry_run:
        return StepResult.skipped(f"dry run: would run {shown}")
    dump_dir = ctx.config.dump_dir
    try:
        dump_dir.mkdir(parents=True, exist_ok=True)  # create-dump's --dest must exist
    except OSError as exc:
        return StepResult.failed(f"cannot create {dump_dir}: {exc.strerror or exc}")
    before = _names(dump_dir)
    timeout = ctx.config.script_timeout
    for label, argv in commands:
        try:
            outcome = run_command(argv, ctx.root, timeout, ctx.logger)
        except OSError as exc:
            return StepResult.failed(f"{label}: cannot run {argv[0]}: {exc.strerror or exc}")
        if outcome.timed_out:
            return StepResult.failed(f"{label} timed out after {timeout:g}s: {shlex.join(argv)}")
        if outcome.returncode != 0:
            tail = outcome.tail()
            return StepResult.failed(
                f"{label} exited with {outcome.returncode}" + (f": {tail}" if tail else ""),
                [shlex.join(argv)],
            )
    new = sorted(_names(dump_dir) - before)
    status = Status.CHANGED if new else Status.OK
    where = f"{len(new)} new file(s) in {dump_dir}" if new else f"nothing new in {dump_dir}"
    return StepResult(
        status, f"create-dump succeeded: {where}", [shown, *new], {"new_files": len(new)}
    )


def _names(directory: Path) -> set[str]:
    try:
        return {p.name for p in directory.iterdir()}
    except OSError:
        return set()


def run_builtin(ctx: StepContext) -> StepResult:
    """Write the built-in Markdown dump and its checksum (or measure it in a dry run)."""
    from routine_workflow.dumps.builtin import build_dump
    from routine_workflow.fsutil import human_size

    try:
        outcome = build_dump(ctx.config, dry_run=ctx.dry_run)
    except OSError as exc:  # reading problems are per file and skipped; this is the writing
        where = exc.filename or ctx.config.dump_dir
        return StepResult.failed(f"cannot write the dump: {where}: {exc.strerror or exc}")
    stats, skipped = outcome.stats, outcome.plan.skipped
    details = [f"skipped {i.rel}: {i.reason}" for i in skipped[:MAX_DETAILS]]
    if len(skipped) > MAX_DETAILS:
        details.append(f"... and {len(skipped) - MAX_DETAILS} more skipped (listed in the dump)")
    flagged = [i.rel for i in outcome.plan.items if i.flagged]
    details += [f"not UTF-8, decoded with replacement: {rel}" for rel in flagged[:MAX_DETAILS]]
    if len(flagged) > MAX_DETAILS:
        details.append(f"... and {len(flagged) - MAX_DETAILS} more not UTF-8 (flagged in the dump)")
    counts = {
        "files": stats.files,
        "skipped": len(skipped),
        "bytes": outcome.size,
        "not_utf8": stats.flagged,
    }
    what = f"{stats.files} files, {len(skipped)} skipped"
    if ctx.dry_run:
        return StepResult(
            Status.OK,
            f"dry run: would write {outcome.path.name} "
            f"({what}, about {human_size(outcome.size)}) in {outcome.path.parent}",
            details,
            counts,
        )
    for line in details:
        ctx.logger.debug("%s", line, extra={"event": "dump_detail"})
    return StepResult(
        Status.CHANGED,
        f"wrote {outcome.path} ({what}, {human_size(outcome.size)})",
        details,
        counts,
    )


def make(config: WorkflowConfig) -> Step:
    """The dumps step for this configuration.

    A configured command that cannot be parsed is a configuration error (exit 2)
    before any step runs, not a failure found after the backup and reformat.
    """
    for key in ("create_dump_clean_cmd", "create_dump_run_cmd"):
        command = getattr(config, key)
        if command:
            try:
                _parse(command, key)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return DumpsStep()
