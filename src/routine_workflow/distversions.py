"""Installed versions of distributions, read from ``<name>-<version>.dist-info`` names.

``importlib.metadata``'s own rule (the first distribution found along ``sys.path``
wins), from one directory listing per path entry instead of importing
``importlib.metadata`` and parsing METADATA files, which costs tens of milliseconds on
every start. A name not found this way is for the caller to ask ``importlib.metadata``.
"""

from __future__ import annotations

import os
import sys

TYPE_CHECKING = False  # not typing's: see streams.py (the fast --version imports this)
if TYPE_CHECKING:
    from collections.abc import Iterable


def dist_info_versions(wanted: Iterable[str]) -> dict[str, str]:
    """``{name: version}`` of the ``wanted`` distributions (normalised names) found."""
    names = set(wanted)
    found: dict[str, str] = {}
    for entry in sys.path:
        try:
            listing = os.listdir(entry or ".")
        except OSError:
            continue
        for name in listing:
            if not name.endswith(".dist-info"):
                continue
            dist, _, version = name[: -len(".dist-info")].partition("-")
            key = dist.lower().replace("_", "-").replace(".", "-")
            if key in names and version and key not in found:
                found[key] = version
    return found
