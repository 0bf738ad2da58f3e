"""What a step is: a name, its dependencies, and ``run(ctx) -> StepResult``."""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

from routine_workflow.config import WorkflowConfig
from routine_workflow.progress import ProgressFactory, no_progress


class Status(str, enum.Enum):
    """How a step ended. ``changed`` is success that modified something."""

    OK = "ok"
    CHANGED = "changed"
    SKIPPED = "skipped"
    FAILED = "failed"

    def __str__(self) -> str:
        return self.value


@dataclass
class StepResult:
    """The outcome of one step: status, a one-line summary, detail lines and counts."""

    status: Status
    summary: str = ""
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0

    @classmethod
    def skipped(cls, summary: str) -> StepResult:
        """A step that did nothing, and says why."""
        return cls(Status.SKIPPED, summary)

    @classmethod
    def failed(cls, summary: str, details: list[str] | None = None) -> StepResult:
        """A failed step with its reason."""
        return cls(Status.FAILED, summary, details or [])


@dataclass
class StepContext:
    """What a step may use: the configuration, a logger and the run's identity."""

    config: WorkflowConfig
    logger: logging.Logger
    run_id: str = ""
    #: Free-form per-command options (e.g. reformat's ``check``); steps document their keys.
    options: dict[str, Any] = field(default_factory=dict)
    #: When a step last succeeded on this project (ISO time from the history), or None.
    last_success: Callable[[str], str | None] = field(default=lambda _name: None)
    #: ``with ctx.progress(total, label) as advance: advance(n)`` draws a bar on a terminal
    #: only (never in cron mail, CI logs or with --json/--quiet).
    progress: ProgressFactory = field(default=no_progress)

    @property
    def dry_run(self) -> bool:
        """True when nothing may change."""
        return self.config.dry_run

    @property
    def root(self) -> Path:
        """The project root (resolved)."""
        return self.config.project_root

    def allowed_roots(self) -> tuple[Path, ...]:
        """Where a step may write or delete: the project and the tool's own directories."""
        return (self.config.project_root, *self.config.own_dirs())


@runtime_checkable
class Step(Protocol):
    """The interface of every step, built-in or plugin."""

    @property
    def name(self) -> str:
        """Unique step name (``--steps``, history, logs)."""

    @property
    def description(self) -> str:
        """One line for ``routine-workflow steps``."""

    @property
    def depends_on(self) -> tuple[str, ...]:
        """Names of steps that must succeed first."""

    @property
    def critical(self) -> bool:
        """When a critical step fails, the rest of the run is skipped (``fail_on_backup``)."""

    def run(self, ctx: StepContext) -> StepResult:
        """Do the work (or, when ``ctx.dry_run``, report what would be done)."""


@dataclass
class NotImplementedStep:
    """A placeholder that skips honestly until the real step lands."""

    name: str
    description: str
    depends_on: tuple[str, ...] = ()
    critical: bool = False

    def run(self, ctx: StepContext) -> StepResult:
        """Skip, saying the step does not exist yet."""
        return StepResult.skipped("not implemented yet")
