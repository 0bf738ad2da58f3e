"""routine-workflow: keep a Python repository tidy and safe, unattended."""

from __future__ import annotations

# A literal, not importlib.metadata: reading the installed metadata costs ~30 ms
# at every start, and pyproject.toml takes the version from here.
__version__ = "0.1.0"

__all__ = ["__version__"]
