"""ruff's ``--diff`` output read back exactly (``reformat.unidiff``), and the files whose
diffs cannot be (lone carriage returns, odd names) still byte-identical to ruff by hand."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest
from helpers import run_cli, snapshot, write_tree

from routine_workflow.errors import ConfigError
from routine_workflow.reformat import unidiff
from routine_workflow.reformat.ruff import SELECT, find_ruff

try:
    RUFF = find_ruff()
except ConfigError:
    RUFF = ""
needs_ruff = pytest.mark.skipif(not RUFF, reason="ruff is not installed (requirements-dev.txt)")

PYPROJECT = '[project]\nname = "demo"\n\n[tool.routine-workflow]\nreformat-engine = "ruff"\n'

#: Sources whose diffs test the edges of the format: line endings, a last line without
#: one, a BOM, form feeds and other characters some tools take for line breaks.
EDGES: dict[str, bytes] = {
    "crlf.py": b"import sys\r\nimport os\r\nx = {  'a':1 }\r\nprint(sys.argv,x)",
    "no_newline.py": b"import os\nx=1",
    "bom.py": b"\xef\xbb\xbfimport os\nx=1\n",
    "feeds.py": b"# a\x0cb c\x0bd e\x1cf g\xc2\x85h i\xe2\x80\xa8j\nimport os\n\x0c\nx=1\n",
    "empty_after.py": b"import os\n",
    "blank_lines.py": b"\n\n\nimport os\n\n\n\n\nx = 1\n\n\n\n",
    "Would fix.py": b"import os\nx=1\n",
    "-dash.py": b"import os, sys\nprint(sys)\n",
}


def _diff(root: Path, stage: list[str], names: list[str]) -> bytes:
    done = subprocess.run(
        [RUFF, *stage, "--no-cache", "--diff", "--", *names],
        cwd=root,
        capture_output=True,
        check=False,
    )
    assert done.returncode in (0, 1), done.stderr
    return done.stdout


@needs_ruff
@pytest.mark.parametrize(
    "stage", [["check", "--fix", "--select", SELECT], ["format"]], ids=["check", "format"]
)
def test_diffs_apply_to_exactly_what_ruff_writes(tmp_path: Path, stage: list[str]) -> None:
    ours, theirs = write_tree(tmp_path / "a", EDGES, ""), write_tree(tmp_path / "b", EDGES, "")
    names = sorted(EDGES)
    hunks = unidiff.parse(_diff(ours, stage, names), names)
    subprocess.run([RUFF, *stage, "--no-cache", "--", *names], cwd=theirs, check=False)
    assert set(hunks) == {n for n in names if (theirs / n).read_bytes() != EDGES[n]}
    for name in names:
        got = unidiff.apply(EDGES[name], hunks[name]) if name in hunks else EDGES[name]
        assert got == (theirs / name).read_bytes(), name


def test_a_diff_that_does_not_fit_is_refused() -> None:
    diff = b"--- a.py\n+++ a.py\n@@ -1,2 +1 @@\n-import os\n x=1\n\n"
    [hunk] = unidiff.parse(diff, ["a.py"])["a.py"]
    assert unidiff.apply(b"import os\nx=1\n", [hunk]) == b"x=1\n"
    for source in (b"import sys\nx=1\n", b"import os\nx=2\n", b"import os\rx=1\r"):
        with pytest.raises(unidiff.Unparsable):
            unidiff.apply(source, [hunk])


@pytest.mark.parametrize(
    "diff",
    [
        b"--- b.py\n+++ b.py\n@@ -1 +1 @@\n-x\n+y\n",  # a file ruff was not given
        b"--- a.py\n+++ b.py\n@@ -1 +1 @@\n-x\n+y\n",  # mismatched header
        b"--- a.py\n+++ a.py\n@@ -1,2 +1 @@\n-x\n\n",  # shorter than announced
        b"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n+z\n",  # longer than announced
        b"--- a.py\n+++ a.py\n@@ -1 +1 @@\n?x\n+y\n",  # unknown line tag
        b"--- a.py\n+++ a.py\n",  # no hunk
        b"warning: something unexpected\n",
    ],
)
def test_unexpected_output_is_unparsable(diff: bytes) -> None:
    with pytest.raises(unidiff.Unparsable):
        unidiff.parse(diff, ["a.py"])


def test_the_summary_ends_the_output() -> None:
    diff = b"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n\nWould fix 1 error.\n"
    assert unidiff.parse(diff, ["a.py"])["a.py"][0].new == (b"y\n",)


@needs_ruff
def test_files_without_usable_diffs_are_as_by_hand(tmp_path: Path) -> None:
    """Lone carriage returns (old Mac line endings) go through ruff's stdin and the
    mirror; a name with a line break is left alone and said so."""
    files = {
        "cr.py": b"import os\rimport sys\rx=1\rprint(sys)\r",
        "cr_only_format.py": b"x=1\ry = 2\r",
        "pkg/mixed.py": b"import os\r\nimport sys\rx=1\nprint(sys)\n",
        "normal.py": b"import os\nx=1\n",
    }
    ours, theirs = (write_tree(tmp_path / n, files, PYPROJECT) for n in ("ours", "theirs"))
    for root in (ours, theirs):
        subprocess.run(["git", "init", "-q", str(root)], check=True)
    (ours / "new\nline.py").write_bytes(b"import os\n")
    for argv in (["check", "--fix", "--select", SELECT, "."], ["format", "."]):
        subprocess.run([RUFF, *argv, "--no-cache"], cwd=theirs, capture_output=True, check=False)
    result = run_cli(["reformat", "--json"], ours)
    assert result.returncode == 0, result.stderr
    got = snapshot(ours)
    assert got.pop("new\nline.py") == b"import os\n"
    assert got == snapshot(theirs)
    assert all(got[rel] != files[rel] for rel in files)
    assert "new\\nline.py" in result.stdout  # listed among the excluded files


def test_a_line_without_its_ending_is_refused_inside_the_result() -> None:
    """The cheap check of line endings (one count) refuses what the line-by-line one did:
    a hunk whose last new line has no ending, followed by more of the file."""
    diff = b"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+y\n\\ No newline at end of file\n\n"
    hunks = unidiff.parse(diff, ["a.py"])["a.py"]
    assert unidiff.apply(b"x\n", hunks) == b"y"  # last: allowed
    with pytest.raises(unidiff.Unparsable):
        unidiff.apply(b"x\nz\n", hunks)  # "y" then "z\n": not a file ruff would write
    empty = b"--- a.py\n+++ a.py\n@@ -1 +1 @@\n-x\n+\n\\ No newline at end of file\n\n"
    with pytest.raises(unidiff.Unparsable):
        unidiff.apply(b"x\nz\n", unidiff.parse(empty, ["a.py"])["a.py"])


@pytest.mark.parametrize(
    "root, path",
    [
        ("/p", "/p/a/b.py"),
        ("/p/", "/p/a.py"),
        ("/", "/a/b.py"),
        ("/p", "/p/a/../b.py"),  # not clean: relpath's answer
        ("/p", "/p//a.py"),
        ("/p", "/q/a.py"),  # not below the root
        ("/p", "/pa/b.py"),
    ],
)
def test_relative_is_relpath(root: str, path: str) -> None:
    import os

    from routine_workflow.reformat.ruffpass import relative

    assert relative(path, Path(root)) == os.path.relpath(path, root)
