"""Backup speed: routine-workflow's backup step vs `tar czf` of the same tree, same run.

The tree is a copy of this interpreter's standard library (without
site-packages and caches), plus copies of its ``.py`` files until it holds at
least 100 MB and 10,000 files. Directories our discovery leaves out (``venv``,
``build``, ...) are not copied, so both tools archive exactly the same files.

Measured (wall time, best of ``--repeat``):
  tar czf                 GNU tar piped to gzip -6 (two processes, like ours: two threads)
  backup (new)            `python -m routine_workflow --steps backup --yes`: scan, archive,
                          sha256 of every file, re-read and verify, fsync, rename
  backup (unchanged)      the same command again: nothing changed, so it only compares stats
And, single-threaded on the same uncompressed tar stream: gzip -1, gzip -6 and
zstd -3 (if the ``zstandard`` package is installed), to show the compressor
trade-off.

    python benchmarks/bench_backup.py [--repeat 2] [--keep DIR]
"""

from __future__ import annotations

import argparse
import gzip
import io
import os
import shutil
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import time
from pathlib import Path

from benchenv import child_env

from routine_workflow.discovery import BUILD_DIRS, CACHE_DIRS, VCS_DIRS, VENV_DIRS

MIN_BYTES = 100 * 1024 * 1024
MIN_FILES = 10_000
LEFT_OUT = VCS_DIRS | VENV_DIRS | BUILD_DIRS | CACHE_DIRS | {"site-packages"}


def build_tree(dest: Path) -> tuple[int, int]:
    """Copy the stdlib into ``dest``, then extra copies of its .py files; return (files, bytes)."""
    stdlib = Path(sysconfig.get_paths()["stdlib"])
    ignore = shutil.ignore_patterns(*LEFT_OUT, "*.egg-info")
    shutil.copytree(stdlib, dest / "stdlib", ignore=ignore, symlinks=True)
    files, size = _count(dest)
    copy = 0
    while files < MIN_FILES or size < MIN_BYTES:
        copy += 1
        for src in (dest / "stdlib").rglob("*.py"):
            target = dest / f"py-copy-{copy}" / src.relative_to(dest / "stdlib")
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(src, target)
        files, size = _count(dest)
    return files, size


def _count(root: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(root):
        for name in names:
            info = os.lstat(os.path.join(dirpath, name))
            files += 1
            size += info.st_size
    return files, size


def timed(argv: list[str], env: dict[str, str] | None = None, cwd: Path | None = None) -> float:
    """Wall time of one command; it must succeed."""
    start = time.perf_counter()
    subprocess.run(argv, check=True, env=env, cwd=cwd, stdout=subprocess.DEVNULL)
    return time.perf_counter() - start


def run_ours(tree: Path, home: Path) -> float:
    env = child_env(ROUTINE_WORKFLOW_HOME=str(home))
    return timed(
        [
            sys.executable,
            "-m",
            "routine_workflow",
            "--project-root",
            str(tree),
            "--steps",
            "backup",
            "--yes",
            "-q",
        ],
        env=env,
    )


def compressors(tree: Path) -> list[tuple[str, float, int]]:
    """(name, seconds, compressed bytes) for each compressor on the same tar stream."""
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w") as tar:
        tar.add(tree, arcname=".")
    data = raw.getvalue()
    results = [("uncompressed tar", 0.0, len(data))]
    for level in (1, 6):
        start = time.perf_counter()
        out = gzip.compress(data, compresslevel=level)
        results.append((f"gzip -{level}", time.perf_counter() - start, len(out)))
    try:
        import zstandard  # type: ignore[import-not-found]
    except ImportError:
        results.append(("zstd -3 (zstandard not installed)", float("nan"), 0))
    else:
        start = time.perf_counter()
        out = zstandard.ZstdCompressor(level=3).compress(data)
        results.append(("zstd -3", time.perf_counter() - start, len(out)))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=2, help="runs of each; the best counts")
    parser.add_argument("--keep", type=Path, help="build the tree here and keep it")
    args = parser.parse_args()
    work = Path(tempfile.mkdtemp(prefix="bench-backup-"))
    try:
        tree = args.keep or work / "tree"
        if not tree.exists():
            files, size = build_tree(tree)
        else:
            files, size = _count(tree)
        print(f"tree: {files} files, {size / 2**20:.1f} MiB ({sys.version.split()[0]})")
        tar_times, ours, skip = [], [], []
        for attempt in range(args.repeat):
            out = work / f"tar-{attempt}.tar.gz"
            tar_times.append(timed(["tar", "czf", str(out), "-C", str(tree), "."]))
            tar_size = out.stat().st_size
            out.unlink()
            home = work / f"home-{attempt}"
            ours.append(run_ours(tree, home))
            archives = list(home.glob("data/backups/*/*.tar.gz"))
            assert len(archives) == 1, archives
            our_size = archives[0].stat().st_size
            skip.append(run_ours(tree, home))
            assert len(list(home.glob("data/backups/*/*.tar.gz"))) == 1, "the rerun wrote a backup"
            shutil.rmtree(home)
        best_tar, best_ours, best_skip = min(tar_times), min(ours), min(skip)
        print(f"tar czf:             {best_tar:6.2f} s  ({tar_size / 2**20:.1f} MiB)")
        print(
            f"backup (new):        {best_ours:6.2f} s  ({our_size / 2**20:.1f} MiB)  "
            f"ratio {best_ours / best_tar:.2f}x tar (target <= 1.30x)"
        )
        print(f"backup (unchanged):  {best_skip:6.2f} s  ratio {best_skip / best_tar:.2f}x tar")
        print("compressors, single thread, same tar stream:")
        for name, seconds, nbytes in compressors(tree):
            print(f"  {name:34s} {seconds:6.2f} s  {nbytes / 2**20:7.1f} MiB")
    finally:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
