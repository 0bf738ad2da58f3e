"""What pip-audit says, in one line: vulnerable packages, or that it could not ask.

pip-audit asks a vulnerability service on the network (PyPI's by default, or OSV).
Offline, it dies with a connection error; that is said in one line, "cannot reach
the vulnerability service", and counted as the step's ``offline`` setting says:
``warn`` (the default: an offline cron run must not go red every night, and the
next run with a network audits again) or ``fail``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from routine_workflow.checks import Reading

OFFLINE_CHOICES = ("warn", "fail")
_OFFLINE = re.compile(
    r"ConnectionError|NewConnectionError|ConnectTimeout|ReadTimeout|Max retries exceeded|"
    r"Failed to establish a new connection|Name or service not known|"
    r"Temporary failure in name resolution|Network is unreachable|Could not connect|"
    r"nodename nor servname"
)
_HOST = re.compile(r"host='([^']+)'")


def arguments(sources: list[str], paths: list[str]) -> list[str]:
    """pip-audit's arguments: JSON out, no spinner, editable (the user's own) packages left
    out; ``-r`` for each requirements file, or ``--path`` for each site-packages."""
    argv = ["--format", "json", "--progress-spinner", "off", "--skip-editable"]
    for source in sources:
        argv += ["--requirement", source]
    for path in paths:
        argv += ["--path", path]
    return argv


def _report(output: str) -> dict[str, Any] | None:
    for line in output.splitlines():
        if line.startswith('{"dependencies"'):
            try:
                data = json.loads(line)
            except ValueError:
                return None
            return data if isinstance(data, dict) else None
    return None


def read(returncode: int, output: str, offline: str = "warn") -> Reading:
    """The verdict on one pip-audit run."""
    report = _report(output)
    if report is None:
        if _OFFLINE.search(output):
            host = _HOST.search(output)
            where = f" ({host[1]})" if host else ""
            line = f"cannot reach the vulnerability service{where}: nothing was audited"
            if offline == "fail":
                return Reading(line)
            return Reading(None, line, warning=True)
        tail = " | ".join(output.strip().splitlines()[-3:])
        return Reading(f"pip-audit failed (exit {returncode})" + (f": {tail}" if tail else ""))
    return _judge(report)


def _judge(report: dict[str, Any]) -> Reading:
    deps = [d for d in report.get("dependencies", []) if isinstance(d, dict)]
    skipped = [d for d in deps if d.get("skip_reason")]
    vulnerable = [d for d in deps if d.get("vulns")]
    details = []
    for dep in vulnerable:
        for vuln in dep["vulns"]:
            fixes = ", ".join(vuln.get("fix_versions") or []) or "no fixed version"
            details.append(
                f"{dep['name']} {dep.get('version', '?')}: {vuln.get('id', '?')} (fixed in {fixes})"
            )
    details += [f"not audited: {d.get('name', '?')}: {d['skip_reason']}" for d in skipped]
    count = sum(len(d["vulns"]) for d in vulnerable)
    counts = {
        "packages": len(deps) - len(skipped),
        "vulnerable": len(vulnerable),
        "vulnerabilities": count,
        "not_audited": len(skipped),
    }
    audited = len(deps) - len(skipped)
    unaudited = f" ({len(skipped)} not audited)" if skipped else ""
    if vulnerable:
        names = ", ".join(f"{d['name']} {d.get('version', '')}".strip() for d in vulnerable[:5])
        more = ", ..." if len(vulnerable) > 5 else ""
        return Reading(
            f"{count} known vulnerabilit{'y' if count == 1 else 'ies'} in "
            f"{len(vulnerable)} package(s): {names}{more}{unaudited}",
            details=details,
            counts=counts,
        )
    return Reading(
        None,
        f"no known vulnerabilities in {audited} package(s){unaudited}",
        details,
        counts,
        warning=bool(skipped) and not audited,
    )
