"""The one naming scheme for code dumps, shared by the dumps and prune_dumps steps.

``<project id>_dump_<YYYYmmddTHHMMSSZ>.md`` plus a ``.sha256`` sidecar beside it, where
the project id is ``dirs.project_id``: the folder's name and a hash of its resolved path
(``app-6e54fc170378``), so two projects called ``app`` never share a dump name, even in
one ``dump_dir``. Dumps written before that were ``<folder>_dump_<stamp>.md``
(``parse_legacy_dump_name``): their name does not tell whose they are.
prune_dumps deletes nothing whose name does not parse here.
"""

from __future__ import annotations

import functools
import re
from datetime import datetime, timezone
from pathlib import Path

from routine_workflow.dirs import project_id

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
    return f"{project_id(root)}_dump_{when.astimezone(timezone.utc).strftime(STAMP_FORMAT)}.md"


def parse_dump_name(name: str, root: Path) -> datetime | None:
    """The UTC time in the name of a dump of this project, or None if ``name`` is not one."""
    return _stamp_in(_patterns(root)[0], name, STAMP_FORMAT)


def parse_legacy_dump_name(name: str, root: Path) -> datetime | None:
    """The UTC time in an old-style name, ``<folder>_dump_<stamp>.md``, or None.

    Any project in a folder of the same name wrote such names: a match says nothing
    about whose dump it is.
    """
    return _stamp_in(_patterns(root)[1], name, STAMP_FORMAT)


def parse_create_dump_name(name: str, root: Path) -> datetime | None:
    """The UTC time in a name create-dump gives a dump of ``root``, or None.

    create-dump (``create_dump/workflow/single.py``) writes
    ``{root.name}_all_create_dump_{%Y%m%d_%H%M%S}.md``, gzipped as ``.md.gz`` on request.
    Like the legacy names, these say nothing about which ``app`` folder they came from.
    """
    return _stamp_in(_patterns(root)[2], name, CREATE_DUMP_STAMP)


@functools.lru_cache(maxsize=16)
def _patterns(root: Path) -> tuple[re.Pattern[str], re.Pattern[str], re.Pattern[str]]:
    # Compiled once per project: prune_dumps tries every name in dump_dir against them.
    stamp = r"_dump_(\d{8}T\d{6}Z)\.md"
    return (
        re.compile(re.escape(project_id(root)) + stamp),
        re.compile(re.escape(project_slug(root)) + stamp),
        re.compile(
            re.escape(root.name or "project") + r"_all_create_dump_(\d{8}_\d{6})\.md(?:\.gz)?"
        ),
    )


def _stamp_in(pattern: re.Pattern[str], name: str, stamp_format: str) -> datetime | None:
    """The UTC time captured by ``pattern``'s group if ``name`` matches it whole and is a real date."""
    match = pattern.fullmatch(name)
    if match is None:
        return None
    try:
        return datetime.strptime(match.group(1), stamp_format).replace(tzinfo=timezone.utc)
    except ValueError:
        return None


def sidecar(path: Path) -> Path:
    """The checksum file that belongs to a dump."""
    return path.with_name(path.name + SIDECAR_SUFFIX)
