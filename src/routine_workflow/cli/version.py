"""``--version``: this tool's version, and the versions that decide its output bytes.

The formatters are never imported (that would cost half a second): their versions come
from the installed distributions' metadata, as ``importlib.metadata`` finds it.
"""

from __future__ import annotations

import platform
import shutil
import subprocess
import sys
from pathlib import Path

from routine_workflow import __version__
from routine_workflow.cli.common import PROG
from routine_workflow.distversions import dist_info_versions

#: What the default engine runs, in order; ruff is the other engine.
FORMATTERS = ("black", "isort", "autoflake")


def version_lines() -> list[str]:
    """``routine-workflow, version X``, then Python and each formatter, one per line."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    lines = [
        f"{PROG}, version {__version__}",
        f"Python {python} ({platform.python_implementation()}, {sys.executable})",
    ]
    lines += [f"{name} {_installed(name) or 'not installed'}" for name in FORMATTERS]
    lines.append(_ruff())
    return lines


def _installed(name: str) -> str | None:
    """The version importlib.metadata would report, usually from the name of the first
    ``<name>-<version>.dist-info`` directory along sys.path (as ``reformat.cache`` reads
    them: importing importlib.metadata and parsing METADATA costs tens of milliseconds)."""
    if name not in _found:
        _found.update(dist_info_versions((*FORMATTERS, "ruff")))
    if name in _found:
        return _found[name]
    from importlib import metadata  # an egg-info or otherwise unusual install

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


_found: dict[str, str] = {}


def _ruff() -> str:
    """ruff as the ruff engine would find it: installed with us, else on PATH."""
    found = _installed("ruff")
    if found is not None:
        return f"ruff {found}"
    local = Path(sys.executable).parent / "ruff"
    exe = str(local) if local.is_file() else shutil.which("ruff")
    if exe is None:
        return 'ruff not installed (only reformat_engine = "ruff" needs it)'
    try:
        done = subprocess.run(
            [exe, "--version"], capture_output=True, text=True, timeout=10, check=False
        )
    except (OSError, subprocess.TimeoutExpired):
        return f"ruff at {exe}: does not run"
    return f"{done.stdout.strip() or 'ruff (unknown version)'} ({exe})"
