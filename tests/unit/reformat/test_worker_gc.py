"""A formatting worker collects garbage only once it has grown by its budget, and never
lets that garbage cost a file: a file out of memory after uncollected garbage is tried
again after a collection.

Each test runs the worker's entry points in a process of its own, as the pool runs them
(``init_worker`` then ``process_batch``), and counts the collections with ``gc.callbacks``.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
from helpers import write_tree

PYPROJECT = '[project]\nname = "demo"\n'

WORKER = """\
import gc, json, sys
from routine_workflow.reformat import workers as w
settings = json.loads(sys.argv[2])
for name, value in settings.items():
    setattr(w, name, value)
w.init_worker(sys.argv[1], 0.0, settings.get("headroom", 0))
collections = []
gc.callbacks.append(lambda phase, info: collections.append(info) if phase == "stop" else None)
out = w.process_batch(sys.argv[3:])
print(json.dumps({"outcomes": [[o.status, o.reason] for o in out],
                  "collections": len(collections)}))
"""


def run_worker(root: Path, files: list[str], **settings: int) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", WORKER, str(root), json.dumps(settings)]
        + [str(root / name) for name in files],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    return dict(json.loads(done.stdout))


def source(i: int, functions: int = 20) -> bytes:
    body = b"".join(b"def f%d(a,b):\n    return [a,b,%d]\n" % (n, n) for n in range(functions))
    return b"import os\n# file %d\n" % i + body


def test_small_files_leave_their_garbage_to_the_end(tmp_path: Path) -> None:
    files = {f"m{i}.py": source(i) for i in range(12)}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    report = run_worker(root, sorted(files))
    assert [status for status, _ in report["outcomes"]] == ["changed"] * 12
    assert report["collections"] == 0  # was one after every file


def test_a_worker_over_its_budget_collects(tmp_path: Path) -> None:
    files = {f"m{i}.py": source(i) for i in range(12)}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    report = run_worker(root, sorted(files), GC_BUDGET=0)
    assert [status for status, _ in report["outcomes"]] == ["changed"] * 12
    assert report["collections"] >= 1


@pytest.mark.slow
def test_garbage_never_makes_a_file_run_out_of_memory(tmp_path: Path) -> None:
    """The whole headroom may fill with garbage (``GC_SHARE`` 1): the file that then runs
    out of memory is formatted after a collection, not reported."""
    files = {f"m{i}.py": source(i, 400) for i in range(3)}
    root = write_tree(tmp_path / "p", files, PYPROJECT)
    report = run_worker(root, sorted(files), headroom=64 << 20, GC_SHARE=1)
    assert [status for status, _ in report["outcomes"]] == ["changed"] * 3, report
    assert report["collections"] >= 1
