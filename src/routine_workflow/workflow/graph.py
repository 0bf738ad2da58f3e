"""``routine-workflow steps --graph dot|json|mermaid``: the step DAG for other tools.

Two kinds of edge, both true of every run:

- **dependency** (``depends_on``; solid): the step runs only if that one succeeded;
- **order** (dashed): the step starts only after that one has finished, whatever its
  outcome, because the runner runs it first (``workflow/runner.py``): steps run in
  the main thread one at a time in run order, and each is started as soon as it is
  ready; only command steps with ``parallel_steps`` > 1 run in threads beside others.
  So a step that runs in the main thread and waits on no threaded step (the built-ins,
  normally) is a *barrier*: nothing after it in run order starts before it ends. Each
  step gets an order edge from the last barrier before it; where a step may overlap
  with another, no edge says otherwise.

A critical step (``backup`` with ``fail_on_backup``) stops the whole run when it fails:
its node says so ("critical").
"""

from __future__ import annotations

import json
from collections.abc import Sequence

from routine_workflow.steps.base import RunRules, Step

FORMATS = ("dot", "json", "mermaid")


def edges(steps: Sequence[Step], parallel: int = 1) -> list[tuple[str, str, bool]]:
    """``(from, to, is_dependency)`` for ``steps`` in run order, by target then source."""
    names = [s.name for s in steps]
    position = {name: i for i, name in enumerate(names)}
    dependencies = {(d, s.name) for s in steps for d in s.depends_on if d in position}
    threaded = {s.name for s in steps if parallel > 1 and RunRules.of(s).runs_in_thread}
    waits_on_thread: dict[str, bool] = {}
    order: set[tuple[str, str]] = set()
    barrier: str | None = None
    for step in steps:
        waits_on_thread[step.name] = any(
            d in threaded or waits_on_thread.get(d, False) for d in step.depends_on
        )
        if barrier is not None:
            order.add((barrier, step.name))
        if step.name not in threaded and not waits_on_thread[step.name]:
            barrier = step.name
    found = [(a, b, True) for a, b in dependencies]
    found += [(a, b, False) for a, b in order - dependencies]
    return sorted(found, key=lambda e: (position[e[1]], position[e[0]]))


def render(steps: Sequence[Step], fmt: str, parallel: int = 1) -> str:
    """The DAG of ``steps`` (in run order) in one of ``FORMATS``; ``parallel`` is the
    configuration's ``parallel_steps``."""
    found = edges(steps, parallel)
    if fmt == "json":
        nodes = [
            {
                "name": s.name,
                "description": s.description,
                "depends_on": list(s.depends_on),
                "critical": s.critical,
            }
            for s in steps
        ]
        # An edge is a dependency when its source is in its target's depends_on.
        return json.dumps(
            {
                "nodes": nodes,
                "edges": [[a, b] for a, b, _ in found],
                "order": [s.name for s in steps],
            },
            indent=2,
        )
    if fmt == "dot":
        lines = ["digraph routine_workflow {", "  rankdir=LR;"]
        lines += [
            f'  "{s.name}" [tooltip={json.dumps(s.description)}'
            + (f', label="{s.name}\\n(critical)", penwidth=2' if s.critical else "")
            + "];"
            for s in steps
        ]
        lines += [f'  "{a}" -> "{b}"{"" if dep else " [style=dashed]"};' for a, b, dep in found]
        return "\n".join([*lines, "}"])
    if fmt == "mermaid":
        lines = ["graph LR"]
        lines += [
            f'  {_mermaid_id(s.name)}["{s.name}{" (critical)" if s.critical else ""}"]'
            for s in steps
        ]
        lines += [
            f"  {_mermaid_id(a)} {'-->' if dep else '-.->'} {_mermaid_id(b)}" for a, b, dep in found
        ]
        return "\n".join(lines)
    raise ValueError(f"unknown graph format {fmt!r}")


def _mermaid_id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)
