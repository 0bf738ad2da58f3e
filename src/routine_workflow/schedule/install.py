"""``schedule install|remove|show``: run the workflow on a timetable, from cron or a systemd timer.

Cron: one line in the user's crontab, tagged with the project's id, so
installing again replaces it and removing deletes it and nothing else; every
other byte of the crontab is kept as it was. systemd: a user ``.service`` and
``.timer`` pair; we write the files and print the ``systemctl`` commands, we
never run them.
"""

from __future__ import annotations

import contextlib
import os
import shlex
import shutil
import subprocess
import sys
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import filelock

from routine_workflow import dirs
from routine_workflow.config import ENV_PREFIX, WorkflowConfig
from routine_workflow.errors import ConfigError, RoutineError
from routine_workflow.fields import STATE_LOCATIONS
from routine_workflow.fsutil import atomic_write
from routine_workflow.schedule.cronexpr import (
    CronExpr,
    calendar_next_runs,
    check_on_calendar,
    next_runs,
    to_on_calendar,
)

TAG = "# routine-workflow schedule"
UNIT_PREFIX = "routine-workflow-"
_MANAGED = "# Managed by `routine-workflow schedule`; remove with `routine-workflow schedule remove --systemd`."


# --- the scheduled command ---------------------------------------------------------------------


def self_argv() -> list[str]:
    """How to start this very installation: its ``routine-workflow`` script, else ``python -m``.

    ``sys.executable`` is kept unresolved: a virtualenv's ``python`` is a
    symlink, and resolving it would run the system Python without our packages.
    """
    python = Path(sys.executable).absolute()
    script = python.parent / "routine-workflow"
    if script.is_file() and os.access(script, os.X_OK):
        return [str(script)]
    return [str(python), "-m", "routine_workflow"]


def scheduled_argv(config: WorkflowConfig) -> list[str]:
    """The unattended run: ``--yes --quiet`` so cron mails only when something goes wrong."""
    return [*self_argv(), "--yes", "--quiet", "--project-root", str(config.project_root)]


#: The variables that decide platformdirs' answers on Linux and the BSDs (elsewhere its
#: directories follow ``HOME``, which cron and systemd set as a login would).
PLATFORM_VARS = ("XDG_STATE_HOME", "XDG_CACHE_HOME", "XDG_DATA_HOME")


def pinned_env(config: WorkflowConfig, environ: Mapping[str, str] | None = None) -> dict[str, str]:
    """The environment that makes a scheduled run keep its state where this user's runs do.

    Cron and systemd start jobs without the login shell's variables: without these a
    scheduled run would keep a second backup series, cache, history and lock of its
    own, which ``history``, ``--resume`` and the lock of hand-started runs never see.
    Pinned: ``ROUTINE_WORKFLOW_HOME`` or the ``XDG_*`` variables platformdirs reads,
    as set now (so default directories resolve as they do here), and any state
    directory set by an environment variable or flag now. A directory set in
    pyproject.toml is not pinned: that file is read again at every run, and a
    later change to it must reach the scheduled runs too.
    """
    environ = os.environ if environ is None else environ
    env: dict[str, str] = {}
    home = environ.get(dirs.HOME_ENV, "")
    if home:
        env[dirs.HOME_ENV] = str(Path(home).expanduser().absolute())
    else:
        env.update(
            {var: environ[var] for var in PLATFORM_VARS if os.path.isabs(environ.get(var, ""))}
        )
    for name in STATE_LOCATIONS:
        if config.sources.get(name, "default").startswith(("env ", "flag ")):
            env[ENV_PREFIX + name.upper()] = str(getattr(config, name))
    return env


def project_tag(config: WorkflowConfig) -> str:
    """The comment that marks this project's crontab line."""
    return f"{TAG} {dirs.project_id(config.project_root)}"


def cron_line(config: WorkflowConfig, expr: CronExpr) -> str:
    """The crontab line, newline excluded."""
    assignments = [f"{var}={shlex.quote(value)}" for var, value in pinned_env(config).items()]
    command = " ".join([*assignments, shlex.join(scheduled_argv(config))])
    if "\n" in command or "\r" in command:
        raise ConfigError(f"{config.project_root}: a path with a line break cannot go in a crontab")
    # cron turns an unescaped % into a newline, even inside quotes.
    command = command.replace("%", "\\%")
    return f"{expr.text} {command} {project_tag(config)}"


# --- crontab storage ---------------------------------------------------------------------------


class Crontab(Protocol):
    """Where the crontab lives: a file, or the ``crontab`` command."""

    description: str

    def read(self) -> bytes:
        """The whole crontab (empty if there is none)."""

    def write(self, data: bytes) -> None:
        """Replace the whole crontab."""


