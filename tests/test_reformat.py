"""The reformat step and subcommand: byte-identical to the three CLIs, safe with bad files."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.reformat.cache import tool_versions
from routine_workflow.reformat.pipeline import CHANGED, Pipeline
from routine_workflow.reformat.run import reformat, write_if_unmodified
from routine_workflow.reformat.workers import batches

PYPROJECT = """\
[project]
name = "demo"

[tool.black]
line-length = 60
skip-string-normalization = true

[tool.isort]
profile = "black"
line_length = 60
known_first_party = ["mylib"]
"""

# Each file exercises one piece of the tools' configuration or of the file handling.
FILES: dict[str, bytes] = {
    "pkg/__init__.py": b"from .core import thing\nfrom .util import helper\nimport os\n",
    "pkg/core.py": (
        b"import sys, os\nimport requests\nfrom mylib import tool\nimport json\n"
        b"from collections import OrderedDict, defaultdict\n\n"
        b"thing = {'a':1, 'b':[1,2,3], "
        b"'c':tool(requests, sys.argv, defaultdict, 'long string here')}\n"
        b"def f(x,y = 2):\n  return  x+y\n"
    ),
    "pkg/util.py": (
        b"def helper(a, b, c, d, e, f, g, h, i, j, k, l, m, n, o, p, q):\n    return 'x'\n"
    ),
    "pkg/skipped.py": (
        b"# isort: skip_file\nimport sys\nimport os\nimport abc\nprint(sys.path,  os.sep,abc)\n"
    ),
    "pkg/fmtoff.py": (
        b"import os\n# fmt: off\nmatrix = [\n  1,0,0,\n  0,1,0,\n]\n# fmt: on\n"
        b"other = [\n  1,2\n]\n"
    ),
    "pkg/crlf.py": b"import sys\r\nimport os\r\nx = {  'a':1 }\r\nprint(sys.argv,x)\r\n",
    "pkg/mixed.py": b"import sys\nimport os\r\nx = {  'a':1 }\r\nprint(sys.argv,x)\n",
    "pkg/bom.py": b"\xef\xbb\xbfimport sys\nimport os\nprint( sys.argv )\n",
    "pkg/cookie.py": b"# -*- coding: latin-1 -*-\nimport os\nname = '\xe9t\xe9'\nprint( name )\n",
    "pkg/stub.pyi": (
        b"import sys\nimport os\ndef f(x:int)->int: ...\nclass C:\n    def m(self)->None: ...\n"
    ),
    "pkg/done.py": b"import sys\n\nprint(sys.argv)\n",
    "scripts/tool.py": b"#!/usr/bin/env python3\nimport os, sys\nprint(sys.argv)\n",
}


def make_tree(root: Path, files: dict[str, bytes] = FILES, pyproject: str = PYPROJECT) -> Path:
    """A project with ``files`` and ``pyproject``; returns its root."""
    return write_tree(root, files, pyproject)


def run_the_three_clis(root: Path, tmp_path: Path) -> None:
    """``autoflake ... -r . && isort . && black .`` in ``root``, black's cache empty."""
    env = {**os.environ, "BLACK_CACHE_DIR": str(tmp_path / "black-cache")}
    for argv in (
        [
            "autoflake",
            "--in-place",
            "--remove-all-unused-imports",
            "--ignore-init-module-imports",
            "-r",
            ".",
        ],
        ["isort", "."],
        ["black", "-q", "."],
    ):
        subprocess.run(
            [sys.executable, "-m", *argv],
            cwd=root,
            env=env,
            check=False,
            capture_output=True,
            timeout=120,
        )


