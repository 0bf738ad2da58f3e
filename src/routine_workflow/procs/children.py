"""Child processes: user scripts with a timeout, worker pools that die with the run."""

from __future__ import annotations

import contextlib
import logging
import os
import shlex
import signal
import subprocess
import sys
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.procs import orphans

#: prctl(2) option: the signal a process gets when its parent thread dies (Linux).
PR_SET_PDEATHSIG = 1


@dataclass(frozen=True)
class ScriptOutcome:
    """How a script ended: exit code (None on timeout) and its combined output."""

    returncode: int | None
    output: str
    timed_out: bool

    def tail(self, lines: int = 5) -> str:
        """The last lines of output, for one-line failure messages."""
        return " | ".join(self.output.strip().splitlines()[-lines:])


def script_argv(script: Path) -> list[str]:
    """How to run a configured script: directly if executable, else with python or sh."""
    if os.access(script, os.X_OK):
        return [str(script)]
    if script.suffix == ".py":
        return [sys.executable, str(script)]
    return ["sh", str(script)]


def command_argv(command: str) -> list[str]:
    """Split a configured command string the way a POSIX shell would, without a shell."""
    return shlex.split(command)


def tool_bin_dir() -> Path:
    """The ``bin/`` of the environment routine-workflow runs in (a virtualenv's is a symlink
    farm: not resolved, or it would name the system Python's directory)."""
    return Path(sys.executable).absolute().parent


