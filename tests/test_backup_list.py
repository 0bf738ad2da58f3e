"""`backup list`: which archive is the restore point of which run, and whether it is complete."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from helpers import run_cli

from routine_workflow.backup import store


def _run_backup(project: Path) -> str:
    result = run_cli(["--steps", "backup", "--yes", "--json"], project)
    assert result.returncode == 0, result.stdout + result.stderr
    return str(json.loads(result.stdout)["run_id"])


def _listed(project: Path) -> list[dict[str, object]]:
    result = run_cli(["backup", "list", "--json"], project)
    assert result.returncode == 0, result.stderr
    return list(json.loads(result.stdout))


COLUMNS = ("archive", "created", "files", "size", "verified", "left out", "run")


def _text_rows(project: Path) -> dict[str, dict[str, str]]:
    """archive name -> column -> cell, cut at the header's column starts."""
    lines = run_cli(["backup", "list"], project).stdout.splitlines()
    starts = [lines[0].index(name) for name in COLUMNS]
    rows = {}
    for line in lines[1:]:
        cells = [line[a:b].strip() for a, b in zip(starts, [*starts[1:], None], strict=True)]
        rows[cells[0]] = dict(zip(COLUMNS, cells, strict=True))
    return rows


@pytest.mark.slow
def test_list_names_the_run_that_wrote_each_archive(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    first = _run_backup(project)
    _run_backup(project)  # nothing changed: the first archive stays the restore point
    (project / "a.py").write_text("x = 2\n")
    third = _run_backup(project)
    listed = _listed(project)
    assert [b["run_id"] for b in listed] == [third, first]  # newest first
    rows = _text_rows(project)
    for entry in listed:
        row = rows[Path(str(entry["path"])).name]
        assert row["run"] == entry["run_id"]


@pytest.mark.slow
def test_an_archive_without_a_run_id_shows_a_dash(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    _run_backup(project)
    [entry] = _listed(project)
    sidecar = store.sidecar_path(Path(str(entry["path"])))
    doc = json.loads(sidecar.read_text())
    del doc["run_id"], doc["left_out"]  # as an archive written before they were kept
    sidecar.write_text(json.dumps(doc))
    [entry] = _listed(project)
    assert entry["run_id"] is None and entry["left_out"] is None
    row = _text_rows(project)[Path(str(entry["path"])).name]
    assert row["run"] == "-" and row["left out"] == "-"


def test_list_says_how_many_paths_a_backup_left_out(project: Path) -> None:
    (project / "a.py").write_text("x = 1\n")
    os.mkfifo(project / "pipe")  # a FIFO is never archived
    _run_backup(project)
    [entry] = _listed(project)
    assert entry["left_out"] == 1
    assert _text_rows(project)[Path(str(entry["path"])).name]["left out"] == "1"
