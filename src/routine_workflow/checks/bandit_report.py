"""bandit over the project's own files, one line per finding.

bandit is given the files discovery chose (the project's ``.py`` files, with our
excludes and ``.gitignore`` applied) rather than a directory, so it checks exactly
what the other steps treat as the project. Its custom format prints one finding a
line, which is both what the log shows and what is read back here.
"""

from __future__ import annotations

import re

from routine_workflow.checks import Reading
from routine_workflow.output import plural

SEVERITIES = ("low", "medium", "high")
TEMPLATE = "{relpath}:{line} {test_id} [{severity}] {msg}"
_FINDING = re.compile(
    r"^(?P<where>.+?:\d+) (?P<id>B\d+) \[(?P<severity>LOW|MEDIUM|HIGH)\] (?P<msg>.*)$"
)


def arguments(files: list[str], severity: str, config: str | None) -> list[str]:
    """bandit's arguments after its own name: format, threshold, config, files."""
    argv = ["--format", "custom", "--msg-template", TEMPLATE, "--severity-level", severity, "-q"]
    if config:
        argv += ["--configfile", config]
    return [*argv, "--", *files]


def read(returncode: int, output: str, severity: str, files: int) -> Reading:
    """The verdict: findings at or above ``severity`` fail the step."""
    findings = [m for m in map(_FINDING.match, output.splitlines()) if m]
    by_level = dict.fromkeys(reversed(SEVERITIES), 0)
    for match in findings:
        by_level[match["severity"].lower()] += 1
    counts = {"files": files, "findings": len(findings)} | {
        level: n for level, n in by_level.items() if n
    }
    details = [f"{m['where']} {m['id']} [{m['severity'].lower()}] {m['msg']}" for m in findings]
    if findings:
        spread = ", ".join(f"{n} {level}" for level, n in by_level.items() if n)
        return Reading(
            f"{plural(len(findings), 'finding')} at or above {severity} ({spread}) "
            f"in {plural(files, 'file')}",
            details=details,
            counts=counts,
        )
    if returncode not in (0, 1):
        tail = " | ".join(output.strip().splitlines()[-3:])
        return Reading(
            f"bandit failed (exit {returncode})" + (f": {tail}" if tail else ""), counts=counts
        )
    if returncode == 1:  # findings it did not print in our format: say so, do not pass
        tail = " | ".join(output.strip().splitlines()[-3:])
        return Reading("bandit reported a problem" + (f": {tail}" if tail else ""), counts=counts)
    return Reading(
        None, f"no findings at or above {severity} in {plural(files, 'file')}", counts=counts
    )
