"""``routine-workflow steps --graph dot|json|mermaid``: the step DAG for other tools."""

from __future__ import annotations

import json
from collections.abc import Sequence

from routine_workflow.steps.base import Step

FORMATS = ("dot", "json", "mermaid")


def render(steps: Sequence[Step], fmt: str) -> str:
    """The DAG of ``steps`` (in run order) in one of ``FORMATS``."""
    names = {s.name for s in steps}
    edges = [(dep, s.name) for s in steps for dep in s.depends_on if dep in names]
    if fmt == "json":
        nodes = [
            {"name": s.name, "description": s.description, "depends_on": list(s.depends_on)}
            for s in steps
        ]
        return json.dumps({"nodes": nodes, "edges": [list(e) for e in edges]}, indent=2)
    if fmt == "dot":
        lines = ["digraph routine_workflow {", "  rankdir=LR;"]
        lines += [f'  "{s.name}" [tooltip={json.dumps(s.description)}];' for s in steps]
        lines += [f'  "{a}" -> "{b}";' for a, b in edges]
        return "\n".join([*lines, "}"])
    if fmt == "mermaid":
        lines = ["graph LR"]
        lines += [f'  {_mermaid_id(s.name)}["{s.name}"]' for s in steps]
        lines += [f"  {_mermaid_id(a)} --> {_mermaid_id(b)}" for a, b in edges]
        return "\n".join(lines)
    raise ValueError(f"unknown graph format {fmt!r}")


def _mermaid_id(name: str) -> str:
    return "s_" + "".join(c if c.isalnum() else "_" for c in name)
