"""``--version``: this tool's version, and the versions that decide its output bytes.

The formatters are never imported (that would cost half a second): their versions come
from the installed distributions' metadata, as ``importlib.metadata`` finds it.
"""

from __future__ import annotations

import os
import platform
import shutil
import subprocess
import sys
from pathlib import Path

from routine_workflow import __version__
from routine_workflow.cli.common import PROG

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
        _found.update(_from_dist_info_names())
    if name in _found:
        return _found[name]
    from importlib import metadata  # an egg-info or otherwise unusual install

    try:
        return metadata.version(name)
    except metadata.PackageNotFoundError:
        return None


_found: dict[str, str] = {}


def _from_dist_info_names() -> dict[str, str]:
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            names = os.listdir(entry or ".")
        except OSError:
            continue
        for name in names:
            if name.endswith(".dist-info"):
                dist, _, version = name[: -len(".dist-info")].partition("-")
                key = dist.lower().replace("_", "-").replace(".", "-")
                if version and key in (*FORMATTERS, "ruff"):
                    found.setdefault(key, version)
    return found


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
