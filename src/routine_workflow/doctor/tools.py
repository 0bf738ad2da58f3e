"""Doctor check: the tools that decide the output bytes, and the ones the steps call.

Versions come from package metadata (``importlib.metadata``): nothing is imported,
so a broken install is reported rather than crashing the report.
"""

from __future__ import annotations

import shutil
import sys
from importlib import metadata
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.doctor.findings import Section

#: The black engine's pipeline (pyflakes: autoflake's checker, its version matters too).
BLACK_ENGINE = ("black", "isort", "autoflake", "pyflakes")


def package_version(name: str) -> str | None:
    """The installed version of distribution ``name``, or None."""
    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


def tools_section(config: WorkflowConfig | None) -> Section:
    """Python, routine-workflow, the formatters and create-dump: found where, which version.

    ``config`` None (the configuration did not load): versions only, no judgement on
    which engine is needed.
    """
    versions: dict[str, Any] = {
        "python": ".".join(str(part) for part in sys.version_info[:3]),
        "routine-workflow": package_version("routine-workflow"),
    }
    versions.update({name: package_version(name) for name in BLACK_ENGINE})
    versions["ruff"] = _ruff_version()
    versions["create-dump"] = shutil.which("create-dump")
    section = Section("tools", "tools", versions)
    found = [
        f"{name} {version}"
        for name, version in versions.items()
        if version and name != "create-dump"
    ]
    section.lines.append(", ".join(found))
    missing = [name for name, version in versions.items() if not version]
    if missing:
        section.lines.append("not found: " + ", ".join(missing))
    if versions["create-dump"]:
        section.lines.append(f"create-dump: {versions['create-dump']}")
    if config is None:
        return section
    engine = config.reformat_engine
    needed = BLACK_ENGINE if engine == "black" else ("ruff",)
    for name in needed:
        if not versions[name]:
            section.problem(
                f'{name} is not installed, and reformat_engine = "{engine}" needs it',
                f"pip install {name} (in the environment routine-workflow runs from)",
            )
    if config.dump_engine == "create-dump" and not (
        versions["create-dump"] or config.create_dump_script or config.create_dump_run_cmd
    ):
        section.problem(
            'create-dump is not on PATH, and dump_engine = "create-dump" needs it',
            'pip install create-dump, set create_dump_script, or set dump_engine = "builtin"',
        )
    return section


def _ruff_version() -> str | None:
    # ruff is a program: the version of the one the ruff engine would run (beside this
    # interpreter, else on PATH), which need not be this environment's package.
    from routine_workflow.errors import ConfigError
    from routine_workflow.reformat.ruff import Ruff

    try:
        return Ruff.find().version
    except ConfigError:
        return None
