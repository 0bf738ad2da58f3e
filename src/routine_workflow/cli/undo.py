"""``undo [RUN_ID]``: put back what a run rewrote (``undo/restore.py``), and say what happened."""

from __future__ import annotations

from datetime import datetime, timezone
from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.cli.options import field_option
from routine_workflow.errors import Interrupted
from routine_workflow.undo.restore import UndoReport, run_undo
from routine_workflow.undo.store import journal_summary, list_journals
from routine_workflow.workflow.signals import interruptible


@click.command("undo")
@click.argument("run_id", required=False)
@click.option(
    "--force",
    is_flag=True,
    help="Also restore files changed since the run (their current content is kept "
    "in an undo journal, so this undo can be undone).",
)
@field_option("dry_run", help="Show what would be restored; change nothing.")
@click.option("--list", "list_only", is_flag=True, help="List this project's undo journals.")
@project_root_option
@json_option
@click.pass_context
def undo_cmd(
    ctx: click.Context,
    run_id: str | None,
    force: bool,
    dry_run: bool | None,
    list_only: bool,
    project_root: Path | None,
    as_json: bool,
) -> int:
    """Put back what a run rewrote, byte for byte, with modes and times (default: the newest
    run that changed files, even one that was killed).

    Files changed since the run are refused and listed (exit 1) unless --force.

    \b
    Examples:
      routine-workflow undo --dry-run        # what would come back
      routine-workflow undo                  # undo the newest run
      routine-workflow undo 20260101T020000Z-1a2b3c
      routine-workflow undo --list           # the runs that can be undone
    """
    config = workflow_config(ctx, project_root=project_root, dry_run=dry_run)
    if list_only:
        return _list(config.project_root, as_json)
    try:
        with interruptible(0):
            report = run_undo(config, run_id, force=force)
    except Interrupted as exc:
        # Each file is replaced atomically and journaled first: whatever was restored
        # stays restored (and can be undone), and running undo again finishes the job.
        output.error_line(f"{PROG} undo: {exc.reason}; run it again to finish")
        return exc.exit_code
    if as_json:
        output.write_json(report.as_dict())
    else:
        _render(report)
    return report.exit_code


def _render(report: UndoReport) -> None:
    if report.run_id is None:
        output.write_line(
            f"{PROG} undo: nothing to undo: no run of this project has an undo journal "
            "(runs that changed no files have none)"
        )
        return
    what = f"{'undo' if report.kind == 'undo' else 'run'} {report.run_id}"
    if report.nothing_to_undo:
        output.write_line(
            f"{PROG} undo: nothing to undo: every file {what} changed is as it was before it"
        )
        return
    verb = "would restore" if report.dry_run else "restored"
    for path in report.restored:
        output.write_line(f"{verb} {path}")
    for path, why in report.refused:
        output.write_line(f"refused {path}: {why}")
    for note in report.notes:
        output.write_line(f"note: {note}")
    if report.damage:
        output.error_line(
            f"{PROG} undo: error: the journal of {what} is damaged "
            f"({'; '.join(report.damage)}); nothing was restored from the damaged part"
        )
    killed = " (interrupted)" if report.interrupted else ""
    line = f"{PROG} undo: {what}{killed}: {verb} {output.plural(len(report.restored), 'file')}"
    if report.refused:
        line += f", refused {len(report.refused)}"
    output.write_line(line)
    if report.undo_id:
        output.write_line(f"{PROG} undo: to put them back: {PROG} undo {report.undo_id}")


def _list(root: Path, as_json: bool) -> int:
    rows = [journal_summary(info) for info in reversed(list_journals(root))]
    if as_json:
        output.write_json(rows)
        return 0
    table = [
        [
            row["id"],
            row["kind"] + (f" of {row['undoes']}" if row["undoes"] else ""),
            _when(row["created_ns"]),
            str(row["files"]),
            "complete" if row["sealed"] else "interrupted",
        ]
        for row in rows
    ]
    for line in output.table(table, ["run", "kind", "started", "files", "journal"]):
        output.write_line(line)
    return 0


def _when(ns: int) -> str:
    return datetime.fromtimestamp(ns / 1e9, timezone.utc).isoformat(timespec="seconds")
