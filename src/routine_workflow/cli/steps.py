"""``steps``: the steps in run order, as a table, JSON or a graph."""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli.common import json_option, project_root_option, workflow_config
from routine_workflow.workflow.graph import render
from routine_workflow.workflow.session import planned_steps


@click.command("steps")
@project_root_option
@json_option
@click.option(
    "--graph",
    type=click.Choice(["dot", "json", "mermaid"]),
    default=None,
    help="Print the step graph for Graphviz, scripts or Mermaid.",
)
@click.pass_context
def steps_cmd(
    ctx: click.Context, project_root: Path | None, as_json: bool, graph: str | None
) -> int:
    """List the steps in run order with their dependencies."""
    config = workflow_config(ctx, project_root=project_root)
    steps = planned_steps(config)
    if graph:
        output.write_line(render(steps, graph, config.parallel_steps))
        return 0
    if as_json:
        output.write_json(
            [
                {
                    "name": s.name,
                    "depends_on": list(s.depends_on),
                    "critical": s.critical,
                    "description": s.description,
                }
                for s in steps
            ]
        )
        return 0
    table = [[s.name, ", ".join(s.depends_on) or "-", s.description] for s in steps]
    for line in output.table(table, ["step", "depends on", "what it does"]):
        output.write_line(line)
    return 0
