"""routine-workflow: keep a Python repository tidy and safe, unattended."""

from __future__ import annotations

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("routine-workflow")
except PackageNotFoundError:  # pragma: no cover (running from a source tree that is not installed)
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
