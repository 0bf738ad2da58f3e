"""Benchmark: the ruff engine against ruff by hand (docs/reformat.md, "The ruff engine").

Ours is ``routine-workflow reformat`` with ``reformat_engine = "ruff"``; by hand is
``ruff check --fix --select F401,I . ; ruff format .`` typed in the project root. Trees
(fresh copies under ``$RW_BENCH_WORK/ruff``, default ``<tmp>/routine-workflow-bench/ruff``,
each a git repository of its own). They must be outside this checkout: ruff reads the
nearest ``[tool.ruff]`` upwards, ``.git`` or not, so a tree under ``benchmarks/`` would be
formatted with *our* settings (line length 100), not the tree's own (the script refuses to
run when a parent directory holds ruff settings):

* django: django 5.1.4's ``django/`` package with the sdist's configuration files at the
  root (copied from ``$RW_BENCH_DJANGO`` when it names a copy, else downloaded as
  bench_reformat.py does);
* stdlib: this interpreter's standard library without its test suites;
* requests: requests 2.32.3's sdist (``--trees requests``; downloaded with pip), the tree
  of issue 13's first-party case;
* django-quick: ``django/db`` and ``django/utils`` alone (``--quick``: this tree, 2 pairs).

For each pair: two fresh copies; cold (our cache and ruff's empty), warm (the same again,
nothing to do) and one file changed, ours and by hand one after the other, which goes
first alternating from pair to pair so that a loaded machine's drift falls on both. Each
run is timed by the wall clock and by CPU time (user + system of every child process,
ruff's threads and our workers included). Reported per case: the medians and ranges, the
ratio of the medians and the median of the per-pair ratios (the steadier one on a loaded
machine). In the first pair the two trees are compared byte for byte after the cold run and
after the one-file change.

    python benchmarks/bench_ruff.py                       # django and stdlib, 5 pairs
    python benchmarks/bench_ruff.py --trees requests --pairs 3
    python benchmarks/bench_ruff.py --quick                # what run_all.py --quick runs
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from bench_reformat import (
    BIN,
    as_repository,
    cpu_seconds,
    django_pristine,
    run_commands,
    stdlib_tree,
)
from benchenv import child_env

WORK = (
    Path(os.environ.get("RW_BENCH_WORK") or Path(tempfile.gettempdir()) / "routine-workflow-bench")
    / "ruff"
)

BY_HAND = (["ruff", "check", "--fix", "--select", "F401,I", "."], ["ruff", "format", "."])
CASES = ("cold", "warm", "one")


def django_copy(packages: tuple[str, ...] = ()) -> Path:
    """django's package (only ``packages`` of it if given) and configuration."""
    return django_pristine(WORK, packages)


def stdlib_copy() -> Path:
    """The standard library without its tests (bench_reformat's copy, copied here)."""
    pristine = WORK / "pristine-stdlib"
    if not pristine.is_dir():
        shutil.copytree(stdlib_tree(False), pristine, ignore=shutil.ignore_patterns(".git"))
        as_repository(pristine)
    return pristine


def foreign_ruff_settings(tree: Path) -> Path | None:
    """A ruff configuration file in a directory above ``tree``, which ruff would apply to
    it (``[tool.ruff]`` in a pyproject.toml, or a ruff.toml)."""
    for parent in tree.resolve().parents:
        for name in ("ruff.toml", ".ruff.toml"):
            if (parent / name).is_file():
                return parent / name
        pyproject = parent / "pyproject.toml"
        try:
            if "[tool.ruff" in pyproject.read_text(encoding="utf-8"):
                return pyproject
        except OSError:
            continue
    return None


def requests_tree() -> Path:
    """requests 2.32.3's sdist, unpacked (downloaded once with pip)."""
    pristine = WORK / "pristine-requests"
    if pristine.is_dir():
        return pristine
    download = WORK / "download"
    download.mkdir(parents=True, exist_ok=True)
    pip = [sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"]
    subprocess.run(
        [*pip, "--no-binary", ":all:", "requests==2.32.3", "-d", str(download)], check=True
    )
    with tarfile.open(download / "requests-2.32.3.tar.gz") as tar:
        tar.extractall(WORK / "unpacked-requests", filter="data")
    shutil.move(WORK / "unpacked-requests" / "requests-2.32.3", pristine)
    return as_repository(pristine)


TREES = {
    "django": django_copy,
    "stdlib": stdlib_copy,
    "requests": requests_tree,
    "django-quick": lambda: django_copy(("db", "utils")),
}


def fresh(pristine: Path, name: str) -> Path:
    target = WORK / "runs-ruff" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pristine, target)
    return target


def run_ours(tree: Path, home: Path) -> tuple[float, float]:
    """(wall, cpu) of ``routine-workflow reformat`` with the ruff engine in ``tree``."""
    env = child_env(ROUTINE_WORKFLOW_HOME=str(home), ROUTINE_WORKFLOW_REFORMAT_ENGINE="ruff")
    argv = [str(BIN / "routine-workflow"), "reformat", "--json"]
    start, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    try:
        json.loads(done.stdout)
    except ValueError:
        raise SystemExit(f"ours failed (exit {done.returncode}): {done.stderr[-2000:]}") from None
    return wall, cpu


