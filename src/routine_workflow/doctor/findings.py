"""What a doctor check returns: a section of the report, and the problems it found."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Finding:
    """One problem, said in one line, with what to do about it."""

    check: str  # the section that found it
    problem: str
    fix: str

    def line(self) -> str:
        """``check: problem; fix: what to do``."""
        return f"{self.check}: {self.problem}; fix: {self.fix}"

    def as_json(self) -> dict[str, str]:
        """JSON-friendly."""
        return {"check": self.check, "problem": self.problem, "fix": self.fix}


@dataclass
class Section:
    """One part of the report: its data (for ``--json``), its lines (for a person), its problems."""

    name: str
    title: str
    data: Any = None
    lines: list[str] = field(default_factory=list)
    findings: list[Finding] = field(default_factory=list)

    def problem(self, problem: str, fix: str) -> None:
        """Record a problem found by this section's check."""
        self.findings.append(Finding(self.name, problem, fix))


def human_size(size: int) -> str:
    """``512 B``, ``1.5 KB``, ``12.0 MB`` (powers of 1024, as du -h)."""
    value = float(size)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            return f"{size} B" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1024
    raise AssertionError("unreachable")  # pragma: no cover (the loop always returns)
