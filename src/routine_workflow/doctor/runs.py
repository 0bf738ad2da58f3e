"""Doctor checks on what the tool has done here: the last runs, and the newest backup.

The runs are handed in (the history lives with the workflow, which a feature
package does not import); the backup is verified here, as ``backup verify`` does.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.doctor.findings import Section, human_size
from routine_workflow.errors import RoutineError

PROG = "routine-workflow"


def runs_section(runs: list[dict[str, Any]], log_file: str) -> Section:
    """The newest runs, newest first; a last real run that did not succeed is a problem."""
    section = Section("runs", "last runs", [_run_data(run) for run in runs])
    if not runs:
        section.lines.append("no runs recorded for this project yet")
        return section
    for run in runs:
        failed = [s["name"] for s in run["steps"] if s["status"] == "failed"]
        section.lines.append(
            f"{run['run_id']}  {run['status']}  exit {_exit(run)}"
            + ("  (dry run)" if run["dry_run"] else "")
            + (f"  failed: {', '.join(failed)}" if failed else "")
        )
    # A run that died (its process gone, no exit code) ended too, and not well.
    real = [
        run
        for run in runs
        if not run["dry_run"] and (run["exit_code"] is not None or run["status"] == "died")
    ]
    if real and real[0]["exit_code"] != 0:
        last = real[0]
        how = (
            f"died: {last.get('reason')}"
            if last["exit_code"] is None
            else f"ended {last['status']} (exit {_exit(last)})"
        )
        section.problem(
            f"the last run, {last['run_id']}, {how}",
            f"see `{PROG} history` and the log {log_file}; `{PROG} --resume` reruns " "what failed",
        )
    return section


def _run_data(run: dict[str, Any]) -> dict[str, Any]:
    keys = ("run_id", "started", "status", "exit_code", "duration", "dry_run")
    return {**{k: run.get(k) for k in keys}, "steps": run.get("steps", [])}


def _exit(run: dict[str, Any]) -> str:
    return "-" if run["exit_code"] is None else str(run["exit_code"])


def backup_section(config: WorkflowConfig) -> Section:
    """The newest backup of the project, checked byte for byte against its manifest."""
    from routine_workflow.backup import actions

    section = Section("backup", "newest backup")
    try:
        backups = actions.list_backups(config)
    except (OSError, RoutineError) as exc:
        section.data = {"error": str(exc)}
        section.problem(
            f"cannot list backups in {config.backup_dir}: {exc}", "check its permissions"
        )
        return section
    if not backups:
        section.data = {"count": 0}
        section.lines.append(f"no backups in {config.backup_dir} yet")
        return section
    newest = backups[0]
    section.data = {"count": len(backups), "newest": newest}
    try:
        verified = actions.verify_archive(config, _path(newest))
    except (OSError, RoutineError) as exc:
        section.data["verified"] = False
        section.data["error"] = str(exc)
        section.lines.append(f"{_path(newest)}: does NOT verify")
        section.problem(
            f"the newest backup {_path(newest)} does not verify: {exc}",
            f"take a new one now (`{PROG} --steps backup --yes`), then look at the disk",
        )
        return section
    section.data["verified"] = True
    section.lines.append(
        f"{verified['path']}: verifies ({verified['files']} files, "
        f"{human_size(verified['bytes'])}); {len(backups)} backup(s) kept"
    )
    return section


def _path(backup: dict[str, Any]) -> Path:
    return Path(backup["path"])
