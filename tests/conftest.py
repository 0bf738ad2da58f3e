"""Shared fixtures. No test may touch the real home, log, lock or cache directories."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator, Sequence
from pathlib import Path

import pytest

CLASSIC_ENV = ("PROJECT_ROOT", "LOG_DIR", "LOCK_DIR", "CREATE_DUMP_SCRIPT", "WORKFLOW_TIMEOUT")


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point every per-user directory at a fresh temporary tree, for this process and children."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("ROUTINE_WORKFLOW_") or name in CLASSIC_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ROUTINE_WORKFLOW_HOME", str(home / "rw"))
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    yield home


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory with a pyproject.toml."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    return root


def run_cli(
    args: Sequence[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m routine_workflow ARGS`` as a real process, as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen_cli(args: Sequence[str], cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    """Start ``python -m routine_workflow ARGS`` without waiting."""
    return subprocess.Popen(
        [sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


def write_script(path: Path, body: str) -> Path:
    """An executable shell script (used as --clean-script / --backup-script)."""
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def slow_script(tmp_path: Path) -> tuple[Path, Path]:
    """A script that announces it started (a marker file), then sleeps for a minute."""
    marker = tmp_path / "started"
    script = write_script(tmp_path / "slow.sh", f'touch "{marker}"\nsleep 60')
    return script, marker


def wait_for(path: Path, timeout: float = 30.0) -> None:
    """Poll until ``path`` exists (a step announcing it has started)."""
    import time

    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.02)


def kill_all(processes: list) -> None:
    """Kill psutil processes that may already have exited (orphans of a kill -9 test)."""
    import psutil

    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue
