"""File names in logs and output: undecodable bytes and line breaks, shown escaped, never lost.

A name that is not valid UTF-8 (``b"\\xff"``) reaches Python as a lone surrogate, which a
UTF-8 log file or a strict stdout cannot encode; a name with a line break would forge
an extra line in a line-oriented log. Both are shown as the JSON log shows them.
"""

from __future__ import annotations

import json
import logging
import os
import re
from pathlib import Path

import pytest
from helpers import run_cli, write_tree

from routine_workflow.logs import ConsoleFormatter, TextFormatter
from routine_workflow.output import printable

UGLY = b"import os\nx=1\n"
BAD = os.fsdecode(b"bad\xff.py")  # 'bad\udcff.py'
BROKEN = os.fsdecode(b"broken\xfe.py")
NEWLINE = "new\nline.py"
STAMP = re.compile(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d ")


@pytest.fixture
def odd_names(tmp_path: Path) -> Path:
    root = write_tree(tmp_path / "p", {"ok.py": UGLY}, '[project]\nname = "demo"\n')
    (root / BAD).write_bytes(UGLY)
    (root / NEWLINE).write_bytes(UGLY)
    (root / BROKEN).write_bytes(b"def (:\n")  # fails: reported by name
    return root


def test_printable_escapes_as_json_does() -> None:
    assert printable("plain/path é.py") == "plain/path é.py"
    assert printable(BAD) == "bad\\udcff.py"
    assert printable(NEWLINE) == "new\\nline.py"
    assert printable("a\rb\tc\x1b[2Jd\x7f") == "a\\rb\\tc\\u001b[2Jd\\u007f"
    # Line separators and bidirectional overrides ("Trojan Source") too.
    assert printable("x\u2028y\u202ez") == "x\\u2028y\\u202ez"
    for name in (BAD, NEWLINE, "a\x1bb", "x\u2028y"):
        assert printable(name) == json.dumps(name)[1:-1]


def test_text_and_console_formatters_keep_one_record_on_one_line() -> None:
    record = logging.makeLogRecord(
        {"msg": "reformatted %s", "args": (NEWLINE,), "levelno": 20, "levelname": "INFO"}
    )
    record.path = BAD
    for formatter in (TextFormatter(), ConsoleFormatter()):
        line = formatter.format(record)
        assert "\n" not in line
        assert "new\\nline.py" in line
        line.encode("utf-8")  # no lone surrogate left


def test_a_run_logs_every_odd_name_escaped_on_its_own_line(odd_names: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.log"
    env = {"ROUTINE_WORKFLOW_DUMP_ENGINE": "builtin"}
    result = run_cli(["--yes", "-v", "--log-file", str(log)], odd_names, env=env)
    assert result.returncode == 1, result.stderr  # broken\xfe.py does not compile
    assert "Logging error" not in result.stderr and "Traceback" not in result.stderr
    text = log.read_text(encoding="utf-8")
    lines = text.splitlines()
    assert all(STAMP.match(line) for line in lines), [ln for ln in lines if not STAMP.match(ln)]
    assert any("reformatted bad\\udcff.py" in line for line in lines)
    assert any("reformatted new\\nline.py" in line for line in lines)
    assert any("new\\nline.py: name contains a line break" in line for line in lines)
    # The console: the same escapes, one line per event.
    assert "reformatted bad\\udcff.py" in result.stderr
    assert "broken\\udcfe.py: does not compile" in result.stderr
    assert "reformatted new\\nline.py" in result.stderr
    assert not [ln for ln in result.stderr.splitlines() if ln.startswith("line.py")]
    assert (odd_names / BAD).read_bytes() == b"x = 1\n"


def test_the_json_log_keeps_the_real_names(odd_names: Path, tmp_path: Path) -> None:
    log = tmp_path / "run.jsonl"
    result = run_cli(
        ["--yes", "--steps", "reformat", "--log-format", "json", "--log-file", str(log)], odd_names
    )
    assert "Logging error" not in result.stderr
    messages = [json.loads(line)["message"] for line in log.read_text().splitlines()]
    assert "reformatted " + BAD in messages
    assert "reformatted " + NEWLINE in messages


@pytest.mark.parametrize("encoding", ["", "utf-8"])
def test_reformat_output_survives_a_strict_stdout(odd_names: Path, encoding: str) -> None:
    # PYTHONIOENCODING=utf-8 (or a UTF-8 locale other than C.UTF-8) makes stdout strict:
    # an undecodable name used to make the stream discard everything after it.
    env = {"PYTHONIOENCODING": encoding} if encoding else {}
    result = run_cli(["reformat", "--check"], odd_names, env=env)
    assert result.returncode == 1
    out = result.stdout.splitlines()
    assert "would reformat bad\\udcff.py" in out
    assert "would reformat new\\nline.py" in out
    assert "would reformat ok.py" in out
    assert out[-1].startswith("routine-workflow reformat: 4 files")
    assert "error: broken\\udcfe.py: does not compile: line 1: invalid syntax" in result.stderr


def test_a_diff_header_cannot_be_forged_by_a_file_name(odd_names: Path) -> None:
    result = run_cli(["reformat", "--diff"], odd_names)
    headers = [line for line in result.stdout.splitlines() if line.startswith(("--- ", "+++ "))]
    assert "--- a/new\\nline.py" in headers and "+++ b/new\\nline.py" in headers
    # every line of the diff is a header, a hunk line or a context/change line
    for line in result.stdout.splitlines():
        assert line[:1] in {"-", "+", " ", "@", "\\"} or line == "", line
