"""clean_caches: every real cache goes, every trap stays, a dry run changes nothing."""

from __future__ import annotations

import hashlib
import json
import logging
import os
import subprocess
from collections.abc import Callable
from pathlib import Path

import pytest
from helpers import run_cli, unremovable  # noqa: F401 (unremovable: a fixture)

from routine_workflow.clean.patterns import parse_pattern
from routine_workflow.clean.plan import Target
from routine_workflow.clean.remove import remove_target
from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.errors import ConfigError
from routine_workflow.steps import clean_caches
from routine_workflow.steps.base import Status, StepContext, StepResult
from routine_workflow.steps.clean_caches import CleanCachesStep
from routine_workflow.steps.script import ScriptStep

GIT = [
    "git",
    "-c",
    "user.name=Test",
    "-c",
    "user.email=test@example.invalid",
    "-c",
    "init.defaultBranch=main",
    "-c",
    "commit.gpgsign=false",
]


def git(cwd: Path, *args: str) -> None:
    subprocess.run([*GIT, *args], cwd=cwd, check=True, capture_output=True)


def write(path: Path, data: str = "x") -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(data)
    return path


def snapshot(*tops: Path) -> dict[str, str]:
    """Every entry under ``tops``: file checksums, symlink targets, directories (no following)."""
    seen: dict[str, str] = {}
    for top in tops:
        for dirpath, dirnames, filenames in os.walk(top, followlinks=False):
            for name in dirnames + filenames:
                path = Path(dirpath) / name
                key = str(path.relative_to(top.parent))
                if path.is_symlink():
                    seen[key] = "link:" + os.readlink(path)
                elif path.is_dir():
                    seen[key] = "dir"
                else:
                    seen[key] = hashlib.sha256(path.read_bytes()).hexdigest()
    return seen


def config_for(root: Path, **flags: object) -> WorkflowConfig:
    return load_config({"project_root": root, **flags})


def run_step(root: Path, dry_run: bool = False, **flags: object) -> StepResult:
    config = config_for(root, dry_run=dry_run, **flags)
    step = clean_caches.make(config)
    return step.run(StepContext(config, logging.getLogger("test")))


# --- the trap tree ------------------------------------------------------------------------

CACHES = [  # what must go (relative to the root)
    "src/pkg/__pycache__",
    "src/pkg/sub/__pycache__",
    "src/pkg/stray.pyc",
    "src/pkg/old.pyo",
    "tests/__pycache__",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".coverage",
    ".coverage.host.1234.567890",
    "htmlcov",
    "src/pkg/half/__pycache__/junk.pyc",  # untracked part of a cache holding a tracked file
    "linked/__pycache__",  # a matching symlink: the link goes, its target stays
]


