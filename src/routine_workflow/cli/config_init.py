"""``config init``: ask a few questions on a terminal, show the ``[tool.routine-workflow]``
table, write it into pyproject.toml (pyproject_init.py keeps the rest of the file).

Without a terminal, or with ``--defaults``, nothing is asked: the defaults are written.
The defaults are what this project has now (its current settings, when they load),
else the built-in ones. A schedule is not installed from here, only recorded as a
comment and printed as the ``schedule install`` command that would install it.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, project_root_option
from routine_workflow.config import TABLE, load_config, resolve_project_root
from routine_workflow.errors import EXIT_DECLINED, ConfigError, RoutineError
from routine_workflow.fields import FIELD_BY_NAME
from routine_workflow.pyproject_init import InitPlan, has_table, render, write
from routine_workflow.steps import BUILTIN_ORDER

#: Optional checks, off unless enabled (docs/migrating.md: the original's pytest, bandit,
#: pip-audit and git steps).
CHECK_STEPS = ("tests", "security", "audit", "git_snapshot")


@dataclass
class Defaults:
    """The answers offered: the project's current settings, else the built-in ones."""

    steps: list[str]
    checks: list[str]
    workers: int | None  # None: not pinned (min(8, CPU count) on each machine)
    detected_workers: int
    timeout: float
    keep_backups: int
    keep_dumps: int


@click.command("init")
@project_root_option
@click.option("--defaults", "use_defaults", is_flag=True, help="Ask nothing; write the defaults.")
@click.option("--force", is_flag=True, help=f"Replace an existing [{TABLE}] table.")
@click.option("--dry-run", "-n", "dry_run", is_flag=True, help="Show the table; write nothing.")
@click.pass_context
def config_init(
    ctx: click.Context, project_root: Path | None, use_defaults: bool, force: bool, dry_run: bool
) -> int:
    """Write a [tool.routine-workflow] table into pyproject.toml, asking first on a terminal.

    Everything else in the file (comments, order, other tables) stays as it is; the
    file is created if missing. An existing table is replaced only with --force.
    """
    flags = dict(ctx.find_root().meta.get("flags", {}))
    if project_root is not None:
        flags["project_root"] = project_root
    root = resolve_project_root(flags)
    dry_run = dry_run or bool(flags.get("dry_run"))
    if not force and has_table(root):  # before any question: the answer would be wasted
        raise ConfigError(
            f"{root / 'pyproject.toml'}: [{TABLE}] exists already; "
            "`config init --force` replaces it (or edit it, and `config check`)"
        )
    defaults = _current(flags)
    interactive = not use_defaults and sys.stdin is not None and sys.stdin.isatty()
    plan, schedule = _ask(defaults) if interactive else (_plan(defaults, defaults.steps), None)
    output.write_line(render(plan).rstrip("\n"))
    if dry_run:
        output.error_line(f"{PROG}: dry run: {root / 'pyproject.toml'} not written")
        return 0
    if interactive and not click.confirm(
        f"Write this to {root / 'pyproject.toml'}?", default=True, err=True
    ):
        output.error_line(f"{PROG}: declined: nothing written")
        return EXIT_DECLINED
    path, replaced = write(root, plan, force=force)
    output.error_line(f"{PROG}: {'replaced' if replaced else 'wrote'} [{TABLE}] in {path}")
    if schedule:
        output.error_line(
            f"{PROG}: to run it on that schedule: {PROG} schedule install --cron '{schedule}'"
        )
    return 0


def _current(flags: dict[str, Any]) -> Defaults:
    """The project's effective settings, or the built-in ones if they do not load (a
    table being replaced with --force may be the very thing that is wrong)."""
    detected = int(FIELD_BY_NAME["max_workers"].default(Path.cwd()))
    try:
        config = load_config(flags)
    except RoutineError:
        return Defaults(
            list(BUILTIN_ORDER),
            [],
            None,
            detected,
            float(FIELD_BY_NAME["workflow_timeout"].default),
            int(FIELD_BY_NAME["keep_backups"].default),
            int(FIELD_BY_NAME["keep_dumps"].default),
        )
    tables = config.step_tables
    pinned = config.sources["max_workers"] != "default"
    return Defaults(
        [n for n in BUILTIN_ORDER if _on(tables.get(n), default=True)],
        [n for n in CHECK_STEPS if _on(tables.get(n), default=False)],
        config.max_workers if pinned else None,
        detected,
        config.workflow_timeout,
        config.keep_backups,
        config.keep_dumps,
    )


