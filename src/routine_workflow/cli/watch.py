"""``watch``: rerun steps whenever project files change."""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli.common import (
    PROG,
    confirmer,
    project_root_option,
    summary_lines,
    workflow_config,
)
from routine_workflow.cli.options import field_option, split_names, wait_option
from routine_workflow.errors import EXIT_DECLINED, ConfigError
from routine_workflow.workflow.runner import RunReport
from routine_workflow.workflow.session import check_confirmation, planned_steps
from routine_workflow.workflow.watch import DEFAULT_STEPS, watch


@click.command("watch")
@project_root_option
@click.option(
    "--steps",
    "only",
    multiple=True,
    metavar="NAMES",
    help="Steps to rerun on each change (default: reformat).",
)
@click.option(
    "--debounce",
    type=click.IntRange(min=10, max=60_000),
    default=300,
    show_default=True,
    metavar="MS",
    help="Start a run once no file has changed for MS milliseconds.",
)
@wait_option("If another run holds the lock, wait up to SECONDS (default: skip this change).")
@field_option("auto_yes")
@field_option(
    "watch_remove_unused_imports",
    help="Let reformat remove unused imports on each save too (default: keep them).",
)
@click.option("--max-runs", type=click.IntRange(min=1), default=None, hidden=True)
@click.pass_context
def watch_cmd(
    ctx: click.Context,
    project_root: Path | None,
    only: tuple[str, ...],
    debounce: int,
    wait: float,
    auto_yes: bool | None,
    watch_remove_unused_imports: bool | None,
    max_runs: int | None,
) -> int:
    """Rerun steps whenever project files change; Ctrl-C stops (exit 130).

    Excluded and ignored paths (virtualenvs, .gitignore'd files, the tool's own
    directories) never trigger a run, nor do the changes a run makes itself.
    Reformat keeps unused imports here (one you just typed is about to be used);
    the full run and `reformat` still remove them.

    \b
    Examples:
      routine-workflow watch --yes                  # reformat on every save
      routine-workflow watch -y --steps reformat,clean_caches --debounce 1000
    """
    config = workflow_config(
        ctx,
        project_root=project_root,
        auto_yes=auto_yes,
        watch_remove_unused_imports=watch_remove_unused_imports,
    )
    if only and not split_names(only):
        raise ConfigError("--steps: no steps selected (the value is empty)")
    steps = planned_steps(config, split_names(only) or DEFAULT_STEPS)
    if not check_confirmation(config, steps, confirmer(), watch=True):
        output.error_line(f"{PROG}: declined: nothing done")
        return EXIT_DECLINED
    quiet = bool(ctx.find_root().params.get("quiet"))

    def report(run: RunReport) -> None:
        if not quiet or run.exit_code:
            for line in summary_lines(run):
                output.write_line(line)

    return watch(
        config, steps, debounce_ms=debounce, wait=wait, on_report=report, max_runs=max_runs
    )
