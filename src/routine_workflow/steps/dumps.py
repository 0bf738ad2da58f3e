"""Step dumps: write a fresh code dump of the project.

Two engines (``dump_engine``): the external ``create-dump`` program when it is
installed or configured (``create_dump_script``, ``create_dump_run_cmd``,
``create_dump_clean_cmd``; ``routine_workflow.dumps.external``), else the built-in
Markdown dump (``routine_workflow.dumps.build``). This module turns their
outcomes into the step's result; files the built-in dump left out as secrets are
named (with the rule, never the secret) in its summary and details, and in a warning.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from routine_workflow.config import WorkflowConfig
from routine_workflow.dumps.external import (
    Command,
    external_commands,
    parse_command,
    run_external,
    shown,
)
from routine_workflow.errors import ConfigError
from routine_workflow.fsutil import human_size
from routine_workflow.output import plural
from routine_workflow.steps.base import BuiltinStep, Status, Step, StepContext, StepResult

if TYPE_CHECKING:  # the built-in dump is imported only when it runs
    from routine_workflow.dumps.builtin import Plan

NAME = "dumps"
DESCRIPTION = "Write a fresh code dump of the project."
#: How many skipped files a step result lists before summarising the rest (secrets: all).
MAX_DETAILS = 50
#: How many secret files the warning names before summarising the rest.
MAX_WARNED = 10


@dataclass
class DumpsStep(BuiltinStep):
    """Write a code dump with create-dump or the built-in writer."""

    name: str = NAME
    description: str = DESCRIPTION

    def run(self, ctx: StepContext) -> StepResult:
        """Dump the project (or, in a dry run, say what would be dumped)."""
        try:
            commands = external_commands(ctx.config)
        except ValueError as exc:
            return StepResult.failed(str(exc))
        if commands is None:
            return run_builtin(ctx)
        return run_create_dump(ctx, commands)


def run_create_dump(ctx: StepContext, commands: list[Command]) -> StepResult:
    """Run create-dump (and the configured clean command first) from the project root."""
    if ctx.dry_run:
        return StepResult.skipped(f"dry run: would run {shown(commands)}")
    outcome = run_external(ctx.config, commands, ctx.logger)
    if outcome.failure is not None:
        return StepResult.failed(outcome.failure, outcome.failure_details)
    new, dump_dir = outcome.new_files, outcome.dump_dir
    status = Status.CHANGED if new else Status.OK
    where = f"{plural(len(new), 'new file')} in {dump_dir}" if new else f"nothing new in {dump_dir}"
    return StepResult(
        status,
        f"create-dump succeeded: {where}",
        [shown(commands), *new],
        {"new_files": len(new)},
        files={"write": [str(dump_dir / name) for name in new]} if new else {},
    )


def run_builtin(ctx: StepContext) -> StepResult:
    """Write the built-in Markdown dump and its checksum (or measure it in a dry run)."""
    from routine_workflow.dumps.build import build_dump

    try:
        outcome = build_dump(ctx.config, dry_run=ctx.dry_run)
    except OSError as exc:  # reading problems are per file and skipped; this is the writing
        where = exc.filename or ctx.config.dump_dir
        return StepResult.failed(f"cannot write the dump: {where}: {exc.strerror or exc}")
    stats, skipped, secrets = outcome.stats, outcome.plan.skipped, outcome.plan.secrets
    details = _details(outcome.plan)
    counts = {
        "files": stats.files,
        "skipped": len(skipped),
        "bytes": outcome.size,
        "not_utf8": stats.flagged,
        "read": outcome.files_read,  # 0: nothing changed, told from file stats alone
    }
    what = f"{plural(stats.files, 'file')}, {len(skipped)} skipped"
    if secrets:
        counts["secrets"] = len(secrets)
        what += f", {len(secrets)} of them as secrets"
        _warn_secrets(ctx, [f"{i.rel}: {i.reason}" for i in secrets])
    if not ctx.dry_run:
        for line in details:
            ctx.logger.debug("%s", line, extra={"event": "dump_detail"})
    if outcome.kept:
        would = " would be" if ctx.dry_run else ""
        return StepResult(
            Status.OK,
            f"{'dry run: ' if ctx.dry_run else ''}dumps unchanged - {outcome.path.name}{would} "
            f"kept ({what}, {human_size(outcome.size)}) in {outcome.path.parent}",
            details,
            counts,
        )
    if ctx.dry_run:
        return StepResult(
            Status.OK,
            f"dry run: would write {outcome.path.name} "
            f"({what}, about {human_size(outcome.size)}) in {outcome.path.parent}",
            details,
            counts,
            files={"write": [str(outcome.path)]},
        )
    return StepResult(
        Status.CHANGED,
        f"wrote {outcome.path} ({what}, {human_size(outcome.size)})",
        details,
        counts,
        files={"write": [str(outcome.path)]},
    )


def _details(plan: Plan) -> list[str]:
    """Detail lines: every secret first (a long skip list never hides one), then the rest."""
    details = [f"left out as a secret {i.rel}: {i.reason}" for i in plan.secrets]
    others = [i for i in plan.skipped if not i.secret]
    details += [f"skipped {i.rel}: {i.reason}" for i in others[:MAX_DETAILS]]
    if len(others) > MAX_DETAILS:
        details.append(f"... and {len(others) - MAX_DETAILS} more skipped (listed in the dump)")
    flagged = [i.rel for i in plan.items if i.flagged]
    details += [f"not UTF-8, decoded with replacement: {rel}" for rel in flagged[:MAX_DETAILS]]
    if len(flagged) > MAX_DETAILS:
        details.append(f"... and {len(flagged) - MAX_DETAILS} more not UTF-8 (flagged in the dump)")
    return details


def _warn_secrets(ctx: StepContext, named: list[str]) -> None:
    """One warning (shown even with --quiet, so cron mails it) naming what was left out."""
    shown_names = "; ".join(named[:MAX_WARNED])
    more = f"; and {len(named) - MAX_WARNED} more" if len(named) > MAX_WARNED else ""
    ctx.logger.warning(
        "left %s out of the dump as secrets: %s%s",
        plural(len(named), "file"),
        shown_names,
        more,
        extra={"step": NAME, "event": "dump_secrets"},
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
                parse_command(command, key)
            except ValueError as exc:
                raise ConfigError(str(exc)) from None
    return DumpsStep()
