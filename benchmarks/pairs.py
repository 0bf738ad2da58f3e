"""Paired, interleaved timing of two commands, and the table ``run_all.py`` prints.

Each pair runs ours and the anchor back to back, which goes first alternating, so a
shared machine's load falls on both alike. Every sample has the wall time and the
CPU time (user + system of the whole process tree: ``RUSAGE_CHILDREN`` around a
command waited for, which counts its workers too). A row reports, for each side, the
median and the range; and the ratios: of the medians, and the median of the per-pair
ratios (the figure that best survives a noisy machine).
"""

from __future__ import annotations

import resource
import statistics
import subprocess
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path


@dataclass(frozen=True)
class Sample:
    """One timed command: wall and CPU seconds."""

    wall: float
    cpu: float


def timed(
    argv: Sequence[str], cwd: Path, env: dict[str, str], *, ok: Sequence[int] = (0,)
) -> Sample:
    """Run ``argv`` once; its wall and CPU time. A failure (exit not in ``ok``) stops the run."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        check=False,
    )
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode not in ok:
        tail = proc.stderr.decode(errors="replace")[-800:]
        raise RuntimeError(f"{' '.join(argv)} exited {proc.returncode} in {cwd}: {tail}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return Sample(wall, cpu)


@dataclass
class Row:
    """One line of the table: ours against an anchor."""

    path: str
    anchor: str
    goal: str
    ours: list[Sample] = field(default_factory=list)
    theirs: list[Sample] = field(default_factory=list)
    #: "ratio" (ours / anchor), or "per1k:<files>" ((ours - anchor) per 1,000 files).
    kind: str = "ratio"
    note: str = ""
    skipped: str = ""

    def add(self, ours: Sample, theirs: Sample) -> None:
        """Record one pair."""
        self.ours.append(ours)
        self.theirs.append(theirs)

    def figures(self) -> dict[str, str]:
        """The row's cells, formatted."""
        if self.skipped:
            return {"ours": "-", "anchor": "-", "wall": "-", "cpu": "-"}
        cells = {"ours": _spread(self.ours), "anchor": _spread(self.theirs)}
        for metric in ("wall", "cpu"):
            cells[metric] = self._ratio(metric)
        return cells

    def _ratio(self, metric: str) -> str:
        ours = [getattr(s, metric) for s in self.ours]
        theirs = [getattr(s, metric) for s in self.theirs]
        if self.kind.startswith("per1k:"):
            files = int(self.kind.split(":")[1])
            per = [(a - b) / files * 1000 for a, b in zip(ours, theirs, strict=True)]
            return f"{statistics.median(per):.3f} s/1k ({min(per):.3f}-{max(per):.3f})"
        pairs = [a / b for a, b in zip(ours, theirs, strict=True) if b > 0]
        if not pairs:
            return "-"
        of_medians = statistics.median(ours) / statistics.median(theirs)
        return f"{statistics.median(pairs):.2f}x (medians {of_medians:.2f}x)"


def _spread(samples: list[Sample]) -> str:
    walls = [s.wall for s in samples]
    cpus = [s.cpu for s in samples]
    return (
        f"{statistics.median(walls):.3f} s [{min(walls):.3f}-{max(walls):.3f}], "
        f"CPU {statistics.median(cpus):.3f} s"
    )


def interleave(
    row: Row,
    pairs: int,
    ours: Callable[[], Sample],
    theirs: Callable[[], Sample],
    before_each: Callable[[], None] | None = None,
) -> Row:
    """Time ``pairs`` pairs into ``row``, alternating which side goes first."""
    for index in range(pairs):
        if before_each is not None:
            before_each()
        if index % 2 == 0:
            a = ours()
            b = theirs()
        else:
            b = theirs()
            a = ours()
        row.add(a, b)
    return row


def table(rows: list[Row]) -> str:
    """The rows as a Markdown table (skipped rows say why)."""
    lines = [
        "| path | ours: median [range], CPU | anchor | anchor: median [range], CPU "
        "| wall: ratio | CPU: ratio | goal |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in rows:
        cells = row.figures()
        if row.skipped:
            lines.append(
                f"| {row.path} | skipped: {row.skipped} | {row.anchor} | | | | {row.goal} |"
            )
            continue
        lines.append(
            f"| {row.path} | {cells['ours']} | {row.anchor} | {cells['anchor']} "
            f"| {cells['wall']} | {cells['cpu']} | {row.goal} |"
        )
    notes = [f"- {row.path}: {row.note}" for row in rows if row.note]
    return "\n".join(lines + (["", *notes] if notes else []))
