"""Runner: ordering, failure propagation, critical steps, crashes, interruption."""

from __future__ import annotations

import logging
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType

import pytest

from routine_workflow.config import load_config
from routine_workflow.errors import ConfigError, Interrupted
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.workflow.runner import RunReport, order_steps, run_steps, select_steps
from routine_workflow.workflow.signals import interruptible


@dataclass
class FakeStep:
    """A real step object with scripted outcomes (the runner is under test, not the step)."""

    name: str
    depends_on: tuple[str, ...] = ()
    outcome: Status | str = Status.OK
    critical: bool = False
    description: str = "test step"
    calls: list[str] = field(default_factory=list)

    def run(self, ctx: StepContext) -> StepResult:
        self.calls.append(self.name)
        if self.outcome == "crash":
            raise RuntimeError("boom")
        if self.outcome == "sleep":
            time.sleep(30)
        return StepResult(Status(self.outcome), f"{self.name} done")


@pytest.fixture
def ctx(project: Path) -> StepContext:
    return StepContext(
        load_config({"project_root": project}, env={}), logging.getLogger("test"), "r1"
    )


def _report(ctx: StepContext) -> RunReport:
    return RunReport("r1", str(ctx.root), "now", False)


def test_topological_order_keeps_declared_order_for_ties() -> None:
    steps = [FakeStep("c", ("b",)), FakeStep("a"), FakeStep("b", ("a",)), FakeStep("d")]
    assert [s.name for s in order_steps(steps)] == ["a", "b", "c", "d"]


def test_cycle_is_a_config_error_naming_it() -> None:
    steps = [FakeStep("a", ("c",)), FakeStep("b", ("a",)), FakeStep("c", ("b",)), FakeStep("x")]
    with pytest.raises(ConfigError, match=r"cycle: a -> c -> b -> a"):
        order_steps(steps)


def test_unknown_dependency_and_duplicate() -> None:
    with pytest.raises(ConfigError, match="depends on unknown step 'zz'"):
        order_steps([FakeStep("a", ("zz",))])
    with pytest.raises(ConfigError, match="defined twice"):
        order_steps([FakeStep("a"), FakeStep("a")])


def test_select_only_and_skip() -> None:
    steps = [FakeStep("a"), FakeStep("b", ("a",)), FakeStep("c")]
    assert [s.name for s in select_steps(steps, ["b"])] == ["b"]
    assert [s.name for s in select_steps(steps, skip=["a"])] == ["b", "c"]
    with pytest.raises(ConfigError, match="--skip: unknown step 'q'"):
        select_steps(steps, skip=["q"])


def test_failure_skips_dependents_but_not_independents(ctx: StepContext) -> None:
    steps = [
        FakeStep("a", outcome=Status.FAILED),
        FakeStep("b", ("a",)),
        FakeStep("c", ("b",)),
        FakeStep("d", outcome=Status.CHANGED),
    ]
    report = run_steps(steps, ctx, _report(ctx))
    assert [(s.name, s.status) for s in report.steps] == [
        ("a", "failed"),
        ("b", "skipped"),
        ("c", "skipped"),
        ("d", "changed"),
    ]
    assert "a failed" in report.steps[1].summary
    assert steps[1].calls == [] and steps[3].calls == ["d"]
    assert report.exit_code == 1 and report.status == "failed"


def test_critical_failure_stops_everything_after(ctx: StepContext) -> None:
    steps = [FakeStep("backup", outcome=Status.FAILED, critical=True), FakeStep("reformat")]
    report = run_steps(steps, ctx, _report(ctx))
    assert report.steps[1].status == "skipped"
    assert steps[1].calls == []


def test_crashing_step_is_a_failure_not_a_crash(ctx: StepContext) -> None:
    steps = [FakeStep("a", outcome="crash"), FakeStep("b")]
    report = run_steps(steps, ctx, _report(ctx))
    assert report.steps[0].status == "failed"
    assert "RuntimeError: boom" in report.steps[0].summary
    assert report.steps[1].status == "ok"


def test_all_skipped_is_success(ctx: StepContext) -> None:
    report = run_steps([FakeStep("a", outcome=Status.SKIPPED)], ctx, _report(ctx))
    assert report.exit_code == 0


def test_timeout_interrupts_the_running_step(ctx: StepContext) -> None:
    steps = [FakeStep("a"), FakeStep("slow", outcome="sleep"), FakeStep("c")]
    report = _report(ctx)
    before = signal.getsignal(signal.SIGALRM)
    with pytest.raises(Interrupted) as caught, interruptible(0.3) as guard:
        guard.arm()
        run_steps(steps, ctx, report)
    assert caught.value.exit_code == 124
    assert [(s.name, s.status) for s in report.steps] == [
        ("a", "ok"),
        ("slow", "failed"),
        ("c", "skipped"),
    ]
    assert signal.getsignal(signal.SIGALRM) == before


def _frame_in(filename: str) -> FrameType:
    """A real frame of code compiled as if it lived in ``filename``."""
    namespace: dict[str, object] = {}
    code = compile("import sys\nframe = sys._getframe()\n", filename, "exec")
    exec(code, namespace)  # noqa: S102 (a fixed snippet: only its file name matters)
    frame = namespace["frame"]
    assert isinstance(frame, FrameType)
    return frame


def test_a_signal_inside_lock_bookkeeping_is_raised_a_moment_later() -> None:
    # Raising inside logging's (or a coverage tracer's) acquire/release gap would leak
    # the lock and hang the run; the guard puts the exception off by a few milliseconds.
    unsafe = _frame_in(logging.__file__)
    ours = _frame_in(__file__)
    with interruptible(0) as guard:
        guard.handler(signal.SIGTERM, unsafe)  # put off, not raised
        assert guard.pending == signal.SIGTERM
        assert signal.getitimer(signal.ITIMER_REAL)[0] > 0  # a retry is on its way
        guard.handler(signal.SIGALRM, unsafe)  # the retry lands in the gap again
        assert guard.pending == signal.SIGTERM
        with pytest.raises(Interrupted) as caught:
            deadline = time.monotonic() + 10
            while time.monotonic() < deadline:  # the real retry alarm, in our own code
                time.sleep(0.001)
        assert caught.value.exit_code == 143
    with interruptible(0) as guard:
        with pytest.raises(Interrupted) as caught:
            guard.handler(signal.SIGINT, ours)  # anywhere else: at once
        assert caught.value.exit_code == 130