@dataclass
class FileCrontab:
    """A crontab kept in a file (``--crontab-file``), written atomically."""

    path: Path
    description: str = ""

    def __post_init__(self) -> None:
        self.description = f"crontab file {self.path}"

    def read(self) -> bytes:
        """The file's bytes; empty if it does not exist yet."""
        try:
            return self.path.read_bytes()
        except FileNotFoundError:
            return b""
        except OSError as exc:
            raise RoutineError(f"{self.path}: cannot read: {exc.strerror}") from None

    def write(self, data: bytes) -> None:
        """Replace the file (through a symlink, the target), keeping its mode."""
        target = Path(os.path.realpath(self.path))
        try:
            atomic_write(target, data)
        except OSError as exc:
            raise RoutineError(f"{self.path}: cannot write: {exc.strerror}") from None


@dataclass
class CommandCrontab:
    """The user's crontab through ``crontab -l`` and ``crontab -``."""

    description: str = "your crontab"

    def _tool(self) -> str:
        tool = shutil.which("crontab")
        if tool is None:
            raise RoutineError(
                "crontab command not found; install cron, use --systemd, "
                "or write to a file with --crontab-file PATH"
            )
        return tool

    def read(self) -> bytes:
        """``crontab -l``; "no crontab for USER" is an empty crontab."""
        result = subprocess.run([self._tool(), "-l"], capture_output=True, timeout=60, check=False)
        if result.returncode == 0:
            return result.stdout
        message = result.stderr.decode(errors="replace").strip()
        if "no crontab" in message.lower():
            return b""
        raise RoutineError(f"crontab -l failed (exit {result.returncode}): {message}")

    def write(self, data: bytes) -> None:
        """``crontab -`` with the new content on stdin."""
        result = subprocess.run(
            [self._tool(), "-"], input=data, capture_output=True, timeout=60, check=False
        )
        if result.returncode != 0:
            message = result.stderr.decode(errors="replace").strip()
            raise RoutineError(f"crontab - failed (exit {result.returncode}): {message}")


@contextlib.contextmanager
def _editing() -> Iterator[None]:
    """Serialise read-modify-write of crontabs between our own processes.

    Two ``schedule install`` runs for different projects at once would
    otherwise both read the old crontab and the second write would drop the
    first one's line.
    """
    path = dirs.state_dir() / "schedule.lock"
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        with filelock.FileLock(str(path), timeout=60):
            yield
    except filelock.Timeout:
        raise RoutineError(f"another schedule change holds {path}; try again") from None


def _lines(data: bytes) -> list[bytes]:
    """Split keeping each line's own ending; only ``\\n`` separates (as cron reads it)."""
    parts = data.split(b"\n")
    lines = [part + b"\n" for part in parts[:-1]]
    if parts[-1]:
        lines.append(parts[-1])  # a last line without a newline stays without one
    return lines


def _is_ours(line: bytes, tag: bytes) -> bool:
    return line.rstrip(b"\r\n \t").endswith(tag)


@dataclass
class CronChange:
    """What an install or remove did."""

    line: str
    action: str  # installed | replaced | unchanged | removed | absent
    where: str


def install_cron(config: WorkflowConfig, expr: CronExpr, crontab: Crontab) -> CronChange:
    """Add or replace this project's line; every other byte stays as it was.

    A replaced line keeps its place. A new line goes at the end, so the
    crontab's ``MAILTO=``, ``PATH=`` and other assignments apply to it as to
    the user's own jobs; if the last line has no newline, ours goes just
    before it instead, so that no byte of it changes.
    """
    line = cron_line(config, expr)
    with _editing():
        return _install_line(line, project_tag(config).encode(), crontab)


def _install_line(line: str, tag: bytes, crontab: Crontab) -> CronChange:
    new = line.encode("utf-8", "surrogateescape") + b"\n"
    lines = _lines(crontab.read())
    ours = [i for i, existing in enumerate(lines) if _is_ours(existing, tag)]
    if len(ours) == 1 and lines[ours[0]] == new:
        return CronChange(line, "unchanged", crontab.description)
    if ours:
        first = ours[0]
        lines = [existing for i, existing in enumerate(lines) if i == first or i not in ours]
        lines[first] = new
        action = "replaced"
    else:
        if lines and not lines[-1].endswith(b"\n"):
            lines.insert(len(lines) - 1, new)
        else:
            lines.append(new)
        action = "installed"
    crontab.write(b"".join(lines))
    return CronChange(line, action, crontab.description)