@pytest.mark.slow
def test_byte_identical_to_the_three_clis(tmp_path: Path) -> None:
    theirs = make_tree(tmp_path / "theirs")
    ours = make_tree(tmp_path / "ours")
    run_the_three_clis(theirs, tmp_path)
    result = run_cli(["reformat", "--workers", "2"], ours)
    assert result.returncode == 0, result.stderr
    expected, got = snapshot(theirs), snapshot(ours)
    assert got == expected
    # The fixture really exercises the tools: most files changed, the right ones did not.
    assert got["pkg/skipped.py"].startswith(b"# isort: skip_file\nimport sys\nimport os\n")
    assert got["pkg/crlf.py"].count(b"\r\n") == got["pkg/crlf.py"].count(b"\n")
    assert got["pkg/bom.py"].startswith(b"\xef\xbb\xbf")
    assert b"from .core import thing" in got["pkg/__init__.py"]
    assert got["pkg/core.py"].startswith(b"import sys\nfrom collections import defaultdict\n")
    assert b"  1,0,0," in got["pkg/fmtoff.py"]
    changed = [rel for rel, data in FILES.items() if got[rel] != data]
    assert len(changed) >= 9


@pytest.mark.slow
def test_byte_identical_on_real_code(tmp_path: Path) -> None:
    """A slice of the installed isort package, with the project config above."""
    import isort

    source = Path(isort.__file__).parent
    files = {f"real/{p.name}": p.read_bytes() for p in sorted(source.glob("*.py"))[:8]}
    theirs = make_tree(tmp_path / "theirs", files)
    ours = make_tree(tmp_path / "ours", files)
    run_the_three_clis(theirs, tmp_path)
    result = run_cli(["reformat"], ours)
    assert result.returncode == 0, result.stderr
    assert snapshot(ours) == snapshot(theirs)
    assert snapshot(ours) != {"pyproject.toml": PYPROJECT.encode(), **files}


BAD = {
    "bad/syntax.py": b"import os\ndef f(:\n    pass\n",
    "bad/latin.py": b"import os\nname = '\xe9t\xe9'\n",
    "bad/empty.py": b"",
    "good.py": b"import os\nx = 1\n",
}


def test_bad_files_untouched_and_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", BAD)
    before = snapshot(root)
    result = run_cli(["reformat"], root)
    assert result.returncode == 1
    after = snapshot(root)
    for rel in ("bad/syntax.py", "bad/latin.py", "bad/empty.py"):
        assert after[rel] == before[rel], rel
    assert after["good.py"] == b"x = 1\n"  # the others are still processed
    assert "bad/syntax.py: does not compile: line 2" in result.stderr
    assert "bad/latin.py: cannot decode" in result.stderr
    assert "empty.py" not in result.stderr
    assert "1 changed" in result.stdout and "2 failed" in result.stdout


def test_workflow_step_fails_on_bad_file_and_passes_once_excluded(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", BAD)
    result = run_cli(["--steps", "reformat", "--yes"], root)
    assert result.returncode == 1
    assert "bad/syntax.py" in result.stderr
    excluded = ["--exclude-patterns", "bad/syntax.py,bad/latin.py"]
    result = run_cli(["--steps", "reformat", "--yes", *excluded], root)
    assert result.returncode == 0, result.stderr


def test_check_writes_nothing_and_exits_1(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p")
    before = snapshot(root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    result = run_cli(["reformat", "--check"], root)
    assert result.returncode == 1
    assert "would reformat pkg/core.py" in result.stdout
    assert "pkg/done.py" not in result.stdout
    assert snapshot(root) == before
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes


def test_diff_prints_changes_and_writes_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"import os\nx = 1\n"})
    result = run_cli(["reformat", "--diff"], root)
    assert result.returncode == 0
    assert "--- a/a.py\n+++ b/a.py\n" in result.stdout and "-import os\n" in result.stdout
    assert (root / "a.py").read_bytes() == b"import os\nx = 1\n"


def test_check_on_formatted_tree_exits_0(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"x = 1\n"})
    assert run_cli(["reformat", "--check"], root).returncode == 0


def test_dry_run_reports_without_failing_or_writing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p")
    before = snapshot(root)
    result = run_cli(["--dry-run", "--steps", "reformat"], root)
    assert result.returncode == 0, result.stderr
    assert "would change" in result.stdout
    assert snapshot(root) == before


