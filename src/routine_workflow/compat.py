"""Names from the original routine-workflow (the 10.x line) that still mean something here.

The original's ``--steps`` took its own step names and aliases (``delete_dump``,
``clean``, ``create_dump``, ``pytest``, ``git``, ``step2.5``...). An old crontab
line keeps working because each of them maps to one of our steps
(docs/migrating.md lists them). A step of the project's own with the same name
as an old alias always wins: the alias only applies to names the project does not use.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable

#: Every step name the original accepted -> our step. Identities included: the command
#: line uses the whole table to tell an old ``-s a b c`` list from a subcommand.
OLD_STEP_NAMES: dict[str, str] = {
    "delete_dump": "prune_dumps",
    "delete_dumps": "prune_dumps",
    "step1": "prune_dumps",
    "reformat": "reformat",
    "reformat_code": "reformat",
    "step2": "reformat",
    "pytest": "tests",
    "test": "tests",
    "tests": "tests",
    "step2.5": "tests",
    "step2_5": "tests",
    "clean": "clean_caches",
    "clean_caches": "clean_caches",
    "step3": "clean_caches",
    "security": "security",
    "scan": "security",
    "step3.5": "security",
    "step3_5": "security",
    "backup": "backup",
    "step4": "backup",
    "create_dump": "dumps",
    "dump": "dumps",
    "dumps": "dumps",
    "step5": "dumps",
    "git": "git_snapshot",
    "commit": "git_snapshot",
    "step6": "git_snapshot",
    "audit": "audit",
    "dep_audit": "audit",
    "step6.5": "audit",
    "step6_5": "audit",
}


def resolve_step_names(names: Iterable[str], own: Collection[str] = ()) -> list[str]:
    """Old step names -> ours, each once, in order; names in ``own`` (the project's own
    steps) and names the original never had pass through unchanged."""
    resolved: list[str] = []
    for name in names:
        new = name if name in own else OLD_STEP_NAMES.get(name, name)
        if new not in resolved:  # the original ran `-s clean clean` twice; a DAG runs it once
            resolved.append(new)
    return resolved
