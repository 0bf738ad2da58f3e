"""The workflow run itself (the root command without a subcommand), and how it is printed.

- ``run_project``: one project: plan (``--steps``/``--skip``/``--resume``), confirm, run,
  print the step table or the JSON report.
- ``run_fleet``: several projects (``--project-root`` repeated, ``--projects-file``): one
  child run each, then one row per project.

Imported only when a run starts: it pulls in the whole engine, which ``--version``,
``--help`` and the subcommands do without. The fleet (``workflow/fleet.py``, with
concurrent.futures), the prompt's text (``workflow/effects.py``) and the report's
formatting (``cli/report.py``) load only on the paths that use them.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

import click

from routine_workflow import logs, output
from routine_workflow.cli import github
from routine_workflow.cli.common import (
    PROG,
    RunRequest,
    confirmer,
    summary_lines,
    workflow_config,
)
from routine_workflow.cli.options import split_names, unique_roots
from routine_workflow.config import load_config
from routine_workflow.errors import EXIT_DECLINED, ConfigError, RoutineError
from routine_workflow.output import plural
from routine_workflow.workflow.session import (
    check_confirmation,
    planned_steps,
    resume_plan,
    run_workflow,
)

if TYPE_CHECKING:  # the fleet (threads, child processes) is imported only by a fleet run
    from routine_workflow.workflow.fleet import ProjectOutcome


def run_project(ctx: click.Context, request: RunRequest) -> int:
    """Run the workflow on one project and print its outcome; return the run's exit code."""
    config = workflow_config(ctx)
    quiet = request.quiet
    verbosity = -1 if quiet else (1 if request.verbose else 0)
    logs.setup_console(verbosity, config.log_format, config.log_level)
    selected = split_names(request.only)
    if request.resume:
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
    steps = planned_steps(config, selected, split_names(request.skip))
    if not check_confirmation(config, steps, confirmer()):
        output.error_line(f"{PROG}: declined: nothing done")
        return EXIT_DECLINED
    show_progress = not (quiet or request.as_json) and config.log_format == "text"
    report = run_workflow(config, steps, request.wait, show_progress)
    if request.as_json:
        output.write_json(report.as_dict())
    elif not quiet or report.exit_code:
        for line in summary_lines(report, request.verbose):
            output.write_line(line)
    github.after_run(
        config.project_root, report.as_dict(), request.as_json, ctx.meta.get("output_format")
    )
    return report.exit_code


def run_fleet(
    ctx: click.Context,
    request: RunRequest,
    roots: list[Path],
    projects_file: Path | None,
    jobs: int,
) -> int:
    """Run every project as a child process, ``jobs`` at a time; return the worst exit code."""
    from routine_workflow.workflow.fleet import (
        child_args,
        fleet_exit_code,
        read_projects_file,
        run_many,
    )

    # Shown and run by their real paths: "proj/." or "a/../proj" are only ways to say them.
    roots = [
        root.resolve()
        for root in unique_roots(
            roots + (read_projects_file(projects_file) if projects_file else [])
        )
    ]
    extra = [
        *(["--steps", ",".join(request.only)] if request.only else []),
        *(["--skip", ",".join(request.skip)] if request.skip else []),
        *(["--resume"] if request.resume else []),
        "--wait",
        str(request.wait),
        *(["--quiet"] if request.quiet else []),
        *(["--verbose"] if request.verbose else []),
    ]
    flags = dict(ctx.meta["flags"])
    if not flags.get("dry_run") and not flags.get("auto_yes"):
        if not _confirm_fleet(flags, roots, request):
            output.error_line(f"{PROG}: declined: nothing done")
            return EXIT_DECLINED
        flags["auto_yes"] = True
    args = child_args(flags, extra)

    def done(outcome: ProjectOutcome) -> None:
        for line in outcome.errors:
            output.error_line(f"{outcome.root}: {line}")

    outcomes = run_many(roots, args, jobs, on_done=done)
    if request.as_json:
        output.write_json(
            [
                {"project_root": o.root, "exit_code": o.exit_code, "report": o.report}
                for o in outcomes
            ]
        )
    else:
        for line in _fleet_lines(outcomes, request.verbose):
            output.write_line(line)
    return fleet_exit_code(outcomes)


def _confirm_fleet(flags: dict[str, Any], roots: list[Path], request: RunRequest) -> bool:
    ask = confirmer()
    if ask is None:
        raise ConfigError(
            f"refusing to run on {plural(len(roots), 'project')} without "
            "confirmation: stdin is not a terminal; pass --yes"
        )
    lines = [f"  {root}: {_project_plan(flags, root, request)}" for root in roots]
    return ask("\n".join([f"Run on {plural(len(roots), 'project')}:", *lines, "Go ahead?"]))


def _project_plan(flags: dict[str, Any], root: Path, request: RunRequest) -> str:
    """What the run will do in one project of several (each has its own configuration)."""
    from routine_workflow.workflow.effects import short_summary

    if request.resume:
        return "the steps its last failed run still owes (--resume)"
    try:
        config = load_config({**flags, "project_root": root})
        steps = planned_steps(config, split_names(request.only), split_names(request.skip))
    except RoutineError as exc:
        return f"will not run: {exc}"
    return short_summary(config, steps) if steps else "no steps"


def _fleet_lines(outcomes: list[ProjectOutcome], verbose: bool) -> list[str]:
    """One row per project, then each project's steps and files, then the tally."""
    from routine_workflow.cli.report import project_lines

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
    lines = output.table(rows, ["project", "exit", "status", "failed steps"], status_column=2)
    for o in outcomes:
        lines += ["", *project_lines(o.root, o.exit_code, o.report, verbose)]
    ok = sum(o.exit_code == 0 for o in outcomes)
    total = plural(len(outcomes), "project")
    lines.append(f"{PROG}: {total}: {ok} ok, {len(outcomes) - ok} not ok")
    return lines
