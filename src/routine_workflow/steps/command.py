"""User-defined command steps: ``[tool.routine-workflow.steps.<name>]`` with a ``run`` command.

Each attempt runs in its own process group (killed whole on timeout), with
retries and exponential backoff; ``when`` conditions skip the step when it has
nothing to do. The built-in checks (``steps/checks``) are presets of this step:
they build their command (``command``) and read its output (``judge``).
"""

from __future__ import annotations

import os
import shlex
import time
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path

from routine_workflow.procs.children import ScriptOutcome, child_env, run_command, start_failure
from routine_workflow.steps.base import Status, StepBase, StepContext, StepResult


class Unavailable(Exception):
    """A step cannot start: a tool it needs is missing. The message is the step's one line."""


@dataclass
class Verdict:
    """What one attempt of a command step came to: ``failure`` None means it succeeded."""

    failure: str | None
    summary: str = ""
    details: list[str] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    status: Status = Status.OK


@dataclass(frozen=True)
class When:
    """Run only if files matching ``changed`` changed since the step last succeeded,
    and/or only if the environment variable ``env`` is set (non-empty)."""

    changed: tuple[str, ...] = ()
    env: str | None = None


@dataclass
class CommandStep(StepBase):
    """A step that runs a command from the project (or a ``cwd`` inside it).

    ``timeout`` limits each attempt; the step kills the command itself, so it
    may run in a worker thread beside other steps.
    """

    name: str
    argv: tuple[str, ...]
    shell: bool = False
    depends_on: tuple[str, ...] = ()
    cwd: Path | None = None
    env: dict[str, str] = field(default_factory=dict)
    timeout: float = 0.0
    retries: int = 0
    retry_delay: float = 1.0
    allow_failure: bool = False
    when: When = field(default_factory=When)
    critical: bool = False
    #: False: the command may run when the run's backup made no restore point (workflow.gate).
    needs_restore_point: bool = True
    runs_in_thread = True  # not a field: every command step only waits on its child process

    @property
    def description(self) -> str:
        """The command, as the user wrote it."""
        return "run: " + (self.argv[0] if self.shell else shlex.join(self.argv))

    def run(self, ctx: StepContext) -> StepResult:
        """Run the command, retrying failures; a dry run only says what it would run."""
        reason = self.skip_reason(ctx)
        if reason:
            return StepResult.skipped(reason)
        if ctx.dry_run:
            return StepResult.skipped(f"dry run: would {self.description}")
        try:
            argv = self.command(ctx)
        except Unavailable as exc:  # a tool the step needs is missing: no attempt can succeed
            return StepResult.failed(str(exc))
        cwd = self.cwd or ctx.root
        env = self.command_env(ctx)
        attempts: list[str] = []
        for attempt in range(1, self.retries + 2):
            ctx.logger.info(
                "attempt %d of %d",
                attempt,
                self.retries + 1,
                extra={"event": "step_attempt", "step": self.name, "attempt": attempt},
            )
            verdict = self._attempt(argv, cwd, env, ctx)
            if verdict.failure is None:
                summary = verdict.summary + (f" on attempt {attempt}" if attempt > 1 else "")
                counts = {**verdict.counts, "attempts": attempt}
                return StepResult(verdict.status, summary, attempts + verdict.details, counts)
            attempts.append(f"attempt {attempt}: {verdict.failure}")
            ctx.logger.warning(
                "%s",
                attempts[-1],
                extra={"event": "step_attempt_failed", "step": self.name, "attempt": attempt},
            )
            if attempt <= self.retries:
                time.sleep(self.retry_delay * 2 ** (attempt - 1))
        result = StepResult.failed(self.failure_summary(attempts, verdict), attempts)
        result.details += verdict.details
        result.counts.update(verdict.counts, attempts=len(attempts))
        return result

    def command(self, ctx: StepContext) -> list[str]:
        """The argv to run (a preset builds it here; raises ``Unavailable`` if it cannot)."""
        return ["/bin/sh", "-c", self.argv[0]] if self.shell else list(self.argv)

    def command_env(self, ctx: StepContext) -> dict[str, str]:
        """The command's environment: ours, the tool's ``bin/`` first on PATH, then ``env``."""
        return child_env(self.env)

    def judge(self, outcome: ScriptOutcome, ctx: StepContext) -> Verdict:
        """What a finished attempt means: exit 0 succeeded (a preset reads the output)."""
        if outcome.returncode != 0:
            tail = outcome.tail(3)
            return Verdict(f"exit {outcome.returncode}" + (f": {tail}" if tail else ""))
        return Verdict(None, "succeeded")

    def failure_summary(self, attempts: list[str], last: Verdict) -> str:
        """The failed step's one line: the last attempt's failure, numbered."""
        return attempts[-1]

    def _attempt(
        self, argv: list[str], cwd: Path, env: dict[str, str], ctx: StepContext
    ) -> Verdict:
        """Run the command once and judge it."""
        try:
            outcome = run_command(argv, cwd, self.timeout, ctx.logger, env=env)
        except OSError as exc:  # not found, not executable: a failed attempt like any other
            return Verdict(start_failure(argv, cwd, exc))
        if outcome.timed_out:
            return Verdict(f"timed out after {self.timeout:g}s")
        return self.judge(outcome, ctx)

    def skip_reason(self, ctx: StepContext) -> str:
        """Why ``when`` says not to run now, or "" to run."""
        if self.when.env is not None and not os.environ.get(self.when.env):
            return f"skipped: ${self.when.env} is not set"
        if self.when.changed:
            since = ctx.last_success(self.name)
            if since is not None and not _changed_since(ctx, self.when.changed, since):
                return f"skipped: nothing matching {', '.join(self.when.changed)} changed since {since}"
        return ""


def _changed_since(ctx: StepContext, patterns: tuple[str, ...], since: str) -> bool:
    import pathspec

    from routine_workflow.discovery import Discovery

    spec = pathspec.GitIgnoreSpec.from_lines(patterns)
    cutoff = datetime.fromisoformat(since).timestamp()
    for entry in Discovery(ctx.config).files():
        if spec.match_file(entry.rel):
            try:
                if os.stat(entry.abspath).st_mtime >= cutoff:
                    return True
            except OSError:
                continue
    return False
