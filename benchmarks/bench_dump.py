"""Benchmark: routine-workflow's built-in dump vs files-to-prompt on a copy of the Django sdist.

    python benchmarks/bench_dump.py [--runs 7]

Fetches ``Django-5.1.4.tar.gz`` with ``pip download --no-deps --no-binary :all:``
into ``benchmarks/.work/`` (gitignored) unless it is already there, unpacks a
fresh copy into a temporary directory outside any git repository, then times,
alternating so both see the same warm page cache:

* ``routine-workflow --steps dumps --yes`` (the whole CLI: start-up, lock,
  discovery, dump, checksum, history), a new dump every time (the dump directory
  is emptied before each run), and
* ``files-to-prompt <tree> --markdown --include-hidden -o out.md``, the peer;
  install it for the benchmark only (``pip install files-to-prompt``); it is not
  a dependency of routine-workflow.

Both are real processes started the same way. Prints wall and CPU time (min and median),
the ratios, what each wrote, and the head of our dump. Each command also runs
on an empty tree, so start-up cost can be told apart from the dump work; and ours
runs once more on the unchanged tree with its newest dump kept (told from file
stats, ``dumps/inputs.py``).

Then the cost of the secret scan (``routine_workflow.dumps.sensitive``), in this
process on the same tree: the dump's dry run (which reads, scans and renders every
file exactly as a real run, without writing) with the scan and with it switched off,
interleaved, and the time spent inside the scan during it; the scan alone over every
file's bytes already in memory; and which files it left out, so false positives show. ``--scan-only`` skips the comparison
with files-to-prompt.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

from benchenv import child_env

HERE = Path(__file__).resolve().parent
FRESH = "routine-workflow --steps dumps"
UNCHANGED = "routine-workflow, nothing changed"
WORK = HERE / ".work"
SDIST = "Django-5.1.4.tar.gz"


def fetch() -> Path:
    archive = WORK / SDIST
    if not archive.is_file():
        WORK.mkdir(exist_ok=True)
        subprocess.run(
            [
                sys.executable,
                "-m",
                "pip",
                "download",
                "-q",
                "--no-deps",
                "--no-binary",
                ":all:",
                "django==5.1.4",
                "-d",
                str(WORK),
            ],
            check=True,
        )
    return archive


def sdist_copy(into: Path) -> Path:
    """A fresh copy of the sdist's tree: of ``$RW_BENCH_DJANGO`` when it names an unpacked
    one (``bench_reformat.django_source``), else unpacked from the downloaded archive."""
    given = os.environ.get("RW_BENCH_DJANGO")
    if given and (Path(given) / "django").is_dir():
        return Path(shutil.copytree(given, into / Path(given).name, symlinks=True))
    return unpack(fetch(), into)


def unpack(archive: Path, into: Path) -> Path:
    with tarfile.open(archive) as tar:
        tar.extractall(into, filter="data")
    return into / SDIST.removesuffix(".tar.gz")


def count_files(tree: Path) -> tuple[int, int]:
    files = size = 0
    for dirpath, _dirs, names in os.walk(tree):
        for name in names:
            files += 1
            size += os.lstat(os.path.join(dirpath, name)).st_size
    return files, size


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> tuple[float, float]:
    """Wall seconds and CPU seconds (user + system, the process and its children)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    proc = subprocess.run(
        argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True
    )
    elapsed = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return elapsed, cpu


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    parser.add_argument("--scan-only", action="store_true", help="only the secret scan's cost")
    args = parser.parse_args()
    if args.scan_only:
        with tempfile.TemporaryDirectory(prefix="bench-dump-") as tmp:
            scan_cost(sdist_copy(Path(tmp) / "src"), Path(tmp), args.runs)
        return 0
    ours = shutil.which("routine-workflow")
    peer = shutil.which("files-to-prompt")
    if ours is None or peer is None:
        raise SystemExit(
            "need routine-workflow and files-to-prompt on PATH "
            "(pip install -e . files-to-prompt)"
        )
    with tempfile.TemporaryDirectory(prefix="bench-dump-") as tmp:
        scratch = Path(tmp)
        tree = sdist_copy(scratch / "src")
        files, size = count_files(tree)
        print(f"tree: {tree.name}: {files:,} files, {size / 1e6:.1f} MB")
        home, dumps, peer_out = scratch / "home", scratch / "dumps", scratch / "peer.md"
        env = child_env(
            ROUTINE_WORKFLOW_HOME=str(home),
            ROUTINE_WORKFLOW_DUMP_DIR=str(dumps),
            ROUTINE_WORKFLOW_KEEP_DUMPS="1000",
        )
        empty = scratch / "empty"
        empty.mkdir()
        runs = {
            FRESH: [
                ours,
                "--project-root",
                str(tree),
                "--steps",
                "dumps",
                "--yes",
                "--quiet",
            ],
            "files-to-prompt --markdown": [
                peer,
                str(tree),
                "--markdown",
                "--include-hidden",
                "-o",
                str(peer_out),
            ],
            # start-up and bookkeeping alone (empty tree), to tell them from the dump work
            "routine-workflow, empty tree": [
                ours,
                "--project-root",
                str(empty),
                "--steps",
                "dumps",
                "--yes",
                "--quiet",
            ],
            "files-to-prompt, empty tree": [peer, str(empty), "-o", str(scratch / "e.md")],
            # the same tree again, nothing changed: the newest dump is kept, from file stats
            UNCHANGED: [ours, "--project-root", str(tree), "--steps", "dumps", "--yes", "--quiet"],
        }
        # its own home: the fresh runs record their dumps' manifests in theirs
        unchanged_env = {
            **env,
            "ROUTINE_WORKFLOW_HOME": str(scratch / "home-kept"),
            "ROUTINE_WORKFLOW_DUMP_DIR": str(scratch / "kept"),
        }
        time.sleep(2.5)  # the tree's files older than the racy window (dumps/inputs.py)

        def run(label: str) -> tuple[float, float]:
            if label == UNCHANGED:
                return timed(runs[label], unchanged_env, scratch)
            if label == FRESH:  # a new dump every time: never "unchanged"
                shutil.rmtree(dumps, ignore_errors=True)
            return timed(runs[label], env, scratch)

        for label in runs:  # warm-up: page cache, .pyc files; the kept dump and its manifest
            run(label)
        run(UNCHANGED)
        results: dict[str, list[tuple[float, float]]] = {label: [] for label in runs}
        for _ in range(args.runs):  # interleaved, so load changes hit both alike
            for label in runs:
                results[label].append(run(label))
        newest = max(dumps.glob("Django*.md"), key=lambda p: p.stat().st_mtime)
        sizes = {
            FRESH: newest.stat().st_size,
            "files-to-prompt --markdown": peer_out.stat().st_size,
        }
        for label, times in results.items():
            report(label, times, sizes.get(label))
        ours_r, peer_r = (
            results[FRESH],
            results["files-to-prompt --markdown"],
        )
        for what, index in (("wall", 0), ("cpu", 1)):
            ratio = median(peer_r, index) / median(ours_r, index)
            work = (
                median(peer_r, index) - median(results["files-to-prompt, empty tree"], index)
            ) / (median(ours_r, index) - median(results["routine-workflow, empty tree"], index))
            print(
                f"speed-up over files-to-prompt, median {what}: {ratio:.2f}x whole command, "
                f"{work:.2f}x dump work (start-up subtracted)"
            )
        head = newest.read_text(encoding="utf-8").split("\n## Tree\n", 1)[0]
        print("\nhead of our dump:\n" + head)
        scan_cost(tree, scratch, args.runs)
    return 0


