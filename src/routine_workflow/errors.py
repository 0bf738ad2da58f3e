"""Errors a user can cause, each carrying the exit code the CLI returns for it.

Anything else that escapes is a bug and keeps its traceback.
"""

from __future__ import annotations

# Exit codes, in one place so scripts and docs agree (see DESIGN.md).
EXIT_OK = 0
EXIT_FAILED = 1
EXIT_USAGE = 2
EXIT_DECLINED = 3  # the confirmation prompt was answered no: nothing was done
EXIT_LOCKED = 75  # EX_TEMPFAIL: try again later
EXIT_TIMEOUT = 124  # as coreutils `timeout`
EXIT_SIGHUP = 129  # 128 + SIGHUP: the terminal or ssh session went away
EXIT_SIGINT = 130
EXIT_SIGTERM = 143


class RoutineError(Exception):
    """A problem the user can fix; the CLI prints the message as one line."""

    exit_code = EXIT_FAILED


class ConfigError(RoutineError):
    """A bad flag, environment variable or pyproject value."""

    exit_code = EXIT_USAGE


class LockBusy(RoutineError):
    """Another live run holds the project's lock."""

    exit_code = EXIT_LOCKED


class LockError(RoutineError):
    """The lock could not be inspected or changed (permissions, a live holder)."""

    exit_code = EXIT_FAILED


class Interrupted(BaseException):
    """Raised in the main thread by a signal or the workflow timeout.

    A BaseException, like KeyboardInterrupt, so ``except Exception`` in a step
    cannot swallow it.
    """

    def __init__(self, reason: str, exit_code: int) -> None:
        super().__init__(reason)
        self.reason = reason
        self.exit_code = exit_code


class StepTimeout(BaseException):
    """Raised in the main thread when one step's own ``timeout`` runs out.

    The runner marks that step failed and goes on with the rest of the run.
    """
