"""Command line: parse, call, print, return an exit code. No logic lives here."""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from routine_workflow import __version__, logs, output
from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.errors import EXIT_SIGINT, EXIT_USAGE, ConfigError, RoutineError

F = TypeVar("F", bound=Callable[..., Any])
PROG = "routine-workflow"


def _split(values: Sequence[str] | None) -> list[str]:
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def _path_option(flag: str, help_text: str) -> Callable[[F], F]:
    """A path-valued flag that defaults to "not given" (so lower layers of config apply)."""
    return click.option(flag, type=click.Path(path_type=Path), default=None, help=help_text)


def config_options(func: F) -> F:
    """Every original flag of the workflow, each overriding pyproject and environment."""
    options = [
        click.option(
            "--project-root",
            type=click.Path(path_type=Path),
            multiple=True,
            help="Project to work on (default: the current directory); repeat for "
            "several projects.",
        ),
        _path_option(
            "--log-dir", "Directory of the rotating log (default: per project, per user)."
        ),
        _path_option("--log-file", "Log file (default: routine-workflow.log in the log dir)."),
        _path_option(
            "--lock-dir", "Lock directory to use, exactly (default: per project, per user)."
        ),
        _path_option("--clean-script", "Script to run instead of the built-in clean_caches step."),
        _path_option("--backup-script", "Script to run instead of the built-in backup step."),
        _path_option("--create-dump-script", "create-dump executable to write the code dump."),
        click.option(
            "--create-dump-run-cmd",
            default=None,
            metavar="CMD",
            help="Command that writes the dump (run from the project root).",
        ),
        click.option(
            "--fail-on-backup/--no-fail-on-backup",
            default=None,
            help="Stop before reformatting if the backup fails.",
        ),
        click.option(
            "--yes",
            "-y",
            "auto_yes",
            is_flag=True,
            default=None,
            help="Do not ask for confirmation (needed when stdin is not a terminal).",
        ),
        click.option(
            "--dry-run",
            "-n",
            is_flag=True,
            default=None,
            help="Report what every step would do; change nothing.",
        ),
        click.option(
            "--workers",
            "-j",
            "max_workers",
            type=int,
            default=None,
            help="Worker processes (default: CPU count, at most 8).",
        ),
        click.option(
            "--workflow-timeout",
            type=float,
            default=None,
            metavar="SECONDS",
            help="Stop the run after SECONDS (exit 124); 0 means no limit.",
        ),
        click.option(
            "--exclude-patterns",
            multiple=True,
            metavar="PATTERN",
            help="gitignore-style pattern to leave alone (repeat, or comma-separate).",
        ),
        click.option(
            "--log-format",
            type=click.Choice(["text", "json"]),
            default=None,
            help="Log events as text lines or one JSON object per line.",
        ),
        click.option(
            "--parallel-steps",
            type=int,
            default=None,
            metavar="N",
            help="Run up to N independent command steps at once (default 1).",
        ),
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _flags(params: dict[str, Any]) -> dict[str, Any]:
    names = (
        "project_root",
        "log_dir",
        "log_file",
        "lock_dir",
        "clean_script",
        "backup_script",
        "create_dump_script",
        "create_dump_run_cmd",
        "fail_on_backup",
        "auto_yes",
        "dry_run",
        "max_workers",
        "workflow_timeout",
        "log_format",
        "parallel_steps",
    )
    flags = {name: params.get(name) for name in names}
    roots: tuple[Path, ...] = params.get("project_root") or ()
    flags["project_root"] = roots[0] if len(roots) == 1 else None
    patterns = _split(params.get("exclude_patterns"))
    flags["exclude_patterns"] = patterns or None
    return flags


def _config(ctx: click.Context, **overrides: Any) -> WorkflowConfig:
    """Group flags, then the subcommand's own, then load and validate."""
    flags = dict(ctx.find_root().meta.get("flags", {}))
    flags.update({k: v for k, v in overrides.items() if v is not None})
    return load_config(flags)


project_root_option = click.option(
    "--project-root",
    type=click.Path(path_type=Path),
    default=None,
    help="Project to work on (default: the current directory).",
)
json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")


@click.group(invoke_without_command=True, context_settings={"help_option_names": ["-h", "--help"]})
@config_options
@click.option(
    "--steps",
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
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="If another run holds the lock, wait up to SECONDS for it (default: exit 75).",
)
@click.option(
    "--projects-file",
    type=click.Path(path_type=Path, dir_okay=False),
    default=None,
    help="Run every project listed in this file (one path per line).",
)
@click.option(
    "--jobs",
    type=click.IntRange(min=1),
    default=1,
    show_default=True,
    help="With several projects: how many run at once.",
)
@json_option
@click.option("--quiet", "-q", is_flag=True, help="Only warnings, errors and failures.")
@click.option("--verbose", "-v", is_flag=True, help="Debug output, including tool output.")
@click.version_option(__version__, "--version", prog_name=PROG)
@click.pass_context
def cli(
    ctx: click.Context,
    /,
    only: tuple[str, ...],
    skip: tuple[str, ...],
    resume: bool,
    wait: float,
    projects_file: Path | None,
    jobs: int,
    as_json: bool,
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
    flags = _flags(params)
    ctx.meta["flags"] = {k: v for k, v in flags.items() if v is not None}
    logs.setup_console(-1 if quiet else (1 if verbose else 0), params.get("log_format") or "text")
    roots = list(params.get("project_root") or ())
    if ctx.invoked_subcommand is not None:
        if len(roots) > 1:
            raise click.UsageError(f"{ctx.invoked_subcommand} works on one project at a time")
        return 0
    if projects_file is not None or len(roots) > 1:
        from routine_workflow.workflow.fleet import read_projects_file

        roots += read_projects_file(projects_file) if projects_file else []
        extra = [
            *(["--steps", ",".join(only)] if only else []),
            *(["--skip", ",".join(skip)] if skip else []),
            *(["--resume"] if resume else []),
            "--wait",
            str(wait),
            *(["--quiet"] if quiet else []),
            *(["--verbose"] if verbose else []),
        ]
        return _run_fleet(ctx, roots, extra, jobs, as_json)
    from routine_workflow.workflow.session import (
        check_confirmation,
        planned_steps,
        resume_plan,
        run_workflow,
    )

    config = _config(ctx)
    logs.setup_console(-1 if quiet else (1 if verbose else 0), config.log_format)
    selected = _split(only)
    if resume:
        if selected:
            raise click.UsageError("--resume and --steps cannot be used together")
        plan = resume_plan(config)
        if plan is None or not plan[1]:
            output.write_line(
                f"{PROG}: nothing to resume: the last run of {config.project_root} "
                "succeeded (or there is none)"
            )
            return 0
        output.error_line(f"{PROG}: resuming run {plan[0]}: {', '.join(plan[1])}")
        selected = plan[1]
    steps = planned_steps(config, selected, _split(skip))
    ask = _prompt if sys.stdin is not None and sys.stdin.isatty() else None
    if not check_confirmation(config, steps, ask):
        output.error_line(f"{PROG}: nothing done")
        return 1
    show_progress = not (quiet or as_json) and config.log_format == "text"
    report = run_workflow(config, steps, wait, show_progress)
    if as_json:
        output.write_json(report.as_dict())
    elif not quiet or report.exit_code:
        for line in _summary_lines(report):
            output.write_line(line)
    return report.exit_code


def _run_fleet(
    ctx: click.Context, roots: list[Path], extra: list[str], jobs: int, as_json: bool
) -> int:
    from routine_workflow.workflow.fleet import child_args, fleet_exit_code, run_many

    flags = dict(ctx.meta["flags"])
    if not flags.get("dry_run") and not flags.get("auto_yes"):
        if sys.stdin is None or not sys.stdin.isatty():
            raise ConfigError(
                f"refusing to run on {len(roots)} projects without "
                "confirmation: stdin is not a terminal; pass --yes"
            )
        if not _prompt(
            f"Run the workflow on {len(roots)} projects? Files will be rewritten "
            "and deleted (a backup is taken first)."
        ):
            output.error_line(f"{PROG}: nothing done")
            return 1
        flags["auto_yes"] = True
    args = child_args(flags, extra)

    def done(outcome: Any) -> None:
        for line in outcome.errors:
            output.error_line(f"{outcome.root}: {line}")

    outcomes = run_many(roots, args, jobs, on_done=done)
    if as_json:
        output.write_json(
            [
                {"project_root": o.root, "exit_code": o.exit_code, "report": o.report}
                for o in outcomes
            ]
        )
    else:
        rows = [
            [
                o.root,
                str(o.exit_code),
                (o.report or {}).get("status", "error"),
                ", ".join(
                    s["name"] for s in (o.report or {}).get("steps", []) if s["status"] == "failed"
                )
                or "-",
            ]
            for o in outcomes
        ]
        for line in output.table(rows, ["project", "exit", "status", "failed steps"]):
            output.write_line(line)
        ok = sum(o.exit_code == 0 for o in outcomes)
        output.write_line(f"{PROG}: {len(outcomes)} projects: {ok} ok, {len(outcomes) - ok} not ok")
    return fleet_exit_code(outcomes)


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
    lines.append(
        f"{PROG}: {report.status}{dry}: {tally} in {report.duration:.1f}s "
        f"(exit {report.exit_code})" + (f" - {report.reason}" if report.reason else "")
    )
    return lines


# --- steps ------------------------------------------------------------------------------------


@cli.command("steps")
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
    from routine_workflow.workflow.graph import render
    from routine_workflow.workflow.session import planned_steps

    steps = planned_steps(_config(ctx, project_root=project_root))
    if graph:
        output.write_line(render(steps, graph))
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
    from routine_workflow.workflow.session import planned_steps

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
    from routine_workflow.cli.lock import lock_state

    state = lock_state(_config(ctx, project_root=project_root))
    if as_json:
        output.write_json(state)
    elif not state["held"]:
        output.write_line(f"{PROG}: lock {state['path']} is free")
    else:
        output.write_line(
            f"{PROG}: lock {state['path']} is held by {state['holder']} "
            f"({'stale' if state['stale'] else 'live'}: {state['reason']})"
        )
        for command in state["commands"]:
            output.write_line(f"  running pid {command['pid']}: {' '.join(command['argv'])}")
    return 0


@lock_group.command("break")
@project_root_option
@click.option(
    "--force", is_flag=True, help="Also break a lock whose holder cannot be checked (another host)."
)
@click.pass_context
def lock_break(ctx: click.Context, project_root: Path | None, force: bool) -> int:
    """Remove a stale lock. A holder that is verifiably running is never evicted."""
    from routine_workflow.cli.lock import break_lock

    message = break_lock(_config(ctx, project_root=project_root), force=force)
    output.write_line(f"{PROG}: {message}")
    return 0


# --- history ----------------------------------------------------------------------------------


@cli.command("history")
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
    from routine_workflow.cli.history import recent_runs

    runs = recent_runs(_config(ctx, project_root=project_root), limit, all_projects)
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


# --- reformat (issue 4) -----------------------------------------------------------------------


@cli.command("reformat")
@click.argument("paths", nargs=-1, type=click.Path(path_type=Path))
@project_root_option
@click.option(
    "--check", is_flag=True, help="Write nothing; exit 1 and list the files that would change."
)
@click.option("--diff", is_flag=True, help="Write nothing; print a unified diff per file.")
@click.option(
    "--workers",
    "-j",
    "max_workers",
    type=int,
    default=None,
    help="Worker processes (default: CPU count, at most 8).",
)
@json_option
@click.pass_context
def reformat_cmd(
    ctx: click.Context,
    paths: tuple[Path, ...],
    project_root: Path | None,
    check: bool,
    diff: bool,
    max_workers: int | None,
    as_json: bool,
) -> int:
    """autoflake, isort and black on the project, exactly as their own CLIs would
    (or ruff check --fix and ruff format, with reformat_engine = "ruff").

    \b
    Examples:
      routine-workflow reformat                 # rewrite what needs it
      routine-workflow reformat --check         # CI: exit 1 if anything would change
      routine-workflow reformat --diff src/pkg  # show the changes, write nothing
    """
    from routine_workflow.reformat.command import exit_code, run_reformat

    config = _config(ctx, project_root=project_root, max_workers=max_workers)
    report = run_reformat(config, paths, check, diff)
    if as_json:
        output.write_json(
            {
                **report.counts(),
                "duration": round(report.duration, 3),
                "changed_files": sorted(report.changed),
                "failures": [{"path": f.rel, "reason": f.reason} for f in report.failed],
                "modified_files": sorted(report.modified),
                "excluded_files": sorted(report.excluded),
            }
        )
        return exit_code(report, check)
    for text in report.diffs:
        output.write_line(text.rstrip("\n"))
    for line in report.detail_lines():
        (output.error_line if line.startswith("error:") else output.write_line)(line)
    output.write_line(f"{PROG} reformat: {report.summary()}")
    return exit_code(report, check)


# --- backup (issue 6) -------------------------------------------------------------------------


@cli.group("backup")
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
    """Show this project's backups, newest first."""
    from routine_workflow.backup.actions import list_backups
    from routine_workflow.fsutil import human_size

    backups = list_backups(_config(ctx, project_root=project_root))
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
        ]
        for b in backups
    ]
    for line in output.table(rows, ["archive", "created", "files", "size", "verified"]):
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
    from routine_workflow.backup.actions import verify_archive
    from routine_workflow.fsutil import human_size

    report = verify_archive(_config(ctx, project_root=project_root), archive)
    if as_json:
        output.write_json(report)
    else:
        output.write_line(
            f"{PROG}: {report['path']}: OK, {report['files']} files "
            f"({human_size(report['bytes'])}) match the manifest"
        )
        for name in report["escaping_links"]:
            output.write_line(
                f"{PROG}: note: symlink {name} points outside the project; "
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
    from routine_workflow.backup.actions import restore_archive
    from routine_workflow.fsutil import human_size

    report = restore_archive(
        _config(ctx, project_root=project_root), archive, target, force, skip_unsafe_links
    )
    if as_json:
        output.write_json(report)
        return 0
    output.write_line(
        f"{PROG}: restored {report['files']} files ({human_size(report['bytes'])}), "
        f"{report['dirs']} directories and {report['symlinks']} symlinks "
        f"into {report['target']}"
    )
    for name in report["skipped_links"]:
        output.write_line(f"{PROG}: left out symlink {name}: it points outside the target")
    return 0


# --- schedule and watch (issue 9) -------------------------------------------------------------


@cli.group("schedule")
def schedule_group() -> None:
    """Run the workflow on a timetable: a line in your crontab, or a systemd user timer.

    \b
    Examples:
      routine-workflow schedule install --cron "30 2 * * *"    # every night at 02:30
      routine-workflow schedule install --systemd --cron @daily
      routine-workflow schedule show
      routine-workflow schedule remove
    """


def _schedule_options(func: F) -> F:
    options = [
        project_root_option,
        click.option(
            "--systemd", is_flag=True, help="A systemd user timer instead of a crontab line."
        ),
        click.option(
            "--crontab-file",
            type=click.Path(path_type=Path),
            default=None,
            metavar="PATH",
            help="Edit this file instead of running `crontab -l/-`.",
        ),
        click.option(
            "--unit-dir",
            type=click.Path(path_type=Path),
            default=None,
            metavar="DIR",
            help="Where systemd units go (default: $XDG_CONFIG_HOME/systemd/user).",
        ),
        json_option,
    ]
    for option in reversed(options):
        func = option(func)
    return func


def _when(stamp: str) -> str:
    from datetime import datetime

    try:
        return datetime.fromisoformat(stamp).strftime("%a %Y-%m-%d %H:%M %Z").strip()
    except ValueError:
        return stamp


def _next_line(stamps: list[str]) -> str:
    return "  next runs: " + ("; ".join(_when(s) for s in stamps) or "(systemd-analyze not found)")


@schedule_group.command("install")
@_schedule_options
@click.option(
    "--cron",
    "cron_text",
    metavar="EXPR",
    help='When to run, in cron syntax: "MIN HOUR DAY MONTH WEEKDAY" or @daily, @hourly...',
)
@click.option(
    "--on-calendar",
    multiple=True,
    metavar="SPEC",
    help="With --systemd: a systemd OnCalendar= value instead of --cron (repeatable).",
)
@click.pass_context
def schedule_install(
    ctx: click.Context,
    project_root: Path | None,
    systemd: bool,
    crontab_file: Path | None,
    unit_dir: Path | None,
    as_json: bool,
    cron_text: str | None,
    on_calendar: tuple[str, ...],
) -> int:
    """Schedule unattended runs (--yes --quiet) of this project; installing again replaces them."""
    from routine_workflow.schedule import install as schedule
    from routine_workflow.schedule.cronexpr import next_runs, parse_cron, to_on_calendar

    if on_calendar and not systemd:
        raise click.UsageError("--on-calendar is for systemd timers; add --systemd")
    if bool(cron_text) == bool(on_calendar):
        raise click.UsageError("give exactly one of --cron EXPR or --on-calendar SPEC")
    config = _config(ctx, project_root=project_root)
    expr = parse_cron(cron_text) if cron_text else None
    if systemd:
        calendars = to_on_calendar(expr) if expr else list(on_calendar)
        change = schedule.install_systemd(
            config, calendars, expr.text if expr else None, unit_dir or schedule.default_unit_dir()
        )
        info = schedule.show(config, None, unit_dir or schedule.default_unit_dir())["systemd"]
        if as_json:
            output.write_json({**change.__dict__, "next": info["next"]})
            return 0
        output.write_line(f"{PROG}: {change.action} {' and '.join(change.paths)}")
        output.write_line("  " + "\n  ".join(f"OnCalendar={c}" for c in calendars))
        output.write_line(_next_line(info["next"]))
        output.write_line("enable it with:\n  " + "\n  ".join(change.commands))
        return 0
    assert expr is not None  # noqa: S101 (checked above: cron without systemd)
    crontab = schedule.crontab_for(crontab_file) or schedule.CommandCrontab()
    cron_change = schedule.install_cron(config, expr, crontab)
    runs = [t.isoformat() for t in next_runs(expr)]
    if as_json:
        output.write_json({**cron_change.__dict__, "next": runs})
        return 0
    output.write_line(f"{PROG}: {cron_change.action} in {cron_change.where}: {cron_change.line}")
    output.write_line(_next_line(runs))
    return 0


@schedule_group.command("remove")
@_schedule_options
@click.pass_context
def schedule_remove(
    ctx: click.Context,
    project_root: Path | None,
    systemd: bool,
    crontab_file: Path | None,
    unit_dir: Path | None,
    as_json: bool,
) -> int:
    """Remove this project's schedule; nothing else in the crontab or unit directory changes."""
    from routine_workflow.schedule import install as schedule

    config = _config(ctx, project_root=project_root)
    if systemd:
        change = schedule.remove_systemd(config, unit_dir or schedule.default_unit_dir())
        if as_json:
            output.write_json(change.__dict__)
        elif change.action == "absent":
            output.write_line(
                f"{PROG}: no systemd timer for {config.project_root}; nothing removed"
            )
        else:
            output.write_line(f"{PROG}: removed {' and '.join(change.paths)}")
            output.write_line("stop the loaded timer with:\n  " + "\n  ".join(change.commands))
        return 0
    crontab = schedule.crontab_for(crontab_file) or schedule.CommandCrontab()
    cron_change = schedule.remove_cron(config, crontab)
    if as_json:
        output.write_json(cron_change.__dict__)
    elif cron_change.action == "absent":
        output.write_line(
            f"{PROG}: no line for {config.project_root} in {cron_change.where}; " "nothing removed"
        )
    else:
        output.write_line(f"{PROG}: removed from {cron_change.where}: {cron_change.line}")
    return 0


@schedule_group.command("show")
@_schedule_options
@click.option(
    "--cron",
    "cron_text",
    metavar="EXPR",
    help="Preview this expression: the line install would write and its next runs.",
)
@click.pass_context
def schedule_show(
    ctx: click.Context,
    project_root: Path | None,
    systemd: bool,
    crontab_file: Path | None,
    unit_dir: Path | None,
    as_json: bool,
    cron_text: str | None,
) -> int:
    """Show this project's schedules (crontab line, systemd timer) and their next three runs.

    With --systemd, only the timer; with --cron EXPR, a preview of EXPR instead.
    """
    from routine_workflow.schedule import install as schedule
    from routine_workflow.schedule.cronexpr import parse_cron

    config = _config(ctx, project_root=project_root)
    preview = parse_cron(cron_text) if cron_text else None
    crontab = None if systemd else schedule.crontab_for(crontab_file)
    info = schedule.show(config, crontab, unit_dir or schedule.default_unit_dir(), preview)
    if as_json:
        output.write_json(info)
        return 0
    for line in _show_lines(info, crontab is not None, cron_wanted=not systemd):
        output.write_line(line)
    return 0


def _show_lines(info: dict[str, Any], cron_checked: bool, cron_wanted: bool) -> list[str]:
    if "preview" in info:
        preview = info["preview"]
        return [
            f"crontab line: {preview['line']}",
            "systemd: " + "; ".join(f"OnCalendar={c}" for c in preview["on_calendar"]),
            _next_line(preview["next"]),
        ]
    lines: list[str] = []
    if info.get("cron"):
        lines += [
            f"cron ({info['cron']['where']}): {info['cron']['line']}",
            _next_line(info["cron"]["next"]),
        ]
    elif cron_checked:
        lines.append(f"cron: nothing scheduled for {info['project_root']}")
    elif cron_wanted:
        lines.append("cron: no crontab command here (--crontab-file PATH to look in a file)")
    if info.get("systemd"):
        unit = info["systemd"]
        lines += [
            f"systemd: {unit['timer']}: " + "; ".join(f"OnCalendar={c}" for c in unit["calendars"]),
            _next_line(unit["next"]),
        ]
    else:
        lines.append(f"systemd: no timer for {info['project_root']}")
    return lines


@cli.command("watch")
@project_root_option
@click.option(
    "--steps",
    "only",
    multiple=True,
    metavar="NAMES",
    help="Steps to rerun on each change (default: reformat).",
)
@click.option(
    "--debounce",
    type=click.IntRange(min=10, max=60_000),
    default=300,
    show_default=True,
    metavar="MS",
    help="Start a run once no file has changed for MS milliseconds.",
)
@click.option(
    "--wait",
    type=click.FloatRange(min=0),
    default=0.0,
    metavar="SECONDS",
    help="If another run holds the lock, wait up to SECONDS (default: skip this change).",
)
@click.option(
    "--yes",
    "-y",
    "auto_yes",
    is_flag=True,
    default=None,
    help="Do not ask for confirmation (needed when stdin is not a terminal).",
)
@click.option("--max-runs", type=click.IntRange(min=1), default=None, hidden=True)
@click.pass_context
def watch_cmd(
    ctx: click.Context,
    project_root: Path | None,
    only: tuple[str, ...],
    debounce: int,
    wait: float,
    auto_yes: bool | None,
    max_runs: int | None,
) -> int:
    """Rerun steps whenever project files change; Ctrl-C stops (exit 130).

    Excluded and ignored paths (virtualenvs, .gitignore'd files, the tool's own
    directories) never trigger a run, nor do the changes a run makes itself.

    \b
    Examples:
      routine-workflow watch --yes                  # reformat on every save
      routine-workflow watch -y --steps reformat,clean_caches --debounce 1000
    """
    from routine_workflow.workflow.session import check_confirmation, planned_steps
    from routine_workflow.workflow.watch import DEFAULT_STEPS, watch

    config = _config(ctx, project_root=project_root, auto_yes=auto_yes)
    steps = planned_steps(config, _split(only) or DEFAULT_STEPS)
    ask = _prompt if sys.stdin is not None and sys.stdin.isatty() else None
    if not check_confirmation(config, steps, ask):
        output.error_line(f"{PROG}: nothing done")
        return 1
    quiet = bool(ctx.find_root().params.get("quiet"))

    def report(run: Any) -> None:
        if not quiet or run.exit_code:
            for line in _summary_lines(run):
                output.write_line(line)

    return watch(
        config, steps, debounce_ms=debounce, wait=wait, on_report=report, max_runs=max_runs
    )


# --- entry point ------------------------------------------------------------------------------


def main(argv: Sequence[str] | None = None, prog_name: str = PROG) -> None:
    """Console entry point: our errors become one line and an exit code; bugs keep tracebacks."""
    try:
        code = cli.main(
            args=list(argv) if argv is not None else None,
            prog_name=prog_name,
            standalone_mode=False,
        )
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
