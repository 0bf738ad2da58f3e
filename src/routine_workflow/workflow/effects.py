"""What a plan will do to the user's files, in words: the confirmation prompt's text.

A prompt that says "files will be rewritten and deleted (a backup is taken
first)" for a plan that takes no backup is worse than none. Each step of the
plan is described from what it is (a built-in, the user's script or command, a
plugin), and the prompt says whether a backup of the project comes before the
first step that may change it.

- ``describe(config, step)``: one step's effect.
- ``confirmation_text(config, steps, watch=...)``: the whole question.
- ``short_summary(steps)``: a few words for one project among several.
"""

from __future__ import annotations

import shlex
from collections.abc import Sequence
from dataclasses import dataclass

from routine_workflow.config import WorkflowConfig
from routine_workflow.steps import BUILTIN_ORDER
from routine_workflow.steps.base import BuiltinStep, Step
from routine_workflow.steps.checks.base import CheckStep
from routine_workflow.steps.command import CommandStep
from routine_workflow.steps.script import ScriptStep
from routine_workflow.workflow.gate import Gate
from routine_workflow.workflow.plan import Configured

#: How much of the project a step may change.
REWRITES, DELETES, MAY_CHANGE, NOTHING = "rewrites", "deletes", "may change", ""


@dataclass(frozen=True)
class Effect:
    """One step's effect on the project (``change``) and in words (``text``)."""

    step: str
    text: str
    change: str  # REWRITES | DELETES | MAY_CHANGE | NOTHING (in the project)


def _builtin(config: WorkflowConfig, name: str) -> Effect:
    if name == "reformat":
        tools = "ruff" if config.reformat_engine == "ruff" else "autoflake, isort, black"
        return Effect(name, f"rewrites Python files in the project ({tools})", REWRITES)
    if name == "clean_caches":
        patterns = (*config.clean_extra_patterns, *config.clean_patterns)[:4]
        shown = f" ({', '.join(patterns)}, ...)" if patterns else ""
        return Effect(name, f"deletes caches in the project{shown}", DELETES)
    if name == "backup":
        return Effect(
            name,
            f"archives the project into {config.backup_dir} "
            f"(older backups beyond the newest {config.keep_backups} are deleted)",
            NOTHING,
        )
    if name == "prune_dumps":
        return Effect(
            name,
            f"deletes dumps beyond the newest {config.keep_dumps} in {config.dump_dir}",
            NOTHING,
        )
    if name == "dumps":
        return Effect(name, f"writes a code dump into {config.dump_dir}", NOTHING)
    raise AssertionError(f"unknown built-in step {name}")  # pragma: no cover


def describe(config: WorkflowConfig, step: Step) -> Effect:
    """What ``step`` will do; a script, command or plugin may change anything."""
    inner = step.inner if isinstance(step, Configured) else step
    if isinstance(inner, ScriptStep):
        return Effect(
            step.name, f"runs your script {inner.script} (it may change files)", MAY_CHANGE
        )
    if isinstance(inner, CheckStep):
        if inner.writes_files:
            return Effect(step.name, f"{inner.action} (it may change files)", MAY_CHANGE)
        return Effect(step.name, inner.action, NOTHING)
    if isinstance(inner, CommandStep):
        command = inner.argv[0] if inner.shell else shlex.join(inner.argv)
        return Effect(step.name, f"runs `{command}` (it may change files)", MAY_CHANGE)
    if isinstance(inner, BuiltinStep) and step.name in BUILTIN_ORDER:
        return _builtin(config, step.name)
    return Effect(step.name, "a plugin step (what it changes is up to the plugin)", MAY_CHANGE)


def _backup_note(effects: Sequence[Effect], watch: bool = False, gate: str = "") -> str:
    changing = [i for i, e in enumerate(effects) if e.change]
    if not changing:
        return "Nothing in the project is rewritten or deleted."
    backup = next((i for i, e in enumerate(effects) if e.step == "backup"), None)
    if backup is not None and backup < changing[0]:
        return "A backup of the project is taken first" + (f"; {gate}." if gate else ".")
    if backup is not None:
        return f"No backup is taken before {effects[changing[0]].step} runs."
    if watch:
        return "No backup is taken before each run (backup is not one of its steps)."
    return "No backup is taken first (backup is not part of this run)."


def _gate_note(config: WorkflowConfig, steps: Sequence[Step]) -> str:
    """What happens to the rewriting steps if the backup fails (``workflow.gate``)."""
    gate = Gate.plan(steps, config.require_restore_point)
    guarded = [s.name for s in steps if gate is not None and gate.guards(s)]
    if not guarded:
        return ""
    if config.fail_on_backup:
        return "if it fails, the run stops"
    names = " and ".join([", ".join(guarded[:-1]), guarded[-1]] if len(guarded) > 1 else guarded)
    one = len(guarded) == 1
    if gate is not None and gate.required:
        return f"if it fails, {names} {'is' if one else 'are'} held"
    return f"{names} {'runs' if one else 'run'} even if it fails (require_restore_point = false)"


def confirmation_text(config: WorkflowConfig, steps: Sequence[Step], *, watch: bool = False) -> str:
    """The question: every step with what it does, then whether a backup comes first."""
    effects = [describe(config, step) for step in steps]
    width = max(len(e.step) for e in effects)
    lines = [f"  {e.step.ljust(width)}  {e.text}" for e in effects]
    head = (
        f"Watch {config.project_root} and, after each change, run:"
        if watch
        else f"Run on {config.project_root}:"
    )
    note = _backup_note(effects, watch, _gate_note(config, steps))
    return "\n".join([head, *lines, f"{note} Go ahead?"])


def short_summary(config: WorkflowConfig, steps: Sequence[Step]) -> str:
    """``reformat, clean_caches (rewrites Python files, deletes caches; no backup first)``."""
    effects = [describe(config, step) for step in steps]
    words = {
        REWRITES: "rewrites Python files",
        DELETES: "deletes caches",
        MAY_CHANGE: "runs commands that may change files",
    }
    changes = [c for c in words if any(e.change == c for e in effects)]
    note = _backup_note(effects).rstrip(".").lower()
    what = "; ".join([", ".join(words[c] for c in changes), note] if changes else [note])
    return f"{', '.join(e.step for e in effects)} ({what})"
