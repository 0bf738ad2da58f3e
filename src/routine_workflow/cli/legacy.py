"""Command lines written for the original routine-workflow (10.x), read before click parses them.

The original used argparse, so its lists took several words (``-s reformat clean
backup``, ``--exclude-patterns a b``, ``--create-dump-run-cmd create-dump batch run``)
and a few flags were renamed or dropped. ``translate`` rewrites the root command's
arguments (those before a subcommand) into our spelling:

- ``-s``/``--steps`` followed by several step names: one comma-separated value;
- ``--exclude-patterns`` followed by several patterns: the flag repeated;
- ``--create-dump-run-cmd`` followed by several words: the rest of the line, as one command;
- ``--log-rotation-max-bytes``/``--log-rotation-backup-count``: ``--log-max-bytes``/
  ``--log-backup-count``; ``--install-pre-commit``: the ``pre-commit install`` command;
- ``--lock-ttl N``: dropped with a note (a lock here is stale when its process is gone);
  ``--profile`` needs no rewrite: it is our own flag (each step's wall and CPU time);
- a flag asking for work we do another way (``-es``, ``--git-push``...): ConfigError
  saying what to write instead, never a run that silently leaves the work out.

Each rewrite only turns a command line that would otherwise be an error into one that
works: none of these spellings means anything else here. docs/migrating.md has the table.
"""

from __future__ import annotations

import shlex
from collections.abc import Callable, Collection, Mapping

import click

from routine_workflow.compat import OLD_STEP_NAMES
from routine_workflow.errors import ConfigError

_STEPS_DOC = "see docs/migrating.md"
#: Old flag -> why it is refused and what to use instead.
REMOVED: dict[str, str] = {
    "--enable-security": "enable the security step: [tool.routine-workflow.steps.security] "
    "enabled = true, or name it in --steps",
    "--enable-dep-audit": "enable the audit step: [tool.routine-workflow.steps.audit] "
    "enabled = true, or name it in --steps",
    "--git-push": "set push = true in [tool.routine-workflow.steps.git_snapshot]",
    "--test-cov-threshold": "set coverage_threshold in [tool.routine-workflow.steps.tests]",
    "--interactive": "`routine-workflow config init` asks the questions once and writes "
    "the answers to pyproject.toml",
}
REMOVED_SHORT = {"-es": "--enable-security", "-eda": "--enable-dep-audit", "-i": "--interactive"}
RENAMED = {
    "--log-rotation-max-bytes": "--log-max-bytes",
    "--log-rotation-backup-count": "--log-backup-count",
}
#: Old variables whose setting we no longer read -> what to do instead.
OLD_VARIABLES = {
    "ENABLE_SECURITY": REMOVED["--enable-security"],
    "ENABLE_DEP_AUDIT": REMOVED["--enable-dep-audit"],
    "GIT_PUSH": REMOVED["--git-push"],
    "LOCK_TTL": "a lock is stale when the run that took it is gone, and a live run is "
    "never evicted",
}
_TRUE = {"1", "true", "yes", "on"}


def translate(
    argv: list[str], value_options: Collection[str], subcommands: Collection[str]
) -> tuple[list[str], list[str]]:
    """The root command's arguments in our spelling, and notes to show the user.

    ``value_options`` are the root's options that take a value (their next word is
    that value, never a subcommand); ``subcommands`` are the root's command names.
    Raises ConfigError for a flag of the original's that has no safe reading here.
    """
    out: list[str] = []
    notes: list[str] = []
    tail: list[str] = []  # arguments to add at the end (a translated subcommand)
    i = 0
    while i < len(argv):
        word = argv[i]
        option, has_value = word.split("=", 1)[0], "=" in word
        if word == "--" or (not word.startswith("-") and word in subcommands):
            break  # a subcommand's own arguments are its business
        if option in REMOVED_SHORT or option in REMOVED:
            name = REMOVED_SHORT.get(option, option)
            raise ConfigError(
                f"{word}: a routine-workflow 10.x flag that works differently here: "
                f"{REMOVED[name]} ({_STEPS_DOC})"
            )
        if option == "--lock-ttl":
            notes.append(f"{option} is ignored: {OLD_VARIABLES['LOCK_TTL']} ({_STEPS_DOC})")
            i += 1 if has_value else 2
            continue
        if option == "--install-pre-commit":
            tail = ["pre-commit", "install"]
            i += 1
            continue
        if option in RENAMED:
            word = RENAMED[option] + word[len(option) :]
        if option in ("-s", "--steps") and not has_value:
            names, i = _words(argv, i + 1, lambda w: w in OLD_STEP_NAMES or w not in subcommands)
            out += ["--steps", ",".join(names)] if names else [word]
            continue
        if option == "--exclude-patterns" and not has_value:
            patterns, i = _words(argv, i + 1, lambda w: w not in subcommands)
            out += [part for p in patterns for part in ("--exclude-patterns", p)] or [word]
            continue
        later = argv[i + 2] if _bare(argv, i + 2) else None
        if (
            option == "--create-dump-run-cmd"
            and not has_value
            and later not in (None, *subcommands)
        ):
            # argparse REMAINDER: everything after the flag is the command
            out += [word, shlex.join(argv[i + 1 :])]
            i = len(argv)
            continue
        out.append(word)
        i += 1
        if option in value_options and not has_value and i < len(argv):
            out.append(argv[i])  # the option's value, whatever it looks like
            i += 1
    return out + argv[i:] + tail, notes


def _bare(argv: list[str], index: int) -> bool:
    return index < len(argv) and not argv[index].startswith("-")


def _words(argv: list[str], start: int, accept: Callable[[str], bool]) -> tuple[list[str], int]:
    """The words from ``start`` up to the next option, or up to a later one ``accept``
    refuses (the first is the option's value whatever it is)."""
    words: list[str] = []
    i = start
    while _bare(argv, i) and (not words or accept(argv[i])):
        words.append(argv[i])
        i += 1
    return words, i


def variable_notes(env: Mapping[str, str]) -> list[str]:
    """A note for each variable of the original's that is set but not read here."""
    notes = []
    for name, instead in OLD_VARIABLES.items():
        value = env.get(name, "").strip()
        if value and (name == "LOCK_TTL" or value.lower() in _TRUE):
            notes.append(f"{name} is not read by this routine-workflow: {instead} ({_STEPS_DOC})")
    return notes


def value_options(command: click.Command) -> set[str]:
    """The option spellings of ``command`` that take a value."""
    return {
        opt
        for param in command.params
        if isinstance(param, click.Option) and not param.is_flag and not param.count
        for opt in param.opts
    }
