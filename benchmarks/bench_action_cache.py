"""Benchmark: what the GitHub Action's reformat cache buys a job on an unchanged tree.

Each job on GitHub starts from a fresh checkout (same paths, same bytes, new file
times) with the cache directory restored by actions/cache. This replays that
locally, paired so that a loaded machine's noise falls on both sides alike:

* cold: a fresh copy of the tree, ``reformat --check`` with an empty cache
  directory (``ROUTINE_WORKFLOW_CACHE_DIR``) -- a job with no cache to restore;
* cached: a fresh copy again, the cache directory restored from a previous job
  (a copy of what an earlier run left) -- the action's warm path;
* local warm: the same command again in place, for reference.

The tree is a copy of django 5.1.4's ``django/`` (``bench_reformat.django_source``)
with the sdist's own configuration files (black and isort settings) at its root.

    python benchmarks/bench_action_cache.py --pairs 5
"""

from __future__ import annotations

import argparse
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from bench_reformat import django_source
from benchenv import child_env

CONFIGS = ("pyproject.toml", "setup.cfg", "tox.ini", ".editorconfig")


def fresh_copy(tree: Path) -> None:
    """The checkout a job starts from: same path and bytes, new inodes and times."""
    source = django_source()
    shutil.rmtree(tree, ignore_errors=True)
    shutil.copytree(source / "django", tree / "django")
    for name in CONFIGS:
        if (source / name).is_file():
            shutil.copy(source / name, tree / name)


def check(tree: Path, cache: Path, home: Path) -> float:
    """Wall seconds of one ``reformat --check`` with ``cache`` as the reformat cache."""
    env = child_env(ROUTINE_WORKFLOW_CACHE_DIR=str(cache), ROUTINE_WORKFLOW_HOME=str(home))
    start = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-m", "routine_workflow", "reformat", "--check"],
        cwd=tree,
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - start
    if done.returncode not in (0, 1):
        raise SystemExit(f"reformat --check failed ({done.returncode}): {done.stderr}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=5)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-action-") as tmp:
        work = Path(tmp)
        tree, home, saved = work / "checkout", work / "home", work / "saved-cache"
        fresh_copy(tree)
        check(tree, saved, home)  # the previous job, whose cache is restored below
        cold_times, cached_times, local_times = [], [], []
        for pair in range(args.pairs):
            order = ("cold", "cached") if pair % 2 == 0 else ("cached", "cold")
            for side in order:
                fresh_copy(tree)
                cache = work / f"cache-{pair}-{side}"
                if side == "cached":
                    shutil.copytree(saved, cache)  # what actions/cache/restore puts back
                    cached_times.append(check(tree, cache, home))
                else:
                    cold_times.append(check(tree, cache, home))
            local_times.append(check(tree, cache, home))  # again in place: warm, local
            print(
                f"pair {pair + 1}: cold {cold_times[-1]:.2f}s  cached {cached_times[-1]:.2f}s"
                f"  local warm {local_times[-1]:.2f}s",
                flush=True,
            )
        ratios = [c / w for c, w in zip(cold_times, cached_times, strict=True)]
        print(
            f"medians over {args.pairs} pairs: cold {statistics.median(cold_times):.2f}s, "
            f"cached on a fresh checkout {statistics.median(cached_times):.2f}s, "
            f"local warm {statistics.median(local_times):.2f}s; "
            f"cold/cached per pair: median {statistics.median(ratios):.1f}x"
        )


if __name__ == "__main__":
    main()
