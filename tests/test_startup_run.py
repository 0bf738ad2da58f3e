"""What a run imports, and what it leaves for the paths that need it (docs/performance.md).

Each cut is checked in a real process (``sys.modules`` at the end of a run, as
tests/test_speed_imports.py does), next to a check that the path needing the module
still has it: a fleet, a journal to prune, a misspelt table (the prompt's text:
tests/test_prompt.py). No timing.
"""

from __future__ import annotations

import difflib
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import modules_after_run, run_cli, write_tree

from routine_workflow.config_rules import CUTOFF, closest

#: What a one-project run without a prompt does without.
NOT_ON_A_RUN = {
    "routine_workflow.workflow.fleet",  # several projects only
    "routine_workflow.workflow.effects",  # the prompt's text
    "routine_workflow.undo.store",  # pruning journals: only after one was written
    "routine_workflow.undo.reader",
    "logging.handlers",  # the log rotates without it (tests/test_startup_log.py)
    "difflib",  # near-miss names: only for a name that could be one
    "base64",  # journal records: only for a file replaced
}


@pytest.fixture
def one_file(tmp_path: Path) -> Path:
    pyproject = (
        '[build-system]\nrequires = ["setuptools"]\n\n[project]\nname = "one"\n\n'
        "[tool.black]\nline-length = 100\n\n[tool.isort]\nprofile = 'black'\n"
    )
    root = write_tree(tmp_path / "one", {"app.py": b"x = 1\n"}, pyproject)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return root


def test_a_dry_run_imports_neither_fleet_nor_prompt_nor_journal_store(one_file: Path) -> None:
    assert run_cli(["--dry-run", "--yes"], one_file).returncode == 0  # warms the cache
    code, modules, err = modules_after_run(["--dry-run", "--yes", "--quiet"], one_file)
    assert code == 0, err
    assert not modules & NOT_ON_A_RUN, modules & NOT_ON_A_RUN
    assert "routine_workflow.cli.report" not in modules  # --quiet and a success: no table


@pytest.mark.slow
def test_a_run_that_rewrites_still_journals_and_prunes(one_file: Path) -> None:
    (one_file / "pyproject.toml").write_text(
        '[project]\nname = "one"\n[tool.routine-workflow]\nkeep_undo = 1\n'
    )
    for n in range(2):
        (one_file / "app.py").write_text(f"x  =  {n}\n")
        code, modules, err = modules_after_run(["--yes", "--steps", "reformat"], one_file)
        assert code == 0, err
        assert {"routine_workflow.undo.store", "base64"} <= modules
        assert (one_file / "app.py").read_text() == f"x = {n}\n"
    listed = run_cli(["undo", "--list", "--json"], one_file)
    assert listed.returncode == 0, listed.stderr
    assert len(json.loads(listed.stdout)) == 1  # keep_undo = 1: the older one was pruned


def test_a_fleet_still_runs_every_project(one_file: Path, tmp_path: Path) -> None:
    other = write_tree(tmp_path / "two", {"b.py": b"y = 2\n"}, '[project]\nname = "two"\n')
    subprocess.run(["git", "init", "-q", str(other)], check=True)
    code, modules, err = modules_after_run(
        ["--dry-run", "-p", str(one_file), "-p", str(other), "--steps", "clean_caches"], tmp_path
    )
    assert code == 0, err
    assert "routine_workflow.workflow.fleet" in modules


def test_a_misspelt_table_is_still_named(one_file: Path) -> None:
    with (one_file / "pyproject.toml").open("a") as f:
        f.write("\n[tool.routine_workflw]\nkeep_dumps = 3\n")
    result = run_cli(["--dry-run", "--yes", "--steps", "clean_caches"], one_file)
    assert result.returncode == 0, result.stderr
    assert "did you mean [tool.routine-workflow]" in result.stderr


NAMES = [
    "routine-workflow",
    "routine_workflow",
    "routine-workflw",
    "routinewf",
    "project",
    "build-system",
    "black",
    "isort",
    "r",
    "",
    "keep_dumps",
    "keep_dump",
    "ROUTINE_WORKFLOW_KEEP_DUMP",
    "ROUTINE_WORKFLOW_KEEP_DUMPS",
    "ROUTINE_WORKFLOW_LOGDIR",
    "workflow-routine",
]


@pytest.mark.parametrize("name", NAMES)
def test_closest_is_difflibs_answer(name: str) -> None:
    known = [n for n in NAMES if n != name] + ["ROUTINE_WORKFLOW_LOG_DIR"]
    expected = difflib.get_close_matches(name, known, n=1, cutoff=CUTOFF)
    assert closest(name, known) == (expected[0] if expected else None)


