"""The engines of the built-in check steps: reading what pytest, bandit, pip-audit say,
and committing a run's changes with git.

- ``tools``: which interpreter is the project's, where a tool is, the "needs" line.
- ``pytest_report``, ``bandit_report``, ``audit_report``: a tool's exit code and output
  in, a ``Reading`` out (failed or not, one summary line, detail lines, counts).
- ``git``, ``snapshot``: the ``git_snapshot`` step's commit.

Plain values in, plain values out: ``steps/checks`` runs the tools through the command
step's machinery and turns a ``Reading`` into the step's result.
"""

from __future__ import annotations

from dataclasses import dataclass, field


@dataclass
class Reading:
    """What a check's output says: ``failure`` (None: it passed), a one-line summary,
    the lines worth logging, counts; ``warning`` marks a pass that deserves a look."""

    failure: str | None
    summary: str = ""
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    warning: bool = False
