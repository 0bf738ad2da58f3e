"""``schedule install``, ``remove`` and ``show``: a crontab line or a systemd user timer."""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from pathlib import Path
from typing import Any, TypeVar

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.schedule import install as schedule
from routine_workflow.schedule.cronexpr import next_runs, parse_cron, to_on_calendar

F = TypeVar("F", bound=Callable[..., Any])


@click.group("schedule")
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
    if on_calendar and not systemd:
        raise click.UsageError("--on-calendar is for systemd timers; add --systemd")
    if bool(cron_text) == bool(on_calendar):
        raise click.UsageError("give exactly one of --cron EXPR or --on-calendar SPEC")
    config = workflow_config(ctx, project_root=project_root)
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
    config = workflow_config(ctx, project_root=project_root)
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
    config = workflow_config(ctx, project_root=project_root)
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
