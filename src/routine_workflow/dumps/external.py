"""The external dump engine: the ``create-dump`` program, or commands configured instead of it.

- ``external_commands``: which commands write the dump (None: use the built-in);
- ``create_dump_in_use``: the same decision as a yes/no, for prune_dumps;
- ``parse_command``: a configured command line as argv (a clear error when it is not one);
- ``with_dynamic_flags``: a configured create-dump command completed as the original
  routine-workflow completed it (destination, ``--yes``, a real run for ``batch``);
- ``run_external``: run those commands from the project root, returning an ``ExternalOutcome``.
"""

from __future__ import annotations

import logging
import shlex
import shutil
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from routine_workflow.config import WorkflowConfig
from routine_workflow.dirs import private_dir
from routine_workflow.procs.children import command_argv, run_command, script_argv

#: One command: a label for messages (the setting it came from) and its argv.
Command = tuple[str, list[str]]


def create_dump_argv(executable: list[str], dump_dir: Path) -> list[str]:
    """create-dump's ``single`` mode on the project root, written to ``dump_dir``.

    ``--yes`` because nobody is there to answer its prompts; ``--no-progress``
    because its output goes to our log, not to a terminal.
    """
    return [*executable, "single", ".", "--dest", str(dump_dir), "--yes", "--no-progress"]


def external_commands(
    config: WorkflowConfig, which: Callable[[str], str | None] = shutil.which
) -> list[Command] | None:
    """The commands that write the dump instead of the built-in, or None for the built-in.

    Each is ``(label, argv)``. Raises ValueError when create-dump is wanted but
    cannot be run, or a configured command cannot be parsed.
    """
    if config.dump_engine == "builtin":
        return None
    script = config.create_dump_script
    executable = script_argv(script) if script else _found(which("create-dump"))
    configured = bool(script or config.create_dump_run_cmd or config.create_dump_clean_cmd)
    if config.dump_engine == "auto" and not configured and executable is None:
        return None
    commands = []
    if config.create_dump_clean_cmd:
        commands.append(
            (
                "create_dump_clean_cmd",
                parse_command(config.create_dump_clean_cmd, "create_dump_clean_cmd"),
            )
        )
    if config.create_dump_run_cmd:
        argv = parse_command(config.create_dump_run_cmd, "create_dump_run_cmd")
        commands.append(("create_dump_run_cmd", with_dynamic_flags(argv, config)))
    elif executable is not None:
        commands.append(("create-dump", create_dump_argv(executable, config.dump_dir)))
    else:
        raise ValueError(
            "create-dump is not installed (not on PATH); install it, set "
            "create_dump_script or create_dump_run_cmd, or set "
            'dump_engine = "builtin"'
        )
    return commands


def create_dump_in_use(config: WorkflowConfig) -> bool:
    """True when the dumps step hands over to create-dump (or a configured dump command).

    The same decision as ``external_commands``, so the dumps and prune_dumps steps can
    never disagree; a create-dump that is wanted but cannot run still counts (its old
    dumps are still its own).
    """
    try:
        return external_commands(config) is not None
    except ValueError:
        return True


def with_dynamic_flags(argv: list[str], config: WorkflowConfig) -> list[str]:
    """A create-dump command that writes a dump, with the flags it lacks appended.

    The original routine-workflow took ``--create-dump-run-cmd`` as a *base* command and
    appended its dynamic flags; run verbatim, the same command would do something else:
    ``create-dump batch run`` simulates unless told ``-nd`` (a dump that never appears),
    and without ``--dest`` a dump lands in the project tree rather than ``dump_dir``
    (where prune_dumps and the step's report look). So ``single`` and ``batch run``
    get ``--dest <dump_dir>``, ``--yes`` (nobody answers prompts) and, for ``batch``,
    ``--no-dry-run`` -- each only when the command does not already say it. Any other
    command (another program, a wrapper script, ``batch clean``) runs as written.
    """
    if not _is_create_dump(argv[0], config.create_dump_script):
        return argv
    words = [a for a in argv[1:] if not a.startswith("-")]
    batch = words[:2] == ["batch", "run"]
    if not (batch or words[:1] == ["single"]):
        return argv
    given = {a.split("=", 1)[0] for a in argv[1:] if a.startswith("-")}
    added = []
    if "--dest" not in given:
        added += ["--dest", str(config.dump_dir)]
    if not given & {"-y", "--yes"}:
        added.append("--yes")
    if batch and not given & {"-d", "--dry-run", "-nd", "--no-dry-run"}:
        added.append("--no-dry-run")
    return [*argv, *added]


def _is_create_dump(program: str, script: Path | None) -> bool:
    return Path(program).name == "create-dump" or (script is not None and Path(program) == script)


def _found(path: str | None) -> list[str] | None:
    return [path] if path else None


def parse_command(command: str, key: str) -> list[str]:
    """``command`` (the value of setting ``key``) split into argv; ValueError naming ``key``."""
    try:
        argv = command_argv(command)
    except ValueError as exc:
        raise ValueError(f"{key}: cannot parse {command!r}: {exc}") from None
    if not argv:
        raise ValueError(f"{key}: empty command")
    return argv


def shown(commands: list[Command]) -> str:
    """The commands as one line a user could paste into a shell."""
    return "; ".join(shlex.join(argv) for _, argv in commands)


@dataclass
class ExternalOutcome:
    """How the commands went: the new files in the dump directory, or why they failed."""

    dump_dir: Path
    new_files: list[str] = field(default_factory=list)
    #: One line saying what went wrong (None: every command succeeded).
    failure: str | None = None
    failure_details: list[str] = field(default_factory=list)


def run_external(
    config: WorkflowConfig, commands: list[Command], logger: logging.Logger
) -> ExternalOutcome:
    """Run the commands in order from the project root (create-dump's clean command first).

    Output goes to ``logger``; each command may run ``script_timeout`` seconds. The
    first that cannot start, times out or exits non-zero stops the rest.
    """
    dump_dir = config.dump_dir
    outcome = ExternalOutcome(dump_dir)
    try:
        private_dir(dump_dir)  # create-dump's --dest must exist
    except OSError as exc:
        outcome.failure = f"cannot create {dump_dir}: {exc.strerror or exc}"
        return outcome
    before = _names(dump_dir)
    timeout = config.script_timeout
    for label, argv in commands:
        try:
            ran = run_command(argv, config.project_root, timeout, logger)
        except OSError as exc:
            outcome.failure = f"{label}: cannot run {argv[0]}: {exc.strerror or exc}"
            return outcome
        if ran.timed_out:
            outcome.failure = f"{label} timed out after {timeout:g}s: {shlex.join(argv)}"
            return outcome
        if ran.returncode != 0:
            tail = ran.tail()
            outcome.failure = f"{label} exited with {ran.returncode}" + (
                f": {tail}" if tail else ""
            )
            outcome.failure_details = [shlex.join(argv)]
            return outcome
    outcome.new_files = sorted(_names(dump_dir) - before)
    return outcome


def _names(directory: Path) -> set[str]:
    try:
        return {p.name for p in directory.iterdir()}
    except OSError:
        return set()
