"""``watch`` keeps the import you just typed (issue 13, item 6); ``reformat`` still prunes it.

Real ``routine-workflow watch`` processes, a real save, then a real ``reformat``.
"""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from helpers import run_cli
from test_watch import Watcher

from routine_workflow.errors import ConfigError
from routine_workflow.reformat.ruff import find_ruff

try:
    HAVE_RUFF = bool(find_ruff())
except ConfigError:
    HAVE_RUFF = False

ENGINES = [
    "black",
    pytest.param("ruff", marks=pytest.mark.skipif(not HAVE_RUFF, reason="ruff not installed")),
]
# A stdlib import (autoflake removes those even without --remove-all-unused-imports),
# a third-party one, and code that needs formatting.
TYPED = "import os\nimport json\nimport yaml_missing\nx  =  json.dumps( 1 )\n"
PRUNED = "import json\n\nx = json.dumps(1)\n"


def _project(tmp_path: Path, engine: str, remove: bool | None = None) -> Path:
    root = tmp_path / "project"
    root.mkdir()
    lines = [
        '[project]\nname = "demo"\n',
        "[tool.routine-workflow]",
        f'reformat-engine = "{engine}"',
    ]
    if remove is not None:
        lines.append(f"watch-remove-unused-imports = {'true' if remove else 'false'}")
    (root / "pyproject.toml").write_text("\n".join(lines) + "\n")
    return root


def _save_under_watch(root: Path, *extra: str, text: str = TYPED) -> str:
    """Start watch, save ``a.py`` once, wait for the one run; the file's content after it."""
    watcher = Watcher(["watch", "--yes", "--debounce", "50", "--max-runs", "1", *extra], root)
    try:
        watcher.expect("watching")
        time.sleep(0.05)  # the file's time must be later than the watcher's start
        (root / "a.py").write_text(text)
        assert watcher.finish(timeout=60) == 0, watcher.lines
    finally:
        watcher.kill()
    return (root / "a.py").read_text()


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_watch_keeps_new_unused_imports_and_reformat_removes_them(
    tmp_path: Path, engine: str
) -> None:
    root = _project(tmp_path, engine)
    kept = _save_under_watch(root)
    assert "import os\n" in kept and "import yaml_missing\n" in kept, kept
    assert "x = json.dumps(1)\n" in kept and kept.index("import json") < kept.index("import os")
    # The watch run's cache must not tell the full pass that this content is final.
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert (root / "a.py").read_text() == PRUNED
    # And the full pass's cache must not make the next watch run prune a new import.
    assert _save_under_watch(root) == kept


@pytest.mark.slow
@pytest.mark.parametrize("engine", ENGINES)
def test_watch_remove_unused_imports_opts_back_in(tmp_path: Path, engine: str) -> None:
    root = _project(tmp_path, engine, remove=True)
    assert _save_under_watch(root) == PRUNED


@pytest.mark.slow
def test_the_flag_overrides_the_setting(tmp_path: Path) -> None:
    root = _project(tmp_path, "black", remove=True)
    assert "import os\n" in _save_under_watch(root, "--no-remove-unused-imports")


@pytest.mark.slow
def test_watch_keeps_a_just_typed_unused_variable_too(tmp_path: Path) -> None:
    # autoflake's remove_unused_variables, when the project turns it on, would delete the
    # line being written (`x = compute()` before its use is typed) on every save.
    root = _project(tmp_path, "black")
    with (root / "pyproject.toml").open("a") as handle:
        handle.write("[tool.autoflake]\nremove-unused-variables = true\n")
    typed = "def f():\n    x = 1\n    return 2\n"
    assert _save_under_watch(root, text=typed) == typed
    assert run_cli(["reformat"], root).returncode == 0
    assert (root / "a.py").read_text() == "def f():\n    return 2\n"
