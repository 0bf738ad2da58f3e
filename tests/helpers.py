"""Test helpers, registered as a pytest plugin by ``tests/conftest.py``.

Test modules import the functions by name (``from helpers import run_cli``); the
fixtures reach every test through the plugin, with no import.

- Isolation: ``isolated_home`` (autouse) points every per-user directory at a
  temporary tree, so no test can touch the real home, log, lock or cache dirs.
- Projects: the ``project`` fixture; ``write_tree`` / ``snapshot`` write a tree
  from a dict and read it back the same way.
- Processes: ``run_cli`` / ``popen_cli`` run ``python -m routine_workflow`` as
  cron would, ``PtyProcess`` as a person at a terminal would; ``write_script`` and the ``slow_script`` fixture make user scripts;
  ``wait_for`` polls for a marker file, ``wait_until`` for any condition;
  ``alive`` tells a running process from a gone or zombie one; ``kill_all``
  cleans up orphans.
- Deletion traps: the ``unremovable`` fixture makes a directory's content
  impossible to delete, for the steps that delete files.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import psutil
import pytest

CLASSIC_ENV = (
    "PROJECT_ROOT",
    "LOG_DIR",
    "LOCK_DIR",
    "CREATE_DUMP_SCRIPT",
    "WORKFLOW_TIMEOUT",
    "FAIL_ON_BACKUP",
    # read by the original routine-workflow 10.x only; we warn when they are set
    "ENABLE_SECURITY",
    "ENABLE_DEP_AUDIT",
    "GIT_PUSH",
    "LOCK_TTL",
)


# -- isolation ---------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def isolated_home(
    tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> Iterator[Path]:
    """Point every per-user directory at a fresh temporary tree, for this process and children."""
    home = tmp_path_factory.mktemp("home")
    for name in list(os.environ):
        if name.startswith("ROUTINE_WORKFLOW_") or name in CLASSIC_ENV:
            monkeypatch.delenv(name)
    monkeypatch.setenv("ROUTINE_WORKFLOW_HOME", str(home / "rw"))
    monkeypatch.setenv("HOME", str(home))
    for var, sub in (
        ("XDG_STATE_HOME", "state"),
        ("XDG_CACHE_HOME", "cache"),
        ("XDG_DATA_HOME", "data"),
        ("XDG_CONFIG_HOME", "config"),
    ):
        monkeypatch.setenv(var, str(home / sub))
    yield home


# -- projects and trees ------------------------------------------------------------------------


@pytest.fixture
def project(tmp_path: Path) -> Path:
    """An empty project directory with a pyproject.toml."""
    root = tmp_path / "project"
    root.mkdir()
    (root / "pyproject.toml").write_text('[project]\nname = "demo"\n')
    return root


def write_tree(root: Path, files: dict[str, bytes], pyproject: str) -> Path:
    """A project at ``root`` with ``pyproject`` and ``files`` (relative path -> bytes)."""
    root.mkdir(parents=True, exist_ok=True)
    (root / "pyproject.toml").write_text(pyproject)
    for rel, data in files.items():
        path = root / rel
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
    return root


def snapshot(root: Path) -> dict[str, bytes]:
    """Every file's bytes outside .git, by relative path."""
    return {
        p.relative_to(root).as_posix(): p.read_bytes()
        for p in sorted(root.rglob("*"))
        if p.is_file() and ".git" not in p.relative_to(root).parts
    }


# -- processes ---------------------------------------------------------------------------------


