"""The reformat step's ruff engine: the same guarantees as the black engine, ruff's output."""

from __future__ import annotations

import json
import logging
import os
import shutil
import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.errors import ConfigError
from routine_workflow.reformat.ruff import SELECT, Ruff, find_ruff
from routine_workflow.reformat.run import reformat

try:
    RUFF = find_ruff()
except ConfigError:
    RUFF = ""
pytestmark = pytest.mark.skipif(not RUFF, reason="ruff is not installed (requirements-dev.txt)")

PYPROJECT = """\
[project]
name = "demo"

[tool.ruff]
line-length = 60
extend-exclude = ["generated"]

[tool.ruff.lint.isort]
known-first-party = ["mylib"]

[tool.routine-workflow]
reformat-engine = "ruff"
"""

FILES: dict[str, bytes] = {
    "pkg/__init__.py": b"from .core import thing\nimport os\n",
    "pkg/core.py": (
        b"import sys, os\nimport requests\nfrom mylib import tool\nimport json\n"
        b"from collections import OrderedDict, defaultdict\n\n"
        b"thing = {'a':1, 'b':[1,2,3], "
        b"'c':tool(requests, sys.argv, defaultdict, 'long string here')}\n"
        b"def f(x,y = 2):\n  return  x+y\n"
    ),
    "pkg/crlf.py": b"import sys\r\nimport os\r\nx = {  'a':1 }\r\nprint(sys.argv,x)\r\n",
    "pkg/stub.pyi": b"import sys\nimport os\ndef f(x:int)->int: ...\n",
    "pkg/done.py": b"import sys\n\nprint(sys.argv)\n",
    "sub/quotes.py": b"import os\nx = 'a'\n",
    "sub/ruff.toml": b'[format]\nquote-style = "single"\n',
    "generated/g.py": b"import os\nx=1\n",
}


