"""The ruff engine against ruff by hand where the tree itself decides: ruff's isort calls
a module first-party when its package or directory exists under ``src`` (default: the
project root and ``src/``), so ruff must see the project as it is, not a copy of the
files that need work (issue 13, item 3)."""

from __future__ import annotations

import os
import subprocess
import sys
import tarfile
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow.errors import ConfigError
from routine_workflow.reformat.ruff import SELECT, find_ruff

try:
    RUFF = find_ruff()
except ConfigError:
    RUFF = ""
pytestmark = pytest.mark.skipif(not RUFF, reason="ruff is not installed (requirements-dev.txt)")

PYPROJECT = '[project]\nname = "demo"\n\n[tool.routine-workflow]\nreformat-engine = "ruff"\n'

#: A test file that imports the project's own packages, a helper package under tests/,
#: and ``fixtures``, a directory with no Python file at all (ruff: first-party all three).
USER = (
    b"import os\nimport pytest\nfrom tests.helpers.server import Server\nimport mypkg\n"
    b"import fixtures\nimport json\n\n\ndef test_it():\n    assert Server(mypkg, fixtures, os, pytest)\n"
)
FILES: dict[str, bytes] = {
    "src/mypkg/__init__.py": b'"""My package."""\n',
    "src/mypkg/core.py": b"def f(x):\n    return x\n",
    "tests/__init__.py": b"",
    "tests/helpers/__init__.py": b"",
    "tests/helpers/server.py": b"class Server:\n    def __init__(self, *args):\n        pass\n",
    "tests/test_one.py": USER,
    "fixtures/data.json": b"{}\n",
}


def make_tree(root: Path, files: dict[str, bytes] = FILES) -> Path:
    root.mkdir(parents=True)
    subprocess.run(["git", "init", "-q", str(root)], check=True)
    return write_tree(root, files, PYPROJECT)


def ruff_by_hand(root: Path) -> None:
    """``ruff check --fix --select F401,I . && ruff format .`` in ``root``."""
    for argv in (["check", "--fix", "--select", SELECT, "."], ["format", "."]):
        subprocess.run(
            [RUFF, *argv, "--no-cache"], cwd=root, capture_output=True, check=False, timeout=120
        )


def test_first_party_as_by_hand_on_a_cold_run(tmp_path: Path) -> None:
    ours, theirs = make_tree(tmp_path / "ours"), make_tree(tmp_path / "theirs")
    ruff_by_hand(theirs)
    result = run_cli(["reformat"], ours)
    assert result.returncode == 0, result.stderr
    assert snapshot(ours) == snapshot(theirs)
    # The fixture exercises the case: three first-party modules after pytest, in one block.
    assert (
        (ours / "tests/test_one.py")
        .read_bytes()
        .startswith(
            b"import os\n\nimport pytest\n\nimport fixtures\nimport mypkg\n"
            b"from tests.helpers.server import Server\n"
        )
    )


def test_first_party_as_by_hand_when_only_some_files_need_work(tmp_path: Path) -> None:
    """The cache answers for every file but one: ruff still sees the whole tree."""
    ours, theirs = make_tree(tmp_path / "ours"), make_tree(tmp_path / "theirs")
    assert run_cli(["reformat"], ours).returncode == 0
    ruff_by_hand(theirs)
    for root in (ours, theirs):
        (root / "tests/test_two.py").write_bytes(USER)
    ruff_by_hand(theirs)
    result = run_cli(["reformat", "--json"], ours)
    assert result.returncode == 0, result.stderr
    assert '"cached": 6' in result.stdout
    assert snapshot(ours) == snapshot(theirs)
    assert snapshot(ours)["tests/test_two.py"] == snapshot(ours)["tests/test_one.py"]


def test_check_passes_after_a_run(tmp_path: Path) -> None:
    """What the user's CI runs next, ``ruff check --select I``, finds nothing to sort."""
    root = make_tree(tmp_path / "p")
    assert run_cli(["reformat"], root).returncode == 0
    (root / "tests/test_two.py").write_bytes(USER)
    assert run_cli(["reformat"], root).returncode == 0
    done = subprocess.run(
        [RUFF, "check", "--select", "I", "--no-cache", "."],
        cwd=root,
        capture_output=True,
        text=True,
        check=False,
    )
    assert done.returncode == 0, done.stdout


def _requests_sdist(tmp_path: Path) -> Path:
    """requests 2.32.3's sdist: from $RW_TEST_REQUESTS_SDIST, else downloaded with pip."""
    given = os.environ.get("RW_TEST_REQUESTS_SDIST")
    if given:
        return Path(given)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    done = subprocess.run(
        [*pip, "--no-binary", ":all:", "requests==2.32.3", "-d", str(tmp_path / "dl")],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    found = list((tmp_path / "dl").glob("requests-2.32.3.tar.gz"))
    if done.returncode != 0 or not found:
        pytest.skip(f"cannot download requests 2.32.3: {done.stderr.strip()[-200:]}")
    return found[0]


@pytest.mark.slow
def test_requests_as_by_hand(tmp_path: Path) -> None:
    """Issue 13's case: requests 2.32.3, one test file edited after a first run."""
    sdist = _requests_sdist(tmp_path)
    trees = []
    for name in ("ours", "theirs"):
        with tarfile.open(sdist) as tar:
            tar.extractall(tmp_path / name, filter="data")
        root = tmp_path / name / "requests-2.32.3"
        subprocess.run(["git", "init", "-q", str(root)], check=True)
        trees.append(root)
    ours, theirs = trees
    env = {"ROUTINE_WORKFLOW_REFORMAT_ENGINE": "ruff"}
    pristine = (ours / "tests/test_lowlevel.py").read_bytes()
    assert run_cli(["reformat"], ours, env=env).returncode == 0
    ruff_by_hand(theirs)
    assert snapshot(ours) == snapshot(theirs)
    for root in trees:
        (root / "tests/test_lowlevel.py").write_bytes(pristine)
    assert run_cli(["reformat"], ours, env=env).returncode == 0
    ruff_by_hand(theirs)
    assert snapshot(ours) == snapshot(theirs)