def run_cli(
    args: Sequence[str],
    cwd: Path,
    *,
    env: dict[str, str] | None = None,
    timeout: float = 60,
    stdin: int | None = subprocess.DEVNULL,
) -> subprocess.CompletedProcess[str]:
    """Run ``python -m routine_workflow ARGS`` as a real process, as cron would."""
    return subprocess.run(
        [sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdin=stdin,
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def popen_cli(args: Sequence[str], cwd: Path, **kwargs: object) -> subprocess.Popen[str]:
    """Start ``python -m routine_workflow ARGS`` without waiting."""
    return subprocess.Popen(
        [sys.executable, "-m", "routine_workflow", *args],
        cwd=cwd,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        **kwargs,  # type: ignore[arg-type]
    )


class PtyProcess:
    """``python -m routine_workflow ARGS`` with a pseudo-terminal as stdin, stdout and stderr,
    as when a person runs it: ``expect`` what it prints, ``send`` an answer, ``finish``.

    ``controlling=True`` also makes the pty the process's controlling terminal (its own
    session), so closing our end (``hang_up``) makes the kernel send it SIGHUP.
    Every read waits with select and a timeout: a blocking read on a descriptor that
    another thread closes would hold it open, and the hang-up would never come.
    """

    def __init__(
        self,
        args: Sequence[str],
        cwd: Path,
        *,
        controlling: bool = False,
        env: dict[str, str] | None = None,
    ) -> None:
        import fcntl
        import termios

        self.master, slave = os.openpty()

        def own_terminal() -> None:  # in the child, before exec
            os.setsid()
            fcntl.ioctl(0, termios.TIOCSCTTY, 0)

        self.proc = subprocess.Popen(
            [sys.executable, "-m", "routine_workflow", *args],
            cwd=cwd,
            env={**os.environ, **(env or {})},
            stdin=slave,
            stdout=slave,
            stderr=slave,
            start_new_session=not controlling,
            preexec_fn=own_terminal if controlling else None,
        )
        os.close(slave)
        self.seen = b""
        self._stop = threading.Event()
        self._reader: threading.Thread | None = None

    def _read(self, wait: float) -> bool:
        """Read what is there within ``wait`` seconds; False once the child's end is closed."""
        import select

        if not select.select([self.master], [], [], wait)[0]:
            return self.proc.poll() is None
        try:
            chunk = os.read(self.master, 65536)
        except OSError:  # EIO: the child closed its end
            return False
        self.seen += chunk
        return bool(chunk)

    def expect(self, text: str, timeout: float = 60, *, required: bool = True) -> str:
        """Read until ``text`` appears; return the output so far (\r\n as \n). If the
        process ends or ``timeout`` passes first: AssertionError, unless not ``required``."""
        deadline = time.monotonic() + timeout
        while text.encode() not in self.seen:
            if time.monotonic() > deadline or not self._read(0.2):
                if not required:
                    break
                raise AssertionError(f"{text!r} never appeared; output so far:\n{self.text}")
        return self.text

    def send(self, data: str) -> None:
        """Type ``data`` (add the newline yourself)."""
        os.write(self.master, data.encode())

    @property
    def text(self) -> str:
        """Everything read so far, decoded, with the terminal's \r\n as \n."""
        return self.seen.decode(errors="replace").replace("\r\n", "\n")

    def finish(self, timeout: float = 60) -> tuple[int, str]:
        """Read to the end, wait for the exit code, close the pty; (code, all output)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self._read(0.2):
            pass
        try:
            return self.proc.wait(timeout=max(1.0, deadline - time.monotonic())), self.text
        finally:
            self.close()

    def drain_in_background(self) -> None:
        """Keep reading in a thread, so a chatty child never blocks on a full terminal."""

        def drain() -> None:
            while not self._stop.is_set() and self._read(0.05):
                pass

        self._reader = threading.Thread(target=drain, daemon=True)
        self._reader.start()

    def hang_up(self) -> None:
        """Close our end of the terminal, as when its window is closed (the process goes on
        until the hang-up stops it)."""
        self._stop.set()
        if self._reader is not None:
            self._reader.join()
        if self.master >= 0:
            os.close(self.master)
            self.master = -1

    def close(self) -> None:
        """Close the pty and kill the process if it is still running."""
        self.hang_up()
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


def write_script(path: Path, body: str) -> Path:
    """An executable shell script (used as --clean-script / --backup-script)."""
    path.write_text("#!/bin/sh\n" + body + "\n")
    path.chmod(0o755)
    return path


@pytest.fixture
def slow_script(tmp_path: Path) -> tuple[Path, Path]:
    """A script that announces it started (a marker file), then sleeps for a minute."""
    marker = tmp_path / "started"
    script = write_script(tmp_path / "slow.sh", f'touch "{marker}"\nsleep 60')
    return script, marker


def wait_for(path: Path, timeout: float = 30.0) -> None:
    """Poll until ``path`` exists (a step announcing it has started)."""
    deadline = time.monotonic() + timeout
    while not path.exists():
        if time.monotonic() > deadline:
            raise AssertionError(f"{path} did not appear within {timeout}s")
        time.sleep(0.02)


def wait_until(condition: Callable[[], bool], timeout: float = 30.0, what: str = "") -> None:
    """Poll until ``condition()`` is true; fail naming ``what`` after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"{what or condition} did not happen within {timeout}s")
        time.sleep(0.02)


def alive(pid: int) -> bool:
    """True while ``pid`` runs (a zombie, exited but not yet reaped, counts as gone)."""
    try:
        return bool(psutil.Process(pid).status() != psutil.STATUS_ZOMBIE)
    except psutil.NoSuchProcess:
        return False


def kill_all(processes: list[psutil.Process]) -> None:
    """Kill psutil processes that may already have exited (orphans of a kill -9 test)."""
    for process in processes:
        try:
            process.kill()
        except psutil.NoSuchProcess:
            continue


# -- deletion traps ----------------------------------------------------------------------------


@pytest.fixture
def unremovable() -> Iterator[Callable[[Path], None]]:
    """Make a cache directory's content impossible to delete: chmod as a user, chattr as root."""
    undo: list[Callable[[], object]] = []

    def apply(directory: Path) -> None:
        if os.geteuid() != 0:
            directory.chmod(0o555)
            undo.append(lambda: directory.chmod(0o755))
            return
        files = [str(p) for p in directory.iterdir()]
        chattr = shutil.which("chattr")
        done = (
            chattr
            and subprocess.run([chattr, "+i", *files], capture_output=True, check=False).returncode
            == 0
        )
        if not done:
            pytest.skip("running as root and cannot make a file immutable here")
        undo.append(lambda: subprocess.run([chattr or "chattr", "-i", *files], check=False))

    yield apply
    for step in reversed(undo):
        step()


# -- what a run imports ------------------------------------------------------------------------

#: Runs the CLI in this process, then reports its exit code and every module imported.
MODULES_PROBE = """
import json, runpy, sys
try:
    runpy.run_module("routine_workflow", run_name="__main__", alter_sys=True)
    code = 0
except SystemExit as exc:
    code = exc.code
sys.stderr.write("\\nPROBE " + json.dumps({"code": code, "modules": sorted(sys.modules)}) + "\\n")
"""


def without_coverage(**extra: str) -> dict[str, str]:
    """This environment without coverage's variables, plus ``extra``.

    Coverage measuring a child (pytest-cov, coverage's subprocess patch) imports sqlite3
    and more itself: what a probe measures is the tool's own imports.
    """
    env = {k: v for k, v in os.environ.items() if not k.startswith(("COVERAGE_", "COV_CORE_"))}
    return {**env, **extra}


def run_probe(
    probe: str, args: Sequence[str], cwd: Path, **env: str
) -> tuple[int, set[str], subprocess.CompletedProcess[str]]:
    """Run ``python -c PROBE ARGS``; a probe ends by writing ``PROBE {"code", "modules"}``
    to stderr. (exit code, modules, the finished process)."""
    done = subprocess.run(
        [sys.executable, "-c", probe, *args],
        cwd=cwd,
        env=without_coverage(**env),
        stdin=subprocess.DEVNULL,
        capture_output=True,
        text=True,
        timeout=120,
    )
    line = [x for x in done.stderr.splitlines() if x.startswith("PROBE ")]
    assert line, done.stdout + done.stderr
    probe_doc = json.loads(line[-1][len("PROBE ") :])
    return probe_doc["code"], set(probe_doc["modules"]), done


def modules_after_run(args: Sequence[str], cwd: Path, **env: str) -> tuple[int, set[str], str]:
    """(exit code, every module in ``sys.modules`` at the end, output) of one real CLI run
    (``python -m routine_workflow ARGS``, as a probe around it)."""
    code, modules, done = run_probe(MODULES_PROBE, args, cwd, **env)
    return code, modules, done.stdout + done.stderr
