"""Command line: parse, call, print, return an exit code. No logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from routine_workflow import __version__, logs, output
from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.errors import EXIT_SIGINT, EXIT_USAGE, RoutineError

F = TypeVar("F", bound=Callable[..., Any])
PROG = "routine-workflow"


def _split(values: Sequence[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def config_options(func: F) -> F:
    """Every original flag of the workflow, each overriding pyproject and environment."""
    options = [
        click.option("--project-root", type=click.Path(path_type=Path), default=None,
                     help="Project to work on (default: the current directory)."),
        click.option("--log-dir", type=click.Path(path_type=Path), default=None,
                     help="Directory of the rotating log (default: per project, per user)."),
        click.option("--log-file", type=click.Path(path_type=Path), default=None,
                     help="Log file (default: routine-workflow.log in the log dir)."),
        click.option("--lock-dir", type=click.Path(path_type=Path), default=None,
                     help="Lock directory to use, exactly (default: per project, per user)."),
        click.option("--clean-script", type=click.Path(path_type=Path), default=None,
                     help="Script to run instead of the built-in clean_caches step."),
        click.option("--backup-script", type=click.Path(path_type=Path), default=None,
                     help="Script to run instead of the built-in backup step."),
        click.option("--create-dump-script", type=click.Path(path_type=Path), default=None,
                     help="create-dump executable to write the code dump."),
        click.option("--create-dump-run-cmd", default=None, metavar="CMD",
                     help="Command that writes the dump (run from the project root)."),
        click.option("--fail-on-backup/--no-fail-on-backup", default=None,
                     help="Stop before reformatting if the backup fails."),
        click.option("--yes", "-y", "auto_yes", is_flag=True, default=None,
                     help="Do not ask for confirmation (needed when stdin is not a terminal)."),
        click.option("--dry-run", "-n", is_flag=True, default=None,
                     help="Report what every step would do; change nothing."),
        click.option("--workers", "-j", "max_workers", type=int, default=None,
                     help="Worker processes (default: CPU count, at most 8)."),
        click.option("--workflow-timeout", type=float, default=None, metavar="SECONDS",
                     help="Stop the run after SECONDS (exit 124); 0 means no limit."),
        click.option("--exclude-patterns", multiple=True, metavar="PATTERN",
                     help="gitignore-style pattern to leave alone (repeat, or comma-separate)."),
        click.option("--log-format", type=click.Choice(["text", "json"]), default=None,
                     help="Log events as text lines or one JSON object per line."),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _flags(params: dict[str, Any]) -> dict[str, Any]:
    names = ("project_root", "log_dir", "log_file", "lock_dir", "clean_script", "backup_script",
             "create_dump_script", "create_dump_run_cmd", "fail_on_backup", "auto_yes", "dry_run",
             "max_workers", "workflow_timeout", "log_format")
    flags = {name: params.get(name) for name in names}
    patterns = _split(params.get("exclude_patterns"))
    flags["exclude_patterns"] = patterns or None
    return flags


def _config(ctx: click.Context, **overrides: Any) -> WorkflowConfig:
    """Group flags, then the subcommand's own, then load and validate."""
    flags = dict(ctx.find_root().meta.get("flags", {}))
    flags.update({k: v for k, v in overrides.items() if v is not None})
    return load_config(flags)


