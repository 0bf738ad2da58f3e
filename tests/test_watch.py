"""``watch``: real watcher processes, real file changes, real signals."""

from __future__ import annotations

import json
import queue
import re
import signal
import threading
import time
from pathlib import Path

import pytest
from helpers import popen_cli, run_cli, wait_for, write_script

from routine_workflow import dirs
from routine_workflow.config import load_config
from routine_workflow.lock import ProjectLock
from routine_workflow.workflow.watch import ProjectFilter, modified_since


class Watcher:
    """A ``routine-workflow ... watch`` process whose stderr is read line by line."""

    def __init__(self, args: list[str], cwd: Path) -> None:
        self.proc = popen_cli(args, cwd)
        self.lines: list[str] = []
        self._queue: queue.Queue[str | None] = queue.Queue()
        threading.Thread(target=self._pump, daemon=True).start()

    def _pump(self) -> None:
        assert self.proc.stderr is not None
        for line in self.proc.stderr:
            self._queue.put(line.rstrip("\n"))
        self._queue.put(None)

    def expect(self, pattern: str, timeout: float = 30.0) -> str:
        """Wait for the next stderr line matching ``pattern``."""
        deadline = time.monotonic() + timeout
        while True:
            try:
                line = self._queue.get(timeout=max(0.01, deadline - time.monotonic()))
            except queue.Empty:
                raise AssertionError(f"no line matching {pattern!r}; got {self.lines}") from None
            if line is None:
                raise AssertionError(f"watcher ended before {pattern!r}; got {self.lines}")
            self.lines.append(line)
            if re.search(pattern, line):
                return line

    def finish(self, timeout: float = 30.0) -> int:
        code = self.proc.wait(timeout)
        while (line := self._queue.get(timeout=timeout)) is not None:
            self.lines.append(line)
        return code

    def changed(self) -> list[str]:
        return [line.split("changed: ", 1)[1] for line in self.lines if "changed: " in line]

    def kill(self) -> None:
        if self.proc.poll() is None:
            self.proc.kill()
            self.proc.wait()


@pytest.fixture
def watched(project: Path) -> Path:
    """A git-style project with a virtualenv, an ignored directory and a nested .gitignore."""
    (project / ".gitignore").write_text("generated/\n*.log\n")
    for sub in (".venv/lib", "generated", "pkg/vendor", "pkg/src"):
        (project / sub).mkdir(parents=True)
    (project / ".venv" / "pyvenv.cfg").write_text("home = /usr/bin\n")
    (project / "pkg" / ".gitignore").write_text("vendor/\n")
    return project


def _after_file_clock_passes(moment_ns: int, probe: Path) -> None:
    """Wait until files written now get a modification time later than ``moment_ns``.

    File times come from the kernel's coarse clock, which may lag ``time.time_ns()`` by
    a tick (4 ms at HZ=250). The watcher counts a change only if the file is newer than
    the end of the previous run, so a file saved within that tick would look like part
    of the run and be ignored; a real user never saves that fast, a test easily does.
    """
    while True:
        probe.write_text("tick\n")
        if probe.stat().st_mtime_ns > moment_ns:
            return
        time.sleep(0.001)


def _history(project: Path) -> list[dict[str, object]]:
    return json.loads(run_cli(["history", "--json", "-n", "50"], project).stdout)


@pytest.mark.slow
def test_a_change_triggers_exactly_one_run_and_excluded_paths_none(
    watched: Path, tmp_path: Path
) -> None:
    # The step itself rewrites a project file, as reformat does: that must not trigger a run.
    script = write_script(tmp_path / "step.sh", f'echo "# rewritten" >> "{watched}/pkg/src/mod.py"')
    watcher = Watcher(
        [
            "--clean-script",
            str(script),
            "watch",
            "--yes",
            "--steps",
            "clean_caches",
            "--debounce",
            "100",
            "--max-runs",
            "2",
        ],
        watched,
    )
    try:
        watcher.expect("watching")
        (watched / "a.py").write_text("x = 1\n")
        watcher.expect(r"run \S+ finished")
        watcher.expect("watching for changes again")
        for excluded in (
            ".venv/lib/site.py",
            "generated/out.py",
            "pkg/vendor/lib.py",
            "debug.log",
            "pkg/src/.mod.py.swp",
            "pkg/src/__pycache__/mod.cpython-311.pyc",
        ):
            (watched / excluded).parent.mkdir(parents=True, exist_ok=True)
            (watched / excluded).write_text("changed\n")
        time.sleep(1.0)  # let the watcher see (and drop) them before the next real change
        (watched / "pkg" / "src" / "b.py").write_text("y = 2\n")
        assert watcher.finish() == 0, watcher.lines
    finally:
        watcher.kill()
    assert watcher.changed() == ["a.py", "pkg/src/b.py"]
    runs = _history(watched)
    assert len(runs) == 2 and all(r["exit_code"] == 0 for r in runs)
    assert (watched / "pkg" / "src" / "mod.py").read_text() == "# rewritten\n# rewritten\n"
    # One process, two runs: each line is logged once, stamped with its own run's id.
    log = (dirs.log_dir(watched) / "routine-workflow.log").read_text().splitlines()
    starts = [line for line in log if "event=run_start" in line]
    assert len(starts) == 2
    for line in starts:
        run_id = re.search(r"run (\S+) started", line).group(1)  # type: ignore[union-attr]
        assert f"run_id={run_id}" in line


def test_sigint_while_waiting_exits_130_cleanly(project: Path) -> None:
    watcher = Watcher(["watch", "--yes"], project)
    try:
        watcher.expect("watching")
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.finish() == 130
    finally:
        watcher.kill()
    assert watcher.lines[-1].endswith("stopped watching " + str(project))
    assert not any("Traceback" in line for line in watcher.lines)


