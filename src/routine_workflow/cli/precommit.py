"""``pre-commit install``: add our hook to the project's .pre-commit-config.yaml."""

from __future__ import annotations

from pathlib import Path

import click

from routine_workflow import output
from routine_workflow.cli.common import PROG, json_option, project_root_option, workflow_config
from routine_workflow.precommit import install


@click.group("pre-commit")
def precommit_group() -> None:
    """Add routine-workflow's hook to the project's .pre-commit-config.yaml."""


@precommit_group.command("install")
@project_root_option
@click.option(
    "--check",
    "check_only",
    is_flag=True,
    help="Add the hook that only checks formatting (routine-workflow-reformat-check).",
)
@json_option
@click.pass_context
def install_cmd(
    ctx: click.Context, project_root: Path | None, check_only: bool, as_json: bool
) -> int:
    """Add the routine-workflow-reformat hook (a local hook: it runs the routine-workflow
    installed here), creating the file if needed and keeping the rest of it byte for
    byte. Running it again changes nothing. Then `pre-commit install` activates it."""
    root = workflow_config(ctx, project_root=project_root).project_root
    hook = "routine-workflow-reformat-check" if check_only else "routine-workflow-reformat"
    done = install(root, hook)
    if as_json:
        output.write_json({"path": str(done.path), "hook": done.hook_id, "status": done.status})
    elif done.status == "present":
        output.write_line(f"{PROG}: {done.path} already has the {hook} hook; nothing changed")
    else:
        verb = "created" if done.status == "created" else "updated"
        output.write_line(
            f"{PROG}: {verb} {done.path} with the {hook} hook; "
            "`pre-commit install` makes git run it on every commit"
        )
    return 0
