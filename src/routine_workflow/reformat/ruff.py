"""The ``ruff`` reformat engine's mechanics: finding ruff, its configuration files, running it.

For users who prefer speed to black-exact output (``reformat_engine = "ruff"``). The
rest of the pass (discovery, cache, writes, report) is ``run``'s, which reaches the
engine through ``engines.RuffEngine``; the pass itself, ruff on the project's own files,
is ``ruffpass``. Here: the executable and its version (``Ruff``), every configuration
file that applies (``config_files``: the cache fingerprint, and the *mirror* where the
files ``ruff check`` changed are formatted), one ruff command (``run_ruff``) and how to
read its errors.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import subprocess
import sys
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from routine_workflow.errors import ConfigError

#: What ``ruff check --fix`` is asked to fix: unused imports (pyflakes' F401) and isort's rules.
SELECT = "F401,I"
#: What it is asked to fix in ``watch`` (unless ``watch_remove_unused_imports``): import order
#: only, so the import the user just typed survives the save.
SELECT_KEEP_IMPORTS = "I"


def select(keep_unused_imports: bool) -> str:
    """The rules ``ruff check --fix`` selects."""
    return SELECT_KEEP_IMPORTS if keep_unused_imports else SELECT


#: Files ruff reads its settings from, at every directory level.
CONFIG_NAMES = ("pyproject.toml", "ruff.toml", ".ruff.toml")
#: A line of the source excerpt in an error message ("  |", "2 | line-length = ...").
_EXCERPT = re.compile(r"^\s*\d*\s*\|")
MISSING = 'reformat_engine = "ruff" needs ruff installed: pip install ruff'
EXCLUDED_REASON = "ruff: excluded by its settings (exclude, extend-exclude or include)"


def find_ruff() -> str:
    """The ruff executable: next to this interpreter (the environment we run from), else on PATH.

    Raises ConfigError with one actionable line when there is none.
    """
    local = Path(sys.executable).parent / ("ruff.exe" if os.name == "nt" else "ruff")
    if local.is_file() and os.access(local, os.X_OK):
        return str(local)
    found = shutil.which("ruff")
    if found is None:
        raise ConfigError(MISSING)
    return found


@dataclass(frozen=True)
class Ruff:
    """One ruff executable and its version."""

    exe: str
    version: str

    @classmethod
    def find(cls) -> Ruff:
        """The installed ruff (ConfigError if there is none or it does not run)."""
        exe = find_ruff()
        try:
            done = subprocess.run(
                [exe, "--version"], capture_output=True, text=True, timeout=60, check=False
            )
        except (OSError, subprocess.TimeoutExpired) as exc:
            raise ConfigError(f"{exe} --version: {exc}") from None
        if done.returncode != 0:
            raise ConfigError(f"{exe} --version failed: {_first_line(done.stderr)}")
        return cls(exe, done.stdout.strip().removeprefix("ruff").strip())

    def versions(self) -> dict[str, str]:
        """What goes into the cache fingerprint: ruff's version and the interpreter's
        (which decides what compiles)."""
        return {"python": ".".join(str(p) for p in sys.version_info[:3]), "ruff": self.version}


def config_files(root: Path, nested: Iterable[Path]) -> list[Path]:
    """Every file ruff may read settings from for files under ``root``.

    ``nested`` are the configuration files found in the project (by discovery);
    to them come those of the parent directories, the user-level ones, and every
    file an ``extend`` setting points to, followed from file to file.
    """
    candidates = [*nested, *(d / n for d in root.parents for n in CONFIG_NAMES)]
    found: dict[Path, None] = {}
    while candidates:
        path = candidates.pop(0)
        if path in found or not path.is_file():
            continue
        found[path] = None
        target = _extends(path)
        if target is not None:
            candidates.append(target)
    return [*found, *(p for p in _user_configs() if p not in found)]


def _user_configs() -> list[Path]:
    xdg = os.environ.get("XDG_CONFIG_HOME")
    base = Path(xdg) if xdg else Path.home() / ".config"
    return [base / "ruff" / name for name in CONFIG_NAMES if (base / "ruff" / name).is_file()]


def _extends(path: Path) -> Path | None:
    """The file ``path``'s ``extend`` setting names, if any (relative to ``path``'s directory)."""
    if sys.version_info >= (3, 11):
        import tomllib
    else:  # pragma: no cover
        import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None  # ruff reports a broken file itself, as one configuration error
    table = data.get("tool", {}).get("ruff", {}) if path.name == "pyproject.toml" else data
    value = table.get("extend") if isinstance(table, dict) else None
    if not isinstance(value, str):
        return None
    return path.parent / os.path.expanduser(os.path.expandvars(value))


# --- running ruff --------------------------------------------------------------------------


def file_problem(line: str, by_rel: Mapping[str, object]) -> tuple[str, str] | None:
    """(relative path, reason) if ``line`` is ruff's report of a problem with one of the
    files in ``by_rel`` ("error: Failed to format a/b.py: <why>", paths relative to ruff's
    working directory)."""
    for prefix in ("error: Failed to ", "warning: Failed to "):
        if not line.startswith(prefix):
            continue
        verb, _, rest = line[len(prefix) :].partition(" ")
        # The path may contain ": " itself; try each split until one names a file of ours.
        at = rest.find(":")
        while at >= 0:
            if rest[:at] in by_rel:
                return rest[:at], f"ruff cannot {verb} it:{rest[at + 1 :]}"
            at = rest.find(":", at + 1)
    return None


def timeout_reason(timeout: float) -> str:
    """Why a file is left as it is when ruff ran out of time."""
    return f"ruff took longer than the limit of {timeout:g}s; left as is"


# --- the mirror ------------------------------------------------------------------------------


class Mirror:
    """A temporary directory that repeats absolute paths below itself."""

    def __init__(self, base: Path) -> None:
        self.base = base

    def of(self, path: Path) -> Path:
        """Where ``path`` (absolute) lives in the mirror."""
        return self.base / path.relative_to(path.anchor)

    def write(self, path: Path, data: bytes) -> None:
        """Put ``data`` at ``path``'s place in the mirror."""
        target = self.of(path)
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)

    def copy(self, path: Path) -> None:
        """Copy one configuration file to its place (a vanished one is simply left out)."""
        with contextlib.suppress(OSError):
            self.write(path, path.read_bytes())

    def unmirror(self, text: str) -> str:
        """``text`` with mirrored paths turned back into the project's own."""
        return text.replace(str(self.base) + os.sep, os.sep)


