"""A dry run names what it would change: the files each step would rewrite or delete,
the first ten on the console (all with -v), all of them in --json; with several
projects, each project's steps, not only one row per project."""

from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone
from pathlib import Path

from helpers import run_cli, snapshot

from routine_workflow.dumps.names import dump_name, sidecar

UGLY = b"import os\nx  =  1\n"
MESSY = 13  # more than the ten a console shows


def _messy_project(root: Path) -> Path:
    (root / "pkg" / "__pycache__").mkdir(parents=True)
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    for i in range(MESSY):
        (root / "pkg" / f"m{i:02}.py").write_bytes(UGLY)
    (root / "pkg" / "tidy.py").write_text("x = 1\n")
    (root / "pkg" / "__pycache__" / "m00.cpython-311.pyc").write_bytes(b"\0" * 10)
    return root


def _seed_dumps(root: Path, dump_dir: Path, count: int) -> list[Path]:
    dump_dir.mkdir(parents=True)
    start = datetime(2026, 1, 1, tzinfo=timezone.utc)
    made = []
    for i in range(count):
        path = dump_dir / dump_name(root, start + timedelta(hours=i))
        path.write_text(f"dump {i}")
        sidecar(path).write_text("sum")
        made.append(path)
    return made


def _block(out: str, heading: str) -> list[str]:
    """The indented lines under the line that starts with ``heading``."""
    lines = out.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith(heading))
    block = []
    for line in lines[start + 1 :]:
        if not line.startswith("  "):
            break
        block.append(line.strip())
    return block


def test_dry_run_lists_the_first_ten_files_then_says_how_many_more(project: Path) -> None:
    _messy_project(project)
    before = snapshot(project)
    result = run_cli(["--dry-run"], project)
    assert result.returncode == 0, result.stderr
    listed = _block(result.stdout, "reformat would rewrite 13 files:")
    assert listed[:10] == [f"pkg/m{i:02}.py" for i in range(10)]
    assert listed[10:] == ["... and 3 more (-v lists them all)"]
    assert _block(result.stdout, "clean_caches would delete 1 path:") == ["pkg/__pycache__/"]
    # The verdict stays the last line, after the lists.
    assert result.stdout.splitlines()[-1].startswith("routine-workflow: ok (dry run)")
    assert snapshot(project) == before


def test_dry_run_verbose_lists_every_file(project: Path) -> None:
    _messy_project(project)
    result = run_cli(["--dry-run", "-v"], project)
    assert result.returncode == 0, result.stderr
    listed = _block(result.stdout, "reformat would rewrite 13 files:")
    assert listed == [f"pkg/m{i:02}.py" for i in range(MESSY)]


def test_dry_run_json_gives_every_file_per_step(project: Path) -> None:
    _messy_project(project)
    dump_dir = project.parent / "dumps"
    dumps = _seed_dumps(project, dump_dir, 4)
    (project / "pyproject.toml").write_text(
        f'[tool.routine-workflow]\ndump_dir = "{dump_dir}"\nkeep_dumps = 2\n'
    )
    result = run_cli(["--dry-run", "--json"], project)
    assert result.returncode == 0, result.stderr
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["reformat"]["files"] == {"rewrite": [f"pkg/m{i:02}.py" for i in range(MESSY)]}
    assert steps["clean_caches"]["files"] == {"delete": ["pkg/__pycache__/"]}
    oldest = [str(p) for d in dumps[:2] for p in (d, sidecar(d))]
    assert sorted(steps["prune_dumps"]["files"]["delete"]) == sorted(oldest)
    written = steps["dumps"]["files"]["write"]
    assert len(written) == 1 and Path(written[0]).parent == dump_dir
    assert all(d.exists() for d in dumps)  # a dry run


def test_a_real_run_lists_what_it_changed_with_verbose_and_in_json(project: Path) -> None:
    _messy_project(project)
    quiet = run_cli(["--yes", "--steps", "reformat,clean_caches"], project)
    assert quiet.returncode == 0, quiet.stderr
    assert "rewrote" not in quiet.stdout  # a real run's table is enough without -v
    _messy_project_again(project)
    result = run_cli(["--yes", "--steps", "reformat,clean_caches", "--json"], project)
    steps = {s["name"]: s for s in json.loads(result.stdout)["steps"]}
    assert steps["reformat"]["files"] == {"rewrite": ["pkg/m00.py"]}
    assert steps["clean_caches"]["files"] == {"delete": ["pkg/__pycache__/"]}
    _messy_project_again(project)
    verbose = run_cli(["--yes", "--steps", "reformat,clean_caches", "-v"], project)
    assert _block(verbose.stdout, "reformat rewrote 1 file:") == ["pkg/m00.py"]
    assert _block(verbose.stdout, "clean_caches deleted 1 path:") == ["pkg/__pycache__/"]


def _messy_project_again(root: Path) -> None:
    (root / "pkg" / "m00.py").write_bytes(UGLY)
    (root / "pkg" / "__pycache__").mkdir(exist_ok=True)
    (root / "pkg" / "__pycache__" / "m00.cpython-311.pyc").write_bytes(b"\0")


def test_several_projects_show_each_projects_steps_and_files(tmp_path: Path) -> None:
    a = tmp_path / "a"
    b = tmp_path / "b"
    for root in (a, b):
        root.mkdir()
        _messy_project(root)
    (b / "pkg" / "m00.py").write_text("x = 1\n")  # b has one file fewer to rewrite
    result = run_cli(
        ["--project-root", str(a), "--project-root", str(b), "--dry-run", "--jobs", "2"],
        tmp_path,
    )
    assert result.returncode == 0, result.stderr
    out = result.stdout
    # One section per project: its verdict, its step table and its files.
    assert f"{a}: ok (dry run)" in out and f"{b}: ok (dry run)" in out
    section_a = out.split(f"{a}: ok (dry run)")[1].split(f"{b}: ok (dry run)")[0]
    section_b = out.split(f"{b}: ok (dry run)")[1]
    assert "reformat would rewrite 13 files:" in section_a
    assert "reformat would rewrite 12 files:" in section_b
    assert "clean_caches" in section_b and "prune_dumps" in section_b
    assert out.splitlines()[-1].endswith("2 projects: 2 ok, 0 not ok")
