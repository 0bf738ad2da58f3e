"""The conftest fixture really keeps tests out of the user's directories (pre-commit's idea)."""

from __future__ import annotations

from pathlib import Path

from routine_workflow import dirs
from routine_workflow.config import load_config


def test_our_session_fixture_works(project: Path, isolated_home: Path) -> None:
    config = load_config({"project_root": project})
    for path in (
        config.log_dir,
        config.lock_dir,
        config.backup_dir,
        config.dump_dir,
        config.cache_dir,
        config.history_db,
    ):
        assert isolated_home in path.parents, path


def test_platformdirs_fallback_also_isolated(
    project: Path, isolated_home: Path, monkeypatch
) -> None:
    monkeypatch.delenv("ROUTINE_WORKFLOW_HOME")
    assert isolated_home in dirs.lock_dir(project).parents
    assert isolated_home in dirs.history_db().parents