def run_ruff(
    argv: Sequence[str],
    cwd: Path,
    timeout: float,
    log: logging.Logger,
    stdin: bytes | None = None,
) -> tuple[int | None, bytes, bytes]:
    """(exit code or None on a time-out, stdout, stderr) of one ruff command, which never
    outlives the run (``procs.run_captured``)."""
    from routine_workflow.procs.children import run_captured

    shown = " ".join(argv[:8]) + (f" ... ({len(argv) - 8} more)" if len(argv) > 8 else "")
    log.debug("running %s in %s", shown, cwd, extra={"event": "ruff_start"})
    code, out, err = run_captured(argv, cwd, timeout, stdin=stdin)
    for line in err.decode("utf-8", "replace").splitlines():
        log.debug("ruff | %s", line, extra={"event": "ruff_output"})
    return code, out, err


def cause(stderr: str) -> str:
    """ruff's error output as one line: its "Cause:" lines and the final message, without
    the "ruff failed" header and the source excerpt of a TOML error."""
    useful = [
        line.strip().removeprefix("Cause:").strip()
        for line in stderr.splitlines()
        if line.strip() and line.strip() != "ruff failed" and not _EXCERPT.match(line)
    ]
    return "; ".join(useful)[:500] or "ruff failed"


def _first_line(text: str) -> str:
    return next((line for line in text.splitlines() if line.strip()), "").strip()
