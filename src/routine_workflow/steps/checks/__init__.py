"""The built-in checks: ``tests``, ``security``, ``audit`` and ``git_snapshot``.

Off by default; a project switches one on with ``enabled = true`` in its
``[tool.routine-workflow.steps.<name>]`` table, or a run selects it with ``--steps``.
Each is a preset of the command step (``steps/command.py``): the same table keys
(``depends_on``, ``timeout``, ``retries``, ``retry_delay``, ``allow_failure``,
``when``, ``env``, ``cwd``) mean the same, and the preset adds its own options, builds
the command and reads its output. A table with a ``run`` command is an ordinary
command step, whatever its name (projects had ``[...steps.tests] run = "pytest"``
before these presets existed).
"""

from __future__ import annotations

import importlib
from collections.abc import Collection, Mapping
from typing import TYPE_CHECKING, Any

# Every run reads ``CHECKS``; the options reader and the command step load only when a
# project has a check (most have none).
if TYPE_CHECKING:
    from routine_workflow.config import WorkflowConfig
    from routine_workflow.steps.checks.options import Option
    from routine_workflow.steps.command import CommandStep

#: name -> module (in this package) defining ``OPTIONS`` and ``make``.
CHECKS = {
    "tests": "tests",
    "security": "security",
    "audit": "audit",
    "git_snapshot": "git_snapshot",
}
#: Keys of a command step's table a check does not take (it builds its own command).
NOT_FOR_CHECKS = frozenset({"run", "shell"})


def check_options(name: str) -> dict[str, Option]:
    """The options a check's table may set beyond the command step's keys."""
    module = importlib.import_module(f"{__name__}.{CHECKS[name]}")
    options: dict[str, Option] = module.OPTIONS
    return options


def make_check(
    config: WorkflowConfig,
    base: CommandStep,
    table: Mapping[str, Any],
    before: Collection[str],
) -> CommandStep:
    """The check ``base.name``, from the command step ``base`` built of its table's common
    keys, and its own options read from ``table``. ``before``: the names of the steps
    planned so far, for the default ``depends_on``."""
    import dataclasses

    from routine_workflow.steps.checks.options import read_options
    from routine_workflow.steps.command import CommandStep

    module = importlib.import_module(f"{__name__}.{CHECKS[base.name]}")
    values = read_options(base.name, module.OPTIONS, table)
    common = {f.name: getattr(base, f.name) for f in dataclasses.fields(CommandStep)}
    if "depends_on" not in table:
        common["depends_on"] = module.default_depends_on(before)
    step: CommandStep = module.make(config, common, values)
    if "needs_restore_point" not in table and not getattr(step, "writes_files", True):
        step = dataclasses.replace(step, needs_restore_point=False)  # a scan only reads
    return step


__all__ = ["CHECKS", "NOT_FOR_CHECKS", "check_options", "make_check"]
