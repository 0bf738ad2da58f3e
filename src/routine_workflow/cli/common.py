"""What every command module shares: the program name, common options, config, prompts.

- ``PROG``: the name in every message (defined in ``cli/entry.py``, which needs it first).
- ``RunRequest``: how the root command was asked to run (passed on to ``cli/run.py``).
- ``json_option``, ``project_root_option``: the options most subcommands take.
- ``workflow_config(ctx, **overrides)``: the root's flags, then the subcommand's own.
- ``confirmer()``: a yes/no prompt when stdin is a terminal, else None.
- ``summary_lines(report, verbose)``: a run's step table, files and one-line verdict.
"""

from __future__ import annotations

import sys
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import click

from routine_workflow import logs
from routine_workflow.cli.entry import PROG as PROG  # re-exported: every command says it
from routine_workflow.cli.options import field_option
from routine_workflow.config import WorkflowConfig, load_config

if TYPE_CHECKING:
    from routine_workflow.workflow.runner import RunReport


@dataclass(frozen=True)
class RunRequest:
    """The root command's own choices for a run (the settings travel in the config)."""

    only: tuple[str, ...]  # --steps, as given
    skip: tuple[str, ...]  # --skip, as given
    resume: bool
    wait: float
    as_json: bool
    quiet: bool
    verbose: bool


json_option = click.option("--json", "as_json", is_flag=True, help="Print JSON for scripts.")
# A subcommand works on one project, so its --project-root is not repeatable.
project_root_option = field_option(
    "project_root", multiple=False, help="Project to work on (default: the current directory)."
)


def workflow_config(ctx: click.Context, **overrides: Any) -> WorkflowConfig:
    """Group flags, then the subcommand's own, then load and validate; say what was ignored.

    A misspelt table or variable is a warning, not an error: a setting in the wrong
    place must not stop a scheduled run, but it must not pass unseen either.
    """
    flags = dict(ctx.find_root().meta.get("flags", {}))
    flags.update({k: v for k, v in overrides.items() if v is not None})
    config = load_config(flags)
    logger = logs.get_logger()
    for warning in config.warnings:
        logger.warning("%s", warning, extra={"event": "config_warning"})
    return config


def prompt(question: str) -> bool:
    """Ask on stderr; the answer defaults to no."""
    return click.confirm(question, default=False, err=True)


def confirmer() -> Callable[[str], bool] | None:
    """``prompt`` when someone can answer it (stdin is a terminal), else None."""
    return prompt if sys.stdin is not None and sys.stdin.isatty() else None


def summary_lines(report: RunReport, verbose: bool = False) -> list[str]:
    """One row per step, the files (``cli/report.py``), then the one-line verdict."""
    from routine_workflow.cli.report import report_lines

    return report_lines(report.as_dict(), verbose)
