"""``reformat``: the formatter pipeline on the project (or some paths), with --check and --diff."""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli import github
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.cli.options import field_option, wait_option
from routine_workflow.lock import ProjectLock
from routine_workflow.reformat.command import exit_code, run_reformat


@click.command("reformat")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@project_root_option
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 and list the files that would change."
)
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff per file.")
@field_option("max_workers")
@wait_option(
    "If a run holds the project's lock, wait up to SECONDS for it (default: exit 75 at once)."
)
@json_option
@click.option(
    "--output-format",
    type=click.Choice(github.FORMATS),
    default=None,
    help="github: also print ::error annotations (file, line) for GitHub Actions, write the "
    "job summary and step outputs (default: github when GITHUB_ACTIONS=true, else text).",
)
@click.option(
    "-q", "--quiet", is_flag=True, help="Print nothing but errors (the diff too, with --diff)."
)
@click.pass_context
def reformat_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    project_root: Path | None,
    check: bool,
    diff: bool,
    max_workers: int | None,
    wait: float,
    as_json: bool,
    output_format: str | None,
    quiet: bool,
) -> int:
    """autoflake, isort and black on the project, exactly as their own CLIs would
    (or ruff check --fix and ruff format, with reformat_engine = "ruff").

    \b
    Examples:
      routine-workflow reformat                 # rewrite what needs it
      routine-workflow reformat --check         # CI: exit 1 if anything would change
      routine-workflow reformat --diff src/pkg  # show the changes, write nothing
      routine-workflow reformat --wait 60 a.py  # a pre-commit hook: let a cron run finish
      routine-workflow reformat -q              # errors only, as black -q
    """
    config = workflow_config(ctx, project_root=project_root, max_workers=max_workers)
    writes = not (check or diff or config.dry_run)
    if not quiet and writes and wait > 0 and ProjectLock(config.lock_dir).snapshot() is not None:
        # Say why nothing happens yet: a commit that hangs in silence looks broken.
        output.error_line(f"{PROG}: another run holds the project's lock; waiting up to {wait:g}s")
    annotate = github.enabled(output_format) and not writes
    # Annotations point at the first line that would change, which the diff tells.
    report = run_reformat(config, paths, check, diff or annotate, wait)
    document = {
        **report.counts(),
        "duration": round(report.duration, 3),
        "changed_files": sorted(report.changed),
        "failures": [{"path": f.rel, "reason": f.reason} for f in report.failed],
        "modified_files": sorted(report.modified),
        "vanished_files": sorted(report.vanished),
        "excluded_files": sorted(report.excluded),
    }
    if as_json:
        output.write_json(document)
    else:
        for text in report.diffs if diff else ():
            output.write_line(text.rstrip("\n"))
        # With --diff, stdout is the patch alone (as black does): `reformat --diff > x.patch`.
        say = output.error_line if diff else output.write_line
        for line in report.detail_lines():
            # One line per file: a file name's line break or odd bytes are shown escaped.
            if line.startswith("error:"):
                output.error_line(output.printable(line))
            elif not quiet:
                say(output.printable(line))
        if not quiet:
            say(f"{PROG} reformat: {report.summary()}")
    if github.enabled(output_format):
        failures = [(f.rel, f.reason) for f in report.failed]
        annotations = github.reformat_annotations(
            config.project_root, report.changed if not writes else (), failures, report.diffs
        )
        github.after_reformat(document, annotations, as_json=as_json, check=not writes)
    return exit_code(report, check)
