"""Honest, readable reports: an interrupted step's real time, ``config show`` on 80
columns, real paths, counts that agree in number, the run order as graph edges and
the formatters' versions in ``--version``."""

from __future__ import annotations

import json
import re
import signal
import subprocess
import sys
import time
from importlib.metadata import version
from pathlib import Path

import pytest
from helpers import popen_cli, run_cli, write_script

UGLY = "import os\nx  =  1\n"


# -- an interrupted step -----------------------------------------------------------------------


@pytest.mark.slow
def test_an_interrupted_step_shows_how_long_it_really_ran(project: Path) -> None:
    body = "".join(f"def f{i}( a,b ):\n    return {{ 'k':a,'v':[b,b,b] }}\n" for i in range(60))
    for i in range(1500):  # far more work than the second it is given
        (project / f"m{i:04}.py").write_text(body)
    proc = popen_cli(["--yes", "--steps", "reformat", "--workers", "1", "--json", "-v"], project)
    assert proc.stderr is not None
    for line in proc.stderr:  # -v announces each step as it starts
        if "[reformat] started" in line:
            break
    began = time.monotonic()
    time.sleep(1.5)
    proc.send_signal(signal.SIGTERM)
    out, err = proc.communicate(timeout=120)
    waited = time.monotonic() - began
    assert proc.returncode == 143, err
    report = json.loads(out)
    step = report["steps"][0]
    assert step["name"] == "reformat" and step["status"] == "failed"
    # The step ran at least as long as we waited before the signal (was: 0.0).
    assert 1.5 <= step["duration"] <= waited + 1
    assert report["duration"] >= step["duration"]


# -- config show -------------------------------------------------------------------------------


def test_config_show_fits_80_columns_and_verbose_shows_everything(project: Path) -> None:
    narrow = run_cli(["config", "show"], project, env={"COLUMNS": "80"})
    assert narrow.returncode == 0, narrow.stderr
    lines = narrow.stdout.splitlines()
    assert all(len(line) <= 80 for line in lines), max(lines, key=len)
    row = next(line for line in lines if line.startswith("dump_secret_patterns"))
    assert row.endswith("default") and "..." in row  # the `from` column is on screen
    assert "-v" in lines[-1]  # says how to see the values in full
    full = run_cli(["config", "show", "-v"], project, env={"COLUMNS": "80"}).stdout
    row = next(line for line in full.splitlines() if line.startswith("dump_secret_patterns"))
    assert "*.tfstate" in row and row.endswith("default")
    settings = json.loads(run_cli(["config", "show", "--json"], project).stdout)
    assert "*.tfstate" in settings["dump_secret_patterns"]["value"]
    wide = run_cli(["config", "show"], project, env={"COLUMNS": "400"}).stdout
    assert "..." not in wide and "-v" not in wide.splitlines()[-1]


# -- paths -------------------------------------------------------------------------------------


