"""The one naming scheme for code dumps, shared by the dumps and prune_dumps steps.

``<project>_dump_<YYYYmmddTHHMMSSZ>.md`` plus a ``.sha256`` sidecar beside it.
prune_dumps deletes nothing whose name does not parse here.
"""

from __future__ import annotations

import re
from datetime import datetime, timezone
from pathlib import Path

STAMP_FORMAT = "%Y%m%dT%H%M%SZ"
CREATE_DUMP_STAMP = "%Y%m%d_%H%M%S"
SIDECAR_SUFFIX = ".sha256"
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


def project_slug(root: Path) -> str:
    """The project's folder name, made safe for file names."""
    return _SAFE.sub("_", root.name) or "project"


def dump_name(root: Path, when: datetime | None = None) -> str:
    """The file name of a dump of ``root`` written at ``when`` (default: now, UTC)."""
    when = when or datetime.now(timezone.utc)
    return f"{project_slug(root)}_dump_{when.astimezone(timezone.utc).strftime(STAMP_FORMAT)}.md"


def parse_dump_name(name: str, root: Path) -> datetime | None:
    """The UTC time in a dump name of this project, or None if ``name`` is not one of ours."""
    pattern = re.escape(project_slug(root)) + r"_dump_(\d{8}T\d{6}Z)\.md"
    return _stamp_in(pattern, name, STAMP_FORMAT)


def parse_create_dump_name(name: str, root: Path) -> datetime | None:
    """The UTC time in a name create-dump gives a dump of ``root``, or None.

    create-dump (``create_dump/workflow/single.py``) writes
    ``{root.name}_all_create_dump_{%Y%m%d_%H%M%S}.md``, gzipped as ``.md.gz`` on request.
    """
    pattern = re.escape(root.name or "project") + r"_all_create_dump_(\d{8}_\d{6})\.md(?:\.gz)?"
    return _stamp_in(pattern, name, CREATE_DUMP_STAMP)


def _stamp_in(pattern: str, name: str, stamp_format: str) -> datetime | None:
    """The UTC time captured by ``pattern``'s group if ``name`` matches it whole and is a real date."""
    match = re.fullmatch(pattern, name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), stamp_format).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def sidecar(path: Path) -> Path:
    """The checksum file that belongs to a dump."""
    return path.with_name(path.name + SIDECAR_SUFFIX)