def make_tree(root: Path, files: dict[str, bytes] = FILES, pyproject: str = PYPROJECT) -> Path:
    """A git repository with ``files`` and ``pyproject``."""
    root.mkdir(parents=True, exist_ok=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return write_tree(root, files, pyproject)


def ruff_by_hand(root: Path) -> None:
    """``ruff check --fix --select F401,I . && ruff format .`` in ``root``."""
    for argv in (["check", "--fix", "--select", SELECT, "."], ["format", "."]):
        subprocess.run(
            [RUFF, *argv, "--no-cache"], cwd=root, capture_output=True, check=False, timeout=120
        )


def _config(root: Path) -> WorkflowConfig:
    return load_config({"project_root": root})


def test_same_bytes_as_ruff_by_hand(tmp_path: Path) -> None:
    theirs = make_tree(tmp_path / "theirs")
    ours = make_tree(tmp_path / "ours")
    ruff_by_hand(theirs)
    result = run_cli(["reformat", "--json"], ours)
    assert result.returncode == 0, result.stderr
    report = json.loads(result.stdout)
    assert snapshot(ours) == snapshot(theirs)
    got = snapshot(ours)
    # The fixture really exercises ruff: imports sorted and pruned, code formatted, the
    # nested configuration and the project's extend-exclude honoured.
    assert got["pkg/core.py"].startswith(
        b"import sys\nfrom collections import defaultdict\n\nimport requests\n\n"
        b"from mylib import tool\n"
    )
    assert b"OrderedDict" not in got["pkg/core.py"] and b"json" not in got["pkg/core.py"]
    assert b"def f(x, y=2):\n    return x + y\n" in got["pkg/core.py"]
    assert got["pkg/crlf.py"].count(b"\r\n") == got["pkg/crlf.py"].count(b"\n")
    assert got["sub/quotes.py"] == b"x = 'a'\n"
    assert b"from .core import thing" in got["pkg/__init__.py"]  # a re-export survives
    assert got["generated/g.py"] == FILES["generated/g.py"]
    assert report["excluded_files"] == ["generated/g.py"]
    assert report["unchanged"] == 1 and report["changed"] == 5


def test_same_bytes_on_real_code(tmp_path: Path) -> None:
    """A slice of the standard library, with the configuration above."""
    source = Path(sysconfig.get_paths()["stdlib"])
    names = ("argparse.py", "textwrap.py", "shlex.py", "fnmatch.py", "glob.py", "json/encoder.py")
    files = {f"real/{n}": (source / n).read_bytes() for n in names if (source / n).is_file()}
    theirs = make_tree(tmp_path / "theirs", files)
    ours = make_tree(tmp_path / "ours", files)
    ruff_by_hand(theirs)
    result = run_cli(["reformat"], ours)
    assert result.returncode == 0, result.stderr
    assert snapshot(ours) == snapshot(theirs)
    assert sum(snapshot(ours)[rel] != data for rel, data in files.items()) >= 3


def test_check_exits_1_and_changes_nothing(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p")
    before = snapshot(root)
    mtimes = {p: p.stat().st_mtime_ns for p in root.rglob("*")}
    result = run_cli(["reformat", "--check"], root)
    assert result.returncode == 1
    assert "would reformat pkg/core.py" in result.stdout
    assert "pkg/done.py" not in result.stdout
    assert snapshot(root) == before
    assert {p: p.stat().st_mtime_ns for p in root.rglob("*")} == mtimes
    diff = run_cli(["reformat", "--diff", "sub"], root)
    assert diff.returncode == 0 and "-import os\n" in diff.stdout
    assert snapshot(root) == before


BAD = {
    "bad/syntax.py": b"import os\ndef f(:\n    pass\n",
    "bad/latin.py": b"# -*- coding: latin-1 -*-\nimport os\nname = '\xe9t\xe9'\n",
    "bad/outside.py": b"import os\nreturn 1\n",  # ruff parses it; Python does not compile it
    # ruff's isort moves the __future__ import first: the output compiles, as by hand.
    "bad/future.py": b"import os\nfrom __future__ import annotations\nprint(os)\n",
    "good.py": b"import os\nx=1\n",
}


def test_bad_files_untouched_and_reported(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", BAD)
    before = snapshot(root)
    result = run_cli(["reformat"], root)
    assert result.returncode == 1
    after = snapshot(root)
    for rel in ("bad/syntax.py", "bad/latin.py", "bad/outside.py"):
        assert after[rel] == before[rel], rel
    assert after["good.py"] == b"x = 1\n"
    # Only what is written must compile: a file ruff turns into one that does is written.
    assert (
        after["bad/future.py"] == b"from __future__ import annotations\n\nimport os\n\nprint(os)\n"
    )
    assert "bad/syntax.py: does not compile: line 2" in result.stderr
    assert "bad/outside.py: does not compile" in result.stderr
    assert "bad/latin.py: cannot decode: ruff reads only UTF-8" in result.stderr
    assert "2 changed" in result.stdout and "3 failed" in result.stdout
    step = run_cli(["--steps", "reformat", "--yes"], root)
    assert step.returncode == 1 and "bad/syntax.py" in step.stderr
    excluded = ["--exclude-patterns", "bad/"]
    assert run_cli(["--steps", "reformat", "--yes", *excluded], root).returncode == 0


@pytest.mark.skipif(sys.version_info >= (3, 14), reason="Python 3.14 compiles the output")
def test_output_that_would_not_compile_is_not_written(tmp_path: Path) -> None:
    """For Python 3.14 targets, ruff's preview style drops the parentheses of
    ``except (A, B):``; the interpreter running us cannot compile that."""
    pyproject = PYPROJECT.replace("[tool.ruff]\n", '[tool.ruff]\ntarget-version = "py314"\n')
    pyproject += "\n[tool.ruff.format]\npreview = true\n"
    source = b"try:\n    pass\nexcept (ValueError, TypeError):\n    pass\n"
    root = make_tree(tmp_path / "p", {"a.py": source, "b.py": b"import os\nx=1\n"}, pyproject)
    theirs = make_tree(tmp_path / "theirs", {"a.py": source}, pyproject)
    ruff_by_hand(theirs)
    assert b"except ValueError, TypeError:" in (theirs / "a.py").read_bytes()  # ruff by hand
    result = run_cli(["reformat"], root)
    assert result.returncode == 1
    assert "a.py: ruff's output would not compile (line 3:" in result.stderr
    assert (root / "a.py").read_bytes() == source
    assert (root / "b.py").read_bytes() == b"x = 1\n"


def test_cache_warm_run_and_invalidation(tmp_path: Path) -> None:
    line = b"x = ['aaaaaaaaaa', 'bbbbbbbbbb', 'cccccccccc', 'dd']\n"
    root = make_tree(tmp_path / "p", {"a.py": line, "b.py": b"import os\n"})
    first = reformat(_config(root))
    assert first.changed == ["a.py", "b.py"] and first.cached == 0
    warm = reformat(_config(root))
    assert warm.cached == 2 and warm.changed == [] and warm.unchanged == 2
    # A change in [tool.ruff] invalidates everything.
    formatted = (root / "a.py").read_bytes()
    (root / "pyproject.toml").write_text(PYPROJECT.replace("line-length = 60", "line-length = 40"))
    after = reformat(_config(root))
    assert after.cached == 0 and after.changed == ["a.py"]
    assert (root / "a.py").read_bytes() != formatted
    # So does one in a nested configuration file, and another ruff version.
    assert reformat(_config(root)).cached == 2
    (root / "ruff.toml").write_text('line-length = 90\n[format]\nquote-style = "single"\n')
    assert reformat(_config(root)).cached == 0
    versions = {**Ruff.find().versions(), "ruff": "0.0.1"}
    assert reformat(_config(root), versions=versions).cached == 0
    assert reformat(_config(root), versions=versions).cached == 2


def test_bad_ruff_configuration_is_one_line_exit_2(tmp_path: Path) -> None:
    pyproject = PYPROJECT.replace("line-length = 60", 'line-length = "long"')
    root = make_tree(tmp_path / "p", {"a.py": b"import os\n"}, pyproject)
    result = run_cli(["reformat"], root)
    assert result.returncode == 2, result.stderr
    assert "ruff configuration" in result.stderr and str(root / "pyproject.toml") in result.stderr
    assert "rw-ruff-" not in result.stderr  # the temporary mirror is not shown
    assert len(result.stderr.strip().splitlines()) == 1
    assert (root / "a.py").read_bytes() == b"import os\n"


def test_extend_outside_the_project_is_followed(tmp_path: Path) -> None:
    shared = tmp_path / "shared"
    shared.mkdir()
    (shared / "base.toml").write_text('[format]\nquote-style = "single"\n')
    pyproject = PYPROJECT.replace("[tool.ruff]\n", '[tool.ruff]\nextend = "../shared/base.toml"\n')
    root = make_tree(tmp_path / "p", {"a.py": b'x = "a"\n'}, pyproject)
    assert run_cli(["reformat"], root).returncode == 0
    assert (root / "a.py").read_bytes() == b"x = 'a'\n"
    (shared / "base.toml").write_text('[format]\nquote-style = "double"\n')
    report = reformat(_config(root))
    assert report.cached == 0 and report.changed == ["a.py"]  # the cache saw the change


def test_file_modified_during_the_run_is_not_clobbered(tmp_path: Path) -> None:
    """A file rewritten after ruff read it keeps the other writer's bytes."""
    from routine_workflow.reformat.ruffpass import outcomes
    from routine_workflow.reformat.run import write_if_unmodified

    root = make_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n"})
    target = root / "a.py"
    ruff, log = Ruff.find(), logging.getLogger("test")
    configs = [root / "pyproject.toml"]
    [outcome] = outcomes(ruff, root, [str(target)], configs, 0, log)
    assert outcome.status == "changed" and outcome.new == b"x = 1\n"
    # Another process rewrites the file after ruff's copy was taken.
    rewrite = f"open({str(target)!r}, 'w').write('y = 2\\n')"
    subprocess.run([sys.executable, "-c", rewrite], check=True)
    assert not write_if_unmodified(target, outcome.digest, outcome.new, [root])
    assert target.read_bytes() == b"y = 2\n"
    # The next run picks it up, and reports it as a change.
    assert reformat(_config(root)).changed == []  # "y = 2" needs nothing
    target.write_bytes(b"import os\ny=2\n")
    assert reformat(_config(root)).changed == ["a.py"]
    assert target.read_bytes() == b"y = 2\n"


def _venv_without_ruff(tmp_path: Path) -> Path:
    """A virtualenv whose interpreter sees our packages but has no ruff next to it."""
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", "--without-pip", str(venv)], check=True)
    site = next((venv / "lib").glob("python3*/site-packages"))
    ours = sysconfig.get_paths()["purelib"]
    (site / "our_packages.pth").write_text(f"import site; site.addsitedir({ours!r})\n")
    return venv / "bin" / "python"


@pytest.mark.skipif(os.name == "nt", reason="POSIX virtualenv layout")
def test_missing_ruff_is_one_clear_line(tmp_path: Path) -> None:
    python = _venv_without_ruff(tmp_path)
    root = make_tree(tmp_path / "p", {"a.py": b"import os\n"})
    path = os.pathsep.join(
        d
        for d in os.environ.get("PATH", "").split(os.pathsep)
        if d and not Path(d, "ruff").exists()
    )
    env = {**os.environ, "PATH": path}
    assert shutil.which("ruff", path=path) is None
    argv = [str(python), "-m", "routine_workflow"]
    command = subprocess.run(
        [*argv, "reformat"], cwd=root, env=env, capture_output=True, text=True, timeout=120
    )
    assert command.returncode == 2, command.stderr
    assert command.stderr.strip().endswith(
        'reformat_engine = "ruff" needs ruff installed: pip install ruff'
    )
    assert len(command.stderr.strip().splitlines()) == 1
    step = subprocess.run(
        [*argv, "--steps", "reformat", "--yes"],
        cwd=root,
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert step.returncode == 1
    assert "needs ruff installed" in step.stdout + step.stderr
    assert (root / "a.py").read_bytes() == b"import os\n"


def test_sigterm_mid_run_stops_everything_and_leaves_files_whole(tmp_path: Path) -> None:
    import signal
    import time

    import psutil
    from helpers import popen_cli

    body = b"".join(b"import os\ndef f%d(a,b):\n    return [a,b,%d]\n" % (i, i) for i in range(150))
    files = {f"m{i:03d}.py": body for i in range(150)}  # enough source for the worker pool
    root = make_tree(tmp_path / "p", files)
    formatted = tmp_path / "formatted"
    make_tree(formatted, {"m000.py": body})
    ruff_by_hand(formatted)
    temp = tmp_path / "temp"
    temp.mkdir()
    env = {**os.environ, "TMPDIR": str(temp)}
    proc = popen_cli(["--steps", "reformat", "--yes", "--workers", "2"], root, env=env)
    me = psutil.Process(proc.pid)
    deadline = time.monotonic() + 30
    children: list[psutil.Process] = []
    while time.monotonic() < deadline and len(children) < 2:
        children = me.children(recursive=True)
        time.sleep(0.01)
    assert len(children) >= 2, "the worker pool never started"
    time.sleep(0.05)  # while the inputs are checked and ruff runs
    children = me.children(recursive=True)
    proc.send_signal(signal.SIGTERM)
    _out, err = proc.communicate(timeout=60)
    assert proc.returncode == 143, err
    assert "Traceback" not in err, err
    assert not [c for c in children if c.is_running() and c.status() != psutil.STATUS_ZOMBIE]
    states = {(root / rel).read_bytes() for rel in files}
    assert states <= {body, (formatted / "m000.py").read_bytes()}
    assert not list(temp.iterdir())  # the mirror is gone


def test_time_limit_fails_the_files_without_caching(tmp_path: Path) -> None:
    root = make_tree(tmp_path / "p", {"a.py": b"import os\nx=1\n"})
    env = {"ROUTINE_WORKFLOW_REFORMAT_FILE_TIMEOUT": "0.000001"}
    result = run_cli(["reformat"], root, env=env)
    assert result.returncode == 1
    assert "a.py: ruff took longer than the limit" in result.stderr
    assert (root / "a.py").read_bytes() == b"import os\nx=1\n"
    again = run_cli(["reformat", "--json"], root)  # a time-out is never cached
    assert json.loads(again.stdout)["cached"] == 0 and again.returncode == 0
    assert (root / "a.py").read_bytes() == b"x = 1\n"