RULES_PROBE = """
import sys, runpy
try:
    runpy.run_module("routine_workflow", run_name="__main__", alter_sys=True)
except SystemExit:
    pass
from routine_workflow.dumps import sensitive
compiled = sum("pattern" in rule.__dict__ for rule in sensitive.RULES)
print("COMPILED", compiled, len(sensitive.RULES), file=sys.stderr)
"""


@pytest.mark.parametrize("secret", [False, True])
def test_the_secret_rules_compile_only_where_a_prefilter_hits(one_file: Path, secret: bool) -> None:
    if secret:  # a GitHub token's shape: the rules run, and the file is left out
        (one_file / "token.txt").write_text("token = ghp_" + "a1B2" * 9 + "\n")
    done = subprocess.run(
        [sys.executable, "-c", RULES_PROBE, "--yes", "--steps", "dumps"],
        cwd=one_file,
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    compiled, total = map(int, done.stderr.split("COMPILED ")[1].split())
    assert total > 10
    assert compiled == (total if secret else 0)
    if secret:
        assert "GitHub token" in done.stderr  # the warning naming the file left out


def test_plain_runs_leave_command_steps_checks_and_pruning_unloaded(one_file: Path) -> None:
    assert run_cli(["--dry-run", "--yes"], one_file).returncode == 0  # warms the cache
    code, modules, err = modules_after_run(["--dry-run", "--yes", "--quiet"], one_file)
    assert code == 0, err
    assert not modules & {"routine_workflow.steps.command", "routine_workflow.steps.checks.options"}
    code, modules, err = modules_after_run(["--dry-run", "--steps", "clean_caches"], one_file)
    assert code == 0, err
    assert "routine_workflow.dumps.prune" not in modules  # prune_dumps does not run


def test_a_command_step_still_runs_and_a_checks_options_are_still_checked(
    one_file: Path,
) -> None:
    with (one_file / "pyproject.toml").open("a") as f:
        f.write(
            "\n[tool.routine-workflow.steps.hello]\n"
            f"run = [{json.dumps(sys.executable)}, '-c', 'open(\"ran\", \"w\")']\n"
        )
    code, modules, err = modules_after_run(["--yes", "--steps", "hello"], one_file)
    assert code == 0, err
    assert (one_file / "ran").exists()
    assert "routine_workflow.steps.command" in modules
    with (one_file / "pyproject.toml").open("a") as f:
        f.write("\n[tool.routine-workflow.steps.tests]\nenabled = true\ncoverage_threshold = 500\n")
    bad = run_cli(["--dry-run", "--yes"], one_file)
    assert bad.returncode == 2
    assert "coverage_threshold" in bad.stderr and "Traceback" not in bad.stderr


def test_the_node_name_is_the_host_name_the_records_always_had() -> None:
    import socket  # records written before this change hold socket.gethostname()

    assert os.uname().nodename == socket.gethostname()


def test_a_warm_reformat_imports_neither_socket_nor_shutil(one_file: Path) -> None:
    assert run_cli(["reformat"], one_file).returncode == 0  # cold: the formatters bring it
    code, modules, err = modules_after_run(["reformat"], one_file)
    assert code == 0, err
    assert not modules & {"socket", "shutil", "bz2", "lzma"}
    assert {"routine_workflow.lock", "routine_workflow.fsutil"} <= modules


def test_removing_a_directory_still_works(tmp_path: Path) -> None:
    from routine_workflow.fsutil import remove_path

    tree = write_tree(tmp_path / "cache", {"a/b.pyc": b"x" * 10, "c": b"yy"}, "")
    assert remove_path(tree, [tmp_path]) == 12 + len(b"")
    assert not tree.exists()


def test_without_profile_or_caches_neither_the_profiler_nor_the_remover_loads(
    one_file: Path,
) -> None:
    assert run_cli(["--dry-run", "--yes"], one_file).returncode == 0  # warms the cache
    code, modules, err = modules_after_run(["--dry-run", "--yes", "--quiet"], one_file)
    assert code == 0, err
    assert not modules & {"routine_workflow.workflow.profile", "routine_workflow.clean.remove"}
    (one_file / "__pycache__").mkdir()
    (one_file / "__pycache__" / "app.cpython-311.pyc").write_bytes(b"x")
    code, modules, err = modules_after_run(
        ["--yes", "--profile", "--steps", "clean_caches"], one_file
    )
    assert code == 0, err
    assert {"routine_workflow.workflow.profile", "routine_workflow.clean.remove"} <= modules
    assert not (one_file / "__pycache__").exists()
    assert "profile: wall and CPU seconds per step" in err
