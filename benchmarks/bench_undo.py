"""Benchmark: what the undo journal costs a cold reformat (docs/undo.md, "Measured").

The tree is a copy of this interpreter's standard library (as in bench_reformat.py,
into benchmarks/.work/, gitignored). Paired, interleaved runs of
``routine-workflow reformat`` on fresh copies with an empty cache: journal on (the
default) and off (``keep_undo = 0``); the order alternates from pair to pair, so a
machine whose load drifts penalises both sides alike. Reported per side: the median
wall time and CPU time (user + system of the whole process tree, workers included),
and the median of the per-pair differences.

Then, without the formatters, the journal's own work replayed in-process: every
rewritten file's original recorded (compressed, written, fdatasync'ed) into a fresh
journal, timed alone. On a loaded machine this is the steadier figure; the paired
runs show that nothing else changes.

Bytes: the journal's size against the bytes the run wrote into the tree.

    python benchmarks/bench_undo.py                    # black engine, 3 pairs
    python benchmarks/bench_undo.py --engine ruff --pairs 5
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench_reformat import BIN, WORK, cpu_seconds, fresh_copy, stdlib_tree
from benchenv import child_env


def run_reformat(tree: Path, home: Path, engine: str, journal: bool) -> dict:
    """One cold ``routine-workflow reformat --json``: wall, cpu, its report, journal bytes."""
    env = child_env(
        ROUTINE_WORKFLOW_HOME=str(home),
        ROUTINE_WORKFLOW_REFORMAT_ENGINE=engine,
        ROUTINE_WORKFLOW_KEEP_UNDO="10" if journal else "0",
    )
    argv = [str(BIN / "routine-workflow"), "reformat", "--json"]
    start, cpu = time.perf_counter(), cpu_seconds()
    done = subprocess.run(argv, cwd=tree, env=env, capture_output=True, text=True, check=False)
    wall, cpu = time.perf_counter() - start, cpu_seconds() - cpu
    try:
        report = json.loads(done.stdout)
    except ValueError:
        raise SystemExit(
            f"reformat failed (exit {done.returncode}): {done.stderr[-2000:]}"
        ) from None
    undo = home / "state" / "undo"
    journal_bytes = sum(p.stat().st_size for p in undo.rglob("*") if p.is_file())
    written = sum((tree / rel).stat().st_size for rel in report["changed_files"])
    return {
        "wall": wall,
        "cpu": cpu,
        "changed": report["changed_files"],
        "journal_bytes": journal_bytes,
        "tree_bytes": written,
    }


def replay_journal(pristine: Path, changed: list[str]) -> tuple[float, float]:
    """(wall, cpu) seconds to record the originals of ``changed`` into a fresh journal."""
    from routine_workflow.undo.journal import Recorder
    from routine_workflow.undo.layout import new_journal_id, sha256

    with tempfile.TemporaryDirectory(dir=WORK) as scratch:
        recorder = Recorder(Path(scratch) / "undo" / new_journal_id(), pristine)
        start, cpu = time.perf_counter(), time.process_time()
        for rel in changed:
            path = pristine / rel
            data = path.read_bytes()
            recorder.record(rel, data, os.stat(path), sha256(data))
        recorder.close()
        return time.perf_counter() - start, time.process_time() - cpu


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--pairs", type=int, default=3, help="paired runs (default 3)")
    parser.add_argument("--engine", choices=("black", "ruff"), default="black")
    parser.add_argument("--stdlib-tests", action="store_true", help="keep the test suites")
    parser.add_argument(
        "--replay-only", action="store_true", help="only the journal's own work, on every file"
    )
    args = parser.parse_args()

    pristine = stdlib_tree(args.stdlib_tests)
    if args.replay_only:
        every = sorted(p.relative_to(pristine).as_posix() for p in pristine.rglob("*.py"))
        report_replay(pristine, every, None)
        return
    runs: dict[bool, list[dict]] = {True: [], False: []}
    for pair in range(args.pairs):
        order = (True, False) if pair % 2 == 0 else (False, True)
        for journal in order:
            name = f"undo-{'on' if journal else 'off'}"
            tree = fresh_copy(pristine, name)
            home = WORK / "runs" / f"{name}-home"
            shutil.rmtree(home, ignore_errors=True)
            result = run_reformat(tree, home, args.engine, journal)
            runs[journal].append(result)
            print(
                f"pair {pair + 1} journal {'on ' if journal else 'off'}: "
                f"{result['wall']:.1f}s wall, {result['cpu']:.1f}s cpu, "
                f"{len(result['changed'])} files rewritten",
                flush=True,
            )

    on, off = runs[True], runs[False]
    print(f"\nstdlib copy ({sum(1 for _ in pristine.rglob('*.py'))} files), engine {args.engine}")
    for key in ("wall", "cpu"):
        med_on = statistics.median(r[key] for r in on)
        med_off = statistics.median(r[key] for r in off)
        diffs = [a[key] - b[key] for a, b in zip(on, off, strict=True)]
        print(
            f"{key:>4}: on {med_on:.2f}s, off {med_off:.2f}s; median paired difference "
            f"{statistics.median(diffs):+.2f}s ({statistics.median(diffs) / med_off:+.1%})"
        )
    report_replay(pristine, on[0]["changed"], statistics.median(r["wall"] for r in off))
    journal_bytes, tree_bytes = on[0]["journal_bytes"], on[0]["tree_bytes"]
    print(
        f"bytes: journal {journal_bytes / 1e6:.1f} MB for {tree_bytes / 1e6:.1f} MB rewritten "
        f"({journal_bytes / tree_bytes:.0%}); journal off: {off[0]['journal_bytes']} bytes"
    )


def report_replay(pristine: Path, changed: list[str], cold_wall: float | None) -> None:
    """Print the journal's own cost (median of 3 replays), against the cold run if known."""
    replays = [replay_journal(pristine, changed) for _ in range(3)]
    wall = statistics.median(w for w, _ in replays)
    cpu = statistics.median(c for _, c in replays)
    share = f" = {wall / cold_wall:.1%} of the cold run's wall time" if cold_wall else ""
    print(
        f"journal work alone (replayed, {len(changed)} files): {wall:.2f}s wall, "
        f"{cpu:.2f}s cpu{share}"
    )


if __name__ == "__main__":
    main()