def remove_cron(config: WorkflowConfig, crontab: Crontab) -> CronChange:
    """Delete this project's line(s) and nothing else."""
    tag = project_tag(config).encode()
    with _editing():
        lines = _lines(crontab.read())
        kept = [line for line in lines if not _is_ours(line, tag)]
        if len(kept) == len(lines):
            return CronChange("", "absent", crontab.description)
        crontab.write(b"".join(kept))
    removed = next(line for line in lines if _is_ours(line, tag))
    return CronChange(
        removed.decode("utf-8", "replace").rstrip("\r\n"), "removed", crontab.description
    )


def find_cron(config: WorkflowConfig, crontab: Crontab) -> str | None:
    """This project's installed line, if any."""
    tag = project_tag(config).encode()
    for line in _lines(crontab.read()):
        if _is_ours(line, tag):
            return line.decode("utf-8", "replace").rstrip("\r\n")
    return None


def cron_expr_of(line: str) -> str:
    """The five time fields (or the macro) at the start of a crontab line."""
    words = line.split()
    return words[0] if words and words[0].startswith("@") else " ".join(words[:5])


# --- systemd -----------------------------------------------------------------------------------


def default_unit_dir() -> Path:
    """``$XDG_CONFIG_HOME/systemd/user``, or ``~/.config/systemd/user`` (XDG: ignore a relative value)."""
    base = os.environ.get("XDG_CONFIG_HOME", "")
    config_home = Path(base) if base and os.path.isabs(base) else Path.home() / ".config"
    return config_home / "systemd" / "user"


def unit_name(config: WorkflowConfig) -> str:
    """``routine-workflow-<project id>``, without suffix."""
    return UNIT_PREFIX + dirs.project_id(config.project_root)


def _systemd_quote(arg: str) -> str:
    """One ExecStart= word: systemd's own quoting, with ``%`` specifiers and ``$`` escaped."""
    escaped = arg.replace("%", "%%").replace("$", "$$")
    if escaped and all(c.isalnum() or c in "/._-+=:,@" for c in escaped):
        return escaped
    return '"' + escaped.replace("\\", "\\\\").replace('"', '\\"') + '"'


def _systemd_env_quote(var: str, value: str) -> str:
    """One ``Environment=`` assignment: quoted, ``%`` specifiers escaped (no ``$`` expansion
    happens there, unlike in ``ExecStart=``)."""
    escaped = f"{var}={value}".replace("\\", "\\\\").replace('"', '\\"').replace("%", "%%")
    return f'"{escaped}"'


def service_text(config: WorkflowConfig) -> str:
    """The ``.service`` unit: one unattended run."""
    root = str(config.project_root).replace("%", "%%")
    if "\n" in root:
        raise ConfigError(
            f"{config.project_root}: a path with a line break cannot go in a unit file"
        )
    command = " ".join(_systemd_quote(arg) for arg in scheduled_argv(config))
    pinned = pinned_env(config)
    if any("\n" in value for value in pinned.values()):
        raise ConfigError(f"a state directory with a line break cannot go in a unit file: {pinned}")
    environment = "".join(
        f"Environment={_systemd_env_quote(var, value)}\n" for var, value in pinned.items()
    )
    return (
        f"{_MANAGED}\n"
        "[Unit]\n"
        f"Description=routine-workflow on {root}\n"
        "\n"
        "[Service]\n"
        "Type=oneshot\n"
        f"{environment}"
        f"ExecStart={command}\n"
    )


def timer_text(config: WorkflowConfig, calendars: list[str], cron: str | None) -> str:
    """The ``.timer`` unit; ``Persistent=true`` catches up a run missed while the machine was off."""
    root = str(config.project_root).replace("%", "%%")
    origin = f"# cron: {cron}\n" if cron else ""
    on_calendar = "".join(f"OnCalendar={spec}\n" for spec in calendars)
    return (
        f"{_MANAGED}\n"
        f"{origin}"
        "[Unit]\n"
        f"Description=Scheduled routine-workflow on {root}\n"
        "\n"
        "[Timer]\n"
        f"{on_calendar}"
        "Persistent=true\n"
        "\n"
        "[Install]\n"
        "WantedBy=timers.target\n"
    )


@dataclass
class SystemdChange:
    """What a systemd install or remove did, and the commands the user runs next."""

    action: str  # installed | replaced | unchanged | removed | absent
    paths: list[str]
    calendars: list[str] = field(default_factory=list)
    commands: list[str] = field(default_factory=list)