def run_by_hand(tree: Path, cache: Path) -> tuple[float, float]:
    """(wall, cpu) of the two ruff commands in ``tree``, ruff's cache in ``cache``."""
    return run_commands(BY_HAND, tree, child_env(RUFF_CACHE_DIR=str(cache)))


def touch_one(tree: Path) -> None:
    """Make one mid-sized file need work again."""
    files = sorted(tree.rglob("*.py"), key=lambda p: (p.stat().st_size, p.as_posix()))
    with open(files[len(files) // 2], "a", encoding="utf-8") as handle:
        handle.write("\nimport os\nbenchmark_marker = {  'a':1 }\n")


def differing(ours: Path, theirs: Path) -> list[str]:
    """Python files whose bytes differ between the two trees."""
    out = []
    for path in sorted(ours.rglob("*.py*")):
        rel = path.relative_to(ours)
        if ".git" in rel.parts or not path.is_file():
            continue
        other = theirs / rel
        if not other.is_file() or other.read_bytes() != path.read_bytes():
            out.append(rel.as_posix())
    return out


def bench_tree(name: str, pairs: int) -> dict:
    """Paired runs on one tree: {case: {"ours"/"hand": [(wall, cpu)]}} and the identity."""
    pristine = TREES[name]()
    foreign = foreign_ruff_settings(pristine)
    if foreign is not None:
        raise SystemExit(
            f"{pristine} is below {foreign}, whose ruff settings ruff would apply to it: "
            "set RW_BENCH_WORK to a directory outside any project"
        )
    runs: dict[str, dict[str, list[tuple[float, float]]]] = {
        case: {"ours": [], "hand": []} for case in CASES
    }
    diff: list[str] = []
    for i in range(pairs):
        with tempfile.TemporaryDirectory(prefix="rw-bench-ruff-") as tmp:
            home, cache = Path(tmp) / "home", Path(tmp) / "ruff-cache"
            ours, hand = fresh(pristine, f"{name}-ours"), fresh(pristine, f"{name}-hand")
            order = ("ours", "hand") if i % 2 == 0 else ("hand", "ours")
            for case in CASES:
                if case == "one":
                    touch_one(ours)
                    touch_one(hand)
                for side in order:
                    timed = run_ours(ours, home) if side == "ours" else run_by_hand(hand, cache)
                    runs[case][side].append(timed)
                if i == 0 and case != "warm":  # after cold, and after one file changed
                    diff += [f"{rel} ({case})" for rel in differing(ours, hand)]
        cold = runs["cold"]
        print(
            f"  {name} pair {i + 1}/{pairs}: cold {cold['ours'][-1][0]:.2f}s vs "
            f"{cold['hand'][-1][0]:.2f}s by hand",
            flush=True,
        )
    files = sum(1 for p in pristine.rglob("*.py") if ".git" not in p.parts)
    return {"tree": name, "files": files, "runs": runs, "differing": diff}


def _row(label: str, ours: list[float], hand: list[float]) -> str:
    ratios = [o / h for o, h in zip(ours, hand, strict=True) if h > 0]
    mo, mh = statistics.median(ours), statistics.median(hand)
    return (
        f"  {label:14} {mo:7.3f}s [{min(ours):.3f}-{max(ours):.3f}]  "
        f"{mh:7.3f}s [{min(hand):.3f}-{max(hand):.3f}]  {mo / mh:5.2f}x  "
        f"{statistics.median(ratios):5.2f}x"
    )


def print_results(results: list[dict], pairs: int) -> None:
    import routine_workflow

    ruff = subprocess.run([str(BIN / "ruff"), "--version"], capture_output=True, text=True)
    print()
    print(
        f"ruff engine vs ruff by hand: {pairs} pair(s), routine-workflow "
        f"{routine_workflow.__version__}, {ruff.stdout.strip()}, python "
        f"{sys.version.split()[0]}, {os.cpu_count()} cores, load average "
        f"{' '.join(f'{x:.2f}' for x in os.getloadavg())}"
    )
    print(
        f"  {'case':14} {'ours, median [range]':>28}  {'by hand':>26}  "
        f"{'ratio':>6} {'paired':>6}"
    )
    for r in results:
        print(f"{r['tree']} ({r['files']} .py files)")
        for case in CASES:
            ours, hand = r["runs"][case]["ours"], r["runs"][case]["hand"]
            for index, unit in ((0, "wall"), (1, "cpu")):
                label = f"{case}, {unit}"
                print(_row(label, [x[index] for x in ours], [x[index] for x in hand]))
        print(f"  byte-identity (cold, one changed): {len(r['differing'])} differing file(s)")
        for rel in r["differing"][:10]:
            print(f"    differs: {rel}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trees", default="django,stdlib", help="django,stdlib,requests,django-quick"
    )
    parser.add_argument("--pairs", type=int, default=None, help="5 (2 with --quick)")
    parser.add_argument("--quick", action="store_true", help="django/db + django/utils only")
    args = parser.parse_args()
    if args.quick:
        args.trees = "django-quick"
    args.pairs = args.pairs or (2 if args.quick else 5)
    names = [n for n in args.trees.split(",") if n]
    unknown = sorted(set(names) - set(TREES))
    if unknown:
        parser.error(f"unknown tree(s): {', '.join(unknown)}")
    results = [bench_tree(name, args.pairs) for name in names]
    print_results(results, args.pairs)
    if any(r["differing"] for r in results):
        raise SystemExit(1)


if __name__ == "__main__":
    main()
