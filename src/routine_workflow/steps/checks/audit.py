"""The ``audit`` check: pip-audit of the project's dependencies.

What is audited: the ``requirements`` files when the table names some (paths from the
project root, each given to pip-audit as ``-r``); otherwise the packages installed in
the project's environment, the interpreter the ``tests`` step uses (its site-packages,
given as ``--path``). Editable installs (the project itself) are left out: they are
not on the index, so there is nothing to look up.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

from routine_workflow.checks import Reading, audit_report, tools
from routine_workflow.config import WorkflowConfig
from routine_workflow.procs.children import ScriptOutcome
from routine_workflow.steps.base import StepContext
from routine_workflow.steps.checks.base import CheckStep, after_reformat
from routine_workflow.steps.checks.options import Option
from routine_workflow.steps.command import Unavailable

NAME = "audit"
OPTIONS = {
    "offline": Option("choice", "warn", choices=audit_report.OFFLINE_CHOICES),
    "requirements": Option("list", ()),
    "python": Option("str", None),
    "args": Option("list", ()),
}


def default_depends_on(before: Collection[str]) -> tuple[str, ...]:
    """After reformat, like every check."""
    return after_reformat(before)


@dataclass
class AuditStep(CheckStep):
    """pip-audit, failing on known vulnerabilities; offline, what ``offline`` says."""

    writes_files = False  # it only reads: no restore point needed (workflow/gate.py)

    offline: str = "warn"
    requirements: tuple[str, ...] = ()
    python: str | None = None
    args: tuple[str, ...] = ()

    @property
    def action(self) -> str:
        """What the step does (``steps``, dry runs)."""
        what = ", ".join(self.requirements) if self.requirements else "the project's environment"
        return f"run pip-audit on {what} (offline: {self.offline})"

    def command(self, ctx: StepContext) -> list[str]:
        """pip-audit, as a module beside us or on PATH."""
        start = tools.tool_argv("pip_audit", "pip-audit", self.command_env(ctx).get("PATH"))
        if start is None:
            raise Unavailable(tools.needs(NAME, "pip-audit", "pip-audit"))
        sources: list[str] = []
        for rel in self.requirements:
            path = ctx.root / rel
            if not path.is_file():
                raise Unavailable(f"the {NAME} step's requirements file {rel} does not exist")
            sources.append(str(path))
        paths: list[str] = []
        if not sources:
            python = tools.project_python(ctx.root, self.python)
            paths = tools.site_dirs(python) if python.is_file() else []
            if not paths:
                raise Unavailable(f"the {NAME} step cannot find the packages of {python}")
        return [*start, *audit_report.arguments(sources, paths), *self.args]

    def read(self, outcome: ScriptOutcome, ctx: StepContext) -> Reading:
        """pip-audit's JSON report, or its connection error."""
        return audit_report.read(outcome.returncode or 0, outcome.output, self.offline)


def make(config: WorkflowConfig, common: dict[str, Any], values: dict[str, Any]) -> AuditStep:
    """The audit step of a table."""
    return AuditStep(**{**common, "argv": ("pip-audit",)}, **values)


__all__ = ["NAME", "OPTIONS", "AuditStep", "default_depends_on", "make"]