def build_trap_tree(tmp_path: Path) -> tuple[Path, Path, list[str]]:
    """A real git project seeded with caches and traps; returns (root, outside, trap paths)."""
    root = tmp_path / "project"
    outside = tmp_path / "outside"
    write(root / "pyproject.toml", '[project]\nname = "demo"\n')
    write(root / "src/pkg/__init__.py", "")
    for cache in (
        "src/pkg/__pycache__/mod.cpython-311.pyc",
        "src/pkg/sub/__pycache__/a.pyc",
        "tests/__pycache__/test_x.cpython-311-pytest-8.pyc",
        ".pytest_cache/v/cache/nodeids",
        ".mypy_cache/3.11/pkg.data.json",
        ".ruff_cache/0.6/123",
        ".hypothesis/examples/ab",
        "htmlcov/index.html",
        "src/pkg/half/__pycache__/junk.pyc",
    ):
        write(root / cache, "cache " * 200)
    for name in ("src/pkg/stray.pyc", "src/pkg/old.pyo", ".coverage", ".coverage.host.1234.567890"):
        write(root / name, "data")
    traps = [
        "src/pkg/vendored.pyc",  # git-tracked .pyc
        "src/pkg/half/__pycache__/keep.pyc",  # git-tracked inside a cache dir
        ".git/hooks/__pycache__/hook.pyc",  # matching names inside .git
        ".git/stale.pyc",
        ".venv/pyvenv.cfg",  # a virtualenv with caches
        ".venv/lib/python3.11/site-packages/__pycache__/six.cpython-311.pyc",
        ".venv/lib/python3.11/site-packages/mod.pyc",
        "myenv/pyvenv.cfg",  # a virtualenv under an unusual name
        "myenv/__pycache__/x.pyc",
        ".tox/py311/lib/__pycache__/t.pyc",  # .tox, *.egg-info: only when configured
        "src/demo.egg-info/PKG-INFO",
        "src/pkg/htmlcov",  # files named like caches inside src/
        "src/pkg/__pycache__.py",
        "src/pkg/pycache_utils.py",
        "src/pkg/coverage.py",
        "src/pkg/notes.pyc.txt",
        "src/pkg/.coveragerc",
        "vendor/lib/setup.py",  # a nested repository with a tracked cache file
        "vendor/lib/__pycache__/committed.pyc",
    ]
    for trap in traps:
        write(root / trap, f"precious {trap}")
    # Outside the root, reached only through symlinks.
    write(outside / "__pycache__/outside.pyc", "outside")
    write(outside / "loose.pyc", "outside")
    write(outside / "target/__pycache__/t.pyc", "outside")
    (root / "outside_link").symlink_to(outside, target_is_directory=True)
    (root / "linked").mkdir()
    (root / "linked/__pycache__").symlink_to(outside / "target", target_is_directory=True)
    (root / "src/pkg/link.pyc").symlink_to(outside / "loose.pyc")
    traps.append("outside_link")
    # The repositories.
    git(root / "vendor/lib", "init", "-q")
    git(root / "vendor/lib", "add", "-f", "setup.py", "__pycache__/committed.pyc")
    git(root / "vendor/lib", "commit", "-qm", "vendored")
    git(root, "init", "-q")
    git(root, "add", "pyproject.toml", "src/pkg/__init__.py")
    git(root, "add", "-f", "src/pkg/vendored.pyc", "src/pkg/half/__pycache__/keep.pyc")
    git(root, "commit", "-qm", "initial")
    write(root / ".git/hooks/__pycache__/hook.pyc", "precious .git/hooks/__pycache__/hook.pyc")
    write(root / ".git/stale.pyc", "precious .git/stale.pyc")
    return root, outside, traps


def trap_state(root: Path, outside: Path, traps: list[str]) -> dict[str, str]:
    state = {k: v for k, v in snapshot(root).items() if any(k == f"project/{t}" for t in traps)}
    state.update(snapshot(root / ".git", outside))
    return state


def test_every_trap_intact_every_cache_gone(tmp_path: Path) -> None:
    root, outside, traps = build_trap_tree(tmp_path)
    before = trap_state(root, outside, traps)
    assert len(before) > len(traps)

    result = run_step(root)

    assert result.status is Status.CHANGED, result
    assert trap_state(root, outside, traps) == before
    for cache in CACHES:
        assert not os.path.lexists(root / cache), cache
    assert not (root / "src/pkg/link.pyc").is_symlink()  # matching symlink removed...
    assert (outside / "loose.pyc").read_text() == "outside"  # ...its target untouched
    assert (outside / "target/__pycache__/t.pyc").exists()
    assert sorted(p.name for p in (root / "src/pkg/half/__pycache__").iterdir()) == ["keep.pyc"]
    assert result.counts["failed"] == 0
    assert result.counts["removed"] == len(CACHES) + 1  # + the link.pyc symlink
    assert "src/pkg/vendored.pyc" in "\n".join(result.details)


def test_dry_run_changes_nothing_and_lists_exactly_what_would_go(tmp_path: Path) -> None:
    root, outside, _traps = build_trap_tree(tmp_path)
    before = snapshot(root, outside)

    result = run_step(root, dry_run=True)

    assert snapshot(root, outside) == before
    assert result.status is Status.OK
    listed = sorted(
        line.split(" ", 3)[3].rsplit(" (", 1)[0]
        for line in result.details
        if line.startswith("would remove ")
    )
    assert listed == sorted([*CACHES, "src/pkg/link.pyc"])
    assert result.counts["would_remove"] == len(listed)
    # Sizes are reported: the __pycache__ dir holds one 1200-byte file.
    assert "would remove dir src/pkg/__pycache__ (1.2 KiB)" in result.details

    # And the real run removes exactly that list.
    real = run_step(root)
    assert real.counts["removed"] == len(listed)