def install_systemd(
    config: WorkflowConfig, calendars: list[str], cron: str | None, unit_dir: Path
) -> SystemdChange:
    """Write the service and timer (atomically); refuse to overwrite units we did not write."""
    check_on_calendar(calendars)
    name = unit_name(config)
    files = {
        unit_dir / f"{name}.service": service_text(config),
        unit_dir / f"{name}.timer": timer_text(config, calendars, cron),
    }
    existing = {path: _read_text(path) for path in files}
    for path, text in existing.items():
        if text is not None and _MANAGED not in text:
            raise RoutineError(
                f"{path} exists and was not written by routine-workflow; "
                "remove it or choose another --unit-dir"
            )
    action = "installed" if all(t is None for t in existing.values()) else "replaced"
    if all(existing[path] == text for path, text in files.items()):
        action = "unchanged"
    else:
        try:
            unit_dir.mkdir(parents=True, exist_ok=True)
            for path, text in files.items():
                atomic_write(path, text.encode())
        except OSError as exc:
            raise RoutineError(f"{unit_dir}: cannot write units: {exc.strerror}") from None
    commands = ["systemctl --user daemon-reload", f"systemctl --user enable --now {name}.timer"]
    return SystemdChange(action, [str(p) for p in files], calendars, commands)


def remove_systemd(config: WorkflowConfig, unit_dir: Path) -> SystemdChange:
    """Delete our two units and the ``timers.target.wants`` link that enabling made."""
    name = unit_name(config)
    removed: list[str] = []
    timer = unit_dir / f"{name}.timer"
    wants = unit_dir / "timers.target.wants" / f"{name}.timer"
    if wants.is_symlink() and Path(os.path.realpath(wants)) == Path(os.path.realpath(timer)):
        wants.unlink()
        removed.append(str(wants))
    for path in (timer, unit_dir / f"{name}.service"):
        text = _read_text(path)
        if text is None:
            continue
        if _MANAGED not in text:
            raise RoutineError(f"{path} was not written by routine-workflow; leaving it alone")
        path.unlink()
        removed.append(str(path))
    if not removed:
        return SystemdChange("absent", [])
    commands = [f"systemctl --user stop {name}.timer", "systemctl --user daemon-reload"]
    return SystemdChange("removed", removed, [], commands)


def find_systemd(config: WorkflowConfig, unit_dir: Path) -> dict[str, Any] | None:
    """The installed timer's calendars and cron origin, if any."""
    timer = unit_dir / f"{unit_name(config)}.timer"
    text = _read_text(timer)
    if text is None:
        return None
    calendars = [
        line.split("=", 1)[1] for line in text.splitlines() if line.startswith("OnCalendar=")
    ]
    cron = next(
        (line[len("# cron: ") :] for line in text.splitlines() if line.startswith("# cron: ")), None
    )
    return {"timer": str(timer), "calendars": calendars, "cron": cron}


def _read_text(path: Path) -> str | None:
    try:
        return path.read_text(encoding="utf-8")
    except FileNotFoundError:
        return None
    except (OSError, UnicodeDecodeError) as exc:
        raise RoutineError(f"{path}: cannot read: {exc}") from None


# --- show ------------------------------------------------------------------------------------


def crontab_for(path: Path | None) -> Crontab | None:
    """``--crontab-file`` if given, else the ``crontab`` command if installed, else None."""
    if path is not None:
        return FileCrontab(path)
    return CommandCrontab() if shutil.which("crontab") else None


def show(
    config: WorkflowConfig,
    crontab: Crontab | None,
    unit_dir: Path,
    preview: CronExpr | None = None,
    count: int = 3,
) -> dict[str, Any]:
    """What is scheduled for this project (or would be, for ``preview``), with the next runs."""
    from routine_workflow.schedule.cronexpr import parse_cron

    info: dict[str, Any] = {"project_root": str(config.project_root)}
    if preview is not None:
        info["preview"] = {
            "cron": preview.text,
            "line": cron_line(config, preview),
            "on_calendar": to_on_calendar(preview),
            "next": [t.isoformat() for t in next_runs(preview, count)],
        }
        return info
    if crontab is not None:
        line = find_cron(config, crontab)
        entry: dict[str, Any] | None = None
        if line is not None:
            expr = parse_cron(cron_expr_of(line), flag=crontab.description)
            entry = {
                "line": line,
                "cron": expr.text,
                "where": crontab.description,
                "next": [t.isoformat() for t in next_runs(expr, count)],
            }
        info["cron"] = entry
    unit = find_systemd(config, unit_dir)
    if unit is not None and unit["cron"]:
        expr = parse_cron(unit["cron"], flag=unit["timer"])
        unit["next"] = [t.isoformat() for t in next_runs(expr, count)]
    elif unit is not None:
        unit["next"] = calendar_next_runs(unit["calendars"], count)
    info["systemd"] = unit
    return info