def test_paths_limit_the_run(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p")
    result = run_cli(["reformat", "pkg/core.py", "scripts"], root)
    assert result.returncode == 0, result.stderr
    after = snapshot(root)
    assert after["pkg/core.py"] != FILES["pkg/core.py"]
    assert after["scripts/tool.py"] != FILES["scripts/tool.py"]
    assert after["pkg/crlf.py"] == FILES["pkg/crlf.py"]
    outside = run_cli(["reformat", str(tmp_path)], root)
    assert outside.returncode == 2 and "not inside the project root" in outside.stderr


def test_files_a_tool_excludes_are_left_alone(tmp_path: Path) -> None:
    pyproject = PYPROJECT.replace(
        "skip-string-normalization = true",
        'skip-string-normalization = true\nextend-exclude = "generated/"',
    )
    files = {
        "generated/g.py": b"import os\nx=1\n",
        ".hidden/h.py": b"import os\nx=1\n",
        "ok.py": b"import os\nx=1\n",
    }
    root = make_tree(tmp_path / "p", files, pyproject)
    result = run_cli(["reformat"], root)
    assert result.returncode == 0, result.stderr
    after = snapshot(root)
    assert after["generated/g.py"] == files["generated/g.py"]
    assert after[".hidden/h.py"] == files[".hidden/h.py"]
    assert after["ok.py"] == b"x = 1\n"
    assert "2 excluded" in result.stdout


def test_file_rewritten_by_another_process_is_not_clobbered(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n"})
    target = root / "a.py"
    outcome = Pipeline(root).process(str(target))
    assert outcome.status == CHANGED
    # Another process rewrites the file after the pipeline read it.
    rewrite = f"open({str(target)!r}, 'w').write('y = 2\\n')"
    subprocess.run([sys.executable, "-c", rewrite], check=True)
    assert not write_if_unmodified(target, outcome.digest, outcome.new or b"", [root])
    assert target.read_bytes() == b"y = 2\n"
    # Unmodified: the write goes through, keeping the mode.
    target.chmod(0o640)
    fresh = Pipeline(root).process(str(target))
    assert fresh.status == "unchanged"
    target.write_bytes(b"import os\nx=1\n")
    target.chmod(0o640)
    again = Pipeline(root).process(str(target))
    assert write_if_unmodified(target, again.digest, again.new or b"", [root])
    assert target.read_bytes() == b"x = 1\n"
    assert target.stat().st_mode & 0o777 == 0o640


def test_per_file_time_limit(tmp_path: Path) -> None:
    body = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(400))
    root = make_tree(tmp_path / "p", {"big.py": body})
    result = run_cli(["reformat"], root, env={"ROUTINE_WORKFLOW_REFORMAT_FILE_TIMEOUT": "0.001"})
    assert result.returncode == 1
    assert "big.py: took longer than the per-file limit" in result.stderr
    assert (root / "big.py").read_bytes() == body


def test_batches_put_largest_first() -> None:
    todo = [("small", 10), ("huge", 10**6), ("mid", 70_000)] + [(f"s{i}", 100) for i in range(40)]
    groups = batches(todo)
    assert groups[0] == ["huge"] and groups[1] == ["mid"]
    assert sorted(p for g in groups for p in g) == sorted(p for p, _ in todo)
    assert all(len(g) <= 32 for g in groups)


# --- the cache -------------------------------------------------------------------------------


def _config(root: Path) -> WorkflowConfig:
    return load_config({"project_root": root, "max_workers": 2})


def test_warm_run_hits_cache_without_importing_the_tools(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p")
    assert run_cli(["reformat"], root).returncode == 0
    code = (
        "import json, sys\n"
        "from pathlib import Path\n"
        "from routine_workflow.config import load_config\n"
        "from routine_workflow.reformat.run import reformat\n"
        f"r = reformat(load_config({{'project_root': Path({str(root)!r})}}))\n"
        "print(json.dumps([r.counts(), sorted(m for m in ('black', 'isort', 'autoflake')"
        " if m in sys.modules)]))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    counts, imported = json.loads(out.stdout)
    assert imported == []
    assert counts["cached"] == counts["seen"] == len(FILES)
    assert counts["changed"] == 0


def test_cache_invalidated_when_black_config_changes(tmp_path: Path) -> None:
    line = b"x = ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc', 'dd']\n"
    root = make_tree(tmp_path / "p", {"a.py": line})
    first = reformat(_config(root))
    assert first.cached == 0 and first.changed == []  # 58 columns fit in 60
    assert reformat(_config(root)).cached == 1
    (root / "pyproject.toml").write_text(PYPROJECT.replace("line-length = 60", "line-length = 40"))
    after = reformat(_config(root))
    assert after.cached == 0
    assert after.changed == ["a.py"]


def test_cache_invalidated_when_a_tool_version_changes(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"x = 1\n"})
    reformat(_config(root))
    assert reformat(_config(root)).cached == 1
    bumped = {**tool_versions(), "black": "0.0.1"}
    assert reformat(_config(root), versions=bumped).cached == 0
    assert reformat(_config(root), versions=bumped).cached == 1


def test_cached_failure_still_fails(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"def f(:\n"})
    assert len(reformat(_config(root)).failed) == 1
    again = reformat(_config(root))
    assert again.cached == 1 and len(again.failed) == 1


def test_edited_file_is_processed_again(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"x = 1\n", "b.py": b"y = 2\n"})
    reformat(_config(root))
    (root / "b.py").write_bytes(b"import os\ny=2\n")
    report = reformat(_config(root))
    assert report.cached == 1 and report.changed == ["b.py"]
    assert (root / "b.py").read_bytes() == b"y = 2\n"


