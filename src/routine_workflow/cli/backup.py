"""``backup list``, ``backup verify`` and ``backup restore``: the project's backups."""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.backup.actions import list_backups, restore_archive, verify_archive
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.fsutil import human_size
from routine_workflow.output import plural


@click.group("backup")
def backup_group() -> None:
    """List, verify and restore the project's backups.

    \b
    Examples:
      routine-workflow backup list
      routine-workflow backup verify myproj-20260101T120000Z.tar.gz
      routine-workflow backup restore myproj-20260101T120000Z.tar.gz --to /tmp/restored
    """


@backup_group.command("list")
@project_root_option
@json_option
@click.pass_context
def backup_list(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """Show this project's backups, newest first: the run that wrote each (as ``history``
    shows it) and how many paths it could not archive."""
    backups = list_backups(workflow_config(ctx, project_root=project_root))
    if as_json:
        output.write_json(backups)
        return 0
    rows = [
        [
            Path(b["path"]).name,
            b["created"],
            str(b["files"]),
            human_size(b["size"] or 0),
            "yes" if b["verified"] else "no",
            "-" if b["left_out"] is None else str(b["left_out"]),
            b["run_id"] or "-",
        ]
        for b in backups
    ]
    headers = ["archive", "created", "files", "size", "verified", "left out", "run"]
    for line in output.table(rows, headers):
        output.write_line(line)
    return 0


@backup_group.command("verify")
@click.argument("archive", type=click.Path(path_type=Path))
@project_root_option
@json_option
@click.pass_context
def backup_verify(
    ctx: click.Context, archive: Path, project_root: Path | None, as_json: bool
) -> int:
    """Re-read ARCHIVE (a path, or a name in the backup dir) and check every file's sha256."""
    report = verify_archive(workflow_config(ctx, project_root=project_root), archive)
    if as_json:
        output.write_json(report)
    else:
        output.write_line(
            f"{PROG}: {report['path']}: OK, {plural(report['files'], 'file')} "
            f"({human_size(report['bytes'])}) match the manifest"
        )
        for name in report["escaping_links"]:
            output.write_line(
                f"{PROG}: note: symlink {output.printable(name)} points outside the project; "
                "restore it with --skip-unsafe-links"
            )
    return 0


@backup_group.command("restore")
@click.argument("archive", type=click.Path(path_type=Path))
@click.option(
    "--to",
    "target",
    type=click.Path(path_type=Path),
    default=None,
    help="Directory to restore into (default: the project root).",
)
@click.option(
    "--force",
    is_flag=True,
    help="Restore into a non-empty directory, replacing the archived files there.",
)
@click.option(
    "--skip-unsafe-links",
    is_flag=True,
    help="Leave out symlinks that point outside DIR (listed) instead of refusing.",
)
@project_root_option
@json_option
@click.pass_context
def backup_restore(
    ctx: click.Context,
    archive: Path,
    target: Path | None,
    force: bool,
    skip_unsafe_links: bool,
    project_root: Path | None,
    as_json: bool,
) -> int:
    """Verify ARCHIVE, then restore it. Unsafe paths and links are refused before writing."""
    report = restore_archive(
        workflow_config(ctx, project_root=project_root), archive, target, force, skip_unsafe_links
    )
    if as_json:
        output.write_json(report)
        return 0
    output.write_line(
        f"{PROG}: restored {plural(report['files'], 'file')} ({human_size(report['bytes'])}), "
        f"{plural(report['dirs'], 'directory', 'directories')} and {plural(report['symlinks'], 'symlink')} "
        f"into {report['target']}"
    )
    for name in report["skipped_links"]:
        shown = output.printable(name)
        output.write_line(f"{PROG}: left out symlink {shown}: it points outside the target")
    return 0