def test_unremovable_cache_is_reported_and_the_rest_still_goes(
    tmp_path: Path, unremovable: Callable[[Path], None]  # noqa: F811 (the fixture)
) -> None:
    root, _outside, _traps = build_trap_tree(tmp_path)
    locked = write(root / "src/ro/__pycache__/locked.pyc", "locked").parent
    unremovable(locked)
    stray = write(root / "src/ro2/stray.pyc", "stray")
    unremovable(stray.parent)

    result = run_step(root)

    assert result.status is Status.FAILED
    assert "src/ro/__pycache__" in result.summary
    assert any(d.startswith("could not remove src/ro/__pycache__") for d in result.details)
    assert any(d.startswith("could not remove src/ro2/stray.pyc") for d in result.details)
    assert (locked / "locked.pyc").read_text() == "locked"
    assert stray.read_text() == "stray"
    for cache in CACHES:
        assert not os.path.lexists(root / cache), cache
    assert result.counts["failed"] == 2


def test_cli_end_to_end(tmp_path: Path) -> None:
    root, outside, traps = build_trap_tree(tmp_path)
    before = trap_state(root, outside, traps)

    dry = run_cli(["--steps", "clean_caches", "--dry-run"], root)
    assert dry.returncode == 0, dry.stderr
    assert "would remove dir src/pkg/__pycache__" in dry.stderr
    assert (root / "src/pkg/__pycache__").is_dir()

    done = run_cli(["--steps", "clean_caches", "--yes", "--json"], root)
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    (step,) = report["steps"]
    assert step["name"] == "clean_caches" and step["status"] == "changed"
    assert step["counts"]["removed"] == len(CACHES) + 1
    assert trap_state(root, outside, traps) == before
    assert not (root / "src/pkg/__pycache__").exists()

    again = run_cli(["--steps", "clean_caches", "--yes"], root)
    assert again.returncode == 0
    assert "nothing to clean" in again.stdout


# --- configuration ------------------------------------------------------------------------


def test_tox_nox_and_egg_info_only_when_configured(project: Path) -> None:
    for rel in (".tox/py311/x.txt", ".nox/s/x.txt", "src/demo.egg-info/PKG-INFO", "build/x.pyc"):
        write(project / rel)
    assert run_step(project).summary == "nothing to clean"
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow]\nclean_extra_patterns = [".tox", ".nox/", "*.egg-info"]\n'
    )
    result = run_step(project)
    assert result.status is Status.CHANGED
    assert not (project / ".tox").exists() and not (project / ".nox").exists()
    assert not (project / "src/demo.egg-info").exists()
    assert (project / "build/x.pyc").exists()  # build output is excluded, never walked
    assert ".tox: removed 1" in "\n".join(result.details)


def test_exclude_patterns_protect(project: Path) -> None:
    write(project / "keep/__pycache__/a.pyc")
    write(project / "go/__pycache__/a.pyc")
    result = run_step(project, exclude_patterns=("keep/",))
    assert result.status is Status.CHANGED
    assert (project / "keep/__pycache__/a.pyc").exists()
    assert not (project / "go/__pycache__").exists()


@pytest.mark.parametrize("pattern", ["*", "**", ".*", "*.*", "/", "../x", "?"])
def test_too_broad_patterns_are_a_config_error(pattern: str) -> None:
    with pytest.raises(ConfigError, match="refusing pattern"):
        parse_pattern(pattern)


def test_too_broad_pattern_exits_2_before_anything_runs(project: Path) -> None:
    write(project / "a/__pycache__/x.pyc")
    proc = run_cli(
        ["--steps", "clean_caches", "--yes"],
        project,
        env={"ROUTINE_WORKFLOW_CLEAN_EXTRA_PATTERNS": "*"},
    )
    assert proc.returncode == 2
    assert "refusing pattern '*'" in proc.stderr
    assert (project / "a/__pycache__/x.pyc").exists()


def test_pattern_kinds() -> None:
    pycache = parse_pattern("__pycache__")
    assert pycache.matches("__pycache__", "a/__pycache__", is_dir=True, is_link=False)
    assert not pycache.matches("__pycache__", "a/__pycache__", is_dir=False, is_link=False)
    assert pycache.matches("__pycache__", "a/__pycache__", is_dir=False, is_link=True)
    pyc = parse_pattern("*.pyc")
    assert pyc.matches("x.pyc", "x.pyc", is_dir=False, is_link=False)
    assert not pyc.matches("x.pyc", "x.pyc", is_dir=True, is_link=False)
    slash = parse_pattern("out/")
    assert slash.dirs and not slash.files
    anywhere = parse_pattern("*.log")
    assert anywhere.dirs and anywhere.files
    on_path = parse_pattern("docs/_build")
    assert on_path.matches("_build", "docs/_build", is_dir=True, is_link=False)
    assert not on_path.matches("_build", "src/_build", is_dir=True, is_link=False)