def test_unreadable_cache_is_ignored(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"x = 1\n"})
    config = _config(root)
    reformat(config)
    cache_file = next(config.cache_dir.glob("*.json"))
    cache_file.write_text("{not json")
    assert reformat(config).cached == 0
    shutil.rmtree(config.cache_dir)
    assert reformat(config).cached == 0


OTHER_PYPROJECT = """\
[project]
name = "demo2"
requires-python = ">=3.10"

[tool.black]
line-length = 70
skip-magic-trailing-comma = true
skip-source-first-line = true

[tool.autoflake]
remove-unused-variables = true
expand-star-imports = true
"""

ISORT_CFG = "[settings]\nprofile = google\nforce_single_line = true\nline_length = 70\n"

OTHER_FILES: dict[str, bytes] = {
    "app/main.py": (
        b"import os, sys\nfrom typing import List, Dict\n"
        b"def f():\n    unused = 1\n    return sys.argv\n"
    ),
    "app/script.py": b"this first line is not python\nimport sys\nprint( sys.argv )\n",
    "app/star.py": b"import os\nfrom math import *\nprint(pi, sqrt(2))\n",
    "app/trailing.py": b"import sys\nx = [\n    1,\n    2,\n]\nprint(sys, x)\n",
    "app/__init__.py": b"from .main import f\nfrom .star import *\n",
}


def test_byte_identical_with_other_settings(tmp_path: Path) -> None:
    """isort settings from .isort.cfg, autoflake's own table, more black options."""
    theirs = make_tree(tmp_path / "theirs", OTHER_FILES, OTHER_PYPROJECT)
    ours = make_tree(tmp_path / "ours", OTHER_FILES, OTHER_PYPROJECT)
    for root in (theirs, ours):
        (root / ".isort.cfg").write_text(ISORT_CFG)
    run_the_three_clis(theirs, tmp_path)
    result = run_cli(["reformat", "--json"], ours)
    assert json.loads(result.stdout)["failures"] == [], result.stdout
    expected, got = snapshot(theirs), snapshot(ours)
    assert got == expected
    assert got["app/script.py"] == b"this first line is not python\nimport sys\n\nprint(sys.argv)\n"
    assert b"unused" not in got["app/main.py"]
    assert b"from typing import" not in got["app/main.py"]
    assert b"x = [1, 2]" in got["app/trailing.py"]


