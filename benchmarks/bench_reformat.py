"""Benchmark: `routine-workflow reformat` vs `autoflake ... && isort . && black .` (and vs ruff).

Two real trees, fetched or copied at run time into benchmarks/.work/ (gitignored):

* django: the django 5.1.4 sdist (``pip download --no-deps --no-binary :all:``); the
  tree is its ``django/`` package with the sdist's own pyproject.toml, setup.cfg,
  tox.ini and .editorconfig at the root, so django's black and isort settings apply.
* stdlib: a copy of this interpreter's standard library (``--stdlib-tests`` keeps its
  test suites; by default they are left out to keep a run short).

For each tree, with the same tool versions and configuration, paired runs:

1. cold: a fresh copy; ours with an empty cache vs the CLI pipeline with black's cache empty;
2. warm: the same command again on its own output;
3. one file changed in the warm tree;
4. the peak memory (summed RSS of the process tree) of ours, cold.

It also checks that both cold outputs are byte-identical on every file all three tools
accept — ours against the CLI pipeline run again until it changes nothing more, as ours
does (the extra rounds are not timed) — and lists the files a tool rejects or excludes
(ours leaves them untouched; the CLI pipeline may have half-processed them).

The ruff engine gets the same rows (``--engines black,ruff``, the default): ours with
``reformat_engine = "ruff"`` vs ``ruff check --fix --select F401,I . && ruff format .`` by
hand (ruff's own cache empty when cold, kept when warm), and the same identity check.

With ``--versus REF`` it compares ours with ours at an earlier commit instead (cold runs
only, the black engine): the two alternate, which goes first alternating too, so that a
shared machine's load falls on both alike; it reports the medians of wall time and of
CPU time (user + system of the whole process tree) and the files whose output differs.

    python benchmarks/bench_reformat.py                 # both trees, both engines, 3 repetitions
    python benchmarks/bench_reformat.py --repeat 1 --trees django --engines ruff
    python benchmarks/bench_reformat.py --versus main --trees django,stdlib --repeat 5

On a loaded machine whole runs are too noisy to show a few percent. ``--versus REF
--per-file`` then runs the pipeline of each side in a process of its own, as a pool
worker runs it, and hands them the same file one after the other (which goes first
alternating): the CPU time of each file, paired, summed over the tree.

    python benchmarks/bench_reformat.py --versus main --per-file --trees django,stdlib
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import sysconfig
import tarfile
import tempfile
import threading
import time
from collections.abc import Sequence
from pathlib import Path

import psutil
from benchenv import child_env

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
DJANGO = "django==5.1.4"
CLI_STEPS = (
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
)
RUFF_STEPS = (["ruff", "check", "--fix", "--select", "F401,I", "."], ["ruff", "format", "."])


# --- trees -----------------------------------------------------------------------------------


def django_source() -> Path:
    """Django 5.1.4's unpacked sdist: ``$RW_BENCH_DJANGO`` (an existing copy, read only)
    when it names one, else downloaded and unpacked once under ``WORK``."""
    given = os.environ.get("RW_BENCH_DJANGO")
    if given and (Path(given) / "django").is_dir():
        return Path(given)
    unpacked = WORK / "unpacked"
    if unpacked.is_dir() and any(unpacked.iterdir()):
        return next(unpacked.iterdir())
    download = WORK / "download"
    download.mkdir(parents=True, exist_ok=True)
    subprocess.run(
        [
            *(sys.executable, "-m", "pip", "download", "--quiet", "--no-deps"),
            *("--no-binary", ":all:", DJANGO, "-d", str(download)),
        ],
        check=True,
    )
    archive = next(download.glob("[Dd]jango-5.1.4.tar.gz"))
    shutil.rmtree(unpacked, ignore_errors=True)
    with tarfile.open(archive) as tar:
        tar.extractall(unpacked, filter="data")
    return next(unpacked.iterdir())


def django_pristine(work: Path, packages: tuple[str, ...] = ()) -> Path:
    """django/ (only ``packages`` of it, if given) with the sdist's settings at the root, a
    git repository of its own under ``work``; made once, then reused."""
    pristine = work / ("pristine-django" + "".join(f"-{p}" for p in packages))
    if pristine.is_dir():
        return pristine
    source = django_source()
    pristine.mkdir(parents=True)
    for name in ("pyproject.toml", "setup.cfg", "tox.ini", ".editorconfig"):
        if (source / name).is_file():
            shutil.copy2(source / name, pristine / name)
    for package in packages or ("",):
        shutil.copytree(source / "django" / package, pristine / "django" / package)
    return as_repository(pristine)


def named_tree(name: str, with_tests: bool) -> Path:
    """The pristine tree a ``--trees`` name stands for."""
    if name == "django":
        return django_pristine(WORK)
    if name == "django-small":
        return django_pristine(WORK, ("db", "utils"))
    return stdlib_tree(with_tests)


def stdlib_tree(with_tests: bool, work: Path = WORK) -> Path:
    """A pristine copy of this interpreter's standard library (.py files only), under
    ``work``; made once, then reused."""
    pristine = work / ("pristine-stdlib-tests" if with_tests else "pristine-stdlib")
    if pristine.is_dir():
        return pristine
    source = Path(sysconfig.get_paths()["stdlib"])
    skip = {"site-packages", "__pycache__"}
    if not with_tests:
        skip |= {"test", "tests", "idle_test"}
    for dirpath, dirnames, filenames in os.walk(source):
        dirnames[:] = [d for d in dirnames if d not in skip]
        for name in filenames:
            if name.endswith(".py"):
                src = Path(dirpath) / name
                dst = pristine / src.relative_to(source)
                dst.parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(src, dst)
    return as_repository(pristine)


def as_repository(tree: Path) -> Path:
    """Make ``tree`` a git repository of its own, as a real project is.

    black and isort look upwards for their project root and configuration and stop
    at ``.git``; without it a tree under benchmarks/.work/ would pick up this
    repository's settings (and its .gitignore, which ignores .work/).
    """
    subprocess.run(["git", "init", "-q", str(tree)], check=True)
    return tree


def fresh_copy(pristine: Path, name: str) -> Path:
    """A new copy of ``pristine`` under .work/runs/."""
    target = WORK / "runs" / name
    shutil.rmtree(target, ignore_errors=True)
    shutil.copytree(pristine, target)
    return target


# --- measuring -------------------------------------------------------------------------------


class PeakRss:
    """Polls the summed RSS of a process and its children."""

    def __init__(self, pid: int) -> None:
        self.proc = psutil.Process(pid)
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._poll, daemon=True)
        self._thread.start()

    def _poll(self) -> None:
        while not self._stop.is_set():
            try:
                procs = [self.proc, *self.proc.children(recursive=True)]
                total = 0
                for p in procs:
                    with contextlib.suppress(psutil.Error):
                        total += p.memory_info().rss
                self.peak = max(self.peak, total)
            except psutil.Error:
                return
            time.sleep(0.02)

    def stop(self) -> int:
        self._stop.set()
        self._thread.join()
        return self.peak


def cpu_seconds() -> float:
    """User + system CPU time of every child process waited for so far (workers included)."""
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)
    return usage.ru_utime + usage.ru_stime


CPU: dict[str, list[float]] = {}
#: The console scripts, as a user runs them: ``python -m`` would put the tree itself first on
#: sys.path, and a copy of the standard library would then shadow the real one.
BIN = Path(sys.executable).parent
LOAD_BEFORE = ""


def run_ours(
    tree: Path, home: Path, workers: int, engine: str, source: Path | None = None
) -> tuple[float, int, dict]:
    """(seconds, peak bytes, JSON report) of `routine-workflow reformat` in ``tree``;
    ``source``: another checkout's ``src`` directory to run instead of the installed one."""
    env = child_env(ROUTINE_WORKFLOW_HOME=str(home), ROUTINE_WORKFLOW_REFORMAT_ENGINE=engine)
    if source is not None:  # ahead of the editable install's path entry
        env["PYTHONPATH"] = str(source)
    argv = [str(BIN / "routine-workflow"), "reformat", "--json", "--workers", str(workers)]
    start, cpu = time.perf_counter(), cpu_seconds()
    proc = subprocess.Popen(
        argv, cwd=tree, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    rss = PeakRss(proc.pid)
    out, err = proc.communicate()
    elapsed = time.perf_counter() - start
    CPU.setdefault("ours", []).append(cpu_seconds() - cpu)
    peak = rss.stop()
    try:
        report = json.loads(out)
    except ValueError:
        raise SystemExit(f"ours failed (exit {proc.returncode}): {err[-2000:]}") from None
    return elapsed, peak, report


def run_commands(
    steps: Sequence[Sequence[str]], tree: Path, env: dict[str, str]
) -> tuple[float, float]:
    """(wall, cpu) of running each of ``steps`` (a tool of this venv's ``bin`` and its
    arguments) in ``tree``, one after the other, output discarded."""
    start, cpu = time.perf_counter(), cpu_seconds()
    for argv in steps:
        subprocess.run(
            [str(BIN / argv[0]), *argv[1:]],
            cwd=tree,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            check=False,
        )
    return time.perf_counter() - start, cpu_seconds() - cpu


def run_cli_pipeline(tree: Path, cache: Path, engine: str = "black") -> float:
    """Seconds for the engine's CLIs in ``tree``, each from the project root, their cache
    (black's or ruff's) in ``cache``."""
    env = child_env(BLACK_CACHE_DIR=str(cache), RUFF_CACHE_DIR=str(cache))
    wall, cpu = run_commands(CLI_STEPS if engine == "black" else RUFF_STEPS, tree, env)
    CPU.setdefault("cli", []).append(cpu)
    return wall


def settle_cli_pipeline(tree: Path, cache: Path, engine: str, limit: int = 5) -> int:
    """Run the CLIs again until a round changes nothing; returns the rounds that changed
    something (not timed: only the identity check needs them)."""
    for rounds in range(limit):
        before = {p: p.read_bytes() for p in tree.rglob("*.py*") if p.is_file()}
        run_cli_pipeline(tree, cache, engine)
        CPU["cli"].pop()
        if {p: p.read_bytes() for p in tree.rglob("*.py*") if p.is_file()} == before:
            return rounds
    return limit


def touch_one(tree: Path) -> Path:
    """Make one mid-sized file need formatting again."""
    files = sorted(tree.rglob("*.py"), key=lambda p: p.stat().st_size)
    target = files[len(files) // 2]
    with open(target, "a", encoding="utf-8") as handle:
        handle.write("\nbenchmark_marker = {  'a':1 }\n")
    return target


def compare(ours: Path, theirs: Path, report: dict) -> tuple[int, list[str], list[str]]:
    """(differing files among those all three tools accept, rejected files, files left out).

    Left out: what our discovery skips (virtualenvs, build dirs, ...) plus what a
    tool's own settings exclude; the CLI pipeline may still have run some tools there.
    """
    from routine_workflow.config import load_config
    from routine_workflow.discovery import python_files

    rejected = sorted(f["path"] for f in report["failures"])
    considered = {e.rel for e in python_files(load_config({"project_root": ours}))}
    accepted = considered - set(rejected) - set(report["excluded_files"])
    left_out = sorted(
        path.relative_to(ours).as_posix()
        for path in ours.rglob("*.py*")
        if path.is_file() and path.relative_to(ours).as_posix() not in accepted | set(rejected)
    )
    differing = []
    for rel in sorted(accepted):
        other = theirs / rel
        if not other.is_file() or other.read_bytes() != (ours / rel).read_bytes():
            differing.append(rel)
    for rel in differing[:10]:
        print(f"    differs: {rel}")
    return len(differing), rejected, left_out


# --- the benchmark ---------------------------------------------------------------------------


def bench_tree(name: str, pristine: Path, repeat: int, workers: int, engine: str) -> dict:
    """Paired runs of one engine on one tree; returns the medians and the identity check."""
    rows: dict[str, list[float]] = {
        k: []
        for k in (
            "cold_ours",
            "cold_cli",
            "warm_ours",
            "warm_cli",
            "one_ours",
            "one_cli",
            "cold_ours_cpu",
            "cold_cli_cpu",
        )
    }
    peaks: list[int] = []
    check: tuple[int, list[str], list[str]] | None = None
    report: dict = {}
    for i in range(repeat):
        with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
            home, tool_cache = Path(tmp) / "home", Path(tmp) / "tool-cache"
            ours_tree = fresh_copy(pristine, f"{name}-ours")
            cli_tree = fresh_copy(pristine, f"{name}-cli")
            seconds, peak, report = run_ours(ours_tree, home, workers, engine)
            rows["cold_ours"].append(seconds)
            peaks.append(peak)
            rows["cold_cli"].append(run_cli_pipeline(cli_tree, tool_cache, engine))
            rows["cold_ours_cpu"].append(CPU["ours"][-1])
            rows["cold_cli_cpu"].append(CPU["cli"][-1])
            if check is None:
                rounds = settle_cli_pipeline(cli_tree, tool_cache, engine)
                if rounds:
                    print(f"  {name} ({engine}): the CLIs changed files in {rounds} more round(s)")
                check = compare(ours_tree, cli_tree, report)
            rows["warm_ours"].append(run_ours(ours_tree, home, workers, engine)[0])
            rows["warm_cli"].append(run_cli_pipeline(cli_tree, tool_cache, engine))
            touch_one(ours_tree)
            touch_one(cli_tree)
            rows["one_ours"].append(run_ours(ours_tree, home, workers, engine)[0])
            rows["one_cli"].append(run_cli_pipeline(cli_tree, tool_cache, engine))
        print(
            f"  {name} ({engine}) run {i + 1}/{repeat}: cold {rows['cold_ours'][-1]:.2f}s vs "
            f"{rows['cold_cli'][-1]:.2f}s",
            flush=True,
        )
    assert check is not None
    medians = {k: statistics.median(v) for k, v in rows.items()}
    return {
        "tree": name,
        "engine": engine,
        "files": report.get("seen", 0),
        "medians": medians,
        "peak_mb": max(peaks) / 2**20,
        "differing": check[0],
        "rejected": check[1],
        "excluded": check[2],
    }


def print_table(results: list[dict], repeat: int, workers: int) -> None:
    print()
    print(
        f"reformat benchmark: {workers} workers, median of {repeat} paired run(s), "
        f"python {sys.version.split()[0]}, load average before: {LOAD_BEFORE}"
    )
    print(
        f"{'tree':8} {'engine':6} {'files':>6} {'case':22} {'ours':>9} {'by hand':>13} {'ratio':>7}"
    )
    print("(by hand: autoflake + isort + black for the black engine; ruff check + ruff format)")
    for r in results:
        m = r["medians"]
        label = f"{r['tree']:8} {r['engine']:6}"
        for case, key in (
            ("cold", "cold"),
            ("warm, nothing changed", "warm"),
            ("one file changed", "one"),
        ):
            ours, cli = m[f"{key}_ours"], m[f"{key}_cli"]
            print(
                f"{label} {r['files']:>6} {case:22} {ours:>8.2f}s {cli:>12.2f}s "
                f"{ours / cli:>6.3f}x"
            )
        print(
            f"{label} {r['files']:>6} {'cold, CPU time':22} {m['cold_ours_cpu']:>8.2f}s "
            f"{m['cold_cli_cpu']:>12.2f}s {m['cold_ours_cpu'] / m['cold_cli_cpu']:>6.3f}x"
        )
        warm_per_k = (m["warm_ours"] * 1000 / r["files"]) if r["files"] else 0.0
        print(
            f"{label} peak memory of ours (process tree): {r['peak_mb']:.0f} MB; "
            f"warm run {warm_per_k:.3f}s per 1,000 files (including interpreter start)"
        )
        print(
            f"{label} byte-identity: {r['differing']} differing file(s) among those the "
            f"tools accept"
        )
        print(
            f"{label} rejected by a tool ({len(r['rejected'])}): "
            f"{', '.join(r['rejected']) or '-'}"
        )
        print(
            f"{label} left out by discovery or a tool's settings ({len(r['excluded'])}): "
            f"{', '.join(r['excluded'][:12]) or '-'}"
        )


# --- ours against ours at an earlier commit ----------------------------------------------------


def checkout_source(ref: str) -> Path:
    """The ``src`` directory of this repository at ``ref``, extracted under .work/."""
    commit = subprocess.run(
        ["git", "rev-parse", "--short", ref],
        cwd=HERE.parent,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.strip()
    target = WORK / f"src-{commit}"
    if not (target / "src").is_dir():
        target.mkdir(parents=True, exist_ok=True)
        archive = subprocess.run(
            ["git", "archive", commit, "src"], cwd=HERE.parent, capture_output=True, check=True
        ).stdout
        subprocess.run(["tar", "-x", "-C", str(target)], input=archive, check=True)
    return target / "src"


def bench_versus(name: str, pristine: Path, base: Path, repeat: int, workers: int) -> dict:
    """Paired cold runs of ours at ``base`` and ours here, alternating which goes first."""
    times: dict[str, list[float]] = {"base": [], "new": []}
    cpu: dict[str, list[float]] = {"base": [], "new": []}
    outputs: dict[str, Path] = {}
    reports: dict[str, dict] = {}
    for i in range(repeat):
        order = ("base", "new") if i % 2 == 0 else ("new", "base")
        for side in order:
            with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
                tree = fresh_copy(pristine, f"{name}-{side}")
                seconds, _peak, reports[side] = run_ours(
                    tree, Path(tmp), workers, "black", base if side == "base" else None
                )
                times[side].append(seconds)
                cpu[side].append(CPU["ours"][-1])
                outputs[side] = tree
        print(
            f"  {name} run {i + 1}/{repeat}: base {times['base'][-1]:.2f}s "
            f"({cpu['base'][-1]:.2f}s CPU), new {times['new'][-1]:.2f}s "
            f"({cpu['new'][-1]:.2f}s CPU)",
            flush=True,
        )
    differing = sorted(
        p.relative_to(outputs["new"]).as_posix()
        for p in outputs["new"].rglob("*.py*")
        if p.is_file()
        and p.read_bytes() != (outputs["base"] / p.relative_to(outputs["new"])).read_bytes()
    )
    return {
        "tree": name,
        "files": reports["new"].get("seen", 0),
        "changed": {side: reports[side].get("changed", 0) for side in reports},
        "wall": {side: statistics.median(v) for side, v in times.items()},
        "cpu": {side: statistics.median(v) for side, v in cpu.items()},
        # The median of each pair's own ratio: the load a pair shared cancels out.
        "wall_ratio": statistics.median(
            n / b for n, b in zip(times["new"], times["base"], strict=True)
        ),
        "cpu_ratio": statistics.median(n / b for n, b in zip(cpu["new"], cpu["base"], strict=True)),
        "differing": differing,
    }


PER_FILE_WORKER = """\
import gc, json, sys, time
from pathlib import Path
from routine_workflow.reformat.pipeline import Pipeline
pipeline = Pipeline(Path(sys.argv[1]))
gc.freeze()
gc.disable()
print("ready", flush=True)
for line in sys.stdin:
    start = time.process_time()
    outcome = pipeline.process(line.rstrip("\\n"))
    gc.collect()
    print(json.dumps([time.process_time() - start, outcome.status, outcome.digest,
                      len(outcome.new or b"")]), flush=True)
"""


def bench_per_file(name: str, pristine: Path, base: Path) -> dict:
    """CPU seconds of the pipeline at ``base`` and here, file by file, alternating."""
    sides: dict[str, subprocess.Popen[str]] = {}
    for side, source in (("base", base), ("new", None)):
        env = child_env(**({"PYTHONPATH": str(source)} if source else {}))
        sides[side] = subprocess.Popen(
            [sys.executable, "-c", PER_FILE_WORKER, str(pristine)],
            env=env,
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            text=True,
        )
        assert sides[side].stdout is not None and sides[side].stdout.readline() == "ready\n"
    total = {"base": 0.0, "new": 0.0}
    changed = {"base": 0, "new": 0}
    differing = []
    files = sorted(p for p in pristine.rglob("*.py") if ".git" not in p.parts)
    for i, path in enumerate(files):
        answers = {}
        for side in ("base", "new") if i % 2 == 0 else ("new", "base"):
            proc = sides[side]
            assert proc.stdin is not None and proc.stdout is not None
            proc.stdin.write(f"{path}\n")
            proc.stdin.flush()
            answers[side] = json.loads(proc.stdout.readline())
            total[side] += answers[side][0]
            changed[side] += answers[side][1] == "changed"
        if answers["base"][1:] != answers["new"][1:]:
            differing.append(path.relative_to(pristine).as_posix())
    for proc in sides.values():
        assert proc.stdin is not None
        proc.stdin.close()
        proc.wait()
    print(f"  {name}: base {total['base']:.2f}s, new {total['new']:.2f}s CPU", flush=True)
    return {
        "tree": name,
        "files": len(files),
        "cpu": total,
        "changed": changed,
        "differing": differing,
    }


def print_per_file(results: list[dict], ref: str) -> None:
    print()
    print(
        f"pipeline CPU per file, ours at {ref} vs now, each side in its own process, "
        f"the same file back to back; python {sys.version.split()[0]}, load average "
        f"before: {LOAD_BEFORE}"
    )
    for r in results:
        before, after = r["cpu"]["base"], r["cpu"]["new"]
        print(
            f"{r['tree']:8} {r['files']:>6} files: {before:.2f}s at {ref}, {after:.2f}s now "
            f"({(after - before) / before:+.1%}); changed {r['changed']['base']} / "
            f"{r['changed']['new']}; outcomes differ in {len(r['differing'])}: "
            f"{', '.join(r['differing'][:10]) or '-'}"
        )


def warm_up(sources: list[Path | None], workers: int) -> None:
    """One small run of each side first, so both start from compiled bytecode."""
    with tempfile.TemporaryDirectory(prefix="rw-bench-") as tmp:
        tree = as_repository(Path(tmp) / "tree")
        (tree / "a.py").write_text("import os\nx = {  'a':1 }\n")
        for source in sources:
            run_ours(tree, Path(tmp) / "home", workers, "black", source)
            (tree / "a.py").write_text("import os\nx = {  'a':1 }\n")
    CPU.clear()


def print_versus(results: list[dict], ref: str, repeat: int, workers: int) -> None:
    print()
    print(
        f"ours vs ours at {ref}: cold, black engine, {workers} workers, median of {repeat} "
        f"alternating pair(s), python {sys.version.split()[0]}, load average before: {LOAD_BEFORE}"
    )
    print(
        f"{'tree':8} {'files':>6} {'case':10} {'at ' + ref:>12} {'now':>9} {'change':>8} "
        f"{'median of pair ratios':>22}"
    )
    for r in results:
        for case in ("wall", "cpu"):
            before, after = r[case]["base"], r[case]["new"]
            print(
                f"{r['tree']:8} {r['files']:>6} {case:10} {before:>11.2f}s {after:>8.2f}s "
                f"{(after - before) / before:>+7.1%} {r[case + '_ratio'] - 1:>+21.1%}"
            )
        print(
            f"{r['tree']:8} changed files: {r['changed'].get('base')} at {ref}, "
            f"{r['changed'].get('new')} now; output differs in {len(r['differing'])}: "
            f"{', '.join(r['differing'][:10]) or '-'}"
        )


def interpreter_start() -> float:
    """Median seconds for `python -c pass`, to put the warm figure in context."""
    times = []
    for _ in range(5):
        start = time.perf_counter()
        subprocess.run([sys.executable, "-c", "pass"], check=True)
        times.append(time.perf_counter() - start)
    return statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--trees", default="django,stdlib", help="comma-separated: django,django-small,stdlib"
    )
    parser.add_argument("--repeat", type=int, default=3, help="paired runs per tree")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--engines", default="black,ruff", help="comma-separated: black,ruff")
    parser.add_argument(
        "--versus",
        metavar="REF",
        help="compare ours with ours at this git commit (cold runs, black engine) instead",
    )
    parser.add_argument(
        "--per-file",
        action="store_true",
        help="with --versus: the pipeline's CPU time file by file, not whole runs",
    )
    parser.add_argument(
        "--stdlib-tests",
        action="store_true",
        help="include the standard library's test suites (much longer)",
    )
    args = parser.parse_args()
    WORK.mkdir(parents=True, exist_ok=True)
    global LOAD_BEFORE
    LOAD_BEFORE = " ".join(f"{x:.1f}" for x in os.getloadavg())
    if args.versus:
        base = checkout_source(args.versus)
        warm_up([base, None], args.workers)
        if args.per_file:
            per_file = []
            for name in args.trees.split(","):
                pristine = named_tree(name, args.stdlib_tests)
                per_file.append(bench_per_file(name, pristine, base))
            print_per_file(per_file, args.versus)
            return
        versus = []
        for name in args.trees.split(","):
            pristine = named_tree(name, args.stdlib_tests)
            versus.append(bench_versus(name, pristine, base, args.repeat, args.workers))
        print_versus(versus, args.versus, args.repeat, args.workers)
        return
    results = []
    for name in args.trees.split(","):
        pristine = named_tree(name, args.stdlib_tests)
        for engine in args.engines.split(","):
            results.append(bench_tree(name, pristine, args.repeat, args.workers, engine))
    print_table(results, args.repeat, args.workers)
    print(f"interpreter start (python -c pass): {interpreter_start():.3f}s")


if __name__ == "__main__":
    main()
