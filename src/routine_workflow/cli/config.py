"""``config show`` and ``config check``: the effective settings, and whether they are valid."""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.cli.config_init import config_init


@click.group("config")
def config_group() -> None:
    """Show or check the effective configuration, or write one (config init)."""


config_group.add_command(config_init)


@config_group.command("show")
@project_root_option
@json_option
@click.option(
    "--verbose", "-v", is_flag=True, help="Every value in full, however wide the table gets."
)
@click.pass_context
def config_show(ctx: click.Context, project_root: Path | None, as_json: bool, verbose: bool) -> int:
    """Print every setting, its value and where it came from.

    Long values are cut to fit the terminal's width (80 columns in a pipe; COLUMNS
    overrides), so that where each setting comes from stays on screen; -v (here or
    before the subcommand) and --json give them in full.
    """
    config = workflow_config(ctx, project_root=project_root)
    values = config.as_dict()
    if as_json:
        output.write_json({k: {"value": v, "source": config.sources[k]} for k, v in values.items()})
        return 0
    headers = ["setting", "value", "from"]
    rows = [[k, _show(v), config.sources[k]] for k, v in values.items()]
    cut = False
    if not (verbose or ctx.find_root().params.get("verbose")):
        width = shutil.get_terminal_size().columns
        rows, cut = output.fit_column(rows, headers, 1, width)
    for line in output.table(rows, headers):
        output.write_line(line)
    if cut:
        output.write_line(f"(long values cut to fit {width} columns: -v shows them in full)")
    return 0


def _show(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(value) or "(none)"
    return "(none)" if value is None else str(value)


@config_group.command("check")
@project_root_option
@click.pass_context
def config_check(ctx: click.Context, project_root: Path | None) -> int:
    """Validate the configuration; exit 2 with one line if something is wrong."""
    # Deferred: planning loads every step's engine, which `config show` does without.
    from routine_workflow.workflow.session import planned_steps

    config = workflow_config(ctx, project_root=project_root)
    planned_steps(config)
    output.write_line(f"{PROG}: configuration of {config.project_root} is valid")
    return 0
