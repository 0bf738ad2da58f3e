"""Command line entry point: the root command (a workflow run), its subcommands, its errors.

- ``cli``: the root group. Without a subcommand it runs the workflow (``cli/run.py``);
  its flags are every setting's (``cli/options.py``) plus the run's own.
- ``SUBCOMMANDS``: one module per command group, imported only when that command runs.
- ``main``: our errors become one line and an exit code; bugs keep their tracebacks.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import click

from routine_workflow import logs, output, platforms, streams
from routine_workflow.cli import legacy
from routine_workflow.cli.common import PROG, RunRequest, json_option
from routine_workflow.cli.lazy import Lazy, LazyGroup
from routine_workflow.cli.options import (
    flag_values,
    split_names,
    unique_roots,
    wait_option,
    workflow_options,
)
from routine_workflow.errors import EXIT_SIGINT, EXIT_USAGE, ConfigError, RoutineError

_CLI = "routine_workflow.cli."
#: Subcommand -> its click command and short help (``--help`` lists them without imports;
#: tests/test_cli_options.py checks each matches the command's own help).
SUBCOMMANDS = {
    "backup": Lazy(_CLI + "backup.backup_group", "List, verify and restore the project's backups."),
    "config": Lazy(
        _CLI + "config.config_group",
        "Show or check the effective configuration, or write one (config init).",
    ),
    "doctor": Lazy(
        _CLI + "doctor.doctor_cmd",
        "Explain this project's setup: configuration and where each value came from, state\n"
        "directories and sizes, tools and versions, locks, schedule, last runs, newest backup.",
    ),
    "history": Lazy(_CLI + "history.history_cmd", "Show recent runs, newest first."),
    "lock": Lazy(_CLI + "lock.lock_group", "Inspect or break the project's lock."),
    "pre-commit": Lazy(
        _CLI + "precommit.precommit_group",
        "Add routine-workflow's hook to the project's .pre-commit-config.yaml.",
    ),
    "reformat": Lazy(
        _CLI + "reformat.reformat_cmd",
        "autoflake, isort and black on the project, exactly as their own CLIs would\n"
        '(or ruff check --fix and ruff format, with reformat_engine = "ruff").',
    ),
    "schedule": Lazy(
        _CLI + "schedule.schedule_group",
        "Run the workflow on a timetable: a line in your crontab, or a systemd user timer.",
    ),
    "steps": Lazy(_CLI + "steps.steps_cmd", "List the steps in run order with their dependencies."),
    "undo": Lazy(
        _CLI + "undo.undo_cmd",
        "Put back what a run rewrote, byte for byte, with modes and times (default: the newest\n"
        "run that changed files, even one that was killed).",
    ),
    "watch": Lazy(
        _CLI + "watch.watch_cmd",
        "Rerun steps whenever project files change; Ctrl-C stops (exit 130).",
    ),
}


@click.group(
    cls=LazyGroup,
    lazy_subcommands=SUBCOMMANDS,
    invoke_without_command=True,
    context_settings={"help_option_names": ["-h", "--help"]},
)
@workflow_options
@click.option(
    "--steps",
    "-s",
    "only",
    multiple=True,
    metavar="NAMES",
    help="Run only these steps (comma-separated or repeated).",
)
@click.option("--skip", multiple=True, metavar="NAMES", help="Leave these steps out.")
@click.option(
    "--resume",
    is_flag=True,
    help="Rerun only the steps that failed or never ran in the last failed run.",
)
@wait_option("If another run holds the lock, wait up to SECONDS for it (default: exit 75).")
@click.option(
    "--projects-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Run every project listed in this file (one path per line).",
)
@click.option(
    "--jobs",
    "-j",
    type=click.IntRange(min=1),
    default=None,
    help="With several projects: how many run at once (default 1).",
)
@json_option
@click.option(
    "--color",
    type=click.Choice(output.COLOR_MODES),
    default="auto",
    show_default=True,
    is_eager=True,
    expose_value=False,
    callback=lambda _ctx, _param, value: output.set_color(value),
    help="Colour status words: auto (on a terminal, unless NO_COLOR is set; FORCE_COLOR "
    "forces it), always or never. JSON is never coloured.",
)
@click.option(
    "--output-format",
    type=click.Choice(("text", "github")),
    default=None,
    help="github: also print ::error annotations for failed steps and files that would be "
    "reformatted, and write the job summary (default: github when GITHUB_ACTIONS=true).",
)
@click.option("--quiet", "-q", is_flag=True, help="Only warnings, errors and failures.")
@click.option("--verbose", "-v", is_flag=True, help="Debug output, including tool output.")
@click.option(
    "--version",
    is_flag=True,
    is_eager=True,
    expose_value=False,
    callback=lambda ctx, _param, value: _print_version(ctx, value),
    help="Show the version, and Python's and the formatters', and exit.",
)
@click.pass_context
def cli(
    ctx: click.Context,
    /,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    resume: bool,
    wait: float,
    projects_file: Path | None,
    jobs: int | None,
    as_json: bool,
    output_format: str | None,
    quiet: bool,
    verbose: bool,
    **params: Any,
) -> int:
    """Keep a Python project tidy and safe: lock, prune dumps, back up, reformat, clean, dump.

    \b
    Examples:
      routine-workflow --dry-run            # what would happen here
      routine-workflow --yes                # run unattended (cron, CI)
      routine-workflow --steps reformat -y  # one step
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    # The same project named twice (p, p/., a symlink to p) is one project, run once.
    roots = unique_roots(params.get("project_root") or ())
    flags = flag_values({**params, "project_root": tuple(roots)})
    ctx.meta["flags"] = {k: v for k, v in flags.items() if v is not None}
    ctx.meta["output_format"] = output_format  # read by cli/github.py after a run
    logs.setup_console(
        -1 if quiet else (1 if verbose else 0),
        params.get("log_format") or "text",
        params.get("log_level") or "info",
    )
    if ctx.invoked_subcommand is not None:
        if len(roots) > 1:
            raise click.UsageError(f"{ctx.invoked_subcommand} works on one project at a time")
        return 0
    # Deferred: the run pulls in the whole engine, which --version and --help do without.
    from routine_workflow.cli import run

    if only and not split_names(only):  # e.g. --steps "$STEPS" with STEPS unset
        raise ConfigError("--steps: no steps selected (the value is empty)")
    request = RunRequest(only, skip, resume, wait, as_json, quiet, verbose)
    if projects_file is not None or len(roots) > 1:
        return run.run_fleet(ctx, request, roots, projects_file, jobs or 1)
    if jobs is not None:  # make's -j: someone may expect it to speed up one project
        logs.get_logger().warning(
            "--jobs only applies to several projects; "
            "-w/--workers sets the worker processes of one"
        )
    return run.run_project(ctx, request)


def _print_version(ctx: click.Context, value: bool) -> None:
    if not value or ctx.resilient_parsing:
        return
    from routine_workflow.cli.version import version_lines

    for line in version_lines():
        output.write_line(line)
    ctx.exit(0)


def main(argv: Sequence[str] | None = None, prog_name: str = PROG) -> None:
    """Console entry point: our errors become one line and an exit code; bugs keep tracebacks."""
    # Before anything opens a file: a closed stdout or stderr (a daemon, ``>&-``) must
    # not hand its descriptor to the log or the history database.
    streams.ensure_std_streams()
    refused = platforms.unsupported_platform()
    if refused:  # before any step could fail half-way on a missing POSIX call
        output.error_line(f"{PROG}: error: {refused}")
        sys.exit(EXIT_USAGE)
    try:
        args, notes = legacy.translate(
            list(sys.argv[1:] if argv is None else argv),
            legacy.value_options(cli),
            cli.commands,
        )
        for note in [*notes, *legacy.variable_notes(os.environ)]:
            output.error_line(f"{PROG}: warning: {note}")
        code = cli.main(
            args=args,
            prog_name=prog_name,
            standalone_mode=False,
        )
    except click.UsageError as exc:
        # The help of the command that refused it: `reformat -x` -> `reformat --help`.
        where = exc.ctx.command_path if exc.ctx is not None else PROG
        output.error_line(f"{PROG}: error: {exc.format_message()} (see {where} --help)")
        code = EXIT_USAGE
    except click.ClickException as exc:
        output.error_line(f"{PROG}: error: {exc.format_message()}")
        code = exc.exit_code
    except RoutineError as exc:
        output.error_line(f"{PROG}: error: {exc}")
        code = exc.exit_code
    except (KeyboardInterrupt, click.Abort):
        output.error_line(f"{PROG}: interrupted")
        code = EXIT_SIGINT
    finally:
        logs.close()
    sys.exit(code if isinstance(code, int) else 0)