def child_env(extra: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment of a step, script or hook: ours, the tool's ``bin/`` first on PATH
    (as tox, nox and pre-commit do), then ``extra`` (a step's own ``env`` wins, PATH too).

    Under cron's ``PATH=/usr/bin:/bin`` a step's ``python``, ``pytest`` or ``mypy`` is
    then the one installed beside routine-workflow.
    """
    env = dict(os.environ)
    first = str(tool_bin_dir())
    path = env.get("PATH", os.defpath)
    if path.split(os.pathsep)[0] != first:
        env["PATH"] = first + os.pathsep + path if path else first
    env.update(extra or {})
    return env


def start_failure(argv: Sequence[str], cwd: Path, exc: OSError) -> str:
    """One line saying why ``argv`` could not start (``run_command`` raised ``exc``)."""
    if exc.filename is not None and os.fsdecode(exc.filename) == os.fsdecode(cwd):
        return f"cannot enter {cwd}: {exc.strerror or exc}"
    if isinstance(exc, FileNotFoundError):
        if os.path.isfile(os.path.join(cwd, argv[0])):  # there, but its #! names nothing
            return f"cannot run {argv[0]}: the interpreter on its #! line was not found"
        return f"command not found: {argv[0]}"
    if isinstance(exc, PermissionError):
        return f"permission denied: {argv[0]}"
    return f"cannot run {argv[0]}: {exc.strerror or exc}"


def run_command(
    argv: Sequence[str],
    cwd: Path,
    timeout: float,
    logger: logging.Logger,
    env: dict[str, str] | None = None,
) -> ScriptOutcome:
    """Run ``argv`` in its own process group; log its output; kill the group on timeout.

    An exception raised while waiting (a signal, the workflow timeout) also kills
    the group, so no child outlives the run. ``env`` defaults to ``child_env()``.
    A command that cannot start raises OSError (``start_failure`` words it).
    """
    from routine_workflow.dumps.sensitive import redact_argv  # only runs that start commands

    shown = shlex.join(redact_argv(list(argv)))
    logger.info("running %s", shown, extra={"event": "command_start"})
    code, out, _ = run_captured(
        argv, cwd, timeout, child_env() if env is None else env, merge_stderr=True
    )
    text = out.decode("utf-8", "replace")
    _log_output(logger, text)
    return ScriptOutcome(code, text, timed_out=code is None)


def run_captured(
    argv: Sequence[str],
    cwd: Path,
    timeout: float,
    env: dict[str, str] | None = None,
    *,
    merge_stderr: bool = False,
    stdin: bytes | None = None,
) -> tuple[int | None, bytes, bytes]:
    """(exit code, or None on a time-out; stdout; stderr) of ``argv`` run in its own
    process group, recorded as a child of the run; ``stdin``: its input (else none).

    The group is killed on the time-out, and when an exception (a signal, the workflow
    timeout) arrives while waiting, so no child outlives the run. With ``merge_stderr``
    both streams come as stdout.
    """
    proc = subprocess.Popen(
        list(argv),
        cwd=cwd,
        env=env,
        stdin=subprocess.DEVNULL if stdin is None else subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT if merge_stderr else subprocess.PIPE,
        start_new_session=True,
    )
    record = orphans.note_started(proc.pid, list(argv))
    try:
        out, err = proc.communicate(stdin, timeout=timeout or None)
    except subprocess.TimeoutExpired:
        kill_group(proc)
        out, err = proc.communicate()
        return None, out, err or b""
    except BaseException:
        kill_group(proc)
        raise
    finally:
        orphans.note_finished(record)
    return proc.returncode, out, err or b""


def _log_output(logger: logging.Logger, text: str) -> None:
    for line in text.splitlines():
        logger.debug("| %s", line, extra={"event": "command_output"})


def kill_group(proc: subprocess.Popen[bytes], grace: float = 2.0) -> None:
    """SIGTERM the process group, then SIGKILL it if it has not gone after ``grace``."""
    for sig in (signal.SIGTERM, signal.SIGKILL):
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(proc.pid, sig)
        try:
            proc.wait(timeout=grace)
            return
        except subprocess.TimeoutExpired:
            continue


def terminate_children(grace: float = 2.0) -> int:
    """Terminate every descendant of this process (worker pools); return how many there were."""
    if not _may_have_children():
        return 0
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:  # pragma: no cover (our own process is always readable)
        return 0
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.terminate()
    _, alive = psutil.wait_procs(children, timeout=grace)
    for child in alive:
        with contextlib.suppress(psutil.Error):
            child.kill()
    psutil.wait_procs(alive, timeout=grace)
    return len(children)


def kill_children_unreaped() -> None:
    """SIGKILL every descendant without waiting for it, leaving the reaping to its owner.

    For process pools: if we reaped a pool's workers ourselves (as ``psutil.wait_procs``
    does), multiprocessing could no longer poll them, would think them alive forever,
    and ``ProcessPoolExecutor.shutdown`` would spin without end.
    """
    if not _may_have_children():
        return
    import psutil

    try:
        children = psutil.Process().children(recursive=True)
    except psutil.Error:  # pragma: no cover (our own process is always readable)
        return
    for child in children:
        with contextlib.suppress(psutil.Error):
            child.kill()


def _may_have_children() -> bool:
    """False only when ``/proc`` shows that no thread of ours has a child process.

    Every run ends by stopping leftover workers; most runs have none, and asking
    ``/proc`` spares them importing psutil (docs/performance.md). Without
    ``/proc/<pid>/task/<tid>/children`` (not Linux, an old kernel): True, ask psutil.
    """
    try:
        tasks = os.listdir("/proc/self/task")
        for tid in tasks:
            with open(f"/proc/self/task/{tid}/children", "rb") as handle:
                if handle.read().strip():
                    return True
    except OSError:
        return True
    return False


def worker_initializer() -> None:
    """Run first in every pool worker: signals are the parent's business, and the worker
    never outlives it.

    Ctrl-C reaches the whole foreground process group; workers ignore it and let
    the parent stop them, instead of each printing a KeyboardInterrupt traceback.
    """
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    signal.signal(signal.SIGALRM, signal.SIG_DFL)
    signal.signal(signal.SIGHUP, signal.SIG_DFL)
    _die_with_parent()
    # Recorded in the lock too, for whoever breaks it should the above not have worked.
    orphans.note_started(os.getpid(), ["routine-workflow pool worker"], group=False)


def _die_with_parent() -> None:
    """Exit when the process that started this worker dies (kill -9, the OOM killer):
    a worker re-parented to init would otherwise live on, holding the run's output pipe."""
    import multiprocessing

    parent = multiprocessing.parent_process()
    parent_pid = parent.pid if parent is not None else None
    if sys.platform.startswith("linux") and _set_parent_death_signal(signal.SIGKILL):
        # The parent may have died before the line above: then nothing will signal us.
        if parent_pid is not None and os.getppid() != parent_pid:
            os._exit(1)
        return
    if parent_pid is not None:
        import threading

        threading.Thread(target=_watch_parent, args=(parent_pid,), daemon=True).start()


def _set_parent_death_signal(sig: int) -> bool:
    import ctypes

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        return int(libc.prctl(PR_SET_PDEATHSIG, int(sig), 0, 0, 0)) == 0
    except (OSError, AttributeError):
        return False


def _watch_parent(parent_pid: int, interval: float = 0.5) -> None:
    # Where there is no PR_SET_PDEATHSIG: a re-parented worker sees another parent pid.
    import time

    while os.getppid() == parent_pid:
        time.sleep(interval)
    os._exit(1)