def test_path_pattern_and_file_pattern_remove_only_their_kind(project: Path) -> None:
    write(project / "docs/_build/index.html")
    write(project / "src/_build/keep.txt")
    write(project / "a.log")
    write(project / "logs.d/b.log/inner.txt")  # a directory named *.log also matches "*.log"
    (project / "pyproject.toml").write_text(
        '[tool.routine-workflow]\nclean_extra_patterns = ["docs/_build", "*.log"]\n'
    )
    run_step(project)
    assert not (project / "docs/_build").exists()
    assert (project / "src/_build/keep.txt").exists()
    assert not (project / "a.log").exists()
    assert not (project / "logs.d/b.log").exists()


# --- git ----------------------------------------------------------------------------------


def test_non_git_project_has_no_tracked_files(project: Path) -> None:
    write(project / "pkg/__pycache__/a.pyc")
    write(project / "pkg/b.pyc")
    result = run_step(project)
    assert result.counts == {"removed": 2, "bytes": 2, "failed": 0, "kept": 0}


def test_project_in_a_subdirectory_of_a_repository(tmp_path: Path) -> None:
    repo = tmp_path / "repo"
    write(repo / "sub/pkg/tracked.pyc", "t")
    write(repo / "sub/pkg/untracked.pyc", "u")
    write(repo / "other/x.pyc", "other")
    git(repo, "init", "-q")
    git(repo, "add", "-f", "sub/pkg/tracked.pyc")
    git(repo, "commit", "-qm", "c")
    result = run_step(repo / "sub")
    assert (repo / "sub/pkg/tracked.pyc").exists()
    assert not (repo / "sub/pkg/untracked.pyc").exists()
    assert (repo / "other/x.pyc").exists()  # outside the project root
    assert result.counts["removed"] == 1


def test_staged_but_uncommitted_file_counts_as_tracked(project: Path) -> None:
    write(project / "a/__pycache__/staged.pyc")
    git(project, "init", "-q")
    git(project, "add", "-f", "a/__pycache__/staged.pyc")
    run_step(project)
    assert (project / "a/__pycache__/staged.pyc").exists()


