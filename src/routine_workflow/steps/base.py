"""What a step is, what it may use, and what it returns.

- ``Status``, ``StepResult``: how a step ended.
- ``StepContext``: what a step may use (configuration, logger, run id, history, progress).
- ``Step``: the contract of every step, built-in or plugin; ``RunRules.of`` reads its optional part.
- ``StepBase``: the defaults of that optional part; ``BuiltinStep``: the base of the built-in steps.
"""

from __future__ import annotations

import enum
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Protocol, runtime_checkable

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
    """The outcome of one step: status, a one-line summary, detail lines and counts.

    ``files``: what the step wrote, rewrote or deleted (in a dry run: would have), by
    action (``"write"``, ``"rewrite"``, ``"delete"``), each path relative to the project
    root when inside it, else absolute; a directory ends with ``/``. Empty when the step
    cannot tell (a user's command or script). ``slowest``: (path, seconds) of the files
    that took longest, filled only with ``--profile`` (reformat's black engine).
    """

    status: Status
    summary: str = ""
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    duration: float = 0.0
    files: dict[str, list[str]] = field(default_factory=dict)
    slowest: list[tuple[str, float]] = field(default_factory=list)

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
    """The contract of every step, built-in or plugin.

    Required: ``name``, ``description``, ``depends_on``, ``critical`` and ``run``
    (declared below). Optional, with the defaults of ``StepBase`` for a step
    that leaves them out:

    - ``timeout: float`` -- seconds ``run`` may take (0: no limit). The runner
      enforces it on an in-process step: the step ends ``failed`` ("timed out
      after Ns"), its worker processes are stopped and the run goes on. A
      ``runs_in_thread`` step enforces its own.
    - ``allow_failure: bool`` -- a failure is reported ("failure allowed") but
      neither fails the run nor skips the steps that depend on this one.
    - ``runs_in_thread: bool`` -- ``run`` only waits on child processes and
      kills them when its own ``timeout`` passes (the runner's alarm reaches
      the main thread only), so with ``parallel_steps`` > 1 the runner may run
      it in a worker thread beside other steps. Command steps do; the
      built-in steps run one at a time in the main thread.

    The optional members are not declared here so that a step written before
    they existed (a plugin) is still a step; the runner reads them with
    ``RunRules.of``.
    """

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


class StepBase:
    """Defaults for every member of ``Step`` but ``name``, ``description`` and ``run``.

    Derive a step from it (plugins may too) and set only what differs, as
    class attributes or dataclass fields.
    """

    depends_on: tuple[str, ...] = ()
    critical: bool = False
    timeout: float = 0.0
    allow_failure: bool = False
    runs_in_thread: bool = False


@dataclass(frozen=True)
class RunRules:
    """The optional part of a step's contract (see ``Step``), as the runner reads it."""

    timeout: float
    allow_failure: bool
    runs_in_thread: bool

    @classmethod
    def of(cls, step: Step) -> RunRules:
        """``step``'s own values; what it leaves out takes ``StepBase``'s default."""
        return cls(
            timeout=float(getattr(step, "timeout", StepBase.timeout) or 0.0),
            allow_failure=bool(getattr(step, "allow_failure", StepBase.allow_failure)),
            runs_in_thread=bool(getattr(step, "runs_in_thread", StepBase.runs_in_thread)),
        )


class BuiltinStep(StepBase):
    """The base of the built-in steps.

    A subclass is a dataclass that sets ``name`` and ``description`` (fields
    defaulting to its module's ``NAME`` and ``DESCRIPTION``; ``critical`` too
    when its ``make`` sets it) and writes ``run``, importing its engine there
    so that importing the step stays cheap.
    """

    name: str
    description: str

    def log(
        self, ctx: StepContext, level: int, message: str, *args: object, event: str | None = None
    ) -> None:
        """Log a line of this step's work, tagged with the step (and ``event`` for JSON logs)."""
        extra = {"step": self.name} if event is None else {"step": self.name, "event": event}
        ctx.logger.log(level, message, *args, extra=extra)
