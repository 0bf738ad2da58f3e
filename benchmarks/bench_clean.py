"""clean_caches against ``find . -name __pycache__ -prune -exec rm -rf {} +``, same tree, same run.

Usage::

    python benchmarks/bench_clean.py [--files 50000] [--caches 2000] [--repeat 5] [--no-git]

The tree: ``--caches`` packages, each with ``.py`` sources and a ``__pycache__``
holding ``.pyc`` files, ``--files`` files in all; by default a real git repository
with the sources committed (so our step's ``git ls-files`` has real work to do).
Before every timed run the caches are recreated, so each run removes the same
2,000 directories. Runs are interleaved (ours, CLI, find, ours, ...) and the
median is reported.

Not apples to apples: ``find`` only removes ``__pycache__`` directories. The step
also looks for ``*.pyc``/``*.pyo`` files anywhere, ``.pytest_cache``, ``.mypy_cache``,
``.coverage*``, ``htmlcov`` ..., prunes virtualenvs and ``.git``, asks git which files
it tracks, and measures the bytes it frees. The CLI run adds interpreter start-up,
the project lock, the log and the run history. Each line says what was removed.
"""

from __future__ import annotations

import argparse
import logging
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

from benchenv import child_env

SOURCES_PER_PACKAGE_SHARE = 0.6  # the rest of each package's files are .pyc in __pycache__


def layout(files: int, caches: int) -> tuple[int, int]:
    """(sources, pycs) per package so that the tree has about ``files`` files."""
    per_package = max(2, files // caches)
    sources = max(1, round(per_package * SOURCES_PER_PACKAGE_SHARE))
    return sources, per_package - sources


def package_dirs(root: Path, caches: int) -> list[Path]:
    """``caches`` package directories, 40 per top-level directory (a realistic depth)."""
    return [root / "src" / f"top{i // 40:03d}" / f"pkg{i % 40:02d}" for i in range(caches)]


def make_sources(root: Path, caches: int, sources: int) -> None:
    for pkg in package_dirs(root, caches):
        pkg.mkdir(parents=True)
        for j in range(sources):
            (pkg / f"mod{j:02d}.py").write_text(f"VALUE = {j}\n" * 20)


def make_caches(root: Path, caches: int, pycs: int) -> None:
    payload = b"\x00" * 600
    for pkg in package_dirs(root, caches):
        cache = pkg / "__pycache__"
        cache.mkdir()
        for j in range(pycs):
            (cache / f"mod{j:02d}.cpython-311.pyc").write_bytes(payload)


def count_files(root: Path) -> tuple[int, int]:
    """(files, __pycache__ dirs) outside .git."""
    files = dirs = 0
    for _dirpath, dirnames, filenames in os.walk(root):
        if ".git" in dirnames:
            dirnames.remove(".git")
        dirs += sum(1 for d in dirnames if d == "__pycache__")
        files += len(filenames)
    return files, dirs


def init_git(root: Path) -> None:
    git = [
        "git",
        "-c",
        "user.name=bench",
        "-c",
        "user.email=bench@example.invalid",
        "-c",
        "init.defaultBranch=main",
        "-c",
        "commit.gpgsign=false",
    ]
    (root / ".gitignore").write_text("__pycache__/\n")
    subprocess.run([*git, "init", "-q"], cwd=root, check=True)
    subprocess.run([*git, "add", "-A"], cwd=root, check=True)
    subprocess.run([*git, "commit", "-qm", "sources"], cwd=root, check=True)


def run_step(root: Path) -> str:
    from routine_workflow.config import load_config
    from routine_workflow.steps import clean_caches
    from routine_workflow.steps.base import StepContext

    config = load_config({"project_root": root})
    result = clean_caches.make(config).run(StepContext(config, logging.getLogger("bench")))
    assert result.counts.get("failed", 0) == 0, result.summary
    return f"{result.status}: {result.summary}"


def run_cli(root: Path, env: dict[str, str]) -> str:
    proc = subprocess.run(
        [
            sys.executable,
            "-m",
            "routine_workflow",
            "--steps",
            "clean_caches",
            "--yes",
            "--quiet",
            "--project-root",
            str(root),
        ],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    assert proc.returncode == 0, proc.stderr
    return "exit 0 (same step, plus start-up, lock, log and history)"


def run_find(root: Path) -> str:
    subprocess.run(
        "find . -name __pycache__ -prune -exec rm -rf {} +", shell=True, cwd=root, check=True
    )
    return "removed __pycache__ directories only (no .pyc elsewhere, no git check)"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--files", type=int, default=50_000)
    parser.add_argument("--caches", type=int, default=2_000)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--no-git", action="store_true", help="a plain directory, not a repo")
    parser.add_argument(
        "--dir",
        type=Path,
        default=None,
        help="where to build the tree (default: the system temp dir); "
        "e.g. /dev/shm to take the disk out of the comparison",
    )
    args = parser.parse_args()

    work = Path(tempfile.mkdtemp(prefix="bench-clean-", dir=args.dir))
    root = work / "project"
    env = child_env(
        ROUTINE_WORKFLOW_HOME=str(work / "home"),
        XDG_STATE_HOME=str(work / "state"),
        XDG_CACHE_HOME=str(work / "cache"),
        XDG_DATA_HOME=str(work / "data"),
        XDG_CONFIG_HOME=str(work / "config"),
    )
    os.environ.update({k: v for k, v in env.items() if k != "PATH"})  # in-process run too
    try:
        sources, pycs = layout(args.files, args.caches)
        make_sources(root, args.caches, sources)
        if not args.no_git:
            init_git(root)
        variants: dict[str, Callable[[], str]] = {
            "clean_caches (in-process)": lambda: run_step(root),
            "routine-workflow --steps clean_caches": lambda: run_cli(root, env),
            "find -name __pycache__ -exec rm -rf": lambda: run_find(root),
        }
        times: dict[str, list[float]] = {name: [] for name in variants}
        notes: dict[str, str] = {}
        make_caches(root, args.caches, pycs)
        os.sync()
        files, dirs = count_files(root)
        print(
            f"tree: {files} files, {dirs} __pycache__ dirs, "
            f"{'git repo' if not args.no_git else 'no git'}, in {work}, "
            f"{os.cpu_count()} CPUs, {args.repeat} interleaved runs each"
        )
        for _ in range(args.repeat):
            for name, run in variants.items():
                if count_files(root) != (files, dirs):
                    shutil.rmtree(root / "src")
                    make_sources(root, args.caches, sources)
                    make_caches(root, args.caches, pycs)
                assert count_files(root) == (files, dirs)
                began = time.perf_counter()
                notes[name] = run()
                times[name].append(time.perf_counter() - began)
                assert count_files(root)[1] == 0, f"{name} left __pycache__ behind"
                make_caches(root, args.caches, pycs)
                os.sync()  # the next run must not pay for this one's writes
        baseline = statistics.median(times["find -name __pycache__ -exec rm -rf"])
        for name, values in times.items():
            median = statistics.median(values)
            print(
                f"{name:40s} median {median * 1000:8.1f} ms  "
                f"(min {min(values) * 1000:.1f})  x{median / baseline:.2f} of find  "
                f"- {notes[name]}"
            )
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
