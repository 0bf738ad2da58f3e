"""``history``: recent runs from the SQLite record."""

from __future__ import annotations

from typing import Any

from routine_workflow.config import WorkflowConfig
from routine_workflow.workflow.history import History


def recent_runs(
    config: WorkflowConfig, limit: int, all_projects: bool = False
) -> list[dict[str, Any]]:
    """The newest ``limit`` runs of this project (or of all projects)."""
    if not config.history_db.exists():
        return []
    history = History(config.history_db)
    try:
        return history.recent(None if all_projects else config.project_root, limit)
    finally:
        history.close()
