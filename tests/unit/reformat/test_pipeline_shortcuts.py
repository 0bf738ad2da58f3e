"""The black engine's pipeline skips work whose answer it already knows, and only then.

* autoflake's useless-``pass`` scan (a tokenization of the whole file) is skipped for a
  source with no line that is only ``pass``, unless a removed import leaves one;
* a tool handed, in a later pass over the same file, an input it already had is not
  run again (``Seen``); one handed a new input is.

Each shortcut is checked against the tool run the ordinary way on the same input.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import autoflake
import pytest
from isort import api as isort_api

from routine_workflow.reformat.pipeline import CHANGED, UNCHANGED, Pipeline, format_source

PYPROJECT = '[project]\nname = "demo"\n\n[tool.isort]\nprofile = "black"\n'


@pytest.fixture()
def pipeline(tmp_path: Path) -> Pipeline:
    (tmp_path / "pyproject.toml").write_text(PYPROJECT)
    return Pipeline(tmp_path)


@pytest.fixture()
def calls(monkeypatch: pytest.MonkeyPatch) -> Iterator[dict[str, int]]:
    """How often the pipeline ran each tool (and autoflake's ``pass`` scan)."""
    counts = {"fix_code": 0, "pass_scan": 0, "sort_stream": 0}

    def counting(name: str, real: Callable[..., Any]) -> Callable[..., Any]:
        def call(*args: Any, **kwargs: Any) -> Any:
            counts[name] += 1
            return real(*args, **kwargs)

        return call

    monkeypatch.setattr(autoflake, "fix_code", counting("fix_code", autoflake.fix_code))
    monkeypatch.setattr(
        autoflake,
        "useless_pass_line_numbers",
        counting("pass_scan", autoflake.useless_pass_line_numbers),
    )
    monkeypatch.setattr(isort_api, "sort_stream", counting("sort_stream", isort_api.sort_stream))
    yield counts


def by_hand(pipeline: Pipeline, text: str, name: str = "m.py") -> str:
    """autoflake as its command line runs it, every filter on."""
    options = dict(pipeline.autoflake_options)
    options["ignore_init_module_imports"] = (
        options["ignore_init_module_imports"] and name == "__init__.py"
    )
    return str(autoflake.fix_code(text, additional_imports=pipeline.autoflake_imports, **options))


SOURCES = {
    "no pass, nothing to remove": "import os\n\nprint(os.sep)\n",
    "no pass, an unused import at module level": "import os\nimport sys\n\nprint(sys)\n",
    "an unused import alone in a block": "import sys\n\nif sys:\n    import os\n",
    "an unused import before other statements": "def f():\n    import os\n    return 1\n",
    "try/except ImportError": "try:\n    import json\nexcept ImportError:\n    json = None\n",
    "a useless pass already": "def f():\n    x = 1\n    pass\n    return x\n",
    "a needed pass": "class A:\n    pass\n",
    "pass in a string only": 'x = """\npass\n"""\n',
    "CR line endings": "import os\rimport sys\rif sys:\r    import os\r",
    "CRLF line endings": "import os\r\nx = 1\r\ndef f():\r\n    x = 1\r\n    pass\r\n",
    "pass after a form feed": "import os\n\x0cpass\nx = 1\n",
    "a multi-line import": "from os import (\n    path,\n    sep,\n)\n\nprint(sep)\n",
}


@pytest.mark.parametrize("name", sorted(SOURCES))
def test_autoflake_output_is_autoflakes_own(pipeline: Pipeline, name: str) -> None:
    text = SOURCES[name]
    assert pipeline._autoflake(Path("m.py"), text) == by_hand(pipeline, text)


def test_the_pass_scan_is_skipped_without_a_pass_line(
    pipeline: Pipeline, calls: dict[str, int]
) -> None:
    text = "import os\n\nprint(os.sep)\n"
    assert pipeline._autoflake(Path("m.py"), text) == text
    assert calls == {"fix_code": 1, "pass_scan": 0, "sort_stream": 0}


def test_the_pass_scan_runs_when_a_line_is_pass(pipeline: Pipeline, calls: dict[str, int]) -> None:
    text = "def f():\n    x = 1\n    pass\n    return x\n"
    assert pipeline._autoflake(Path("m.py"), text) == "def f():\n    x = 1\n    return x\n"
    assert calls["pass_scan"] >= 1


def test_the_pass_scan_runs_when_a_removed_import_leaves_a_pass(
    pipeline: Pipeline, calls: dict[str, int]
) -> None:
    """autoflake replaces a removed import by ``pass``; its scan then removes that ``pass``
    where it is useless: the shortcut must not leave it there."""
    text = "def f():\n    import os\n    return 1\n"
    assert pipeline._autoflake(Path("m.py"), text) == "def f():\n    return 1\n"
    assert calls["pass_scan"] >= 1


def test_a_pass_only_autoflake_changed_runs_no_tool_again(
    pipeline: Pipeline, calls: dict[str, int], tmp_path: Path
) -> None:
    """Pass 1 removes an import (autoflake); isort and black leave the result as is. Pass 2
    must show the fixed point, but each tool would get an input it already had."""
    data = b"import os\nimport sys\n\nprint(sys)\n"
    outcome = format_source(data, str(tmp_path / "m.py"), pipeline)
    assert (outcome.status, outcome.new) == (CHANGED, b"import sys\n\nprint(sys)\n")
    assert calls["sort_stream"] == 1  # was 2: isort ran again on its own output
    fix_code_calls = calls["fix_code"]
    # The same result from scratch, each tool once on each new input.
    again = format_source(outcome.new, str(tmp_path / "m.py"), pipeline)
    assert again.status == UNCHANGED
    assert calls["fix_code"] == fix_code_calls + 1


def test_a_tool_handed_a_new_input_runs_again(
    pipeline: Pipeline, calls: dict[str, int], tmp_path: Path
) -> None:
    """Black changes the file in pass 1: pass 2 runs autoflake and isort on black's output
    (each a new input), and not black (its own output)."""
    data = b"import sys\nprint( sys)\n"
    outcome = format_source(data, str(tmp_path / "m.py"), pipeline)
    assert (outcome.status, outcome.new) == (CHANGED, b"import sys\n\nprint(sys)\n")
    assert calls["sort_stream"] == 2
    assert calls["fix_code"] == 2