def test_autoflake_defaults_can_be_turned_off(tmp_path: Path) -> None:
    pyproject = PYPROJECT + "\n[tool.autoflake]\nremove-all-unused-imports = false\n"
    root = make_tree(tmp_path / "p", {"a.py": b"import requests\nimport os\nx = 1\n"}, pyproject)
    assert run_cli(["reformat"], root).returncode == 0
    # Only standard-library imports are removed without --remove-all-unused-imports.
    assert (root / "a.py").read_bytes() == b"import requests\n\nx = 1\n"


def test_isort_skip_settings_exclude_a_file(tmp_path: Path) -> None:
    pyproject = PYPROJECT + 'skip_glob = ["legacy/*"]\n'
    files = {"legacy/old.py": b"import os\nx=1\n", "new.py": b"import os\nx=1\n"}
    root = make_tree(tmp_path / "p", files, pyproject)
    result = run_cli(["reformat", "--json"], root)
    assert json.loads(result.stdout)["excluded_files"] == ["legacy/old.py"]
    assert (root / "legacy/old.py").read_bytes() == files["legacy/old.py"]
    assert (root / "new.py").read_bytes() == b"x = 1\n"


@pytest.mark.parametrize(
    ("setting", "message"),
    [
        ('required-version = "1"', "required-version"),
        ('target-version = "py310"', "target-version"),
    ],
)
def test_bad_black_configuration_is_one_line_exit_2(
    tmp_path: Path, setting: str, message: str
) -> None:
    pyproject = PYPROJECT.replace("line-length = 60", f"line-length = 60\n{setting}")
    root = make_tree(tmp_path / "p", {"a.py": b"import os\n"}, pyproject)
    result = run_cli(["reformat"], root)
    assert result.returncode == 2
    assert message in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert (root / "a.py").read_bytes() == b"import os\n"


def test_reformat_waits_for_no_one_when_a_run_holds_the_lock(tmp_path: Path) -> None:
    from routine_workflow.lock import ProjectLock

    root = make_tree(tmp_path / "p", {"a.py": b"import os\n"})
    with ProjectLock(_config(root).lock_dir):
        result = run_cli(["reformat"], root)
        assert result.returncode == 75
        assert run_cli(["reformat", "--check"], root).returncode == 1  # reading needs no lock
    assert (root / "a.py").read_bytes() == b"import os\n"


@pytest.mark.slow
def test_sigterm_mid_run_leaves_every_file_old_or_new(tmp_path: Path) -> None:
    import signal
    import time

    import psutil
    from helpers import popen_cli

    body = b"".join(b"import os\ndef f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(100))
    files = {f"m{i:03d}.py": body for i in range(120)}
    root = make_tree(tmp_path / "p", files)
    formatted = Pipeline(root).process(str(root / "m000.py")).new
    proc = popen_cli(["--steps", "reformat", "--yes", "--workers", "2"], root)
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    workers: list[psutil.Process] = []
    while time.monotonic() < deadline and len(workers) < 2:
        workers = me.children(recursive=True)
        time.sleep(0.05)
    assert len(workers) >= 2, "the pool never started"
    time.sleep(0.5)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err
    assert not [w for w in workers if w.is_running() and w.status() != psutil.STATUS_ZOMBIE]
    states = {(root / rel).read_bytes() for rel in files}
    assert states <= {body, formatted}
    assert not list(root.glob(".*.rw-tmp"))


@pytest.mark.skipif(os.geteuid() == 0, reason="root writes through read-only permissions")
def test_unwritable_file_is_reported_and_the_rest_processed(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"ro/a.py": b"import os\nx=1\n", "b.py": b"import os\ny=2\n"})
    (root / "ro").chmod(0o555)
    try:
        result = run_cli(["reformat"], root)
    finally:
        (root / "ro").chmod(0o755)
    assert result.returncode == 1
    assert "ro/a.py: cannot write" in result.stderr
    assert (root / "b.py").read_bytes() == b"y = 2\n"


