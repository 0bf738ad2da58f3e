"""Benchmark: routine-workflow's built-in dump vs files-to-prompt on a copy of the Django sdist.

    python benchmarks/bench_dump.py [--runs 7]

Fetches ``Django-5.1.4.tar.gz`` with ``pip download --no-deps --no-binary :all:``
into ``benchmarks/.work/`` (gitignored) unless it is already there, unpacks a
fresh copy into a temporary directory outside any git repository, then times,
alternating so both see the same warm page cache:

* ``routine-workflow --steps dumps --yes`` (the whole CLI: start-up, lock,
  discovery, dump, checksum, fsync, history), and
* ``files-to-prompt <tree> --markdown --include-hidden -o out.md``, the peer;
  install it for the benchmark only (``pip install files-to-prompt``); it is not
  a dependency of routine-workflow.

Both are real processes started the same way. Prints min and median wall time,
the ratio, what each wrote, and the head of our dump.
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
WORK = HERE / ".work"
SDIST = "Django-5.1.4.tar.gz"


def fetch() -> Path:
    archive = WORK / SDIST
    if not archive.is_file():
        WORK.mkdir(exist_ok=True)
        subprocess.run([sys.executable, "-m", "pip", "download", "-q", "--no-deps",
                        "--no-binary", ":all:", "django==5.1.4", "-d", str(WORK)], check=True)
    return archive


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


def timed(argv: list[str], env: dict[str, str], cwd: Path) -> float:
    start = time.perf_counter()
    proc = subprocess.run(argv, env=env, cwd=cwd, stdout=subprocess.DEVNULL,
                          stderr=subprocess.PIPE, text=True)
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"{argv[0]} failed ({proc.returncode}): {proc.stderr[-500:]}")
    return elapsed


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--runs", type=int, default=7)
    args = parser.parse_args()
    ours = shutil.which("routine-workflow")
    peer = shutil.which("files-to-prompt")
    if ours is None or peer is None:
        raise SystemExit("need routine-workflow and files-to-prompt on PATH "
                         "(pip install -e . files-to-prompt)")
    archive = fetch()
    with tempfile.TemporaryDirectory(prefix="bench-dump-") as tmp:
        scratch = Path(tmp)
        tree = unpack(archive, scratch / "src")
        files, size = count_files(tree)
        print(f"tree: {tree.name}: {files:,} files, {size / 1e6:.1f} MB")
        home, dumps, peer_out = scratch / "home", scratch / "dumps", scratch / "peer.md"
        env = {**os.environ, "ROUTINE_WORKFLOW_HOME": str(home),
               "ROUTINE_WORKFLOW_DUMP_DIR": str(dumps), "ROUTINE_WORKFLOW_KEEP_DUMPS": "1000"}
        ours_argv = [ours, "--project-root", str(tree), "--steps", "dumps", "--yes", "--quiet"]
        peer_argv = [peer, str(tree), "--markdown", "--include-hidden", "-o", str(peer_out)]
        timed(ours_argv, env, scratch)  # warm-up: page cache, .pyc files
        timed(peer_argv, env, scratch)
        ours_t, peer_t = [], []
        for _ in range(args.runs):
            ours_t.append(timed(ours_argv, env, scratch))
            peer_t.append(timed(peer_argv, env, scratch))
        newest = max(dumps.glob("*.md"), key=lambda p: p.stat().st_mtime)
        report("routine-workflow --steps dumps", ours_t, newest.stat().st_size)
        report("files-to-prompt --markdown", peer_t, peer_out.stat().st_size)
        print(f"ratio (files-to-prompt / routine-workflow), median: "
              f"{statistics.median(peer_t) / statistics.median(ours_t):.2f}x, "
              f"min: {min(peer_t) / min(ours_t):.2f}x")
        head = newest.read_text(encoding="utf-8").split("\n## Tree\n", 1)[0]
        print("\nhead of our dump:\n" + head)
    return 0


def report(label: str, times: list[float], out_size: int) -> None:
    print(f"{label:32s} min {min(times):.3f}s  median {statistics.median(times):.3f}s  "
          f"output {out_size / 1e6:.1f} MB")


if __name__ == "__main__":
    sys.exit(main())
