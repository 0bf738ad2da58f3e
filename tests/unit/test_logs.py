"""``logs``: console lines, the rotating file log (text or JSON), and the run id on every line."""

from __future__ import annotations

import json
import logging
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from routine_workflow import logs
from routine_workflow.errors import ConfigError


@pytest.fixture(autouse=True)
def package_logger() -> Iterator[logging.Logger]:
    """The package logger is process-wide: give it back as it was."""
    logger = logs.get_logger()
    saved = (list(logger.handlers), logger.level, logger.propagate)
    logger.handlers.clear()
    yield logger
    logs.close()
    logger.handlers[:], logger.level, logger.propagate = saved


def _record(message: str = "hello %s", *args: object, **extra: object) -> logging.LogRecord:
    record = logging.makeLogRecord(
        {"msg": message, "args": args, "levelno": logging.INFO, "levelname": "INFO"}
    )
    record.created = 0.0
    record.__dict__.update(extra)
    return record


def test_json_formatter_carries_every_extra_field() -> None:
    line = logs.JsonFormatter().format(_record("hello %s", "you", event="step_end", step="dumps"))
    assert json.loads(line) == {
        "time": "1970-01-01T00:00:00.000+00:00",
        "level": "info",
        "message": "hello you",
        "event": "step_end",
        "step": "dumps",
    }


def test_json_formatter_includes_the_exception() -> None:
    try:
        raise RuntimeError("boom")
    except RuntimeError:
        record = _record("failed", exc_info=sys.exc_info())
    data = json.loads(logs.JsonFormatter().format(record))
    assert data["exception"].startswith("Traceback") and "RuntimeError: boom" in data["exception"]


def test_text_formatter_is_one_key_value_line() -> None:
    formatter = logs.TextFormatter()
    assert formatter.format(_record("done", run_id="r1", step="backup")) == (
        "1970-01-01T00:00:00 info    done run_id=r1 step=backup"
    )
    assert formatter.format(_record("plain")) == "1970-01-01T00:00:00 info    plain"


def test_console_formatter_prefixes_step_and_level_only_from_warnings() -> None:
    formatter = logs.ConsoleFormatter()
    assert formatter.format(_record("working", step="reformat")) == (
        "routine-workflow: [reformat] working"
    )
    warning = _record("careful")
    warning.levelno, warning.levelname = logging.WARNING, "WARNING"
    assert formatter.format(warning) == "routine-workflow: warning: careful"


@pytest.mark.parametrize(
    ("verbosity", "shown"), [(-1, ["w"]), (0, ["i", "w"]), (1, ["d", "i", "w"])]
)
def test_console_verbosity(
    capsys: pytest.CaptureFixture[str], verbosity: int, shown: list[str]
) -> None:
    logger = logs.setup_console(verbosity, "text")
    logger.debug("d")
    logger.info("i")
    logger.warning("w")
    lines = capsys.readouterr().err.splitlines()
    assert [line.rsplit(" ", 1)[-1] for line in lines] == shown


def test_setup_console_replaces_its_handler_and_can_speak_json(
    capsys: pytest.CaptureFixture[str],
) -> None:
    logs.setup_console(0, "text")
    logger = logs.setup_console(0, "json")
    assert len(logger.handlers) == 1 and not logger.propagate
    logger.info("once", extra={"event": "x"})
    [line] = capsys.readouterr().err.splitlines()
    assert json.loads(line)["event"] == "x"


def test_file_log_stamps_the_run_id_and_a_second_run_does_not_double_lines(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    log_file = tmp_path / "logs" / "run.log"  # the directory is created
    logs.setup_console(-1, "text")
    logger = logs.setup_file(log_file, "text", "run-1")
    logger.info("first")
    # watch mode: many runs in one process
    logger = logs.setup_file(log_file, "text", "run-2")
    logger.info("second")
    logger.warning("third")
    logs.close()
    lines = log_file.read_text().splitlines()
    assert [line.split(None, 2)[2] for line in lines] == [
        "first run_id=run-1",
        "second run_id=run-2",
        "third run_id=run-2",
    ]
    # the console got the run id too (warnings only at -1)
    assert capsys.readouterr().err == "routine-workflow: warning: third\n"


def test_json_file_log(tmp_path: Path) -> None:
    log_file = tmp_path / "run.jsonl"
    logs.setup_console(-1, "json")  # as every command does first: the logger lets debug through
    logs.setup_file(log_file, "json", "r9").debug("deep", extra={"step": "dumps"})
    logs.close()
    [record] = [json.loads(line) for line in log_file.read_text().splitlines()]
    assert (record["level"], record["message"], record["run_id"], record["step"]) == (
        "debug",
        "deep",
        "r9",
        "dumps",
    )


def test_a_log_file_that_cannot_be_opened_is_a_config_error(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(ConfigError, match=r"log file .*not-a-dir/run.log: cannot open: "):
        logs.setup_file(blocker / "run.log", "text", "r")


def test_close_removes_every_handler(tmp_path: Path) -> None:
    logs.setup_console(0, "text")
    logs.setup_file(tmp_path / "x.log", "text", "r")
    assert len(logs.get_logger().handlers) == 2
    logs.close()
    assert logs.get_logger().handlers == []
