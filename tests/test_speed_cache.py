"""A dry run teaches the reformat cache what is already final, and writes nothing else.

The cache is ours (``cache_dir``), not the project's: a dry run may record there that a
content needs nothing, so the dry run after it (and the real run) only hashes those
files. A content that would change is never recorded as final.
"""

from __future__ import annotations

import json
from pathlib import Path

from helpers import run_cli, snapshot, write_tree

FILES = {"final.py": b"x = 1\n", "ugly.py": b"y=2\n", "pkg/also_final.py": b"z = 3\n"}


def _reformat(root: Path, *flags: str) -> dict:  # type: ignore[type-arg]
    done = run_cli(["--yes", "--json", "--steps", "reformat", *flags], root, timeout=120)
    assert done.returncode == 0, done.stdout + done.stderr
    [step] = json.loads(done.stdout)["steps"]
    return step  # type: ignore[no-any-return]


def test_a_dry_run_fills_the_cache_for_final_content_only(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", FILES, '[project]\nname = "demo"\n')
    before = snapshot(root)

    first = _reformat(root, "--dry-run")
    second = _reformat(root, "--dry-run")

    assert snapshot(root) == before
    assert (first["counts"]["cached"], first["counts"]["changed"]) == (0, 1)
    # The two final files (and pyproject's neighbours) come from the cache; ugly.py does not.
    assert second["counts"]["cached"] == second["counts"]["unchanged"] == 2
    assert second["counts"]["changed"] == 1
    real = _reformat(root)
    assert real["counts"]["cached"] == 2 and real["counts"]["changed"] == 1
    assert (root / "ugly.py").read_bytes() == b"y = 2\n"


def test_reformat_check_fills_the_cache_too(tmp_path: Path) -> None:
    root = write_tree(tmp_path / "p", FILES, '[project]\nname = "demo"\n')
    for _ in range(2):
        done = run_cli(["reformat", "--check", "--json"], root, timeout=120)
        assert done.returncode == 1, done.stderr  # ugly.py would change
    report = json.loads(done.stdout)
    assert report["cached"] == 2
    assert snapshot(root)["ugly.py"] == b"y=2\n"
