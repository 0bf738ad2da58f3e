"""How a run report is printed: the step table, the files, the verdict.

- ``report_lines(report, verbose)``: one run (a ``RunReport.as_dict()``).
- ``project_lines(root, exit_code, report, verbose)``: one project of several.
- ``file_lines(step, dry_run, verbose)``: the files one step changed or would change.
- ``profile_lines(profile)``: the ``profile:`` block of ``--profile``.

A dry run lists the files each step would write, rewrite or delete, the first
``MAX_LISTED`` of each (all with ``-v``); a real run lists what it changed with ``-v``
only, its table being enough for cron mail. ``--json`` carries every file.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from routine_workflow import output
from routine_workflow.cli.common import PROG
from routine_workflow.workflow.profile import SHARED_NOTE, SINGULAR

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
    if report.get("profile") is not None:
        lines += profile_lines(report["profile"])
    return lines


def profile_lines(profile: Mapping[str, Any]) -> list[str]:
    """Each measured step's wall and CPU seconds and files/s, then the slowest files.

    A step whose CPU could not be told apart from others' (they ran side by side in
    threads) is starred, and a line says why.
    """
    steps = profile.get("steps", [])
    lines = ["profile: wall and CPU seconds per step (CPU includes child processes)"]
    width = max((len(s["name"]) for s in steps), default=0)
    for step in steps:
        star = "*" if step["cpu_shared"] else ""
        files, rate = step.get("files"), step.get("files_per_second")
        unit = step.get("unit", "files")
        where = (
            f"  {output.plural(files, SINGULAR.get(unit, unit), unit)}" if files is not None else ""
        )
        if files and rate:
            where += f", {rate:.1f} {unit}/s"
        lines.append(
            f"  {output.printable(step['name']).ljust(width)}  {step['wall']:.2f}s wall  "
            f"{step['cpu']:.2f}s cpu{star} ({step['cpu_children']:.2f}s in children){where}"
        )
    if any(s["cpu_shared"] for s in steps):
        lines.append(f"  * {SHARED_NOTE}")
    files = profile.get("slowest_files", [])
    if files:
        lines.append("  slowest files (a worker's seconds on each):")
        lines += [
            f"    {f['seconds']:.3f}s  {f['step']}  {output.printable(f['path'])}" for f in files
        ]
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
