"""No rewriting without a verified restore point (issue 14): real runs, real failures.

When the run's backup does not produce or confirm a restore point, reformat
(and command steps that do not declare otherwise) are held, the run exits 1
naming why, and the project is byte for byte as it was.
"""

from __future__ import annotations

import json
import os
import resource
import signal
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest
from helpers import popen_cli, run_cli, wait_for, write_script

UGLY = b"import os\nx  =  [1,\n  2]\n"


def _project(root: Path, settings: str = "", steps: str = "") -> Path:
    (root / "pkg").mkdir(exist_ok=True)
    (root / "a.py").write_bytes(UGLY)
    (root / "pkg" / "b.py").write_bytes(UGLY)
    (root / "pyproject.toml").write_text(
        f'[project]\nname = "demo"\n[tool.routine-workflow]\n{settings}\n{steps}'
    )
    return root


def _files(root: Path) -> dict[str, bytes]:
    """The user's files: everything but caches (clean_caches may remove those)."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and "__pycache__" not in p.parts
    }


def _unusable_backup_dir(tmp_path: Path) -> str:
    """A backup_dir setting under a regular file: no backup can ever be written there."""
    blocker = tmp_path / "blocker"
    blocker.write_text("a file where a directory should be\n")
    return f'backup_dir = "{blocker / "backups"}"'


def _steps(result: subprocess.CompletedProcess[str]) -> dict[str, dict[str, Any]]:
    return {s["name"]: s for s in json.loads(result.stdout)["steps"]}


def test_a_failed_backup_holds_reformat_and_the_files_stay_identical(
    project: Path, tmp_path: Path
) -> None:
    _project(project, _unusable_backup_dir(tmp_path))
    cache = project / "__pycache__"
    cache.mkdir()
    (cache / "a.cpython-311.pyc").write_bytes(b"\0cache")
    before = _files(project)
    result = run_cli(["--yes"], project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _files(project) == before
    last = result.stdout.splitlines()[-1]
    assert "reformat held: no restore point (backup failed: cannot write backup to" in last
    assert "--no-require-restore-point" in last  # how to opt out, in the same line
    rows = {line.split()[0]: line for line in result.stdout.splitlines()[1:-1]}
    assert rows["reformat"].split()[1] == "skipped" and "held: no restore point" in rows["reformat"]
    # Steps that only remove regenerable caches or write outside the project still run.
    assert rows["clean_caches"].split()[1] == "changed" and not cache.exists()
    assert rows["dumps"].split()[1] == "changed"
    assert "reformat held" in result.stderr  # said in the log too


def test_the_json_report_gives_the_reason(project: Path, tmp_path: Path) -> None:
    _project(project, _unusable_backup_dir(tmp_path))
    result = run_cli(["--yes", "--json"], project)
    report = json.loads(result.stdout)
    assert report["exit_code"] == 1 and report["status"] == "failed"
    assert report["reason"].startswith("reformat held: no restore point (backup failed: ")
    assert _steps(result)["reformat"]["status"] == "skipped"


def _limit_file_size() -> None:
    # Every file the run writes may hold at most 256 KiB: the archive gets EFBIG
    # part-way, as it would get ENOSPC on a full disk.
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (256 * 1024, 256 * 1024))


def test_disk_full_during_the_backup_holds_reformat(project: Path) -> None:
    _project(project)
    (project / "data.bin").write_bytes(os.urandom(1024 * 1024))  # does not compress
    before = _files(project)
    result = subprocess.run(
        [sys.executable, "-m", "routine_workflow", "--yes"],
        cwd=project,
        capture_output=True,
        text=True,
        timeout=120,
        preexec_fn=_limit_file_size,
        stdin=subprocess.DEVNULL,
        check=False,
    )
    assert result.returncode == 1, result.stdout + result.stderr
    assert _files(project) == before
    assert "reformat held: no restore point (backup failed: " in result.stdout
    assert "File too large" in result.stdout.splitlines()[-1]


def test_a_backup_that_times_out_holds_reformat(project: Path, tmp_path: Path) -> None:
    script = write_script(tmp_path / "backup.sh", "sleep 30")
    _project(project, f'backup_script = "{script}"\nscript_timeout = 0.5')
    before = _files(project)
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 1
    assert _files(project) == before
    reason = json.loads(result.stdout)["reason"]
    assert "backup failed:" in reason and "timed out" in reason


def test_an_interrupted_backup_rewrites_nothing(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "started"
    script = write_script(tmp_path / "backup.sh", f'touch "{marker}"\nsleep 60')
    _project(project, f'backup_script = "{script}"')
    before = _files(project)
    proc = popen_cli(["--yes"], project)
    try:
        wait_for(marker)
        proc.send_signal(signal.SIGTERM)
        out, _ = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 143, out
    assert _files(project) == before


@pytest.mark.slow
def test_a_damaged_previous_backup_is_replaced_and_reformat_runs(
    project: Path, isolated_home: Path
) -> None:
    _project(project)
    assert run_cli(["--yes", "--steps", "backup"], project).returncode == 0
    [archive] = (isolated_home / "rw" / "data" / "backups").glob("*/*.tar.gz")
    archive.write_bytes(archive.read_bytes()[:100])  # truncated
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 0, result.stdout
    steps = _steps(result)
    assert steps["backup"]["status"] == "changed" and "damaged" in steps["backup"]["summary"]
    assert steps["reformat"]["status"] == "changed"
    assert (project / "a.py").read_bytes() != UGLY


COMMANDS = """
[tool.routine-workflow.steps.touch_sources]
run = "sh -c 'echo touched >> a.py'"
[tool.routine-workflow.steps.report]
run = "sh -c 'echo ran > ../report-ran'"
needs_restore_point = false
"""


def test_command_steps_are_held_unless_they_declare_otherwise(
    project: Path, tmp_path: Path
) -> None:
    _project(project, _unusable_backup_dir(tmp_path), COMMANDS)
    before = _files(project)
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 1, result.stdout + result.stderr
    assert _files(project) == before
    steps = _steps(result)
    assert steps["touch_sources"]["status"] == "skipped"
    assert "held" in steps["touch_sources"]["summary"]
    assert steps["report"]["status"] == "ok"
    assert (tmp_path / "report-ran").read_text() == "ran\n"
    reason = json.loads(result.stdout)["reason"]
    assert reason.startswith("reformat, touch_sources held: no restore point")


def test_needs_restore_point_must_be_a_bool(project: Path) -> None:
    _project(
        project, "", '[tool.routine-workflow.steps.x]\nrun = "true"\nneeds_restore_point = 1\n'
    )
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "needs_restore_point" in result.stderr and "true or false" in result.stderr


@pytest.mark.slow
def test_a_step_that_may_change_files_waits_for_the_backup_even_in_parallel(
    project: Path, tmp_path: Path
) -> None:
    # The backup takes a while and fails; a command step that is ready at once must not
    # start beside it: it waits, then is held (or, opted out, runs after the backup).
    script = write_script(tmp_path / "backup.sh", "sleep 1\ntouch backup.done\nexit 1")
    order = (
        "[tool.routine-workflow.steps.mark]\n"
        "run = \"sh -c 'if [ -e backup.done ]; then echo after; else echo before; fi > ../order'\"\n"
    )
    _project(project, f'backup_script = "{script}"\nparallel_steps = 2', order)
    held = run_cli(["--yes", "--json"], project)
    assert _steps(held)["mark"]["status"] == "skipped", held.stdout
    assert not (tmp_path / "order").exists()
    (project / "backup.done").unlink()
    opted_out = run_cli(["--yes", "--json", "--no-require-restore-point"], project)
    assert _steps(opted_out)["mark"]["status"] == "ok", opted_out.stdout
    assert (tmp_path / "order").read_text() == "after\n"


@pytest.mark.slow
@pytest.mark.parametrize(
    ("how", "env"),
    [
        (["--no-require-restore-point"], {}),
        ([], {"ROUTINE_WORKFLOW_REQUIRE_RESTORE_POINT": "false"}),
        (["pyproject"], {}),
    ],
    ids=["flag", "env", "pyproject"],
)
def test_the_explicit_opt_out_rewrites(
    project: Path, tmp_path: Path, how: list[str], env: dict[str, str]
) -> None:
    settings = _unusable_backup_dir(tmp_path)
    if how == ["pyproject"]:
        settings += "\nrequire_restore_point = false"
        how = []
    _project(project, settings)
    result = run_cli(["--yes", "--json", *how], project, env=env)
    assert result.returncode == 1  # the backup still failed, and says so
    steps = _steps(result)
    assert steps["backup"]["status"] == "failed"
    assert steps["reformat"]["status"] == "changed"
    assert (project / "a.py").read_bytes() != UGLY
    assert "held" not in result.stdout


@pytest.mark.slow
@pytest.mark.parametrize("selection", [["--steps", "reformat"], ["--skip", "backup"]])
def test_a_run_without_a_planned_backup_rewrites_as_before(
    project: Path, tmp_path: Path, selection: list[str]
) -> None:
    _project(project, _unusable_backup_dir(tmp_path))
    result = run_cli(["--yes", *selection], project)
    assert result.returncode == 0, result.stdout + result.stderr
    assert (project / "a.py").read_bytes() != UGLY


def test_fail_on_backup_still_stops_the_whole_run(project: Path, tmp_path: Path) -> None:
    _project(project, _unusable_backup_dir(tmp_path) + "\nfail_on_backup = true")
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 1
    steps = _steps(result)
    for name in ("reformat", "clean_caches", "dumps"):
        assert "run stopped because backup failed" in steps[name]["summary"]


def test_a_dry_run_shows_the_hold(project: Path, tmp_path: Path) -> None:
    _project(project, _unusable_backup_dir(tmp_path))
    before = _files(project)
    result = run_cli(["--dry-run", "--json"], project)
    assert result.returncode == 1, result.stdout
    steps = _steps(result)
    assert steps["backup"]["status"] == "failed"
    assert "cannot write backup to" in steps["backup"]["summary"]
    assert steps["reformat"]["status"] == "skipped" and "held" in steps["reformat"]["summary"]
    assert json.loads(result.stdout)["reason"].startswith("reformat held: no restore point")
    assert _files(project) == before


@pytest.mark.slow
def test_a_dry_run_with_a_usable_backup_dir_holds_nothing(project: Path) -> None:
    _project(project)
    result = run_cli(["--dry-run", "--json"], project)
    assert result.returncode == 0, result.stdout
    assert _steps(result)["reformat"]["status"] == "ok"


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes into read-only directories")
def test_an_unwritable_backup_dir_holds_reformat(project: Path, tmp_path: Path) -> None:
    read_only = tmp_path / "ro"
    read_only.mkdir()
    read_only.chmod(0o555)
    _project(project, f'backup_dir = "{read_only}"')
    before = _files(project)
    result = run_cli(["--yes"], project)
    assert result.returncode == 1
    assert (
        "reformat held: no restore point" in result.stdout and "Permission denied" in result.stdout
    )
    assert _files(project) == before


# --- what the confirmation prompt promises ------------------------------------------------


def _prompt_for(project: Path, only: tuple[str, ...] = (), **changes: Any) -> str:
    from routine_workflow.config import load_config
    from routine_workflow.workflow.effects import confirmation_text
    from routine_workflow.workflow.session import planned_steps

    config = load_config({"project_root": project}).with_changes(**changes)
    return confirmation_text(config, planned_steps(config, only))


def test_the_prompt_says_what_is_held_without_a_restore_point(project: Path) -> None:
    _project(project, "", '[tool.routine-workflow.steps.lint]\nrun = "true"\n')
    text = _prompt_for(project)
    assert "A backup of the project is taken first" in text
    assert "if it fails, reformat and lint are held" in text
    opted_out = _prompt_for(project, require_restore_point=False)
    assert "reformat and lint run even if it fails (require_restore_point = false)" in opted_out
    alone = _prompt_for(project, ("reformat",))
    assert "No backup is taken first" in alone and "held" not in alone
    assert "if it fails, the run stops" in _prompt_for(project, fail_on_backup=True)


@pytest.mark.slow
def test_an_old_backup_that_cannot_be_pruned_does_not_hold_reformat(
    project: Path, isolated_home: Path, unremovable: Any
) -> None:
    # The new archive is written and verified: it is a restore point, whatever retention does.
    _project(project, "keep_backups = 1")
    assert run_cli(["--yes", "--steps", "backup"], project).returncode == 0
    [directory] = (isolated_home / "rw" / "data" / "backups").iterdir()
    [old] = directory.glob("*.tar.gz")
    unremovable(directory)
    (project / "a.py").write_bytes(UGLY + b"y  =  2\n")
    result = run_cli(["--yes", "--json"], project)
    steps = _steps(result)
    assert steps["backup"]["status"] == "changed", result.stdout
    assert any(f"cannot remove old backup {old.name}" in d for d in steps["backup"]["details"])
    assert steps["reformat"]["status"] == "changed"
    assert result.returncode == 0


# --- which steps need a restore point ------------------------------------------------------


def test_which_steps_need_a_restore_point(project: Path, tmp_path: Path) -> None:
    from routine_workflow.config import load_config
    from routine_workflow.steps import builtin_steps
    from routine_workflow.steps.base import StepBase, StepContext, StepResult
    from routine_workflow.steps.script import ScriptStep
    from routine_workflow.workflow.gate import needs_restore_point
    from routine_workflow.workflow.plan import Configured

    config = load_config({"project_root": project})
    assert {s.name: needs_restore_point(s) for s in builtin_steps(config)} == {
        "prune_dumps": False,
        "backup": False,
        "reformat": True,
        "clean_caches": False,
        "dumps": False,
    }
    # A script in a built-in's place takes its rule.
    assert not needs_restore_point(ScriptStep("clean_caches", tmp_path / "clean.sh"))
    assert needs_restore_point(ScriptStep("reformat", tmp_path / "fmt.sh"))

    class Plugin(StepBase):
        name = "count_todos"
        description = "count TODOs"

        def run(self, ctx: StepContext) -> StepResult:
            return StepResult.skipped("")

    class ReadOnlyPlugin(Plugin):
        needs_restore_point = False

    assert needs_restore_point(Plugin())  # unknown effect: assume it edits files
    assert not needs_restore_point(ReadOnlyPlugin())
    assert not needs_restore_point(Configured(ReadOnlyPlugin(), ("reformat",), 5.0))


def test_a_backup_skipped_for_a_failed_dependency_holds_reformat(project: Path) -> None:
    # The backup waits for a step of the user's that fails: reformat, declared after the
    # backup, must not jump ahead of it in the order, and is held when it is skipped.
    prep = (
        '[tool.routine-workflow.steps.prep]\nrun = "false"\n'
        '[tool.routine-workflow.steps.backup]\ndepends_on = ["prep"]\n'
    )
    _project(project, "", prep)
    before = _files(project)
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 1
    assert _files(project) == before
    report = json.loads(result.stdout)
    assert [s["name"] for s in report["steps"]].index("reformat") > [
        s["name"] for s in report["steps"]
    ].index("backup")
    assert report["reason"].startswith(
        "reformat held: no restore point (backup skipped: prep failed)"
    ), report["reason"]


def test_checks_are_described_by_what_they_do_and_read_only_ones_are_not_held(
    project: Path,
) -> None:
    checks = "".join(
        f"[tool.routine-workflow.steps.{name}]\nenabled = true\n"
        for name in ("tests", "security", "audit")
    )
    _project(project, "", checks)
    text = _prompt_for(project)
    assert "run bandit" in text and "run pip-audit" in text and "pytest" in text
    lines = {line.split()[0]: line for line in text.splitlines() if line.startswith("  ")}
    assert "(it may change files)" in lines["tests"]
    for scan in ("security", "audit"):
        assert "may change" not in lines[scan], lines[scan]
    # A scan that reads the code needs no restore point; the tests may write anything.
    assert "if it fails, reformat and tests are held" in text
