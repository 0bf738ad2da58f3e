"""The edges of a reformat pass: files deleted under it, broken isort settings, huge files."""

from __future__ import annotations

import time
from pathlib import Path

import psutil
import pytest
from helpers import popen_cli, run_cli, snapshot, write_tree

from routine_workflow.reformat.pipeline import Pipeline
from routine_workflow.reformat.ruff import _read

PYPROJECT = '[project]\nname = "demo"\n'
SLOW = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(3000))


# --- files deleted during the run --------------------------------------------------------------


@pytest.mark.slow
def test_files_deleted_during_the_run_are_reported_as_vanished(tmp_path: Path) -> None:
    """A checkout deletes files while the pool works: one being formatted, one still queued."""
    files = {"big.py": SLOW, "queued.py": b"import os\nx=1\n", "kept.py": b"import os\ny=2\n"}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    proc = popen_cli(["reformat", "--workers", "1"], root)
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline and not me.children():
        time.sleep(0.02)
    assert me.children(), "the pool never started"
    # The single worker has taken big.py (largest first); the small files wait for it.
    (root / "big.py").unlink()
    (root / "queued.py").unlink()
    out, err = proc.communicate(timeout=120)
    assert proc.returncode == 0, out + err
    assert "skipped big.py: vanished during the run" in out
    assert "skipped queued.py: vanished during the run" in out
    assert "2 vanished during the run" in out and "0 failed" in out
    assert "cannot read" not in out + err
    assert (root / "kept.py").read_bytes() == b"y = 2\n"
    assert sorted(snapshot(root)) == ["kept.py", "pyproject.toml"]  # nothing recreated


def test_a_vanished_file_is_not_a_failure_for_either_engine(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", {"a.py": b"x = 1\n"}, PYPROJECT)
    gone = str(root / "gone.py")
    outcome = Pipeline(root).process(gone)
    assert (outcome.status, outcome.reason, outcome.cacheable) == (
        "vanished",
        "vanished during the run",
        False,
    )
    assert _read(gone)[0].status == "vanished"
    assert _read(str(root / "gone" / "deeper.py"))[0].status == "vanished"
    # Something that exists but cannot be read is still a failure.
    (root / "dir.py").mkdir()
    assert Pipeline(root).process(str(root / "dir.py")).status == "failed"


# --- broken isort settings ---------------------------------------------------------------------


@pytest.mark.parametrize(
    ("name", "text", "expected"),
    [
        ("setup.cfg", "[isort\nprofile = black\n", ("setup.cfg", "line 1", "[isort")),
        ("setup.cfg", "[isort]\nprofile = nonexistent\n", ("setup.cfg", "profile", "nonexistent")),
        (
            "pyproject.toml",
            '[tool.isort]\nprofile = "nonexistent"\n',
            ("pyproject.toml", "profile"),
        ),
        ("pyproject.toml", "[tool.isort]\nno_such_key = 1\n", ("pyproject.toml", "no_such_key")),
        (
            "pyproject.toml",
            '[tool.isort]\nline_length = "abc"\n',
            ("pyproject.toml", "line_length"),
        ),
        (
            ".isort.cfg",
            "[settings]\nforce_single_line = maybe\n",
            (".isort.cfg", "force_single_line"),
        ),
    ],
)
def test_broken_isort_settings_are_one_line_exit_2(
    tmp_path: Path, name: str, text: str, expected: tuple[str, ...]
) -> None:
    root = write_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n"}, PYPROJECT)
    config = root / name
    config.write_text(config.read_text() + "\n" + text if config.exists() else text)
    result = run_cli(["reformat"], root)
    assert result.returncode == 2, result.stdout + result.stderr
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert "isort" in lines[0] and str(config) in lines[0], lines[0]
    for word in expected[1:]:
        assert word in lines[0], lines[0]
    assert "Warning" not in result.stderr and "pipeline.py" not in result.stderr
    assert (root / "a.py").read_bytes() == b"import os\nx=1\n"


def test_a_setup_cfg_only_autoflake_reads_is_one_line_exit_2(tmp_path: Path) -> None:
    """isort stops at .isort.cfg; autoflake still reads setup.cfg (its CLI: a traceback)."""
    root = write_tree(tmp_path / "p", {"a.py": b"import os\n"}, PYPROJECT)
    (root / ".isort.cfg").write_text("[settings]\nprofile = black\n")
    (root / "setup.cfg").write_text("[autoflake\nremove-unused-variables = true\n")
    result = run_cli(["reformat"], root)
    assert result.returncode == 2
    assert result.stderr.strip().splitlines() == [
        f"routine-workflow: error: {root / 'setup.cfg'}: autoflake cannot read it: "
        "line 1: '[autoflake' comes before any [section] header"
    ]


def test_a_harmless_isort_warning_goes_to_the_log_not_stderr(tmp_path: Path) -> None:
    """isort warns about a settings mix it can still use; the run goes on."""
    pyproject = PYPROJECT + (
        '\n[tool.isort]\nknown_first_party = ["a"]\nknown_firstparty = ["b"]\n'
    )
    root = write_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n"}, pyproject)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    assert "UserWarning" not in result.stderr and "pipeline.py" not in result.stderr
    assert (root / "a.py").read_bytes() == b"x = 1\n"
