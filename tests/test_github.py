"""GitHub Actions output: ``::error`` annotations, the job summary and the step outputs.

Through the real command, with the variables a runner sets (``GITHUB_ACTIONS``,
``GITHUB_WORKSPACE``, ``GITHUB_STEP_SUMMARY``, ``GITHUB_OUTPUT``, ``RUNNER_TEMP``).
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.cli.github import annotation, first_changed_lines


def _runner(tmp_path: Path, workspace: Path) -> dict[str, str]:
    (tmp_path / "summary.md").touch()
    (tmp_path / "output.txt").touch()
    (tmp_path / "runner-temp").mkdir()
    return {
        "GITHUB_ACTIONS": "true",
        "GITHUB_WORKSPACE": str(workspace),
        "GITHUB_STEP_SUMMARY": str(tmp_path / "summary.md"),
        "GITHUB_OUTPUT": str(tmp_path / "output.txt"),
        "RUNNER_TEMP": str(tmp_path / "runner-temp"),
    }


def _outputs(tmp_path: Path) -> dict[str, str]:
    lines = (tmp_path / "output.txt").read_text().splitlines()
    return dict(line.split("=", 1) for line in lines)


@pytest.fixture
def repo(tmp_path: Path) -> Path:
    """A checkout whose project is in a subdirectory (the action's working-directory)."""
    root = tmp_path / "workspace" / "svc"
    root.mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "svc"\n')
    (root / "pkg").mkdir()
    (root / "pkg" / "fine.py").write_text("x = 1\n")
    (root / "pkg" / "ugly.py").write_text('"""Doc."""\n\nx = 1\ny=2\n')
    (root / "broken.py").write_text("def f(:\n")
    return root


def test_reformat_check_annotates_each_file_at_its_first_changed_line(
    repo: Path, tmp_path: Path
) -> None:
    env = _runner(tmp_path, repo.parent)
    result = run_cli(["reformat", "--check"], repo, env=env)
    assert result.returncode == 1
    annotations = [line for line in result.stdout.splitlines() if line.startswith("::")]
    assert annotations == [
        "::error title=routine-workflow,file=svc/pkg/ugly.py,line=4::pkg/ugly.py would be "
        "reformatted",
        "::error title=routine-workflow,file=svc/broken.py,line=1::broken.py: does not compile: "
        "line 1: invalid syntax",
    ]
    assert "would reformat pkg/ugly.py" in result.stdout  # the usual output is still there
    assert "--- a/" not in result.stdout  # diffs only with --diff
    outputs = _outputs(tmp_path)
    assert json.loads(outputs["changed-files"]) == ["pkg/ugly.py"]
    report = json.loads(Path(outputs["report"]).read_text())
    assert report["changed_files"] == ["pkg/ugly.py"]
    summary = (tmp_path / "summary.md").read_text()
    assert "| `pkg/ugly.py` | would change |" in summary
    assert "| `broken.py` | error: does not compile" in summary


def test_json_stays_one_document_and_annotations_go_to_stderr(repo: Path, tmp_path: Path) -> None:
    env = _runner(tmp_path, repo.parent)
    result = run_cli(["reformat", "--check", "--json"], repo, env=env)
    assert json.loads(result.stdout)["changed_files"] == ["pkg/ugly.py"]
    assert "::error title=routine-workflow,file=svc/pkg/ugly.py,line=4::" in result.stderr


def test_output_format_text_turns_it_off_and_github_turns_it_on(repo: Path, tmp_path: Path) -> None:
    env = _runner(tmp_path, repo.parent)
    off = run_cli(["reformat", "--check", "--output-format", "text"], repo, env=env)
    assert "::error" not in off.stdout + off.stderr
    assert (tmp_path / "summary.md").read_text() == ""
    on = run_cli(["reformat", "--check", "--output-format", "github"], repo)
    assert "::error title=routine-workflow,file=pkg/ugly.py,line=4::" in on.stdout
    plain = run_cli(["reformat", "--check"], repo)  # not on GitHub: nothing of it
    assert "::error" not in plain.stdout + plain.stderr


@pytest.mark.slow
def test_a_dry_run_annotates_files_and_failed_steps_and_writes_the_summary(
    repo: Path, tmp_path: Path
) -> None:
    (repo / "broken.py").unlink()
    (repo / "pyproject.toml").write_text(
        '[project]\nname = "svc"\n[tool.routine-workflow.steps.lint]\nrun = "false"\n'
    )
    env = _runner(tmp_path, repo.parent)
    result = run_cli(["--dry-run", "--steps", "reformat"], repo, env=env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "::error title=routine-workflow,file=svc/pkg/ugly.py,line=1::pkg/ugly.py would be " in (
        result.stdout
    )
    failed = run_cli(["--yes", "--steps", "lint"], repo, env=env)
    assert failed.returncode == 1
    assert "::error title=routine-workflow::step lint failed: " in failed.stdout
    summary = (tmp_path / "summary.md").read_text()
    assert "### routine-workflow: ok (dry run), exit 0" in summary
    assert "### routine-workflow: failed, exit 1" in summary
    assert "| lint | failed |" in summary
    report = json.loads(Path(_outputs(tmp_path)["report"]).read_text())
    assert report["exit_code"] == 1


def test_annotation_escaping() -> None:
    line = annotation("50% done\nnext", file="a,b:c.py", line=3)
    assert line == "::error title=routine-workflow,file=a%2Cb%3Ac.py,line=3::50%25 done%0Anext"


def test_first_changed_line_skips_the_context_lines() -> None:
    diff = "--- a/m.py\n+++ b/m.py\n@@ -7,5 +7,5 @@\n a\n b\n c\n-y=2\n+y = 2\n"
    assert first_changed_lines([diff]) == {"m.py": 10}
