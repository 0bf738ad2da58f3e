"""``--version``: this tool's version, and the versions that decide its output bytes.

The formatters are never imported (that would cost half a second): their versions come
from the installed distributions' metadata, as ``importlib.metadata`` finds it.

``cli/entry.py`` prints these lines before click or anything else heavy is imported, so
this module imports only what a bare interpreter already has; ``platform``, ``shutil``,
``subprocess`` and ``pathlib`` load only when an unusual install needs them.
"""

from __future__ import annotations

import sys

from routine_workflow import __version__
from routine_workflow.cli.entry import PROG
from routine_workflow.distversions import dist_info_versions

#: What the default engine runs, in order; ruff is the other engine.
FORMATTERS = ("black", "isort", "autoflake")


def version_lines() -> list[str]:
    """``routine-workflow, version X``, then Python and each formatter, one per line."""
    python = ".".join(str(part) for part in sys.version_info[:3])
    lines = [
        f"{PROG}, version {__version__}",
        f"Python {python} ({_implementation()}, {sys.executable})",
    ]
    lines += [f"{name} {_installed(name) or 'not installed'}" for name in FORMATTERS]
    lines.append(_ruff())
    return lines


#: ``platform.python_implementation()`` by ``sys.implementation.name``, without importing
#: platform (which imports re); any other implementation asks platform itself.
_IMPLEMENTATIONS = {"cpython": "CPython", "pypy": "PyPy"}


def _implementation() -> str:
    """What ``platform.python_implementation()`` says: ``CPython``, ``PyPy``..."""
    known = _IMPLEMENTATIONS.get(sys.implementation.name)
    if known is not None:
        return known
    import platform

    return platform.python_implementation()


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
    import shutil
    import subprocess
    from pathlib import Path

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