def test_sigterm_while_waiting_exits_143(project: Path) -> None:
    watcher = Watcher(["watch", "--yes"], project)
    try:
        watcher.expect("watching")
        watcher.proc.send_signal(signal.SIGTERM)
        assert watcher.finish() == 143
    finally:
        watcher.kill()


def test_sigint_during_a_run_stops_it_and_releases_the_lock(
    project: Path, slow_script: tuple[Path, Path]
) -> None:
    script, started = slow_script
    watcher = Watcher(
        [
            "--clean-script",
            str(script),
            "watch",
            "--yes",
            "--steps",
            "clean_caches",
            "--debounce",
            "50",
        ],
        project,
    )
    try:
        watcher.expect("watching")
        (project / "a.py").write_text("x = 1\n")
        wait_for(started)
        watcher.proc.send_signal(signal.SIGINT)
        assert watcher.finish() == 130
    finally:
        watcher.kill()
    assert not dirs.lock_dir(project).exists()
    runs = _history(project)
    assert len(runs) == 1 and runs[0]["exit_code"] == 130 and runs[0]["status"] == "interrupted"


def test_each_run_takes_the_lock(project: Path, tmp_path: Path) -> None:
    lock = ProjectLock(dirs.lock_dir(project))
    lock.acquire(0)
    watcher = Watcher(
        ["watch", "--yes", "--steps", "clean_caches", "--debounce", "50", "--max-runs", "2"],
        project,
    )
    try:
        watcher.expect("watching")
        (project / "a.py").write_text("x = 1\n")
        watcher.expect("not processed")
        watcher.expect("watching for changes again")
        # The watcher took its "since" before saying so: b.py must be stamped after it.
        _after_file_clock_passes(time.time_ns(), tmp_path / "clock-probe")
        lock.release()
        (project / "b.py").write_text("y = 1\n")
        assert watcher.finish() == 0
    finally:
        lock.release()
        watcher.kill()
    assert watcher.changed() == ["a.py", "b.py"]
    assert len(_history(project)) == 1


def test_needs_yes_without_a_terminal(project: Path) -> None:
    result = run_cli(["watch"], project)
    assert result.returncode == 2 and "pass --yes" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1
    unknown = run_cli(["watch", "--yes", "--steps", "nope"], project)
    assert unknown.returncode == 2 and "unknown step 'nope'" in unknown.stderr


# --- the filter, in process -------------------------------------------------------------------


def test_filter_follows_discovery(watched: Path) -> None:
    config = load_config({"project_root": watched, "log_dir": watched / "logs-here"})
    keep = ProjectFilter(config)
    (watched / "logs-here").mkdir()
    decisions = {
        rel: keep(2, str(watched / rel))
        for rel in (
            "a.py",
            "pkg/src/m.py",
            ".venv/lib/x.py",
            "generated/x.py",
            "pkg/vendor/x.py",
            "x.log",
            "logs-here/routine-workflow.log",
            ".git/index",
            "pkg/src/m.py~",
            "node_modules/x.js",
        )
    }
    assert decisions == {
        "a.py": True,
        "pkg/src/m.py": True,
        ".venv/lib/x.py": False,
        "generated/x.py": False,
        "pkg/vendor/x.py": False,
        "x.log": False,
        "logs-here/routine-workflow.log": False,
        ".git/index": False,
        "pkg/src/m.py~": False,
        "node_modules/x.js": False,
    }
    assert not keep(2, str(watched.parent / "outside.py"))
    # A changed .gitignore is read again.
    (watched / ".gitignore").write_text("generated/\n*.log\na.py\n")
    keep(2, str(watched / ".gitignore"))
    assert not keep(2, str(watched / "a.py"))


def test_discovery_excluded_agrees_with_walk(watched: Path) -> None:
    from routine_workflow.discovery import Discovery

    for rel in (
        "a.py",
        "pkg/src/m.py",
        ".venv/lib/x.py",
        "generated/x.py",
        "pkg/vendor/x.py",
        "x.log",
        "pkg/src/deep/y.py",
        "build/lib/z.py",
        "pkg/src/__pycache__/m.pyc",
        "tools/env/pyvenv.cfg",
        "tools/env/lib/w.py",
        "pkg/vendor",
    ):
        (watched / rel).parent.mkdir(parents=True, exist_ok=True)
        if not (watched / rel).exists():
            (watched / rel).write_text("x\n")
    config = load_config({"project_root": watched})
    walked = {e.rel for e in Discovery(config).walk()}
    every = {p.relative_to(watched).as_posix() for p in watched.rglob("*")}
    fresh = Discovery(config)  # no walk first: excluded() must load nested .gitignore files itself
    assert {rel for rel in every if not fresh.excluded(rel)} == walked
    assert "pkg/src/deep/y.py" in walked and "pkg/vendor/x.py" not in walked


def test_modified_since_ignores_old_deleted_and_directories(tmp_path: Path) -> None:
    old = tmp_path / "old.py"
    old.write_text("x")
    since = time.time_ns()
    time.sleep(0.05)
    new = tmp_path / "new.py"
    new.write_text("y")
    assert modified_since(
        [str(old), str(new), str(tmp_path / "gone.py"), str(tmp_path)], since
    ) == [str(new)]


def test_watch_help_hides_max_runs(tmp_path: Path) -> None:
    result = run_cli(["watch", "--help"], tmp_path)
    assert "--debounce" in result.stdout and "--max-runs" not in result.stdout
