"""The ``security`` check: real bandit on real projects, through the real CLI."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

from helpers import run_cli

BUILTINS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
)
PICKLE = "import pickle\n\n\ndef load(data):\n    return pickle.loads(data)\n"  # B301, medium
SHELL = "import subprocess\n\n\ndef run(cmd):\n    subprocess.call(cmd, shell=True)\n"  # B602, high
ASSERT = "def check(x):\n    assert x\n"  # B101, low


def _project(root: Path, table: str, files: dict[str, str], settings: str = "") -> None:
    (root / "pyproject.toml").write_text(
        f"[tool.routine-workflow]\n{settings}\n{BUILTINS_OFF}"
        f"[tool.routine-workflow.steps.security]\nenabled = true\n{table}\n"
    )
    for rel, text in files.items():
        (root / rel).parent.mkdir(parents=True, exist_ok=True)
        (root / rel).write_text(text)


def _step(project: Path, *args: str) -> tuple[int, dict]:
    result = run_cli(["--yes", "--json", *args], project, timeout=120)
    assert result.stdout, result.stderr
    (step,) = json.loads(result.stdout)["steps"]
    return result.returncode, step


def test_findings_at_or_above_medium_fail_one_line_each(project: Path) -> None:
    _project(project, "", {"pkg/a.py": PICKLE, "pkg/b.py": SHELL, "pkg/c.py": ASSERT})
    code, step = _step(project)
    assert code == 1
    assert step["summary"] == "2 findings at or above medium (1 high, 1 medium) in 3 files"
    lines = sorted(line for line in step["details"] if not line.startswith("attempt "))
    assert lines[0].startswith("pkg/a.py:5 B301 [medium] ")
    assert lines[1].startswith("pkg/b.py:5 B602 [high] ")
    assert step["counts"]["high"] == 1 and step["counts"]["medium"] == 1


def test_severity_high_lets_medium_pass(project: Path) -> None:
    _project(project, 'severity = "high"', {"pkg/a.py": PICKLE})
    code, step = _step(project)
    assert code == 0, step
    assert step["summary"] == "no findings at or above high in 1 file"


def test_low_catches_asserts(project: Path) -> None:
    _project(project, 'severity = "low"', {"pkg/c.py": ASSERT})
    code, step = _step(project)
    assert code == 1
    assert step["details"][-1].startswith("pkg/c.py:2 B101 [low] ")


def test_our_excludes_and_gitignore_are_respected(project: Path) -> None:
    files = {
        "pkg/ok.py": "X = 1\n",
        "vendor/a.py": PICKLE,
        "generated/b.py": SHELL,
        ".venv/lib/c.py": SHELL,
    }
    _project(project, "", files, settings='exclude_patterns = ["vendor/"]')
    (project / ".gitignore").write_text("generated/\n")
    code, step = _step(project)
    assert code == 0, step
    assert step["summary"] == "no findings at or above medium in 1 file"


def test_bandit_table_in_pyproject_is_read(project: Path) -> None:
    _project(project, "", {"pkg/a.py": PICKLE})
    with open(project / "pyproject.toml", "a") as handle:
        handle.write('[tool.bandit]\nskips = ["B301", "B403"]\n')
    code, step = _step(project)
    assert code == 0, step


def test_bad_severity_is_a_config_error(project: Path) -> None:
    _project(project, 'severity = "medum"', {})
    result = run_cli(["--yes"], project)
    assert result.returncode == 2
    assert "severity: invalid value 'medum': expected one of low, medium, high" in result.stderr
    assert "did you mean 'medium'" in result.stderr


def test_no_python_files(project: Path) -> None:
    _project(project, "", {"README.md": "hi\n"})
    code, step = _step(project)
    assert code == 0
    assert step["summary"] == "no Python files to check"


def test_missing_bandit_is_one_line(project: Path, tmp_path: Path) -> None:
    python, env = without_packages(tmp_path, "bandit")
    _project(project, "", {"pkg/a.py": PICKLE})
    result = subprocess.run(
        [python, "-m", "routine_workflow", "--yes", "--json"],
        cwd=project,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert result.stdout, result.stderr
    (step,) = json.loads(result.stdout)["steps"]
    assert result.returncode == 1
    assert step["summary"] == "the security step needs bandit: pip install bandit"
    assert "Traceback" not in result.stderr


def without_packages(tmp_path: Path, *names: str) -> tuple[str, dict[str, str]]:
    """An interpreter and environment that see routine-workflow and its dependencies but
    not ``names`` (nor on PATH): our site-packages, mirrored by symlinks, minus those."""
    site = tmp_path / "site"
    site.mkdir()
    ours = next(Path(p) for p in sys.path if p.endswith("site-packages") and "bandit" not in p)
    for entry in ours.iterdir():
        if not entry.name.lower().replace("-", "_").startswith(names):
            (site / entry.name).symlink_to(entry)
    src = Path(__file__).resolve().parents[1] / "src"
    base = getattr(sys, "_base_executable", sys.executable)
    env = {
        **os.environ,
        "PYTHONPATH": os.pathsep.join([str(src), str(site)]),
        "PATH": str(Path(base).parent) + os.pathsep + "/usr/bin:/bin",
        "PYTHONNOUSERSITE": "1",
    }
    return base, env