def test_git_missing_in_a_repository_removes_nothing(
    project: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(project / "a/__pycache__/x.pyc")
    git(project, "init", "-q")
    monkeypatch.setenv("PATH", str(project / "no-such-bin"))
    result = run_step(project)
    assert result.status is Status.FAILED
    assert "git is not installed" in result.summary
    assert (project / "a/__pycache__/x.pyc").exists()


def test_broken_repository_removes_nothing(project: Path) -> None:
    write(project / "a/__pycache__/x.pyc")
    git(project, "init", "-q")
    git(project, "add", "pyproject.toml")
    (project / ".git/index").write_bytes(b"not an index at all")
    result = run_step(project)
    assert result.status is Status.FAILED
    assert result.summary.startswith("nothing removed: git ls-files")
    assert (project / "a/__pycache__/x.pyc").exists()


def test_git_directory_inside_a_cache_dir_survives(project: Path) -> None:
    write(project / "htmlcov/.git/HEAD", "ref")
    write(project / "htmlcov/index.html")
    run_step(project)
    assert (project / "htmlcov/.git/HEAD").read_text() == "ref"
    assert not (project / "htmlcov/index.html").exists()


def test_virtualenv_named_like_a_cache_is_kept(project: Path) -> None:
    write(project / ".hypothesis/pyvenv.cfg", "home = /usr")
    result = run_step(project)
    assert (project / ".hypothesis/pyvenv.cfg").exists()
    assert result.counts["removed"] == 0


# --- removal details ----------------------------------------------------------------------


def test_target_that_changed_kind_is_left_alone(project: Path, tmp_path: Path) -> None:
    write(tmp_path / "elsewhere/keep.txt")
    (project / "c").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    freed, error = remove_target(project, Target("c", "dir", 10, "c"))
    assert error == "changed since it was scanned; left alone"
    assert freed == 0 and (tmp_path / "elsewhere/keep.txt").exists()
    write(project / "d/x")
    _freed, error = remove_target(project, Target("d", "file", 1, "d"))
    assert error is not None and (project / "d/x").exists()


def test_target_already_gone_is_not_an_error(project: Path) -> None:
    assert remove_target(project, Target("gone", "file", 1, "gone")) == (0, None)


def test_target_through_a_symlinked_parent_is_refused(project: Path, tmp_path: Path) -> None:
    write(tmp_path / "elsewhere/x.pyc")
    (project / "via").symlink_to(tmp_path / "elsewhere", target_is_directory=True)
    _freed, error = remove_target(project, Target("via/x.pyc", "file", 1, "*.pyc"))
    assert error is not None and "refusing" in error
    assert (tmp_path / "elsewhere/x.pyc").exists()
    write(tmp_path / "elsewhere/deeper/y.pyc")  # a symlink further up the path
    _freed, error = remove_target(project, Target("via/deeper/y.pyc", "file", 1, "*.pyc"))
    assert error is not None and "refusing" in error
    assert (tmp_path / "elsewhere/deeper/y.pyc").exists()
    write(project / "real/__pycache__/z.pyc")  # and the same path when it is real: removed
    assert remove_target(
        project, Target("real/__pycache__", "dir", 1, "__pycache__", ("z.pyc",))
    ) == (1, None)
    assert not (project / "real/__pycache__").exists()


def test_clean_script_replaces_the_builtin_step(project: Path) -> None:
    script = write(project / "clean.sh", "#!/bin/sh\necho cleaned > cleaned.txt\n")
    config = config_for(project, clean_script=script)
    assert isinstance(clean_caches.make(config), ScriptStep)
    assert isinstance(clean_caches.make(config_for(project)), CleanCachesStep)
    proc = run_cli(["--steps", "clean_caches", "--yes", "--clean-script", str(script)], project)
    assert proc.returncode == 0, proc.stderr
    assert (project / "cleaned.txt").read_text() == "cleaned\n"


def test_cache_dir_that_changed_since_the_scan_is_still_removed_whole(project: Path) -> None:
    write(project / "a/__pycache__/listed.pyc")
    write(project / "a/__pycache__/new.pyc")  # appeared after the scan listed the directory
    write(project / "b/__pycache__/other.pyc")  # the listed file vanished, another appeared
    assert (
        remove_target(project, Target("a/__pycache__", "dir", 1, "p", ("listed.pyc",)))[1] is None
    )
    assert remove_target(project, Target("b/__pycache__", "dir", 1, "p", ("gone.pyc",)))[1] is None
    assert not (project / "a/__pycache__").exists()
    assert not (project / "b/__pycache__").exists()


def test_tracked_file_deep_inside_a_cache_keeps_only_its_holders(project: Path) -> None:
    write(project / ".mypy_cache/3.11/tracked.json", "t")
    write(project / ".mypy_cache/3.11/other.json")
    write(project / ".mypy_cache/3.11/deeper/x.json")
    write(project / ".mypy_cache/CACHEDIR.TAG")
    git(project, "init", "-q")
    git(project, "add", "-f", ".mypy_cache/3.11/tracked.json")
    result = run_step(project, dry_run=True)
    assert sorted(d for d in result.details if d.startswith("would remove")) == [
        "would remove dir .mypy_cache/3.11/deeper (1 B)",
        "would remove file .mypy_cache/3.11/other.json (1 B)",
        "would remove file .mypy_cache/CACHEDIR.TAG (1 B)",
    ]
    run_step(project)
    found = sorted(str(p.relative_to(project)) for p in (project / ".mypy_cache").rglob("*"))
    assert found == [".mypy_cache/3.11", ".mypy_cache/3.11/tracked.json"]


def test_many_kept_files_are_listed_briefly(project: Path) -> None:
    for i in range(clean_caches.MAX_LISTED + 5):
        write(project / f"legacy/m{i:02d}.pyc")
    git(project, "init", "-q")
    git(project, "add", "-f", "legacy")
    result = run_step(project)
    assert result.counts["kept"] == clean_caches.MAX_LISTED + 5
    assert result.details[-1] == "... and 5 more"


def test_own_directories_inside_the_project_are_left_alone(project: Path) -> None:
    write(project / "dumps/.coverage", "ours")
    write(project / "dumps/__pycache__/x.pyc", "ours")
    write(project / ".pytest_cache/rwcache/x.pyc", "ours")
    write(project / ".pytest_cache/v/lastfailed")
    result = run_step(
        project, dump_dir=project / "dumps", cache_dir=project / ".pytest_cache/rwcache"
    )
    assert (project / "dumps/.coverage").read_text() == "ours"
    assert (project / "dumps/__pycache__/x.pyc").exists()
    assert (project / ".pytest_cache/rwcache/x.pyc").exists()
    assert not (project / ".pytest_cache/v").exists()
    assert result.status is Status.CHANGED
