"""How a run report is printed: the step table, the files, the verdict.

- ``report_lines(report, verbose)``: one run (a ``RunReport.as_dict()``).
- ``project_lines(root, exit_code, report, verbose)``: one project of several.
- ``file_lines(step, dry_run, verbose)``: the files one step changed or would change.

A dry run lists the files each step would write, rewrite or delete, the first
``MAX_LISTED`` of each (all with ``-v``); a real run lists what it changed with ``-v``
only, its table being enough for cron mail. ``--json`` carries every file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routine_workflow import output
from routine_workflow.cli.common import PROG

#: How many files per step and action a console listing shows without -v.
MAX_LISTED = 10
#: action -> (what a dry run says, what a real run says)
VERBS = {
    "write": ("would write", "wrote"),
    "rewrite": ("would rewrite", "rewrote"),
    "delete": ("would delete", "deleted"),
}


def report_lines(report: Mapping[str, Any], verbose: bool = False) -> list[str]:
    """One row per step, the files, then ``routine-workflow: STATUS: tally in Ns (exit N)``."""
    return [*step_lines(report, verbose), f"{PROG}: {verdict(report)}"]


def project_lines(
    root: str, exit_code: int, report: Mapping[str, Any] | None, verbose: bool = False
) -> list[str]:
    """One project of several: its verdict, then its steps and files, indented."""
    if report is None:  # it stopped before running (a configuration error, a held lock)
        return [f"{root}: {output.status_word('error')} (exit {exit_code})"]
    return [f"{root}: {verdict(report)}", *("  " + line for line in step_lines(report, verbose))]


def step_lines(report: Mapping[str, Any], verbose: bool) -> list[str]:
    """The step table, then each step's files."""
    steps = report.get("steps", [])
    rows = [[s["name"], s["status"], f"{s['duration']:.1f}s", s.get("summary", "")] for s in steps]
    lines = output.table(rows, ["step", "status", "time", "summary"], status_column=1)
    dry_run = bool(report.get("dry_run"))
    for step in steps:
        lines += file_lines(step, dry_run, verbose)
    return lines


def verdict(report: Mapping[str, Any]) -> str:
    """``STATUS (dry run): 2 ok, 1 skipped in 0.3s (exit 0) - reason``."""
    counts: dict[str, int] = {}
    for step in report.get("steps", []):
        counts[step["status"]] = counts.get(step["status"], 0) + 1
    tally = ", ".join(f"{n} {output.status_word(status)}" for status, n in counts.items())
    dry = " (dry run)" if report.get("dry_run") else ""
    reason = report.get("reason") or ""
    return (
        f"{output.status_word(report.get('status', 'error'))}{dry}: {tally or 'no steps'} "
        f"in {report.get('duration', 0.0):.1f}s (exit {report.get('exit_code')})"
        + (f" - {output.printable(reason)}" if reason else "")
    )


def file_lines(step: Mapping[str, Any], dry_run: bool, verbose: bool) -> list[str]:
    """``reformat would rewrite 13 files:`` and the paths, indented (nothing if none).

    A real run lists its files with ``verbose`` only; a dry run always, the first
    ``MAX_LISTED`` unless ``verbose``.
    """
    if not dry_run and not verbose:
        return []
    lines: list[str] = []
    for action, paths in (step.get("files") or {}).items():
        if not paths:
            continue
        would, did = VERBS.get(action, (f"would {action}", action))
        noun = "path" if any(p.endswith("/") for p in paths) else "file"
        lines.append(
            f"{step['name']} {would if dry_run else did} {output.plural(len(paths), noun)}:"
        )
        shown = paths if verbose else paths[:MAX_LISTED]
        lines += ["  " + output.printable(path) for path in shown]
        if len(paths) > len(shown):
            lines.append(f"  ... and {len(paths) - len(shown)} more (-v lists them all)")
    return lines
