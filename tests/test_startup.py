"""The fixed start-up: ``--version`` answered before click loads (cli/entry.py), the same
bytes as the full command line, and the full path taken whenever its output could differ.

Real processes only; what a path imports is read from ``sys.modules`` at its end. No
timing is asserted (docs/performance.md has the figures).
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_probe, without_coverage

ROOT = Path(__file__).resolve().parents[1]

#: Runs an entry point in this process, then reports the modules imported and the exit code.
PROBE = """
import sys
{call}
try:
    main()
    code = 0
except SystemExit as exc:
    code = exc.code
modules = sorted(sys.modules)  # before json, which the probe itself needs
import json
sys.stderr.write("\\nPROBE " + json.dumps({{"code": code, "modules": modules}}) + "\\n")
"""
FAST = "from routine_workflow.cli.entry import main"
FULL = "from routine_workflow.cli.main import main"
#: What the fast --version must not import (each is a measurable share of the old path).
HEAVY = {
    "click",
    "logging",
    "json",
    "platform",
    "subprocess",
    "pathlib",
    "typing",
    "routine_workflow.config",
    "routine_workflow.logs",
    "routine_workflow.output",
    "routine_workflow.cli.main",
    "routine_workflow.cli.common",
}


def _probe(call: str, args: list[str], cwd: Path, **env: str) -> tuple[int, set[str], str]:
    """(exit code, every module imported, stdout) of one entry point run."""
    code, modules, done = run_probe(PROBE.format(call=call), args, cwd, **env)
    return code, modules, done.stdout


def _run(call: str, args: list[str], cwd: Path, **env: str) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-c", f"{call}; main()", *args],
        cwd=cwd,
        env=without_coverage(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        timeout=60,
    )


def test_the_fast_version_prints_the_full_paths_bytes(tmp_path: Path) -> None:
    fast = _run(FAST, ["--version"], tmp_path)
    full = _run(FULL, ["--version"], tmp_path)
    module = subprocess.run(
        [sys.executable, "-m", "routine_workflow", "--version"],
        cwd=tmp_path,
        env=without_coverage(),
        capture_output=True,
        timeout=60,
    )
    assert full.returncode == fast.returncode == module.returncode == 0
    assert fast.stdout == full.stdout == module.stdout
    assert fast.stderr == full.stderr == module.stderr == b""
    assert fast.stdout.startswith(b"routine-workflow, version ")


def test_the_fast_version_imports_neither_click_nor_the_configuration(tmp_path: Path) -> None:
    code, modules, out = _probe(FAST, ["--version"], tmp_path)
    assert code == 0 and out.startswith("routine-workflow, version ")
    assert not modules & HEAVY
    # The full path does import them: the probe sees what it claims to see.
    code, modules, _ = _probe(FULL, ["--version"], tmp_path)
    assert code == 0 and {"click", "routine_workflow.config"} <= modules


@pytest.mark.parametrize("args", [["--version", "--quiet"], ["--help"], ["-h"]])
def test_anything_but_a_bare_version_takes_the_full_path(tmp_path: Path, args: list[str]) -> None:
    code, modules, out = _probe(FAST, args, tmp_path)
    assert code == 0
    assert "click" in modules
    assert out  # the version, or the help


def test_a_legacy_variable_still_earns_its_warning(tmp_path: Path) -> None:
    # The full path warns that LOCK_TTL is not read; the fast one must not drop that line.
    fast = _run(FAST, ["--version"], tmp_path, LOCK_TTL="3600")
    full = _run(FULL, ["--version"], tmp_path, LOCK_TTL="3600")
    assert fast.returncode == full.returncode == 0
    assert b"LOCK_TTL is not read" in fast.stderr
    assert (fast.stdout, fast.stderr) == (full.stdout, full.stderr)


def test_the_fast_path_knows_every_legacy_variable() -> None:
    from routine_workflow.cli.entry import LEGACY_VARIABLES
    from routine_workflow.cli.legacy import OLD_VARIABLES

    assert set(LEGACY_VARIABLES) == set(OLD_VARIABLES)


def test_a_closed_stdout_does_not_fail_the_fast_version(tmp_path: Path) -> None:
    for call in (FAST, FULL):
        done = subprocess.run(
            ["sh", "-c", f'"{sys.executable}" -c "{call}; main()" --version >&-'],
            cwd=tmp_path,
            env=without_coverage(),
            capture_output=True,
            timeout=60,
        )
        assert done.returncode == 0, (call, done.stderr)
        assert done.stderr == b""


def test_windows_is_refused_by_the_fast_path_too(tmp_path: Path) -> None:
    code = (
        "import sys, click, psutil, platformdirs, filelock; sys.platform = 'win32'; "
        f"{FAST}; main()"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, "--version"],
        cwd=tmp_path,
        env=without_coverage(),
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert done.returncode == 2
    assert done.stdout == ""
    assert "Windows is not supported" in done.stderr


def test_the_console_script_is_the_fast_entry_point() -> None:
    lines = (ROOT / "pyproject.toml").read_text().splitlines()
    assert 'routine-workflow = "routine_workflow.cli.entry:main"' in lines
