"""Where a check finds its tools: the project's interpreter, a module, an executable.

The ``tests`` step runs pytest with the *project's* interpreter: its code and its
dependencies are installed there, not necessarily beside routine-workflow (installed
with pipx, say). That is, in order: the step's ``python`` setting; the project's
virtualenv, ``.venv`` or ``venv`` at its root; the interpreter running routine-workflow.
"""

from __future__ import annotations

import importlib.util
import os
import shutil
import subprocess
import sys
from pathlib import Path

VENV_DIRS = (".venv", "venv")
_FIND_SPEC = "import importlib.util,sys; sys.exit(importlib.util.find_spec(sys.argv[1]) is None)"


def venv_python(venv: Path) -> Path:
    """The interpreter of the virtualenv ``venv`` (which may not exist)."""
    if os.name == "nt":  # pragma: no cover (Windows layout)
        return venv / "Scripts" / "python.exe"
    return venv / "bin" / "python"


def project_python(root: Path, configured: str | None = None) -> Path:
    """The interpreter that runs the project's code (see the module's docstring).

    ``configured`` is a path (relative to ``root``) or a command name looked up on PATH;
    one that does not exist is returned as given, for the "needs" line to name.
    """
    if configured:
        if os.sep in configured or "/" in configured:
            path = Path(os.path.expanduser(configured))
            return path if path.is_absolute() else root / path
        found = shutil.which(configured)
        return Path(found) if found else Path(configured)
    for name in VENV_DIRS:
        python = venv_python(root / name)
        if python.is_file() and os.access(python, os.X_OK):
            return python
    return Path(sys.executable)


def is_ours(python: Path) -> bool:
    """True when ``python`` is the interpreter running routine-workflow."""
    return os.path.abspath(python) == os.path.abspath(sys.executable)


def has_module(python: Path, module: str, timeout: float = 60.0) -> bool:
    """True if ``module`` can be imported by ``python`` (ours is asked in-process)."""
    if is_ours(python):
        return importlib.util.find_spec(module) is not None
    try:
        done = subprocess.run(
            [str(python), "-c", _FIND_SPEC, module],
            stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
            timeout=timeout,
            check=False,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return done.returncode == 0


def tool_argv(module: str, executable: str, path: str | None = None) -> list[str] | None:
    """How to start a tool that works on any project (bandit, pip-audit): as a module of
    our interpreter if it is installed beside us, else the executable on ``path``."""
    if importlib.util.find_spec(module) is not None:
        return [sys.executable, "-m", module]
    found = shutil.which(executable, path=path)
    return [found] if found else None


def needs(step: str, tool: str, package: str, python: Path | None = None) -> str:
    """The one line of a step whose tool is missing, with the command that installs it."""
    if python is None or is_ours(python):
        return f"the {step} step needs {tool}: pip install {package}"
    return f"the {step} step needs {tool} in {python}: {python} -m pip install {package}"


_SITE_DIRS = (
    "import json,sysconfig; p=sysconfig.get_paths(); "
    "print(json.dumps(sorted({p['purelib'], p['platlib']})))"
)


def site_dirs(python: Path, timeout: float = 60.0) -> list[str]:
    """Where ``python`` installs packages (its site-packages), for pip-audit's ``--path``."""
    if is_ours(python):
        import sysconfig

        paths = sysconfig.get_paths()
        return sorted({paths["purelib"], paths["platlib"]})
    import json

    try:
        done = subprocess.run(
            [str(python), "-c", _SITE_DIRS],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            timeout=timeout,
            check=False,
        )
        found = json.loads(done.stdout) if done.returncode == 0 else []
    except (OSError, subprocess.TimeoutExpired, ValueError):
        return []
    return [p for p in found if isinstance(p, str)]
