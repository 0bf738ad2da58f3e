"""``--profile``: what each step cost, measured around it by the runner.

- ``Usage.now()``: CPU seconds so far, of this process (every thread) and of the child
  processes it has waited for (``os.times()``, i.e. ``getrusage`` RUSAGE_SELF and
  RUSAGE_CHILDREN). A step's CPU is the difference around it, so it includes its pool
  workers and tools once they are reaped, which every built-in step does before it ends.
- ``step_profile``: one step's figures (``StepRecord.profile``); ``run_profile``: the
  ``profile`` of ``--json`` (every step measured, and the slowest files).

Process-wide counters cannot tell threads apart: a step that ran while another ran in a
thread (``parallel_steps`` > 1) gets the whole process's CPU of that time, marked
``cpu_shared``. Nothing here runs without ``--profile``.
"""

from __future__ import annotations

import heapq
import os
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: Step -> the count of files it went through, for files/s: files reformat checked
#: (cached ones included), files backup archived, cache entries clean_caches removed,
#: files dumps wrote into the dump.
FILE_COUNTS = {"reformat": "seen", "backup": "files", "clean_caches": "removed", "dumps": "files"}
#: What a step's count counts, when not files; and each unit's singular.
UNITS = {"clean_caches": "cache entries"}
SINGULAR = {"files": "file", "cache entries": "cache entry"}
#: How many of the slowest files a profile lists.
TOP_FILES = 10
SHARED_NOTE = (
    "shared: these steps ran beside others in threads (parallel_steps > 1); their CPU is "
    "the whole process's while they ran, not theirs alone"
)


@dataclass(frozen=True)
class Usage:
    """CPU seconds used so far by this process and by the children it waited for."""

    own: float
    children: float

    @classmethod
    def now(cls) -> Usage:
        """The counters at this moment."""
        times = os.times()
        return cls(times.user + times.system, times.children_user + times.children_system)


def step_profile(
    name: str,
    wall: float,
    before: Usage,
    after: Usage,
    *,
    shared: bool,
    counts: Mapping[str, int],
    slowest: Sequence[tuple[str, float]] = (),
) -> dict[str, Any]:
    """One step's figures: wall and CPU seconds, files and files/s where it counts files."""
    own = max(0.0, after.own - before.own)
    children = max(0.0, after.children - before.children)
    files = counts.get(FILE_COUNTS.get(name, ""))
    rate = round(files / wall, 1) if files is not None and wall > 0 else None
    return {
        "wall": round(wall, 3),
        "cpu": round(own + children, 3),
        "cpu_self": round(own, 3),
        "cpu_children": round(children, 3),
        "cpu_shared": shared,
        "files": files,
        "files_per_second": rate,
        "unit": UNITS.get(name, "files"),
        "slowest": [[path, round(seconds, 3)] for path, seconds in slowest],
    }


def run_profile(steps: Iterable[tuple[str, Mapping[str, Any]]]) -> dict[str, Any]:
    """``--json``'s ``profile``: every measured step (name, profile) in run order, and the
    ``TOP_FILES`` slowest files of all of them, slowest first."""
    measured = [(name, profile) for name, profile in steps if profile]
    files = heapq.nlargest(
        TOP_FILES,
        ((seconds, name, path) for name, p in measured for path, seconds in p["slowest"]),
    )
    return {
        "steps": [
            {"name": name, **{k: v for k, v in p.items() if k != "slowest"}} for name, p in measured
        ],
        "slowest_files": [
            {"step": name, "path": path, "seconds": seconds} for seconds, name, path in files
        ],
    }
