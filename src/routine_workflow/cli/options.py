"""The workflow's command-line flags, generated from ``config.FIELDS``.

A setting is declared once, as a ``config.Field``; this module turns every field
that has a ``flag`` into a click option (its help, type, short name and
placeholder all come from the field) and turns the parsed values back into the
``flags`` mapping ``load_config`` takes.

- ``field_option(name)``: the option for one setting (subcommands reuse a few).
- ``workflow_options``: decorator adding every setting's flag, in field order.
- ``flag_values(params)``: parsed values -> ``load_config`` flags (None = not given).
- ``unique_roots(roots)``: the projects given, each once.
- ``split_names(values)``: repeated and comma-separated values -> one list.
- ``wait_option(help)``: ``--wait SECONDS`` (finite, at least 0), for every command that locks.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterable, Mapping, Sequence
from pathlib import Path
from typing import Any, TypeVar

import click

from routine_workflow.config import FIELD_BY_NAME, FIELDS, Field

F = TypeVar("F", bound=Callable[..., Any])

#: Settings that have a command-line flag, in the order --help lists them.
FLAG_FIELDS: tuple[Field, ...] = tuple(spec for spec in FIELDS if spec.flag is not None)
#: Spellings of the original routine-workflow 10.x kept working (docs/migrating.md): its
#: ``-d`` dry run and ``-nd`` real run. click matches ``-nd`` whole before it would read
#: it as ``-n -d``, so old crontab lines that ran for real still do.
COMPAT_DECLS: dict[str, tuple[str, ...]] = {"dry_run": ("-d/-nd",)}


class NonEmptyPath(click.Path):
    """A path that may not be empty: click turns ``""`` into ``Path(".")``, the current
    directory, which is never what ``--project-root "$UNSET_VARIABLE"`` meant."""

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """Refuse ``""``, then convert as click.Path does."""
        if isinstance(value, str) and value == "":
            self.fail("expected a path, not an empty string", param, ctx)
        return super().convert(value, param, ctx)


class Seconds(click.FloatRange):
    """A number of seconds, at least 0 and finite: ``nan`` compares false with every bound
    (so a plain FloatRange lets it through) and ``inf`` would mean "forever"."""

    name = "seconds"

    def __init__(self) -> None:
        super().__init__(min=0)

    def convert(self, value: Any, param: click.Parameter | None, ctx: click.Context | None) -> Any:
        """A float range check, plus finiteness."""
        number = super().convert(value, param, ctx)
        if not math.isfinite(number):
            self.fail(f"{value!r} is not a finite number of seconds", param, ctx)
        return number


def wait_option(help: str) -> Callable[[F], F]:
    """``--wait SECONDS``: how long to wait for a run that holds the project's lock."""
    return click.option("--wait", type=Seconds(), default=0.0, metavar="SECONDS", help=help)


def _click_type(spec: Field) -> object:  # a click type, a Python type, or None (str)
    if spec.kind in ("path", "opt_path"):
        return NonEmptyPath(path_type=Path) if spec.kind == "path" else click.Path(path_type=Path)
    if spec.kind == "int":
        return int
    if spec.kind == "float":
        return float
    if spec.kind == "choice":
        return click.Choice(list(spec.choices), case_sensitive=False)  # --log-level DEBUG
    return None


def field_option(
    name: str, *, multiple: bool | None = None, help: str | None = None
) -> Callable[[F], F]:
    """The click option of setting ``name``; ``multiple``/``help`` override the field's."""
    spec = FIELD_BY_NAME[name]
    assert spec.flag is not None  # noqa: S101 (programming error: the setting has no flag)
    decls = [f"{spec.flag}/--no-{spec.flag[2:]}" if spec.negatable else spec.flag]
    decls += [spec.short] if spec.short else []
    decls += COMPAT_DECLS.get(name, ())
    many = spec.repeatable or spec.kind == "list" if multiple is None else multiple
    kwargs: dict[str, Any] = {"help": spec.help if help is None else help, "metavar": spec.metavar}
    if spec.kind == "bool":
        # default None, not False: "not given" lets pyproject and the environment apply
        kwargs.update(default=None, **({} if spec.negatable else {"is_flag": True}))
    elif many:
        kwargs.update(multiple=True, type=_click_type(spec))
    else:
        kwargs.update(default=None, type=_click_type(spec))
    return click.option(*decls, name, **kwargs)


def workflow_options(func: F) -> F:
    """Every setting's flag, each overriding pyproject and environment."""
    for spec in reversed(FLAG_FIELDS):
        func = field_option(spec.name)(func)
    return func


def split_names(values: Sequence[str] | None) -> list[str]:
    """``("a,b", "c")`` -> ``["a", "b", "c"]``: repeated and comma-separated values alike."""
    return [part.strip() for value in values or () for part in value.split(",") if part.strip()]


def unique_roots(roots: Iterable[Path]) -> list[Path]:
    """Each project once, in the order given: paths to the same directory (``p``, ``p/.``,
    a symlink to ``p``) are one project, and running it twice would only wait on its lock."""
    seen: set[Path] = set()
    unique = []
    for root in roots:
        key = Path(root).resolve()
        if key not in seen:
            seen.add(key)
            unique.append(root)
    return unique


def flag_values(params: Mapping[str, Any]) -> dict[str, Any]:
    """The parsed flags as ``load_config`` takes them; None means "not given".

    Several ``--project-root`` values are a fleet, not one setting: the caller
    handles them, and ``project_root`` is then None.
    """
    flags = {spec.name: params.get(spec.name) for spec in FLAG_FIELDS}
    roots: tuple[Path, ...] = params.get("project_root") or ()
    flags["project_root"] = roots[0] if len(roots) == 1 else None
    for spec in FLAG_FIELDS:
        if spec.kind == "list":
            flags[spec.name] = split_names(flags[spec.name]) or None
    return flags
