"""Several projects in one command: each runs as its own process, under its own lock.

A child process per project keeps every guarantee of a single run (its lock,
log, timeout and signal handling) without sharing any of that state; the
parent only schedules them (``--jobs``) and summarises.
"""

from __future__ import annotations

import signal
import subprocess
import sys
from collections.abc import Callable, Iterable, Mapping, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow.config import FIELD_BY_NAME
from routine_workflow.errors import EXIT_FAILED, EXIT_OK, ConfigError, Interrupted
from routine_workflow.workflow.signals import interruptible

#: Settings that name one file or directory: shared by several projects they would collide.
PER_PROJECT_ONLY = ("log_file", "lock_dir", "log_dir")


@dataclass
class ProjectOutcome:
    """How one project's run ended, with its JSON report when it produced one."""

    root: str
    exit_code: int
    report: dict[str, Any] | None = None
    errors: list[str] = field(default_factory=list)


def read_projects_file(path: Path) -> list[Path]:
    """One project path per line; blank lines and ``#`` comments ignored; relative to the file."""
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError as exc:
        raise ConfigError(f"--projects-file {path}: cannot read: {exc.strerror}") from None
    roots = []
    for line in lines:
        entry = line.split("#", 1)[0].strip()
        if entry:
            candidate = Path(entry).expanduser()
            roots.append(candidate if candidate.is_absolute() else path.parent / candidate)
    if not roots:
        raise ConfigError(f"--projects-file {path}: lists no projects")
    return roots


def child_args(flags: Mapping[str, Any], extra: Sequence[str]) -> list[str]:
    """Command-line flags that reproduce ``flags`` (minus the project) for a child run."""
    for name in PER_PROJECT_ONLY:
        if name in flags:
            raise ConfigError(
                f"{FIELD_BY_NAME[name].flag} cannot be used with several projects: "
                "each project keeps its own (see config show)"
            )
    args: list[str] = []
    for name, value in flags.items():
        spec = FIELD_BY_NAME[name]
        if name == "project_root" or spec.flag is None:
            continue
        if spec.kind == "bool":
            args.append(spec.flag if value else "--no-" + spec.flag[2:])
        elif spec.kind == "list":
            for item in value:
                args += [spec.flag, item]
        else:
            args += [spec.flag, str(value)]
    return [*args, *extra]


def run_many(
    roots: Iterable[Path],
    args: Sequence[str],
    jobs: int,
    on_done: Callable[[ProjectOutcome], None] | None = None,
) -> list[ProjectOutcome]:
    """Run every project (``jobs`` at a time) and return their outcomes in the given order.

    SIGTERM or SIGINT stops the children the way they stop themselves: each gets
    SIGTERM, releases its lock and records its run.
    """
    roots = list(roots)
    with interruptible(0), ThreadPoolExecutor(max_workers=jobs) as pool:
        try:
            futures = [pool.submit(_run_one, root, args) for root in roots]
            outcomes = []
            for future in futures:
                outcomes.append(future.result())
                if on_done is not None:
                    on_done(outcomes[-1])
            return outcomes
        except Interrupted:
            _stop_children()
            raise


def _run_one(root: Path, args: Sequence[str]) -> ProjectOutcome:
    import json

    argv = [sys.executable, "-m", "routine_workflow", "--project-root", str(root), "--json", *args]
    proc = subprocess.run(
        argv, stdin=subprocess.DEVNULL, capture_output=True, text=True, check=False
    )
    errors = [
        line for line in proc.stderr.splitlines() if ": error: " in line or ": warning: " in line
    ]
    try:
        report = json.loads(proc.stdout) if proc.stdout.strip() else None
    except ValueError:
        report = None
    return ProjectOutcome(str(root), proc.returncode, report, errors)


def _stop_children() -> None:
    import psutil  # only a fleet that is being stopped needs it

    children = psutil.Process().children()
    for child in children:
        try:
            child.send_signal(signal.SIGTERM)
        except psutil.Error:
            continue
    psutil.wait_procs(children, timeout=30)


def fleet_exit_code(outcomes: Sequence[ProjectOutcome]) -> int:
    """0 if every project succeeded, else 1 (each project's own code is in the summary)."""
    return EXIT_OK if all(o.exit_code == 0 for o in outcomes) else EXIT_FAILED
