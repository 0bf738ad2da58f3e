"""Logging: a rotating file log, console lines on stderr, and JSON lines on request.

Every event is a log record; ``extra={"event": ..., "step": ...}`` fields travel
with it, so ``--log-format json`` gives one object per event with the run id.
A text or console record is one line: what it quotes (file names) is escaped as the
JSON log escapes it (``output.printable``), so a name with a line break cannot forge
a line and one that is not UTF-8 cannot break the log.
"""

from __future__ import annotations

import errno
import io
import json
import logging
import os
import stat
import sys
from datetime import datetime, timezone
from pathlib import Path

from routine_workflow.dirs import PRIVATE_FILE_MODE, private_dir
from routine_workflow.errors import ConfigError
from routine_workflow.output import colored_label, printable, without_surrogates

LOGGER_NAME = "routine_workflow"
MAX_BYTES = 5 * 1024 * 1024
BACKUP_COUNT = 5
_STANDARD = set(vars(logging.makeLogRecord({}))) | {"message", "asctime"}


class JsonFormatter(logging.Formatter):
    """One JSON object per record: time, level, message and every ``extra`` field."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as a JSON line."""
        data = {
            "time": datetime.fromtimestamp(record.created, timezone.utc).isoformat(
                timespec="milliseconds"
            ),
            "level": record.levelname.lower(),
            "message": record.getMessage(),
        }
        data.update({k: v for k, v in vars(record).items() if k not in _STANDARD})
        if record.exc_info:
            data["exception"] = self.formatException(record.exc_info)
        return json.dumps(data, default=str)


