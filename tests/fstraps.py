"""Shared test helper: make files impossible to delete, for the steps that delete files."""

from __future__ import annotations

import os
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest


@pytest.fixture
def unremovable() -> Iterator[Callable[[Path], None]]:
    """Make a cache directory's content impossible to delete: chmod as a user, chattr as root."""
    undo: list[Callable[[], object]] = []

    def apply(directory: Path) -> None:
        if os.geteuid() != 0:
            directory.chmod(0o555)
            undo.append(lambda: directory.chmod(0o755))
            return
        files = [str(p) for p in directory.iterdir()]
        chattr = shutil.which("chattr")
        done = (
            chattr
            and subprocess.run([chattr, "+i", *files], capture_output=True, check=False).returncode
            == 0
        )
        if not done:
            pytest.skip("running as root and cannot make a file immutable here")
        undo.append(lambda: subprocess.run([chattr or "chattr", "-i", *files], check=False))

    yield apply
    for step in reversed(undo):
        step()