project_root_option = click.option(
    "--project-root", type=click.Path(path_type=Path), default=None,
    help="Project to work on (default: the current directory).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@config_options
@click.option("--steps", "only", multiple=True, metavar="NAMES",
              help="Run only these steps (comma-separated or repeated).")
@click.option("--skip", multiple=True, metavar="NAMES", help="Leave these steps out.")
@click.option("--wait", type=click.FloatRange(min=0), default=0.0, metavar="SECONDS",
              help="If another run holds the lock, wait up to SECONDS for it (default: exit 75).")
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Only warnings, errors and failures.")
@click.option("--verbose", "-v", is_flag=True, help="Debug output, including tool output.")
@click.version_option(__version__, "--version", prog_name=PROG)
@click.pass_context
def cli(ctx: click.Context, only: tuple[str, ...], skip: tuple[str, ...], wait: float,
        as_json: bool, quiet: bool, verbose: bool, **params: Any) -> int:
    """Keep a Python project tidy and safe: lock, prune dumps, back up, reformat, clean, dump.

    \b
    Examples:
      routine-workflow --dry-run            # what would happen here
      routine-workflow --yes                # run unattended (cron, CI)
      routine-workflow --steps reformat -y  # one step
    """
    if quiet and verbose:
        raise click.UsageError("--quiet and --verbose cannot be used together")
    flags = _flags(params)
    ctx.meta["flags"] = {k: v for k, v in flags.items() if v is not None}
    logs.setup_console(-1 if quiet else (1 if verbose else 0), params.get("log_format") or "text")
    if ctx.invoked_subcommand is not None:
        return 0
    from routine_workflow.commands.run import check_confirmation, planned_steps, run_workflow

    config = _config(ctx)
    logs.setup_console(-1 if quiet else (1 if verbose else 0), config.log_format)
    steps = planned_steps(config, _split(only), _split(skip))
    ask = _prompt if sys.stdin is not None and sys.stdin.isatty() else None
    if not check_confirmation(config, steps, ask):
        output.error_line(f"{PROG}: nothing done")
        return 1
    report = run_workflow(config, steps, wait)
    if as_json:
        output.write_json(report.as_dict())
    elif not quiet or report.exit_code:
        for line in _summary_lines(report):
            output.write_line(line)
    return report.exit_code


def _prompt(question: str) -> bool:
    return click.confirm(question, default=False, err=True)


def _summary_lines(report: Any) -> list[str]:
    rows = [[s.name, s.status, f"{s.duration:.1f}s", s.summary] for s in report.steps]
    lines = output.table(rows, ["step", "status", "time", "summary"])
    counts: dict[str, int] = {}
    for step in report.steps:
        counts[step.status] = counts.get(step.status, 0) + 1
    tally = ", ".join(f"{n} {status}" for status, n in counts.items()) or "no steps"
    dry = " (dry run)" if report.dry_run else ""
    lines.append(f"{PROG}: {report.status}{dry}: {tally} in {report.duration:.1f}s "
                 f"(exit {report.exit_code})" + (f" - {report.reason}" if report.reason else ""))
    return lines


# --- steps ------------------------------------------------------------------------------------


@cli.command("steps")
@project_root_option
@json_option
@click.pass_context
def steps_cmd(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """List the steps in run order with their dependencies."""
    from routine_workflow.commands.run import planned_steps

    steps = planned_steps(_config(ctx, project_root=project_root))
    rows = [{"name": s.name, "depends_on": list(s.depends_on), "critical": s.critical,
             "description": s.description} for s in steps]
    if as_json:
        output.write_json(rows)
        return 0
    table = [[r["name"], ", ".join(r["depends_on"]) or "-", r["description"]] for r in rows]
    for line in output.table(table, ["step", "depends on", "what it does"]):
        output.write_line(line)
    return 0


# --- config -----------------------------------------------------------------------------------


@cli.group("config")
def config_group() -> None:
    """Show or check the effective configuration."""


@config_group.command("show")
@project_root_option
@json_option
@click.pass_context
def config_show(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """Print every setting, its value and where it came from."""
    config = _config(ctx, project_root=project_root)
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
    from routine_workflow.commands.run import planned_steps

    config = _config(ctx, project_root=project_root)
    planned_steps(config)
    output.write_line(f"{PROG}: configuration of {config.project_root} is valid")
    return 0


# --- lock -------------------------------------------------------------------------------------


@cli.group("lock")
def lock_group() -> None:
    """Inspect or break the project's lock."""


@lock_group.command("status")
@project_root_option
@json_option
@click.pass_context
def lock_status(ctx: click.Context, project_root: Path | None, as_json: bool) -> int:
    """Show whether a run holds the lock, and whether that holder is alive."""
    from routine_workflow.commands.lock import lock_state

    state = lock_state(_config(ctx, project_root=project_root))
    if as_json:
        output.write_json(state)
    elif not state["held"]:
        output.write_line(f"{PROG}: lock {state['path']} is free")
    else:
        output.write_line(f"{PROG}: lock {state['path']} is held by {state['holder']} "
                          f"({'stale' if state['stale'] else 'live'}: {state['reason']})")
    return 0


@lock_group.command("break")
@project_root_option
@click.option("--force", is_flag=True,
              help="Also break a lock whose holder cannot be checked (another host).")
@click.pass_context
def lock_break(ctx: click.Context, project_root: Path | None, force: bool) -> int:
    """Remove a stale lock. A holder that is verifiably running is never evicted."""
    from routine_workflow.commands.lock import break_lock

    message = break_lock(_config(ctx, project_root=project_root), force=force)
    output.write_line(f"{PROG}: {message}")
    return 0


# --- history ----------------------------------------------------------------------------------


@cli.command("history")
@project_root_option
@json_option
@click.option("-n", "--limit", type=click.IntRange(min=1), default=10, show_default=True,
              help="How many runs to show.")
@click.option("--all-projects", is_flag=True, help="Runs of every project, not just this one.")
@click.pass_context
def history_cmd(ctx: click.Context, project_root: Path | None, as_json: bool, limit: int,
                all_projects: bool) -> int:
    """Show recent runs, newest first."""
    from routine_workflow.commands.history import recent_runs

    runs = recent_runs(_config(ctx, project_root=project_root), limit, all_projects)
    if as_json:
        output.write_json(runs)
        return 0
    rows = [[r["started"], r["status"], str(r["exit_code"] if r["exit_code"] is not None else "-"),
             f"{r['duration'] or 0:.1f}s", " ".join(f"{s['name']}:{s['status']}" for s in r["steps"])]
            for r in runs]
    for line in output.table(rows, ["started", "status", "exit", "time", "steps"]):
        output.write_line(line)
    return 0


# --- reformat (issue 4) -----------------------------------------------------------------------


@cli.command("reformat")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@project_root_option
@click.option("--check", is_flag=True,
              help="Write nothing; exit 1 and list the files that would change.")
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff per file.")
@click.option("--workers", "-j", "max_workers", type=int, default=None,
              help="Worker processes (default: CPU count, at most 8).")
@json_option
@click.pass_context
def reformat_cmd(ctx: click.Context, paths: tuple[Path, ...], project_root: Path | None,
                 check: bool, diff: bool, max_workers: int | None, as_json: bool) -> int:
    """autoflake, isort and black on the project, exactly as their own CLIs would.

    \b
    Examples:
      routine-workflow reformat                 # rewrite what needs it
      routine-workflow reformat --check         # CI: exit 1 if anything would change
      routine-workflow reformat --diff src/pkg  # show the changes, write nothing
    """
    from routine_workflow.commands.reformat import exit_code, run_reformat

    config = _config(ctx, project_root=project_root, max_workers=max_workers)
    report = run_reformat(config, paths, check, diff)
    if as_json:
        output.write_json({**report.counts(), "duration": round(report.duration, 3),
                           "changed_files": sorted(report.changed),
                           "failures": [{"path": f.rel, "reason": f.reason} for f in report.failed],
                           "modified_files": sorted(report.modified),
                           "excluded_files": sorted(report.excluded)})
        return exit_code(report, check)
    for text in report.diffs:
        output.write_line(text.rstrip("\n"))
    for line in report.detail_lines():
        (output.error_line if line.startswith("error:") else output.write_line)(line)
    output.write_line(f"{PROG} reformat: {report.summary()}")
    return exit_code(report, check)


# --- backup (issue 6) -------------------------------------------------------------------------


# --- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, prog_name: str = PROG) -> None:
    """Console entry point: our errors become one line and an exit code; bugs keep tracebacks."""
    try:
        code = cli.main(args=list(argv) if argv is not None else None, prog_name=prog_name,
                        standalone_mode=False)
    except click.UsageError as exc:
        output.error_line(f"{PROG}: error: {exc.format_message()} (see {PROG} --help)")
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
