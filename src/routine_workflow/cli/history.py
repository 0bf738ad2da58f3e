"""``history``: recent runs from the SQLite record.

- ``recent_runs(config, limit, all_projects)``: the runs, as data.
- ``history_cmd``: the click command that prints them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import click

from routine_workflow import output
from routine_workflow.cli.common import json_option, project_root_option, workflow_config
from routine_workflow.config import WorkflowConfig
from routine_workflow.workflow.history import History


def recent_runs(
    config: WorkflowConfig, limit: int, all_projects: bool = False
) -> list[dict[str, Any]]:
    """The newest ``limit`` runs of this project (or of all projects)."""
    if not config.history_db.exists():
        return []
    history = History(config.history_db)
    try:
        return history.recent(None if all_projects else config.project_root, limit)
    finally:
        history.close()


@click.command("history")
@project_root_option
@json_option
@click.option(
    "-n",
    "--limit",
    type=click.IntRange(min=1),
    default=10,
    show_default=True,
    help="How many runs to show.",
)
@click.option("--all-projects", is_flag=True, help="Runs of every project, not just this one.")
@click.pass_context
def history_cmd(
    ctx: click.Context, project_root: Path | None, as_json: bool, limit: int, all_projects: bool
) -> int:
    """Show recent runs, newest first."""
    runs = recent_runs(workflow_config(ctx, project_root=project_root), limit, all_projects)
    if as_json:
        output.write_json(runs)
        return 0
    rows = [
        [
            r["started"],
            r["status"],
            str(r["exit_code"] if r["exit_code"] is not None else "-"),
            f"{r['duration'] or 0:.1f}s",
            " ".join(f"{s['name']}:{s['status']}" for s in r["steps"]),
        ]
        for r in runs
    ]
    for line in output.table(rows, ["started", "status", "exit", "time", "steps"]):
        output.write_line(line)
    return 0