def test_tool_directories_inside_the_project_are_not_reformatted(tmp_path: Path) -> None:
    pyproject = PYPROJECT + '\n[tool.routine-workflow]\ncache-dir = "cachehere"\n'
    files = {
        "cachehere/x.py": b"import os\nx=1\n",
        "src/y.py": b"import os\ny=1\n",
        "src/data.txt": b"import os\n",
    }
    root = make_tree(tmp_path / "p", files, pyproject)
    result = run_cli(["reformat", "--json"], root)
    assert json.loads(result.stdout)["seen"] == 1
    assert (root / "cachehere/x.py").read_bytes() == files["cachehere/x.py"]
    assert (root / "src/y.py").read_bytes() == b"y = 1\n"


def test_worker_entry_points_in_a_real_process(tmp_path: Path) -> None:
    """init_worker + process_batch as a pool worker runs them, in a process of their own."""
    body = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(300))
    root = make_tree(tmp_path / "p", {"ok.py": b"import os\nx=1\n", "big.py": body})
    code = (
        "import json, sys\n"
        "from routine_workflow.reformat import workers as f\n"
        "f.init_worker(sys.argv[1], float(sys.argv[2]))\n"
        "out = f.process_batch([sys.argv[1] + '/ok.py', sys.argv[1] + '/big.py'])\n"
        "print(json.dumps([[o.status, o.reason, o.cacheable] for o in out]))\n"
    )
    quick = subprocess.run(
        [sys.executable, "-c", code, str(root), "0.001"], capture_output=True, text=True, check=True
    )
    _ok, big = json.loads(quick.stdout)
    assert big[0] == "failed" and "per-file limit" in big[1] and big[2] is False
    relaxed = subprocess.run(
        [sys.executable, "-c", code, str(root), "0"], capture_output=True, text=True, check=True
    )
    assert [o[0] for o in json.loads(relaxed.stdout)] == ["changed", "changed"]


@pytest.mark.parametrize(
    ("data", "reason"),
    [
        (b"# -*- coding: no-such-codec -*-\nx = 1\n", "cannot decode"),
        (b"x = 1\x00\n", "does not compile"),
        (b"\xef\xbb\xbf# -*- coding: latin-1 -*-\nx = 1\n", "cannot decode"),
        (b"def f():\n\treturn 1\n        return 2\n", "does not compile"),
    ],
)
def test_undecodable_or_uncompilable_sources(tmp_path: Path, data: bytes, reason: str) -> None:
    root = make_tree(tmp_path / "p", {"a.py": data})
    outcome = Pipeline(root).process(str(root / "a.py"))
    assert outcome.status == "failed" and outcome.reason.startswith(reason), outcome.reason
    assert (root / "a.py").read_bytes() == data


def test_unreadable_path_is_a_failure_not_a_crash(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"x = 1\n"})
    (root / "dir.py").mkdir()
    outcome = Pipeline(root).process(str(root / "dir.py"))
    assert outcome.status == "failed" and outcome.reason.startswith("cannot read")
    assert outcome.cacheable is False


def test_tool_versions_agree_with_importlib_metadata(monkeypatch: pytest.MonkeyPatch) -> None:
    from importlib import metadata

    from routine_workflow.reformat import cache as reformat_cache

    versions = tool_versions()
    for name in reformat_cache.TOOLS:
        assert versions[name] == metadata.version(name)
    # What the directory names do not tell goes to importlib.metadata.
    monkeypatch.setattr(reformat_cache, "TOOLS", (*reformat_cache.TOOLS, "no-such-tool-rw"))
    assert tool_versions()["no-such-tool-rw"] == "missing"


def test_diff_output_is_a_patch_that_git_applies(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n", "b.py": b"y = 2\n"})
    subprocess.run(["git", "init", "-q"], cwd=root, check=True)
    result = run_cli(["reformat", "--diff"], root)
    assert result.returncode == 0, result.stderr
    assert "would reformat a.py" in result.stderr and "1 would change" in result.stderr
    patch = tmp_path / "x.patch"
    patch.write_text(result.stdout)
    subprocess.run(["git", "apply", str(patch)], cwd=root, check=True)
    assert (root / "a.py").read_bytes() == b"x = 1\n"
