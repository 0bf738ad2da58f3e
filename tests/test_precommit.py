"""The pre-commit hooks in ``.pre-commit-hooks.yaml``, run by the real pre-commit in a real git repo."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import wait_for, wait_until

REPO = Path(__file__).resolve().parents[1]
MANIFEST = REPO / ".pre-commit-hooks.yaml"
UGLY = "import os\nx = {  'a':1 }\n"
PRETTY_LINE = 'x = {"a": 1}'

needs_precommit = pytest.mark.skipif(
    importlib.util.find_spec("pre_commit") is None,
    reason="pre-commit is not installed (pip install -r requirements-dev.txt)",
)


def _env(home: Path) -> dict[str, str]:
    # language: system hooks find routine-workflow on PATH: the one installed next to this Python.
    bindir = str(Path(sys.executable).absolute().parent)
    return {
        **os.environ,
        "PATH": bindir + os.pathsep + os.environ.get("PATH", ""),
        "PRE_COMMIT_HOME": str(home / "pre-commit-cache"),
        "GIT_AUTHOR_NAME": "t",
        "GIT_AUTHOR_EMAIL": "t@example.org",
        "GIT_COMMITTER_NAME": "t",
        "GIT_COMMITTER_EMAIL": "t@example.org",
        "GIT_CONFIG_NOSYSTEM": "1",
    }


def _run(argv: list[str], cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        argv, cwd=cwd, env=env, capture_output=True, text=True, timeout=300, check=False
    )


def _pre_commit(
    args: list[str], cwd: Path, env: dict[str, str]
) -> subprocess.CompletedProcess[str]:
    return _run([sys.executable, "-m", "pre_commit", *args], cwd, env)


def _local_hooks_config() -> str:
    """Our manifest's hooks as ``repo: local`` hooks, run with the routine-workflow under test.

    Everything but ``language`` comes from the manifest, so the entries, file
    types and serial flag being tested are the ones users get.
    """
    import yaml

    hooks = yaml.safe_load(MANIFEST.read_text())
    for hook in hooks:
        hook["language"] = "system"
    return yaml.safe_dump({"repos": [{"repo": "local", "hooks": hooks}]}, sort_keys=False)


@pytest.fixture
def repo(tmp_path: Path, isolated_home: Path) -> tuple[Path, dict[str, str]]:
    root = tmp_path / "repo"
    root.mkdir()
    env = _env(isolated_home)
    _run(["git", "init", "-q"], root, env)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    (root / ".pre-commit-config.yaml").write_text(_local_hooks_config())
    return root, env


@needs_precommit
def test_manifest_is_valid_for_pre_commit(isolated_home: Path) -> None:
    result = _pre_commit(["validate-manifest", str(MANIFEST)], REPO, _env(isolated_home))
    assert result.returncode == 0, result.stdout + result.stderr
    text = MANIFEST.read_text()
    assert (
        "id: routine-workflow-reformat\n" in text
        and "id: routine-workflow-reformat-check\n" in text
    )


@needs_precommit
def test_local_config_built_from_the_manifest_is_valid(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    result = _pre_commit(["validate-config", ".pre-commit-config.yaml"], root, env)
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.slow
@needs_precommit
def test_round_trip_reformats_then_passes(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    (root / "ugly.py").write_text(UGLY)
    (root / "stub.pyi").write_text("def f( a:int )->int: ...\n")
    (root / "notes.txt").write_text("x = {  'a':1 }\n")
    _run(["git", "add", "-A"], root, env)
    first = _pre_commit(["run", "routine-workflow-reformat", "--all-files"], root, env)
    assert first.returncode == 1, first.stdout + first.stderr  # pre-commit: "files were modified"
    assert "files were modified by this hook" in first.stdout
    assert PRETTY_LINE in (root / "ugly.py").read_text()
    assert (root / "stub.pyi").read_text() == "def f(a: int) -> int: ...\n"
    assert (root / "notes.txt").read_text() == "x = {  'a':1 }\n"  # not a Python file
    _run(["git", "add", "-A"], root, env)
    second = _pre_commit(["run", "--all-files"], root, env)
    assert second.returncode == 0, second.stdout + second.stderr


@needs_precommit
def test_check_hook_fails_and_changes_nothing(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    (root / "ugly.py").write_text(UGLY)
    _run(["git", "add", "-A"], root, env)
    result = _pre_commit(["run", "routine-workflow-reformat-check", "--all-files"], root, env)
    assert result.returncode == 1, result.stdout + result.stderr
    assert (root / "ugly.py").read_text() == UGLY


@pytest.mark.slow
@needs_precommit
def test_commit_hook_touches_only_staged_files(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    install = _pre_commit(["install"], root, env)
    assert install.returncode == 0, install.stdout + install.stderr
    (root / "staged.py").write_text(UGLY)
    (root / "unstaged.py").write_text(UGLY)
    _run(["git", "add", "staged.py", "pyproject.toml", ".pre-commit-config.yaml"], root, env)
    commit = _run(["git", "commit", "-q", "-m", "first"], root, env)
    assert commit.returncode != 0  # the hook rewrote a staged file: the commit stops for review
    assert PRETTY_LINE in (root / "staged.py").read_text()
    assert (root / "unstaged.py").read_text() == UGLY
    _run(["git", "add", "staged.py"], root, env)
    again = _run(["git", "commit", "-q", "-m", "first"], root, env)
    assert again.returncode == 0, again.stdout + again.stderr


# -- a run holding the lock does not fail the commit ----------------------------------------------

#: Holds the lock until ``release`` exists or ``ticks`` twentieths of a second have passed.
HOLDER = (
    "[tool.routine-workflow.steps.hold]\n"
    "run = \"sh -c 'touch {marker}; i=0; "
    "while [ ! -e {release} ] && [ $i -lt {ticks} ]; do sleep 0.05; i=$((i+1)); done'\"\n"
)


def _hold_the_lock(root: Path, env: dict[str, str], seconds: float) -> subprocess.Popen[str]:
    """A real workflow run (as cron or watch would start it) holding the project's lock.

    It lets go after ``seconds``, or as soon as ``root.parent / "release"`` exists.
    """
    marker = root.parent / "holding"
    release = root.parent / "release"
    with (root / "pyproject.toml").open("a") as handle:
        handle.write(HOLDER.format(marker=marker, release=release, ticks=int(seconds * 20)))
    holder = subprocess.Popen(
        [sys.executable, "-m", "routine_workflow", "--yes", "--steps", "hold"],
        cwd=root,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    wait_for(marker)
    return holder


def test_reformat_waits_for_a_run_holding_the_lock(
    repo: tuple[Path, dict[str, str]], tmp_path: Path
) -> None:
    root, env = repo
    (root / "ugly.py").write_text(UGLY)
    # Held until released (60 s at most): a loaded machine can't make the wait moot.
    holder = _hold_the_lock(root, env, 60)
    err = tmp_path / "waited.err"
    try:
        busy = _run([sys.executable, "-m", "routine_workflow", "reformat", "ugly.py"], root, env)
        assert busy.returncode == 75, busy.stdout + busy.stderr
        with err.open("w") as stderr:
            waited = subprocess.Popen(
                [sys.executable, "-m", "routine_workflow", "reformat", "--wait", "60", "ugly.py"],
                cwd=root,
                env=env,
                stdout=subprocess.DEVNULL,
                stderr=stderr,
            )
        wait_until(lambda: "waiting up to 60s" in err.read_text(), 60, "the waiting message")
        assert (root / "ugly.py").read_text() == UGLY, "rewritten while the lock was held"
        (root.parent / "release").touch()
        assert waited.wait(timeout=120) == 0, err.read_text()
        assert PRETTY_LINE in (root / "ugly.py").read_text()
        assert holder.wait(timeout=60) == 0
    finally:
        holder.kill()
        holder.wait()


def test_wait_is_refused_when_not_a_finite_number(repo: tuple[Path, dict[str, str]]) -> None:
    root, env = repo
    result = _run(
        [sys.executable, "-m", "routine_workflow", "reformat", "--wait", "inf"], root, env
    )
    assert result.returncode == 2, result.stderr


def test_the_rewriting_hook_waits_for_the_lock() -> None:
    import yaml

    hooks = {hook["id"]: hook for hook in yaml.safe_load(MANIFEST.read_text())}
    entry = hooks["routine-workflow-reformat"]["entry"].split()
    assert "--wait" in entry
    assert 10 <= float(entry[entry.index("--wait") + 1]) <= 300


@pytest.mark.slow
@needs_precommit
def test_commit_during_a_scheduled_run_waits_instead_of_failing(
    repo: tuple[Path, dict[str, str]],
) -> None:
    root, env = repo
    (root / "ugly.py").write_text(UGLY)
    _run(["git", "add", "-A"], root, env)
    holder = _hold_the_lock(root, env, 3)
    try:
        result = _pre_commit(["run", "routine-workflow-reformat", "--all-files"], root, env)
        assert "exit code: 75" not in result.stdout, result.stdout
        assert "files were modified by this hook" in result.stdout, result.stdout
        assert PRETTY_LINE in (root / "ugly.py").read_text()
    finally:
        holder.kill()
        holder.wait()
