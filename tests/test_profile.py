"""``--profile``: each step's wall and CPU time, files/s, and reformat's slowest files.

Every test runs the real command on a real tree; no figure is asserted beyond being a
number >= 0 (times on a shared machine are not a test's business).
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli, write_tree

UGLY = {f"pkg/m{i}.py": b"import os\nx  =  ( %d )\n" % i for i in range(4)}
PYPROJECT = '[project]\nname = "demo"\n'


def _tree(tmp_path: Path) -> Path:
    return write_tree(tmp_path / "project", UGLY, PYPROJECT)


@pytest.mark.slow
def test_profile_text_block_follows_the_step_table(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    result = run_cli(["--yes", "--profile", "--workers", "2"], root)
    assert result.returncode == 0, result.stderr
    lines = result.stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("profile:"))
    table = next(i for i, line in enumerate(lines) if line.startswith("step "))
    assert table < start
    block = lines[start:]
    reformat = next(line for line in block if line.strip().startswith("reformat "))
    assert "wall" in reformat and "cpu" in reformat and "4 files" in reformat
    assert "files/s" in reformat
    backup = next(line for line in block if line.strip().startswith("backup "))
    assert "files/s" in backup
    slow = next(i for i, line in enumerate(block) if "slowest files" in line)
    listed = [line.split()[-1] for line in block[slow + 1 : slow + 5]]
    assert sorted(listed) == sorted(UGLY)
    assert "shared" not in "\n".join(block)  # one step at a time: every figure is its own


@pytest.mark.slow
def test_profile_json_has_numbers_and_the_slowest_files(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    result = run_cli(["--yes", "--json", "--profile"], root)
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)["profile"]
    steps = {s["name"]: s for s in profile["steps"]}
    assert {"backup", "reformat", "clean_caches", "dumps"} <= set(steps)
    for step in steps.values():
        for key in ("wall", "cpu", "cpu_self", "cpu_children"):
            assert isinstance(step[key], (int, float)) and step[key] >= 0, (key, step)
        assert step["cpu_shared"] is False
    assert steps["reformat"]["files"] == 4
    assert steps["reformat"]["files_per_second"] >= 0
    assert steps["backup"]["files"] >= 4
    files = profile["slowest_files"]
    assert sorted(f["path"] for f in files) == sorted(UGLY)
    assert all(f["step"] == "reformat" and f["seconds"] >= 0 for f in files)
    seconds = [f["seconds"] for f in files]
    assert seconds == sorted(seconds, reverse=True)


@pytest.mark.slow
def test_without_profile_nothing_changes(tmp_path: Path) -> None:
    root = _tree(tmp_path)
    result = run_cli(["--yes", "--json"], root)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert "profile" not in report
    assert all("profile" not in step for step in report["steps"])
    (root / "pkg" / "m0.py").write_bytes(UGLY["pkg/m0.py"])
    text = run_cli(["--yes"], root)
    assert text.returncode == 0, text.stderr
    assert "profile:" not in text.stdout


@pytest.mark.slow
def test_steps_side_by_side_have_their_cpu_marked_shared(project: Path) -> None:
    steps = "".join(
        f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
        for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
    )
    steps += "".join(
        f"[tool.routine-workflow.steps.{name}]\nrun = \"sh -c 'sleep 0.2'\"\n"
        for name in ("p1", "p2")
    )
    (project / "pyproject.toml").write_text(f"[tool.routine-workflow]\n{steps}")
    result = run_cli(["--yes", "--json", "--profile", "--parallel-steps", "2"], project)
    assert result.returncode == 0, result.stderr
    profile = json.loads(result.stdout)["profile"]
    assert [s["cpu_shared"] for s in profile["steps"]] == [True, True]
    assert all(s["files"] is None for s in profile["steps"])
    assert profile["slowest_files"] == []
    text = run_cli(["--yes", "--profile", "--parallel-steps", "2"], project)
    assert text.returncode == 0, text.stderr
    assert "shared" in text.stdout.split("profile:", 1)[1]


def test_the_original_profile_flag_is_ours_now(project: Path) -> None:
    result = run_cli(["--profile", "-d", "-s", "clean", "--json"], project)
    assert result.returncode == 0, result.stderr
    assert "--profile" not in result.stderr
    assert [s["name"] for s in json.loads(result.stdout)["profile"]["steps"]] == ["clean_caches"]


def test_workers_time_each_file_only_when_asked(tmp_path: Path) -> None:
    """A pool worker's per-file seconds: > 0 when timed, never measured (0) otherwise."""
    root = write_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n", "b.py": b"y=( 2 )\n"}, "")
    code = (
        "import json, sys\n"
        "from routine_workflow.reformat import workers as w\n"
        "w.init_worker(sys.argv[1], 0.0, 0, timed=sys.argv[2] == 'timed')\n"
        "out = w.process_batch([sys.argv[1] + '/a.py', sys.argv[1] + '/b.py'])\n"
        "print(json.dumps([o.seconds for o in out]))\n"
    )
    seconds = {}
    for mode in ("timed", "untimed"):
        done = subprocess.run(
            [sys.executable, "-c", code, str(root), mode], capture_output=True, text=True
        )
        assert done.returncode == 0, done.stderr
        seconds[mode] = json.loads(done.stdout)
    assert all(s > 0 for s in seconds["timed"])
    assert seconds["untimed"] == [0.0, 0.0]
