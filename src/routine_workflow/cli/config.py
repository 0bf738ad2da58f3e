"""``config show`` and ``config check``: the effective settings, and whether they are valid."""

from __future__ import annotations

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
@click.pass_context
def config_show(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """Print every setting, its value and where it came from."""
    config = workflow_config(ctx, project_root=project_root)
    values = config.as_dict()
    if as_json:
        output.write_json({k: {"value": v, "source": config.sources[k]} for k, v in values.items()})
        return 0
    rows = [[k, _show(v), config.sources[k]] for k, v in values.items()]
    for line in output.table(rows, ["setting", "value", "from"]):
        output.write_line(line)
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
