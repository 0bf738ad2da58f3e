"""The ``tests`` check: pytest in the project's environment, with a coverage gate.

Which interpreter: ``checks.tools.project_python`` (the ``python`` option, else the
project's ``.venv``/``venv``, else the one running routine-workflow).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow.checks import Reading, pytest_report, tools
from routine_workflow.config import WorkflowConfig
from routine_workflow.procs.children import ScriptOutcome, child_env
from routine_workflow.steps.base import StepContext
from routine_workflow.steps.checks.base import CheckStep, after_reformat
from routine_workflow.steps.checks.options import Option
from routine_workflow.steps.command import Unavailable

NAME = "tests"
OPTIONS = {
    "coverage_threshold": Option("number", None, minimum=0, maximum=100),
    "args": Option("list", ()),
    "python": Option("str", None),
}
default_depends_on = after_reformat


@dataclass
class TestsStep(CheckStep):
    """pytest, its pass/fail counts and (with ``coverage_threshold``) the coverage figure."""

    __test__ = False  # not a test class, whatever pytest thinks of the name

    coverage_threshold: float | None = None
    args: tuple[str, ...] = ()
    python: str | None = None

    @property
    def action(self) -> str:
        """What the step does (``steps``, dry runs)."""
        gate = (
            f", coverage at least {self.coverage_threshold:g}%"
            if self.coverage_threshold is not None
            else ""
        )
        return f"run pytest in the project's environment{gate}"

    def interpreter(self, ctx: StepContext) -> Path:
        """The interpreter that runs the tests."""
        return tools.project_python(ctx.root, self.python)

    def command(self, ctx: StepContext) -> list[str]:
        """``python -m pytest`` with the step's ``args`` and the coverage gate."""
        python = self.interpreter(ctx)
        if not python.is_file():
            raise Unavailable(f"the {NAME} step's python {python} does not exist")
        if not tools.has_module(python, "pytest"):
            raise Unavailable(tools.needs(NAME, "pytest", "pytest", python))
        argv = [str(python), "-m", "pytest", *self.args]
        if self.coverage_threshold is not None:
            if not tools.has_module(python, "pytest_cov"):
                raise Unavailable(
                    tools.needs(NAME, "pytest-cov for coverage_threshold", "pytest-cov", python)
                )
            if not any(a == "--cov" or a.startswith("--cov=") for a in self.args):
                argv.append("--cov")  # the project's [tool.coverage.run] source, if any
            argv.append(f"--cov-fail-under={self.coverage_threshold:g}")
        return argv

    def command_env(self, ctx: StepContext) -> dict[str, str]:
        """As a command step's, with a virtualenv's ``bin/`` first on PATH (its tools)."""
        env = child_env(self.env)
        python = self.interpreter(ctx)
        if not tools.is_ours(python) and "PATH" not in self.env:
            env["PATH"] = str(python.parent) + os.pathsep + env.get("PATH", "")
        return env

    def read(self, outcome: ScriptOutcome, ctx: StepContext) -> Reading:
        """pytest's exit code and closing lines."""
        return pytest_report.read(outcome.returncode or 0, outcome.output, self.coverage_threshold)


def make(config: WorkflowConfig, common: dict[str, Any], values: dict[str, Any]) -> TestsStep:
    """The tests step of a table: the command step's keys in ``common``, its own in ``values``."""
    return TestsStep(**{**common, "argv": ("pytest",)}, **values)


__all__ = ["NAME", "OPTIONS", "TestsStep", "default_depends_on", "make"]
