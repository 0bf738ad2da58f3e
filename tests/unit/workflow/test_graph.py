"""``workflow.graph``: the step DAG as dot, json or mermaid, for other tools to read."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from routine_workflow.config import load_config
from routine_workflow.steps.base import Step
from routine_workflow.steps.command import CommandStep
from routine_workflow.workflow.graph import FORMATS, render
from routine_workflow.workflow.plan import all_steps


def _steps() -> list[Step]:
    return [
        CommandStep("lint", ("ruff", "check", ".")),
        CommandStep("type-check", ("mypy",), depends_on=("lint",)),
        # a quote in the description, and a dependency outside this selection
        CommandStep("say.hi", ("echo", 'say "hi"'), depends_on=("lint", "type-check", "gone")),
    ]


def test_json_lists_nodes_in_order_and_only_edges_between_them() -> None:
    data = json.loads(render(_steps(), "json"))
    assert [n["name"] for n in data["nodes"]] == ["lint", "type-check", "say.hi"]
    assert data["nodes"][2] == {
        "name": "say.hi",
        "description": """run: echo 'say "hi"'""",
        "depends_on": ["lint", "type-check", "gone"],  # as declared
        "critical": False,
    }
    assert data["edges"] == [["lint", "type-check"], ["lint", "say.hi"], ["type-check", "say.hi"]]


def test_dot_quotes_names_and_escapes_descriptions() -> None:
    lines = render(_steps(), "dot").splitlines()
    assert lines[:2] == ["digraph routine_workflow {", "  rankdir=LR;"]
    assert lines[-1] == "}"
    assert """  "say.hi" [tooltip="run: echo 'say \\"hi\\"'"];""" in lines
    edges = [line for line in lines if "->" in line]
    assert edges == [
        '  "lint" -> "type-check";',
        '  "lint" -> "say.hi";',
        '  "type-check" -> "say.hi";',
    ]


def test_mermaid_ids_are_plain_words_and_labels_keep_the_names() -> None:
    lines = render(_steps(), "mermaid").splitlines()
    assert lines[0] == "graph LR"
    assert '  s_type_check["type-check"]' in lines
    assert '  s_say_hi["say.hi"]' in lines
    assert "  s_type_check --> s_say_hi" in lines
    for line in lines[1:]:
        ids = re.findall(r"\b(s_\w+)", line)
        assert ids and all(re.fullmatch(r"s_[A-Za-z0-9_]+", i) for i in ids), line


def test_an_unknown_format_names_itself() -> None:
    with pytest.raises(ValueError, match="unknown graph format 'svg'"):
        render(_steps(), "svg")


@pytest.mark.parametrize("fmt", FORMATS)
def test_every_format_renders_the_built_in_steps(project: Path, fmt: str) -> None:
    steps = all_steps(load_config({"project_root": project}, env={}))
    text = render(steps, fmt)
    for step in steps:
        assert step.name in text


def test_no_steps_is_an_empty_graph() -> None:
    assert json.loads(render([], "json")) == {"nodes": [], "edges": [], "order": []}
    assert render([], "dot") == "digraph routine_workflow {\n  rankdir=LR;\n}"
    assert render([], "mermaid") == "graph LR"