class TextFormatter(logging.Formatter):
    """``time level [run step] message key=value ...`` for the file log."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record as one key=value text line."""
        extras = {k: v for k, v in vars(record).items() if k not in _STANDARD}
        stamp = datetime.fromtimestamp(record.created, timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")
        fields = " ".join(f"{k}={v}" for k, v in extras.items())
        line = f"{stamp} {record.levelname.lower():7} {record.getMessage()}"
        line = printable(f"{line} {fields}" if fields else line)
        if record.exc_info:  # a traceback's own lines are lines; only its surrogates go
            line += "\n" + without_surrogates(self.formatException(record.exc_info))
        return line


class ConsoleFormatter(logging.Formatter):
    """Short human lines for the terminal: ``routine-workflow: message``."""

    def format(self, record: logging.LogRecord) -> str:
        """Render the record for a person."""
        step = getattr(record, "step", None)
        prefix = f"[{step}] " if step else ""
        level = "" if record.levelno < logging.WARNING else f"{record.levelname.lower()}: "
        line = printable(f"routine-workflow: {level}{prefix}{record.getMessage()}")
        return colored_label(line, "stderr")


class RunIdFilter(logging.Filter):
    """Stamp every record with the current run id."""

    def __init__(self, run_id: str) -> None:
        super().__init__()
        self.run_id = run_id

    def filter(self, record: logging.LogRecord) -> bool:
        """Add ``run_id`` if the record lacks it."""
        if not hasattr(record, "run_id"):
            record.run_id = self.run_id
        return True


def get_logger() -> logging.Logger:
    """The package logger."""
    return logging.getLogger(LOGGER_NAME)


class ConsoleHandler(logging.StreamHandler):  # type: ignore[type-arg]
    """stderr, which may be closed, whose reader may go (``2>&1 | head``) or whose terminal
    may hang up: then the
    console output is discarded, and the run goes on (logging would print a traceback
    about it to that very stream)."""

    def handleError(self, record: logging.LogRecord) -> None:
        error = sys.exc_info()[1]
        # EPIPE: the reader went away; EIO: the terminal hung up; ValueError: a closed file.
        if isinstance(error, (OSError, ValueError)):
            from routine_workflow.streams import discard

            self.setStream(discard(self.stream))
            return
        super().handleError(record)


#: ``log_level`` -> logging level (the original routine-workflow's ``--log-level``).
LEVELS = {
    "debug": logging.DEBUG,
    "info": logging.INFO,
    "warning": logging.WARNING,
    "error": logging.ERROR,
}


def setup_console(verbosity: int, log_format: str, level: str = "info") -> logging.Logger:
    """Console handler on stderr: -1 quiet (warnings), 1 debug, 0 ``level`` (default info).

    ``--quiet`` and ``--verbose`` are the more specific request, so they win over
    ``log_level`` from any layer.
    """
    logger = get_logger()
    logger.setLevel(logging.DEBUG)
    logger.propagate = False
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
    console = ConsoleHandler(sys.stderr)
    chosen = {-1: logging.WARNING, 1: logging.DEBUG}.get(verbosity)
    console.setLevel(LEVELS.get(level.lower(), logging.INFO) if chosen is None else chosen)
    console.setFormatter(JsonFormatter() if log_format == "json" else ConsoleFormatter())
    logger.addHandler(console)
    return logger


class PrivateRotatingFileHandler(logging.FileHandler):
    """``logging.handlers.RotatingFileHandler``'s rotation, whose files (the first and each
    one after a rollover) are 0600: the log names the project's files and the commands run.

    The rule is the standard library's, line for line (``shouldRollover``/``doRollover``):
    before a record that would bring the file to ``max_bytes`` or more, the file becomes
    ``.1``, ``.1`` becomes ``.2``... up to ``backup_count``; nothing rotates when
    ``max_bytes`` is 0, the path is not a regular file, or the file is empty (Python 3.13's
    rule: an empty file rotated would push a real log out for nothing). It is written out here
    because importing ``logging.handlers`` brings pickle, socket and queue: about 20 ms of
    every run's start-up, for two methods (tests/test_startup_log.py pins both).
    """

    def __init__(self, filename: Path, max_bytes: int, backup_count: int) -> None:
        super().__init__(
            filename,
            mode="a",
            encoding="utf-8",
            errors="backslashreplace",  # never a lost line (the formatters escape already)
        )
        self.max_bytes = max_bytes
        self.backup_count = backup_count

    def _open(self) -> io.TextIOWrapper:
        # O_NONBLOCK: a named pipe in the log's place fails at once (ENXIO) unless someone
        # reads it, instead of hanging the run until someone does.
        flags = os.O_WRONLY | os.O_CREAT | os.O_APPEND | getattr(os, "O_NONBLOCK", 0)
        try:
            fd = os.open(self.baseFilename, flags, 0o600)
        except OSError as exc:
            if exc.errno == errno.ENXIO:
                raise OSError(exc.errno, "a named pipe nobody reads", self.baseFilename) from None
            raise
        try:
            if stat.S_ISREG(os.fstat(fd).st_mode):  # /dev/null or a read pipe: not ours to chmod
                os.fchmod(fd, PRIVATE_FILE_MODE)  # an existing log of an older version, too
        finally:
            os.close(fd)
        return super()._open()

    def emit(self, record: logging.LogRecord) -> None:
        """Roll over first when this record would fill the file, then write it."""
        try:
            if self.should_roll_over(record):
                self.roll_over()
            super().emit(record)
        except Exception:  # logging's own rule: a problem with the log never ends a run
            self.handleError(record)

    def should_roll_over(self, record: logging.LogRecord) -> bool:
        """True when writing ``record`` would bring the file to ``max_bytes`` or more."""
        name = self.baseFilename
        if os.path.exists(name) and not os.path.isfile(name):  # bpo-45401: e.g. /dev/null
            return False
        if self.stream is None:
            self.stream = self._open()
        if self.max_bytes > 0:
            self.stream.seek(0, 2)
            size = self.stream.tell()
            if not size:  # never an empty file (gh-116263, the rule since Python 3.12.4)
                return False
            message = f"{self.format(record)}\n"
            if size + len(message) >= self.max_bytes:
                return True
        return False

    def roll_over(self) -> None:
        """``log`` -> ``log.1`` -> ``log.2``... the oldest beyond ``backup_count`` goes."""
        if self.stream:
            self.stream.close()
            self.stream = None
        if self.backup_count > 0:
            base = self.baseFilename
            for i in range(self.backup_count - 1, 0, -1):
                source, dest = f"{base}.{i}", f"{base}.{i + 1}"
                if os.path.exists(source):
                    if os.path.exists(dest):
                        os.remove(dest)
                    os.rename(source, dest)
            dest = base + ".1"
            if os.path.exists(dest):
                os.remove(dest)
            if os.path.exists(base):
                os.rename(base, dest)
        self.stream = self._open()


def setup_file(
    log_file: Path,
    log_format: str,
    run_id: str,
    rotation: tuple[int, int] = (MAX_BYTES, BACKUP_COUNT),
) -> logging.Logger:
    """Add the rotating file log and the run id filter.

    ``rotation`` is (bytes per file, rotated files kept): ``log_max_bytes`` and
    ``log_backup_count``, 5 MB x 5 by default.
    """
    logger = get_logger()
    _end_run(logger)
    try:
        private_dir(log_file.parent)
        handler = PrivateRotatingFileHandler(log_file, rotation[0], rotation[1])
    except OSError as exc:
        raise ConfigError(f"log file {log_file}: cannot open: {exc.strerror}") from None
    handler.setLevel(logging.DEBUG)
    handler.setFormatter(JsonFormatter() if log_format == "json" else TextFormatter())
    logger.addHandler(handler)
    for existing in logger.handlers:
        existing.addFilter(RunIdFilter(run_id))
    return logger


def warn_in_file(logger: logging.Logger, message: str, event: str) -> None:
    """A warning for the file log only: one the console has shown already (a config
    warning, said before the run's log file was open), which the log must keep too."""
    record = logger.makeRecord(
        logger.name, logging.WARNING, __file__, 0, "%s", (message,), None, extra={"event": event}
    )
    for handler in logger.handlers:
        if isinstance(handler, logging.FileHandler) and record.levelno >= handler.level:
            handler.handle(record)


def _end_run(logger: logging.Logger) -> None:
    """Drop the previous run's file log and run id, so a process running many runs (watch)
    neither writes each line twice nor stamps every line with the first run's id."""
    for handler in list(logger.handlers):
        for run_filter in [f for f in handler.filters if isinstance(f, RunIdFilter)]:
            handler.removeFilter(run_filter)
        if isinstance(handler, logging.FileHandler):  # ours: the rotating file log
            logger.removeHandler(handler)
            handler.close()


def close() -> None:
    """Flush and close every handler (end of a run)."""
    logger = get_logger()
    for handler in list(logger.handlers):
        logger.removeHandler(handler)
        handler.close()
