"""``history``: recent runs, each with its id, what it changed and whether it can be undone
(the data: ``workflow/runs.py``)."""

from __future__ import annotations

import textwrap
from pathlib import Path
from typing import Any

import click

from routine_workflow import output
from routine_workflow.cli.common import json_option, project_root_option, workflow_config
from routine_workflow.workflow.runs import recent_runs

WIDTH = 80
HEADERS = ["run", "kind", "status", "exit", "time", "files", "undo"]
#: The ``undo`` column: one word each, so the table fits 80 columns (--json has the long form).
UNDO_WORDS = {
    "partly-undone": "partly",
    "not-journaled": "no",
    "nothing": "-",
    "dry-run": "-",
}


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
@click.option("-l", "--long", "long_", is_flag=True, help="Each run's steps, below it.")
@click.pass_context
def history_cmd(
    ctx: click.Context,
    project_root: Path | None,
    as_json: bool,
    limit: int,
    all_projects: bool,
    long_: bool,
) -> int:
    """Show recent runs, newest first.

    Each run's id (for `undo RUN_ID`), kind (run, dry-run, reformat, undo), status,
    exit code, time, files changed, and whether it can be undone.

    \b
    undo column:
      yes      routine-workflow undo RUN_ID restores its files
      undone   an undo put its files back (undo that undo to make it undoable)
      partly   an undo put some of its files back
      damaged  its journal is damaged: undo restores the intact part
      expired  its journal was removed (only the newest keep_undo are kept)
      no       it was not journaled (keep_undo = 0)
      -        it changed nothing (or was a dry run)
    """
    runs = recent_runs(workflow_config(ctx, project_root=project_root), limit, all_projects)
    if as_json:
        output.write_json(runs)
        return 0
    for line in _render(runs, all_projects, long_):
        output.write_line(line)
    return 0


def _render(runs: list[dict[str, Any]], all_projects: bool, long_: bool) -> list[str]:
    table = output.table([_cells(run) for run in runs], HEADERS)
    lines = table[:1]
    project = None
    for run, line in zip(runs, table[1:], strict=True):
        if all_projects and run["project_root"] != project:
            project = run["project_root"]
            lines.append(f"{output.printable(project)}:")
        lines.append(line)
        if long_:
            if run["undoes"]:
                lines.append(f"    undoes {run['undoes']}")
            if run["undone_by"]:
                lines.append(f"    undone by {run['undone_by']}")
            for step in run["steps"]:
                text = f"{step['name']}: {step['status']} {step['summary']}"
                lines += _wrap(output.printable(text))
    return lines


def _wrap(text: str) -> list[str]:
    """A step's line, indented under its run and wrapped to 80 columns (a long path
    stays whole, to be copied)."""
    return textwrap.wrap(
        text,
        WIDTH,
        initial_indent="    ",
        subsequent_indent="      ",
        break_long_words=False,
        break_on_hyphens=False,
    )


def _cells(run: dict[str, Any]) -> list[str]:
    kind = "dry-run" if run["dry_run"] else run["kind"]
    duration = run["duration"]
    return [
        run["run_id"],
        kind,
        run["status"],
        "-" if run["exit_code"] is None else str(run["exit_code"]),
        "-" if duration is None else f"{duration:.1f}s",
        str(run["files_changed"]),
        UNDO_WORDS.get(run["undo"], run["undo"]),
    ]
