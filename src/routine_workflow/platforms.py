"""Which operating systems the tool runs on: POSIX (Linux, macOS), not Windows.

The tool relies on POSIX throughout: process groups and signals to stop a run's
children (``procs/``), file modes for its private state, ``mkdir``-based locks
with pid start times, cron and systemd for schedules. On Windows it would fail
part-way through a run, so the entry point refuses at once instead.
"""

from __future__ import annotations

import sys


def unsupported_platform(platform: str | None = None) -> str | None:
    """One line saying why ``platform`` (default: this one) is refused, or None if supported."""
    platform = sys.platform if platform is None else platform
    if platform.startswith("win"):
        return (
            "Windows is not supported (routine-workflow needs POSIX process groups, "
            "signals and file modes); run it under WSL, on Linux or on macOS"
        )
    return None
