"""After a run: ``on_success`` / ``on_failure`` commands and the ``notify_url`` webhook.

Hooks report; they never change the run's outcome. A failing hook or an
unreachable URL is logged as a warning and the exit code stays the run's own.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.procs.children import child_env, command_argv, run_command, start_failure

NOTIFY_TIMEOUT = 10.0
HOOK_TIMEOUT = 120.0


def run_hooks(config: WorkflowConfig, report: dict[str, Any], logger: logging.Logger) -> None:
    """Run the hook that fits the outcome, then POST the report if a URL is configured."""
    command = config.on_success if report["exit_code"] == 0 else config.on_failure
    if command:
        _run_hook(config, command, report, logger)
    if config.notify_url:
        notify(config.notify_url, report, logger)


def _run_hook(
    config: WorkflowConfig, command: str, report: dict[str, Any], logger: logging.Logger
) -> None:
    env = child_env(
        {
            "ROUTINE_WORKFLOW_RUN_ID": str(report["run_id"]),
            "ROUTINE_WORKFLOW_STATUS": str(report["status"]),
            "ROUTINE_WORKFLOW_EXIT_CODE": str(report["exit_code"]),
            "ROUTINE_WORKFLOW_PROJECT_ROOT": str(config.project_root),
        }
    )
    argv = command_argv(command)  # cannot fail: config validation split it already
    try:
        outcome = run_command(argv, config.project_root, HOOK_TIMEOUT, logger, env=env)
    except OSError as exc:
        logger.warning(
            "hook %r could not start: %s",
            command,
            start_failure(argv, config.project_root, exc),
            extra={"event": "hook_failed"},
        )
        return
    if outcome.timed_out or outcome.returncode != 0:
        logger.warning(
            "hook %r failed: %s",
            command,
            "timed out" if outcome.timed_out else f"exit {outcome.returncode}",
            extra={"event": "hook_failed"},
        )


def notify(url: str, report: dict[str, Any], logger: logging.Logger) -> bool:
    """POST the JSON report to ``url``; True if the server answered 2xx."""
    import urllib.error  # here, not at the top: http.client costs every run ~15 ms
    import urllib.request

    if not url.startswith(("http://", "https://")):
        logger.warning(
            "notify_url %r is not an http(s) URL; not sent", url, extra={"event": "notify_failed"}
        )
        return False
    body = json.dumps(report, default=str).encode()
    request = urllib.request.Request(  # noqa: S310 (scheme checked above)
        url,
        data=body,
        method="POST",
        headers={"Content-Type": "application/json", "User-Agent": "routine-workflow"},
    )
    try:
        with urllib.request.urlopen(request, timeout=NOTIFY_TIMEOUT) as response:  # noqa: S310
            status = int(response.status)
            ok = 200 <= status < 300
    except (urllib.error.URLError, OSError, ValueError) as exc:
        logger.warning("could not notify %s: %s", url, exc, extra={"event": "notify_failed"})
        return False
    if not ok:
        logger.warning("notify %s answered %s", url, status, extra={"event": "notify_failed"})
    return ok
