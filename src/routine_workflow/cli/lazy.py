"""A click group whose subcommands are imported only when one is used.

click's documented recipe ("Lazily Loading Subcommands" in its guide to complex
applications) gives a ``Group`` a ``lazy_subcommands`` table of import paths.
Two additions here:

- the table lives inside ``Group.commands`` (``LazyCommands``), so
  ``list_commands``, ``get_command`` and anything else that reads ``commands``
  see every subcommand, loaded or not;
- each entry carries its short help, so ``--help`` lists the subcommands
  without importing them (the recipe's ``--help`` imports them all).
"""

from __future__ import annotations

import importlib
from collections.abc import Iterator, Mapping, MutableMapping
from gettext import gettext
from typing import Any, NamedTuple

import click


class Lazy(NamedTuple):
    """Where a subcommand lives, and what ``--help`` says about it before it is imported."""

    import_path: str  # "package.module.attribute" of the click command
    short_help: str  # the command's help (its first paragraph is enough)


class LazyCommands(MutableMapping[str, click.Command]):
    """A group's subcommands by name; a lazy one is imported the first time it is looked up."""

    def __init__(self, lazy: Mapping[str, Lazy]) -> None:
        self.lazy = dict(lazy)
        self.loaded: dict[str, click.Command] = {}

    def __getitem__(self, name: str) -> click.Command:
        if name not in self.loaded:
            self.loaded[name] = _load(self.lazy[name].import_path)
        return self.loaded[name]

    def __setitem__(self, name: str, command: click.Command) -> None:
        self.loaded[name] = command

    def __delitem__(self, name: str) -> None:
        if name not in self:
            raise KeyError(name)
        self.lazy.pop(name, None)
        self.loaded.pop(name, None)

    def __contains__(self, name: object) -> bool:  # without importing anything
        return name in self.loaded or name in self.lazy

    def __iter__(self) -> Iterator[str]:
        return iter({**dict.fromkeys(self.lazy), **self.loaded})

    def __len__(self) -> int:
        return len({*self.lazy, *self.loaded})

    def short_help_stand_in(self, name: str) -> click.Command | None:
        """A help-only command for a subcommand not imported yet; None once it is."""
        if name in self.loaded or name not in self.lazy:
            return None
        return click.Command(name, help=self.lazy[name].short_help)


def _load(import_path: str) -> click.Command:
    module, attribute = import_path.rsplit(".", 1)
    command = getattr(importlib.import_module(module), attribute)
    if not isinstance(command, click.Command):  # a wrong table entry: say which
        raise TypeError(f"lazy subcommand {import_path} is not a click command")
    return command


class LazyGroup(click.Group):
    """``click.Group`` taking ``lazy_subcommands={name: Lazy(import_path, short_help)}``."""

    commands: LazyCommands

    def __init__(self, *args: Any, lazy_subcommands: Mapping[str, Lazy], **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        eager = dict(self.commands)
        self.commands = LazyCommands(lazy_subcommands)
        self.commands.update(eager)

    def format_commands(self, ctx: click.Context, formatter: click.HelpFormatter) -> None:
        """click's own listing, with stand-ins for the subcommands not imported yet."""
        commands = []
        for name in self.list_commands(ctx):
            command = self.commands.short_help_stand_in(name) or self.get_command(ctx, name)
            if command is not None and not command.hidden:
                commands.append((name, command))
        if commands:
            # the same width budget click uses: three times the default spacing
            limit = formatter.width - 6 - max(len(name) for name, _ in commands)
            rows = [(name, command.get_short_help_str(limit)) for name, command in commands]
            with formatter.section(gettext("Commands")):
                formatter.write_dl(rows)
