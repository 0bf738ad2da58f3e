"""Doctor check: the schedule installed for this project (crontab line, systemd timer).

Besides when it runs next, one thing goes wrong with schedules in practice: the
program a schedule starts goes away (a virtualenv removed or moved) and every
scheduled run fails unseen. That is the problem this check looks for.
"""

from __future__ import annotations

import os
import re
import shlex
from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.doctor.findings import Section
from routine_workflow.errors import RoutineError
from routine_workflow.schedule import install

PROG = "routine-workflow"
#: ``VAR=value`` before the command on a crontab line (the state directories pinned).
_ASSIGNMENT = re.compile(r"[A-Za-z_][A-Za-z0-9_]*=")


def schedule_section(
    config: WorkflowConfig, crontab_file: Path | None, unit_dir: Path | None
) -> Section:
    """What ``schedule show`` shows, and whether the scheduled program still exists."""
    section = Section("schedule", "schedule")
    crontab = install.crontab_for(crontab_file)
    units = unit_dir or install.default_unit_dir()
    try:
        info = install.show(config, crontab, units)
    except RoutineError as exc:  # an unreadable crontab or unit, an invalid installed line
        section.data = {"error": str(exc)}
        section.problem(str(exc), f"look at it with `{PROG} schedule show`, or reinstall it")
        return section
    section.data = info
    cron, unit = info.get("cron"), info.get("systemd")
    if cron:
        section.lines.append(f"cron ({cron['where']}): {cron['cron']}; next: {_next(cron)}")
        _check_program(section, "crontab line", _cron_program(cron["line"]), cron["cron"])
    elif crontab is None:
        section.lines.append("cron: no crontab command here")
    else:
        section.lines.append("cron: nothing scheduled")
    if unit:
        section.lines.append(f"systemd: {unit['timer']}; next: {_next(unit)}")
        service = Path(unit["timer"]).with_suffix(".service")
        _check_program(section, "systemd service", _service_program(service), unit.get("cron"))
    else:
        section.lines.append("systemd: no timer")
    return section


def _next(entry: dict[str, Any]) -> str:
    return "; ".join(entry.get("next") or []) or "unknown"


def _check_program(section: Section, what: str, program: str | None, cron: str | None) -> None:
    if program is None or not os.path.isabs(program):
        return
    if os.access(program, os.X_OK):
        return
    again = f' --cron "{cron}"' if cron else ""
    section.problem(
        f"the {what} runs {program}, which no longer exists or cannot be run "
        "(a virtualenv moved or removed?): every scheduled run fails",
        f"{PROG} schedule install{again} again from the environment to use",
    )


def _cron_program(line: str) -> str | None:
    """The program a crontab line of ours starts: after the time fields and ``VAR=value``s."""
    words = line.split(" #", 1)[0].replace("\\%", "%")
    fields = 1 if words.startswith("@") else 5
    try:
        argv = shlex.split(words)[fields:]
    except ValueError:
        return None
    return next((word for word in argv if not _ASSIGNMENT.match(word)), None)


def _service_program(service: Path) -> str | None:
    try:
        text = service.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError):
        return None
    for line in text.splitlines():
        if line.startswith("ExecStart="):
            try:
                argv = shlex.split(line[len("ExecStart=") :])
            except ValueError:
                return None
            return argv[0] if argv else None
    return None
