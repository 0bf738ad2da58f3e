"""Several projects in one command: separate locks, one summary."""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli, write_script

from routine_workflow import dirs


def _make(tmp_path: Path, name: str, step: str) -> Path:
    root = tmp_path / name
    root.mkdir()
    (root / "pyproject.toml").write_text(f'[tool.routine-workflow.steps.check]\nrun = "{step}"\n')
    return root


def test_many_projects_one_summary(tmp_path: Path) -> None:
    good, bad = _make(tmp_path, "good", "true"), _make(tmp_path, "bad", "false")
    result = run_cli(
        [
            "--project-root",
            str(good),
            "--project-root",
            str(bad),
            "--yes",
            "--steps",
            "check",
            "--jobs",
            "2",
        ],
        tmp_path,
    )
    assert result.returncode == 1, (result.stdout, result.stderr)
    lines = result.stdout.splitlines()
    assert lines[1].split()[:3] == [str(good), "0", "ok"], (result.stdout, result.stderr)
    assert lines[2].split() == [str(bad), "1", "failed", "check"], (result.stdout, result.stderr)
    assert lines[-1].endswith("2 projects: 1 ok, 1 not ok")
    for root in (good, bad):  # each ran under its own lock, recorded on its own
        assert not dirs.lock_dir(root).exists()
        history = json.loads(run_cli(["history", "--json"], root).stdout)
        assert len(history) == 1


def test_projects_file_and_json(tmp_path: Path) -> None:
    a, b = _make(tmp_path, "a", "true"), _make(tmp_path, "b", "true")
    listing = tmp_path / "projects.txt"
    listing.write_text(f"# my repositories\na\n\n{b}  # absolute works too\n")
    result = run_cli(
        ["--projects-file", str(listing), "--yes", "--json", "--steps", "check"], tmp_path
    )
    assert result.returncode == 0, result.stderr
    outcomes = json.loads(result.stdout)
    assert [o["project_root"] for o in outcomes] == [str(a), str(b)]
    assert all(o["report"]["steps"][0]["status"] == "ok" for o in outcomes)


def test_many_projects_need_yes_and_own_dirs(tmp_path: Path) -> None:
    a, b = _make(tmp_path, "a", "true"), _make(tmp_path, "b", "true")
    both = ["--project-root", str(a), "--project-root", str(b)]
    refused = run_cli(both, tmp_path)
    assert refused.returncode == 2 and "pass --yes" in refused.stderr
    shared = run_cli([*both, "--yes", "--log-file", str(tmp_path / "x.log")], tmp_path)
    assert (
        shared.returncode == 2
        and "--log-file cannot be used with several projects" in shared.stderr
    )
    sub = run_cli([*both, "steps"], tmp_path)
    assert sub.returncode == 2 and "one project at a time" in sub.stderr
    missing = run_cli(["--projects-file", str(tmp_path / "none.txt"), "--yes"], tmp_path)
    assert missing.returncode == 2 and "cannot read" in missing.stderr


def test_config_flags_reach_every_project(tmp_path: Path) -> None:
    a, b = tmp_path / "a", tmp_path / "b"
    a.mkdir(), b.mkdir()
    script = write_script(tmp_path / "clean.sh", 'pwd >> "$0.log"')
    result = run_cli(
        [
            "--project-root",
            str(a),
            "--project-root",
            str(b),
            "--yes",
            "--steps",
            "clean_caches",
            "--clean-script",
            str(script),
        ],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "clean.sh.log").read_text().split() == [str(a), str(b)]
