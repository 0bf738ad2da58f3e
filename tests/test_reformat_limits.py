"""The edges of a reformat pass: files deleted under it, broken isort settings, huge files."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

import psutil
import pytest
from helpers import popen_cli, run_cli, snapshot, write_tree

from routine_workflow.reformat.pipeline import Pipeline
from routine_workflow.reformat.ruffpass import _read

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


# --- huge files and memory ---------------------------------------------------------------------

# Under the worker's memory: the CLI, with the peak memory of every process it waited for.
MEASURED_CLI = """\
import json, resource, subprocess, sys
done = subprocess.run([sys.executable, "-m", "routine_workflow", *sys.argv[1:]],
                      capture_output=True, text=True)
peak_kb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss
print(json.dumps([done.returncode, done.stdout, done.stderr, peak_kb]))
"""


def run_measured(args: list[str], cwd: Path, env: dict[str, str] | None = None) -> tuple:
    """(exit code, stdout, stderr, peak RSS in MB of the largest process of the run)."""
    import os

    done = subprocess.run(
        [sys.executable, "-c", MEASURED_CLI, *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        capture_output=True,
        text=True,
        timeout=600,
        check=True,
    )
    code, out, err, peak_kb = json.loads(done.stdout)
    return code, out, err, peak_kb / 1024


def test_a_huge_file_is_too_large_to_reformat_and_memory_stays_bounded(tmp_path: Path) -> None:
    """20 MB of Python: once a worker reached 5.7 GB on it before its time limit."""
    huge = b"x = [\n" + b"    1,\n" * (20 * 2**20 // 7) + b"]\n"
    files = {"gen/huge.py": huge, "small.py": b"import os\nx=1\n"}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    code, out, err, peak_mb = run_measured(["reformat"], root)
    assert code == 1, out + err
    assert f"gen/huge.py: too large to reformat ({len(huge):,} bytes" in err
    assert "reformat_max_file_size = 1,000,000" in err
    assert (root / "gen/huge.py").read_bytes() == huge
    assert (root / "small.py").read_bytes() == b"x = 1\n"
    assert peak_mb < 300, f"a process of the run reached {peak_mb:.0f} MB"


def test_the_size_limit_is_a_setting(tmp_path: Path) -> None:
    files = {"a.py": b"import os\nx=1\n", "b.py": b"import os\n" + b"y = 2\n" * 40}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    env = {"ROUTINE_WORKFLOW_REFORMAT_MAX_FILE_SIZE": "100"}
    result = run_cli(["reformat", "--json"], root, env=env)
    assert result.returncode == 1
    report = json.loads(result.stdout)
    assert [f["path"] for f in report["failures"]] == ["b.py"]
    assert report["failures"][0]["reason"].startswith("too large to reformat (250 bytes")
    assert (root / "a.py").read_bytes() == b"x = 1\n"
    unlimited = run_cli(["reformat"], root, env={"ROUTINE_WORKFLOW_REFORMAT_MAX_FILE_SIZE": "0"})
    assert unlimited.returncode == 0, unlimited.stderr
    assert (root / "b.py").read_bytes().startswith(b"y = 2\n")


@pytest.mark.slow
def test_a_worker_over_its_memory_limit_reports_the_file_and_goes_on(tmp_path: Path) -> None:
    """The worker entry points as the pool runs them, with 48 MB of room: a file that
    needs more is "out of memory", the next one is formatted by the same worker."""
    body = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(6000))
    root = write_tree(tmp_path / "p", {"big.py": body, "ok.py": b"import os\nx=1\n"}, PYPROJECT)
    code = (
        "import json, sys\n"
        "from routine_workflow.reformat import workers as w\n"
        "w.init_worker(sys.argv[1], 0.0, 48 * 2**20)\n"
        "out = w.process_batch([sys.argv[1] + '/big.py', sys.argv[1] + '/ok.py'])\n"
        "print(json.dumps([[o.status, o.reason, o.cacheable] for o in out]))\n"
    )
    done = subprocess.run(
        [sys.executable, "-c", code, str(root)], capture_output=True, text=True, timeout=300
    )
    assert done.returncode == 0, done.stderr
    big, ok = json.loads(done.stdout)
    assert big[0] == "failed" and big[1].startswith("out of memory"), big
    assert "48 MB" in big[1] and big[2] is False
    assert ok[0] == "changed"


def test_a_source_too_deeply_nested_to_compile_is_reported(tmp_path: Path) -> None:
    deep = b"x = (" + b"a+" * 20000 + b"a)\n"
    root = write_tree(tmp_path / "p", {"deep.py": deep, "ok.py": b"import os\nx=1\n"}, PYPROJECT)
    result = run_cli(["reformat"], root)
    assert result.returncode == 1, result.stderr
    assert "deep.py: does not compile: maximum recursion depth exceeded" in result.stderr
    assert "Traceback" not in result.stderr
    assert (root / "deep.py").read_bytes() == deep
    assert (root / "ok.py").read_bytes() == b"x = 1\n"