def _on(table: Any, *, default: bool) -> bool:
    return bool(table.get("enabled", default)) if isinstance(table, dict) else default


def _plan(
    defaults: Defaults,
    steps: list[str],
    schedule: str | None = None,
    checks: list[str] | None = None,
) -> InitPlan:
    settings: dict[str, Any] = {}
    notes = ["Written by `routine-workflow config init`; `routine-workflow config show` lists"]
    notes.append("every setting and where it comes from.")
    if defaults.workers is None:
        notes.append("max_workers is not set: min(8, CPU count) on each machine.")
    else:
        settings["max_workers"] = defaults.workers
    timeout = defaults.timeout
    settings["workflow_timeout"] = int(timeout) if float(timeout).is_integer() else timeout
    if "backup" in steps:
        settings["keep_backups"] = defaults.keep_backups
    if "dumps" in steps:
        settings["keep_dumps"] = defaults.keep_dumps
    if schedule:
        notes.append(f"Schedule: {PROG} schedule install --cron '{schedule}'")
    return InitPlan(
        settings,
        disabled=[n for n in BUILTIN_ORDER if n not in steps],
        checks=defaults.checks if checks is None else checks,
        notes=notes,
    )


def _ask(defaults: Defaults) -> tuple[InitPlan, str | None]:
    """The questions, each with the current answer as its default."""
    steps = _prompt("Steps to run", ", ".join(defaults.steps), _names(BUILTIN_ORDER, empty=False))
    checks = _prompt(
        f"Checks to run after reformat ({', '.join(CHECK_STEPS)}, or none)",
        ", ".join(defaults.checks) or "none",
        _names(CHECK_STEPS, empty=True),
    )
    workers = click.prompt(
        f"Worker processes (auto: {defaults.detected_workers} here, min(8, CPUs) anywhere)",
        default="auto" if defaults.workers is None else str(defaults.workers),
        value_proc=_workers,
        err=True,
    )
    defaults.workers = workers
    defaults.timeout = click.prompt(
        "Stop a run after how many seconds (0: no limit)",
        default=defaults.timeout,
        type=click.FloatRange(min=0),
        err=True,
    )
    if "backup" in steps:
        defaults.keep_backups = click.prompt(
            "Backups to keep", default=defaults.keep_backups, type=click.IntRange(min=1), err=True
        )
    if "dumps" in steps:
        defaults.keep_dumps = click.prompt(
            "Code dumps to keep", default=defaults.keep_dumps, type=click.IntRange(min=1), err=True
        )
    schedule = click.prompt(
        "When to run, in cron syntax (e.g. '30 2 * * *', @daily), or none",
        default="none",
        value_proc=_schedule,
        err=True,
    )
    return _plan(defaults, steps, schedule, checks), schedule


def _prompt(question: str, default: str, parse: Callable[[str], list[str]]) -> list[str]:
    answer: list[str] = click.prompt(question, default=default, value_proc=parse, err=True)
    return answer


def _names(allowed: tuple[str, ...], *, empty: bool) -> Callable[[str], list[str]]:
    def parse(text: str) -> list[str]:
        names = [n.strip() for n in text.replace(" ", ",").split(",") if n.strip()]
        if empty and names == ["none"]:
            return []
        unknown = [n for n in names if n not in allowed]
        if unknown or (not names and not empty):
            raise click.BadParameter(f"choose from {', '.join(allowed)}")
        return [n for n in allowed if n in names]

    return parse


def _workers(text: str) -> int | None:
    if text.strip().lower() == "auto":
        return None
    try:
        number = int(text)
    except ValueError:
        number = 0
    if number < 1:
        raise click.BadParameter("a whole number of at least 1, or auto")
    return number


def _schedule(text: str) -> str | None:
    if text.strip().lower() in ("", "none"):
        return None
    from routine_workflow.schedule.cronexpr import parse_cron

    try:
        parse_cron(text, "schedule")
    except ConfigError as exc:
        raise click.BadParameter(str(exc)) from None
    return " ".join(text.split())
