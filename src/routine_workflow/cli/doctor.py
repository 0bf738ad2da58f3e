"""``doctor``: one screen on why the tool does what it does in this project.

The checks live in ``routine_workflow.doctor``; this module gathers what only the
command line reaches (the configuration as the root's flags make it, the run
history), prints the sections and the problems, and sets the exit code: 1 when a
problem was found, else 0.
"""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.config import WorkflowConfig
from routine_workflow.doctor.findings import Finding, Section
from routine_workflow.doctor.runs import backup_section, runs_section
from routine_workflow.doctor.schedule import schedule_section
from routine_workflow.doctor.state import config_section, dirs_section, lock_section
from routine_workflow.doctor.tools import tools_section
from routine_workflow.errors import EXIT_FAILED, ConfigError, RoutineError

#: How many of the last runs the report shows.
RUNS_SHOWN = 5


@click.command("doctor")
@project_root_option
@click.option(
    "--crontab-file",
    type=click.Path(path_type=Path),
    default=None,
    metavar="PATH",
    help="Look for the schedule in this file instead of `crontab -l`.",
)
@click.option(
    "--unit-dir",
    type=click.Path(path_type=Path),
    default=None,
    metavar="DIR",
    help="Where systemd units are (default: $XDG_CONFIG_HOME/systemd/user).",
)
@json_option
@click.pass_context
def doctor_cmd(
    ctx: click.Context,
    project_root: Path | None,
    crontab_file: Path | None,
    unit_dir: Path | None,
    as_json: bool,
) -> int:
    """Explain this project's setup: configuration and where each value came from, state
    directories and sizes, tools and versions, locks, schedule, last runs, newest backup.

    Each problem found is one line with what to do about it; exit 1 if there is any.

    \b
    Examples:
      routine-workflow doctor
      routine-workflow doctor --json | jq .problems
    """
    try:
        config = workflow_config(ctx, project_root=project_root)
    except ConfigError as exc:
        sections = _broken_config(exc)
        root: str | None = None
    else:
        sections = _sections(config, crontab_file, unit_dir)
        root = str(config.project_root)
    problems = [finding for section in sections for finding in section.findings]
    if as_json:
        output.write_json(
            {
                "project_root": root,
                "ok": not problems,
                "problems": [p.as_json() for p in problems],
                **{s.name: s.data for s in sections},
            }
        )
    else:
        for line in _text(root, sections, problems):
            output.write_line(line)
    return EXIT_FAILED if problems else 0


def _broken_config(exc: ConfigError) -> list[Section]:
    """Nothing else can be judged without a configuration: say why, and the tools found."""
    section = Section("config", "configuration", {"error": str(exc)})
    section.problem(str(exc), f"correct it (`{PROG} config check` shows the same line)")
    return [section, tools_section(None)]


def _sections(
    config: WorkflowConfig, crontab_file: Path | None, unit_dir: Path | None
) -> list[Section]:
    settings = config_section(config)
    _check_steps(config, settings)
    return [
        settings,
        dirs_section(config),
        tools_section(config),
        lock_section(config),
        schedule_section(config, crontab_file, unit_dir),
        _runs(config),
        backup_section(config),
    ]


def _check_steps(config: WorkflowConfig, section: Section) -> None:
    """The step tables, checked as ``config check`` checks them."""
    from routine_workflow.workflow.session import planned_steps

    try:
        planned_steps(config)
    except ConfigError as exc:
        section.problem(str(exc), f"correct it (`{PROG} config check` shows the same line)")


def _runs(config: WorkflowConfig) -> Section:
    from routine_workflow.workflow.runs import recent_runs

    try:
        runs = recent_runs(config, RUNS_SHOWN)
    except RoutineError as exc:
        section = Section("runs", "last runs", {"error": str(exc)})
        section.problem(str(exc), "move the damaged database aside; a new one is started")
        return section
    return runs_section(runs, str(config.log_file))


def _text(root: str | None, sections: list[Section], problems: list[Finding]) -> list[str]:
    lines = [f"{PROG} doctor: {root or '(configuration not loaded)'}"]
    for section in sections:
        lines.append(f"{section.title}:")
        lines += [f"  {line}" for line in section.lines]
    if problems:
        lines.append(f"problems ({len(problems)}):")
        lines += [f"  {problem.line()}" for problem in problems]
        lines.append(f"{PROG} doctor: {_count(len(problems))} found (exit 1)")
    else:
        lines.append(f"{PROG} doctor: no problems found")
    return lines


def _count(n: int) -> str:
    return f"{n} problem" + ("" if n == 1 else "s")