def test_paths_are_shown_as_the_real_path(tmp_path: Path) -> None:
    proj = tmp_path / "proj"
    proj.mkdir()
    (proj / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (tmp_path / "scripts").mkdir()
    script = write_script(tmp_path / "scripts" / "backup.sh", "true")
    given = ["--project-root", "proj", "--backup-script", "proj/../scripts/backup.sh"]
    shown = run_cli([*given, "config", "show", "-v"], tmp_path).stdout
    assert str(script) in shown and "/../" not in shown
    dry = run_cli([*given, "--steps", "backup", "--dry-run"], tmp_path)
    assert f"would run {script}" in dry.stdout and "/../" not in dry.stdout + dry.stderr
    other = tmp_path / "other"
    other.mkdir()
    fleet = run_cli(
        ["--project-root", "proj/.", "--project-root", "other/../other", "--dry-run"], tmp_path
    )
    assert fleet.returncode == 0, fleet.stderr
    rows = fleet.stdout.splitlines()[1:3]
    assert [r.split()[0] for r in rows] == [str(proj), str(other)]


# -- counts ------------------------------------------------------------------------------------

#: "1 files", "1 entries", ...: a count of one with a plural noun.
ONE_PLURAL = re.compile(
    r"(?<![\d.,])\b1 (?:[a-z]+ )?(files|entries|dumps|projects|paths|dump\(s\)|file\(s\)|path\(s\))\b"
)


def test_a_count_of_one_is_singular(tmp_path: Path) -> None:
    root = tmp_path / "one"
    (root / "__pycache__").mkdir(parents=True)
    (root / "a.py").write_text(UGLY)
    (root / "__pycache__" / "a.cpython-311.pyc").write_bytes(b"\0")
    dry = run_cli(["--dry-run"], root)
    assert dry.returncode == 0, dry.stderr
    assert "1 file," in dry.stdout and "1 cache entry" in dry.stdout
    assert not ONE_PLURAL.search(dry.stdout + dry.stderr), dry.stdout
    run = run_cli(["--yes"], root)
    assert run.returncode == 0, run.stderr
    assert not ONE_PLURAL.search(run.stdout + run.stderr), run.stdout
    listing = tmp_path / "projects.txt"
    listing.write_text("one\n")
    fleet = run_cli(["--projects-file", str(listing), "--dry-run"], tmp_path)
    assert fleet.stdout.splitlines()[-1].endswith("1 project: 1 ok, 0 not ok")


# -- steps --graph -----------------------------------------------------------------------------

BUILTIN_CHAIN = [
    ["prune_dumps", "backup"],
    ["backup", "reformat"],
    ["reformat", "clean_caches"],
    ["clean_caches", "dumps"],
]


def test_graph_shows_the_builtin_run_order_as_edges(project: Path) -> None:
    graph = json.loads(run_cli(["steps", "--graph", "json"], project).stdout)
    assert graph["edges"] == BUILTIN_CHAIN
    assert graph["order"] == ["prune_dumps", "backup", "reformat", "clean_caches", "dumps"]
    dot = run_cli(["steps", "--graph", "dot"], project).stdout
    assert '"prune_dumps" -> "backup" [style=dashed];' in dot
    mermaid = run_cli(["steps", "--graph", "mermaid"], project).stdout
    assert "s_backup -.-> s_reformat" in mermaid


#: Two command steps: lint after reformat, test free to start whenever it can.
LINT_AND_TEST = (
    '[tool.routine-workflow.steps.lint]\nrun = "true"\ndepends_on = ["reformat"]\n'
    '[tool.routine-workflow.steps.test]\nrun = "true"\n'
)


def _graph_edges(project: Path, settings: str) -> list[list[str]]:
    (project / "pyproject.toml").write_text(settings + LINT_AND_TEST)
    return list(json.loads(run_cli(["steps", "--graph", "json"], project).stdout)["edges"])


def test_graph_with_parallel_command_steps(project: Path) -> None:
    # Built-ins run one at a time, in order; the command steps start after them (the
    # runner starts every built-in that can run first), side by side.
    assert _graph_edges(project, "[tool.routine-workflow]\nparallel_steps = 2\n") == [
        *BUILTIN_CHAIN,
        ["reformat", "lint"],
        ["dumps", "lint"],
        ["dumps", "test"],
    ]
    dot = run_cli(["steps", "--graph", "dot"], project).stdout
    assert '"reformat" -> "lint";' in dot
    # One step at a time (the default): the whole run is one chain.
    assert _graph_edges(project, "") == [
        *BUILTIN_CHAIN,
        ["reformat", "lint"],
        ["dumps", "lint"],
        ["lint", "test"],
    ]


# -- --version ---------------------------------------------------------------------------------


def test_version_names_python_and_the_formatters_without_importing_them(project: Path) -> None:
    result = run_cli(["--version"], project)
    assert result.returncode == 0
    lines = result.stdout.splitlines()
    assert lines[0].startswith("routine-workflow, version ")
    python = ".".join(map(str, sys.version_info[:3]))
    assert any(line.startswith(f"Python {python}") for line in lines)
    for tool in ("black", "isort", "autoflake", "ruff"):
        assert f"{tool} {version(tool)}" in lines
    code = (
        "import sys\n"
        "from click.testing import CliRunner\n"
        "from routine_workflow.cli.main import cli\n"
        "assert CliRunner().invoke(cli, ['--version']).exit_code == 0\n"
        "print(sorted(m for m in ('black', 'isort', 'autoflake') if m in sys.modules))\n"
    )
    assert subprocess.check_output([sys.executable, "-c", code], text=True).strip() == "[]"