def scan_cost(tree: Path, scratch: Path, runs: int) -> None:
    """The secret scan's share of a dump: dry runs with and without it, and the scan alone.

    CPU time of this thread (``time.thread_time``), not wall time: on a shared machine it
    varies far less from run to run, and the dry run does all its work in this thread.
    """
    from routine_workflow.config import load_config
    from routine_workflow.dumps import build, builtin, sensitive

    os.environ["ROUTINE_WORKFLOW_HOME"] = str(scratch / "inproc-home")
    config = load_config(
        {"project_root": tree, "dump_engine": "builtin", "dry_run": True}, cwd=tree
    )
    real = sensitive.find_secrets

    inside = [0.0]

    def timed_scan(data: bytes) -> list[sensitive.Finding]:
        start = time.thread_time()
        try:
            return real(data)
        finally:
            inside[0] += time.thread_time() - start

    def dry_run(scan: bool) -> float:
        sensitive.find_secrets = timed_scan if scan else (lambda _data: [])
        try:
            start = time.thread_time()
            build.build_dump(config, dry_run=True)
            return time.thread_time() - start
        finally:
            sensitive.find_secrets = real

    dry_run(True)  # warm-up: page cache, compiled patterns
    times: dict[bool, list[float]] = {True: [], False: []}
    spent = []
    for _ in range(runs):
        for scan in (False, True):
            inside[0] = 0.0
            times[scan].append(dry_run(scan))
        spent.append(inside[0])
    print()
    for what, pick in (("min", min), ("median", statistics.median)):
        off, on = pick(times[False]), pick(times[True])
        print(
            f"in-process dry run of the dump, CPU {what} of {runs}: {off * 1000:.0f} ms without "
            f"the secret scan, {on * 1000:.0f} ms with, {pick(spent) * 1000:.0f} ms of it "
            f"inside the scan (+{pick(spent) / off:.0%})"
        )
    plan = builtin.plan_dump(config)
    datas = [
        data
        for item in plan.items
        if item.reason is None
        and (data := builtin.read_source(item, config.dump_max_file_size)) is not None
    ]
    size = sum(map(len, datas))
    alone = []
    for _ in range(runs):
        start = time.thread_time()
        for data in datas:
            real(data)
        alone.append(time.thread_time() - start)
    best = min(alone)
    print(
        f"secret scan alone: {len(datas):,} files, {size / 1e6:.1f} MB in memory: CPU "
        f"min {best * 1000:.0f} ms, median {statistics.median(alone) * 1000:.0f} ms "
        f"({size / best / 1e9:.2f} GB/s)"
    )
    outcome = build.build_dump(config, dry_run=True)
    left_out = outcome.plan.secrets
    print(f"left out as secrets: {len(left_out)} file(s)")
    for item in left_out:
        print(f"  {item.rel}: {item.reason}")


def median(times: list[tuple[float, float]], index: int) -> float:
    return statistics.median(t[index] for t in times)


def report(label: str, times: list[tuple[float, float]], out_size: int | None) -> None:
    out = f"  output {out_size / 1e6:.1f} MB" if out_size else ""
    print(
        f"{label:32s} wall min {min(t[0] for t in times):.3f}s median {median(times, 0):.3f}s"
        f"  cpu median {median(times, 1):.3f}s{out}"
    )


if __name__ == "__main__":
    sys.exit(main())
