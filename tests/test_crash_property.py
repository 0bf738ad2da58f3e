"""Property: a run killed with SIGKILL at any instant loses nothing and leaves nothing.

A real run on a tree of a few hundred files is killed at random instants spread over
all its phases (backup, reformat writes, cache cleaning, dump). After each kill every
user file is byte-identical to its original or its final content (or absent, where the
run deletes it); the next run removes every temporary file of ours, no process of the
killed run survives it, and it exits 0 with the same tree as an uninterrupted run.

``RW_CRASH_KILLS`` sets the number of kills (default 8: CI time); run it with
hundreds by hand.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import time
from pathlib import Path

import psutil
import pytest
from helpers import popen_cli, run_cli

from routine_workflow.fsutil import is_temp_name

KILLS = int(os.environ.get("RW_CRASH_KILLS", "8"))
SEED = int(os.environ.get("RW_CRASH_SEED", "20261203"))


def _make_tree(root: Path, rng: random.Random, files: int = 200) -> None:
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "crash"\n')
    for n in range(files):
        pkg = root / f"pkg{n % 12}"
        pkg.mkdir(exist_ok=True)
        body = "import os, sys\n" + "".join(
            f"def f{i}( a,b ):\n    return {{'k':a+b,'n':{n}}}\n" for i in range(rng.randint(2, 8))
        )
        (pkg / f"m{n}.py").write_text(body)
        if n % 10 == 0:
            (pkg / f"notes{n}.txt").write_text("plain text, never rewritten\n" * 50)
    for n in range(12):
        cache = root / f"pkg{n}" / "__pycache__"
        cache.mkdir()
        (cache / "m.cpython-311.pyc").write_bytes(os.urandom(512))


def _snapshot(root: Path) -> dict[str, bytes]:
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.is_symlink()
    }


def _run_env(home: Path) -> dict[str, str]:
    return {"ROUTINE_WORKFLOW_HOME": str(home)}


@pytest.mark.slow
@pytest.mark.timeout(900)  # each kill is followed by a whole cold run
def test_sigkill_at_random_instants_loses_nothing(tmp_path: Path) -> None:
    rng = random.Random(SEED)  # noqa: S311 (reproducible instants, not secrets)
    original_root = tmp_path / "original"
    _make_tree(original_root, rng)
    original = _snapshot(original_root)

    reference = tmp_path / "reference"
    shutil.copytree(original_root, reference)
    started = time.monotonic()
    done = run_cli(["--yes"], reference, env=_run_env(tmp_path / "home-ref"), timeout=300)
    full = time.monotonic() - started
    assert done.returncode == 0, done.stderr
    final = _snapshot(reference)
    assert final != original

    for kill in range(KILLS):
        root = tmp_path / f"run{kill}"
        shutil.copytree(original_root, root)
        env = _run_env(tmp_path / f"home{kill}")
        delay = rng.uniform(0.05, full * 1.1)
        proc = popen_cli(["--yes"], root, env={**os.environ, **env})
        time.sleep(delay)
        try:
            family = psutil.Process(proc.pid).children(recursive=True)
        except psutil.NoSuchProcess:
            family = []
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=60)
        for stream in (proc.stdout, proc.stderr):
            if stream is not None:
                stream.close()
        where = f"kill {kill} after {delay:.2f}s of {full:.2f}s"

        now = _snapshot(root)
        for rel in sorted(set(original) | set(final) | set(now)):
            if is_temp_name(rel.rsplit("/", 1)[-1]):
                continue  # a temp file of ours: checked after the next run
            assert now.get(rel) in (original.get(rel), final.get(rel)), f"{rel}: mixed ({where})"

        after = run_cli(["--yes"], root, env=env, timeout=300)
        assert after.returncode == 0, f"{where}: {after.stderr}"
        leftovers = [p for p in root.rglob("*") if is_temp_name(p.name)]
        assert leftovers == [], where
        survivors = [p for p in family if p.is_running() and p.status() != psutil.STATUS_ZOMBIE]
        assert survivors == [], f"{where}: {survivors}"
        assert _snapshot(root) == final, where
        shutil.rmtree(root)


@pytest.mark.skipif(KILLS < 1, reason="RW_CRASH_KILLS=0")
def test_the_kill_count_is_a_parameter() -> None:
    assert KILLS >= 1
