"""The ``security`` check: bandit over the project's own Python files.

The files are the ones discovery chooses for every step (our excludes, ``.gitignore``,
no virtualenvs or build output), passed to bandit by name. A ``[tool.bandit]`` table
in pyproject.toml is bandit's own configuration and is passed on (``--configfile``).
"""

from __future__ import annotations

import importlib.util
import sys
import tempfile
from collections.abc import Collection
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.checks import Reading, bandit_report, tools
from routine_workflow.config import WorkflowConfig
from routine_workflow.procs.children import ScriptOutcome
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.checks.base import CheckStep, after_reformat
from routine_workflow.steps.checks.options import Option
from routine_workflow.steps.command import Unavailable

NAME = "security"
#: ``python -c _LAUNCH LIST ARGS...``: bandit with ARGS, then the file names in LIST.
_LAUNCH = (
    "import sys; from bandit.cli.main import main; names = open(sys.argv[1]).read(); "
    'sys.argv = ["bandit", *sys.argv[2:], *names.split(chr(0))]; main()'
)
OPTIONS = {
    "severity": Option("choice", "medium", choices=bandit_report.SEVERITIES),
    "args": Option("list", ()),
}


def default_depends_on(before: Collection[str]) -> tuple[str, ...]:
    """After reformat, like every check."""
    return after_reformat(before)


@dataclass
class SecurityStep(CheckStep):
    """bandit, failing on findings at or above ``severity``."""

    writes_files = False  # it only reads: no restore point needed (workflow/gate.py)

    severity: str = "medium"
    args: tuple[str, ...] = ()
    _files: list[str] = field(default_factory=list, repr=False)
    _list: Path = field(default=Path(), repr=False)

    @property
    def action(self) -> str:
        """What the step does (``steps``, dry runs)."""
        return (
            f"run bandit on the project's Python files (fails on {self.severity} severity or above)"
        )

    def run(self, ctx: StepContext) -> StepResult:
        """Nothing to run on a project without Python files."""
        from routine_workflow.discovery import Discovery

        if ctx.dry_run or self.skip_reason(ctx):
            return super().run(ctx)
        self._files = [e.rel for e in Discovery(ctx.config).files((".py",))]
        if not self._files:
            return StepResult(Status.OK, "no Python files to check")
        with tempfile.TemporaryDirectory(prefix="routine-workflow-bandit-") as tmp:
            self._list = Path(tmp) / "files"
            return super().run(ctx)

    def command(self, ctx: StepContext) -> list[str]:
        """bandit, as a module beside us or on PATH, on the project's files."""
        config = "pyproject.toml" if _has_bandit_table(ctx) else None
        arguments = [*self.args, *bandit_report.arguments(self._files, self.severity, config)]
        if importlib.util.find_spec("bandit") is not None:
            # Thousands of file names would make the logged command line as long; bandit
            # reads no list file, so a two-line launcher appends the names from one.
            self._list.write_text("\0".join(arguments[-len(self._files) :]), encoding="utf-8")
            return [sys.executable, "-c", _LAUNCH, str(self._list), *arguments[: -len(self._files)]]
        start = tools.tool_argv("bandit", "bandit", self.command_env(ctx).get("PATH"))
        if start is None:
            raise Unavailable(tools.needs(NAME, "bandit", "bandit"))
        return [*start, *arguments]

    def read(self, outcome: ScriptOutcome, ctx: StepContext) -> Reading:
        """bandit's findings, one a line."""
        return bandit_report.read(
            outcome.returncode or 0, outcome.output, self.severity, len(self._files)
        )


def _has_bandit_table(ctx: StepContext) -> bool:
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover (3.10 only)
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]
    path = ctx.root / "pyproject.toml"
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return False
    tool = data.get("tool")
    return isinstance(tool, dict) and isinstance(tool.get("bandit"), dict)


def make(config: WorkflowConfig, common: dict[str, Any], values: dict[str, Any]) -> SecurityStep:
    """The security step of a table."""
    return SecurityStep(**{**common, "argv": ("bandit",)}, **values)


__all__ = ["NAME", "OPTIONS", "SecurityStep", "default_depends_on", "make"]
