"""Assemble the run's steps: built-ins, ``[tool.routine-workflow.steps.*]`` tables, plugins.

Built-in steps accept ``depends_on``, ``timeout`` and ``enabled``; a table with
``run`` defines a command step; plugins (entry point group
``routine_workflow.steps``) are available to every project but run only where
a table names them or ``--steps`` selects them: a tool that rewrites files
should not start doing something new because a package was installed.
"""

from __future__ import annotations

import math
import shlex
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from routine_workflow.compat import resolve_step_names
from routine_workflow.config import TABLE, WorkflowConfig
from routine_workflow.config_rules import did_you_mean
from routine_workflow.errors import ConfigError
from routine_workflow.fsutil import is_inside
from routine_workflow.steps import builtin_steps
from routine_workflow.steps.base import RunRules, Step, StepContext, StepResult
from routine_workflow.steps.checks import CHECKS, NOT_FOR_CHECKS, check_options, make_check

if TYPE_CHECKING:  # imported when a table asks for a command step or a check
    from routine_workflow.steps.command import CommandStep, When

PLUGIN_GROUP = "routine_workflow.steps"
OVERRIDE_KEYS = frozenset({"depends_on", "timeout", "enabled"})
COMMAND_KEYS = OVERRIDE_KEYS | {
    "run",
    "shell",
    "cwd",
    "env",
    "retries",
    "retry_delay",
    "allow_failure",
    "when",
    "needs_restore_point",
}


@dataclass
class Configured:
    """A built-in or plugin step with ``depends_on`` / ``timeout`` from the project's config."""

    inner: Step
    depends_on: tuple[str, ...]
    timeout: float = 0.0

    @property
    def name(self) -> str:
        """The wrapped step's name."""
        return self.inner.name

    @property
    def description(self) -> str:
        """The wrapped step's description."""
        return self.inner.description

    @property
    def critical(self) -> bool:
        """The wrapped step's criticality."""
        return self.inner.critical

    @property
    def allow_failure(self) -> bool:
        """The wrapped step's own (a table cannot set it for a plugin)."""
        return RunRules.of(self.inner).allow_failure

    @property
    def runs_in_thread(self) -> bool:
        """The wrapped step's own."""
        return RunRules.of(self.inner).runs_in_thread

    def run(self, ctx: StepContext) -> StepResult:
        """Run the wrapped step."""
        return self.inner.run(ctx)


def all_steps(config: WorkflowConfig, selected: Iterable[str] = ()) -> list[Step]:
    """Every step of this project's run, in declared order (not yet topologically sorted)."""
    tables = dict(config.step_tables)
    selected = set(selected)
    steps: list[Step] = []
    for step in builtin_steps(config):
        table = _table(tables.pop(step.name, {}), step.name)
        _only_keys(table, OVERRIDE_KEYS, step.name, "built-in")
        if _enabled(table, step.name):
            steps.append(_override(step, table))
    steps += _checks(config, tables, selected, [s.name for s in steps])
    # Scanning installed packages for entry points costs tens of milliseconds at every
    # start; only pay it when a table or --steps names a step we do not know.
    known = {s.name for s in steps} | set(config.step_tables)
    wanted = {n for n, t in tables.items() if not (isinstance(t, dict) and "run" in t)}
    wanted |= selected - known
    plugins = load_plugins(config) if wanted else {}
    for name, table in tables.items():
        table = _table(table, name)
        if "run" in table:
            if name in plugins:
                raise ConfigError(
                    f"[{TABLE}.steps.{name}]: a plugin step has this name; "
                    "rename the command step"
                )
            if _enabled(table, name):
                steps.append(command_step(config, name, table))
        elif name in plugins:
            _only_keys(table, OVERRIDE_KEYS, name, "plugin")
            if _enabled(table, name):
                steps.append(_override(plugins[name], table))
        else:
            raise ConfigError(
                f"[{TABLE}.steps.{name}]: not a built-in or plugin step, and no "
                "'run' command is given"
            )
    for name in sorted(selected & plugins.keys() - {s.name for s in steps} - tables.keys()):
        steps.append(plugins[name])
    return steps


def _checks(
    config: WorkflowConfig, tables: dict[str, Any], selected: set[str], before: list[str]
) -> list[Step]:
    """The built-in checks this run has: off unless their table says ``enabled = true`` or
    ``--steps`` names them. A table with ``run`` stays a command step (and is left in
    ``tables``)."""
    found: list[Step] = []
    for name in CHECKS:
        if name not in tables and name not in selected:
            continue
        if isinstance(tables.get(name), dict) and "run" in tables[name]:
            continue
        table = _table(tables.pop(name, {}), name)
        options = check_options(name)
        _only_keys(table, (COMMAND_KEYS - NOT_FOR_CHECKS) | options.keys(), name, "check")
        if not _typed(table, "enabled", bool, name, False) and name not in selected:
            continue
        common = {k: v for k, v in table.items() if k not in options}
        base = command_step(config, name, {**common, "run": [name]})
        found.append(make_check(config, base, table, [*before, *(s.name for s in found)]))
    return found


def step_selection(config: WorkflowConfig, names: Iterable[str]) -> list[str]:
    """``--steps``/``--skip`` names, with the original routine-workflow's step names
    (``clean``, ``create_dump``, ``git``...) read as ours unless the project has a step
    of that name (compat.py)."""
    return resolve_step_names(names, config.step_tables)


def _table(value: Any, name: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise ConfigError(f"[{TABLE}.steps] {name}: must be a table")
    return value


def _only_keys(table: Mapping[str, Any], allowed: frozenset[str], name: str, kind: str) -> None:
    unknown = sorted(set(table) - allowed)
    if unknown:
        hint = did_you_mean(unknown[0], allowed)
        raise ConfigError(
            f"[{TABLE}.steps.{name}]: unknown key {unknown[0]!r} for a {kind} step{hint} "
            f"(allowed: {', '.join(sorted(allowed))})"
        )


def _enabled(table: Mapping[str, Any], name: str) -> bool:
    return bool(_typed(table, "enabled", bool, name, True))


def _typed(
    table: Mapping[str, Any], key: str, kind: type | tuple[type, ...], name: str, default: Any
) -> Any:
    value = table.get(key, default)
    if isinstance(value, bool) and kind in (int, float, (int, float)):
        raise ConfigError(
            f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: expected a number"
        )
    if not isinstance(value, kind):
        names = {bool: "true or false", str: "a string", dict: "a table", int: "an integer"}
        expected = names.get(kind, "a number") if isinstance(kind, type) else "a number"
        raise ConfigError(
            f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: expected {expected}"
        )
    if isinstance(value, float) and not math.isfinite(value):  # TOML has nan and inf
        raise ConfigError(
            f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: expected a finite number"
        )
    if isinstance(value, (int, float)) and not isinstance(value, bool) and value < 0:
        raise ConfigError(
            f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: must be at least 0"
        )
    return value


def _names(table: Mapping[str, Any], key: str, name: str) -> tuple[str, ...]:
    value = table.get(key, [])
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        raise ConfigError(
            f"[{TABLE}.steps.{name}] {key}: invalid value {value!r}: expected a list of strings"
        )
    return tuple(value)


def _override(step: Step, table: Mapping[str, Any]) -> Step:
    if "depends_on" not in table and "timeout" not in table:
        return step
    depends = (
        _names(table, "depends_on", step.name) if "depends_on" in table else tuple(step.depends_on)
    )
    own = RunRules.of(step).timeout  # what the table leaves out stays the step's own
    return Configured(step, depends, float(_typed(table, "timeout", (int, float), step.name, own)))


def command_step(config: WorkflowConfig, name: str, table: Mapping[str, Any]) -> CommandStep:
    """Build a command step from its table, validating every key."""
    _only_keys(table, COMMAND_KEYS, name, "command")
    shell = bool(_typed(table, "shell", bool, name, False))
    run = table["run"]
    if isinstance(run, str):
        argv = (run,) if shell else _split(run, name)
    elif isinstance(run, list) and run and all(isinstance(a, str) for a in run):
        if shell:
            raise ConfigError(f"[{TABLE}.steps.{name}] run: with shell = true, give one string")
        argv = tuple(run)
    else:
        raise ConfigError(
            f"[{TABLE}.steps.{name}] run: invalid value {run!r}: expected a command "
            "string or a non-empty list of strings"
        )
    if not argv:
        raise ConfigError(f"[{TABLE}.steps.{name}] run: the command is empty")
    from routine_workflow.steps.command import CommandStep

    return CommandStep(
        name=name,
        argv=argv,
        shell=shell,
        depends_on=_names(table, "depends_on", name),
        cwd=_cwd(config, table, name),
        env=_env(table, name),
        timeout=float(_typed(table, "timeout", (int, float), name, config.script_timeout)),
        retries=int(_typed(table, "retries", int, name, 0)),
        retry_delay=float(_typed(table, "retry_delay", (int, float), name, 1.0)),
        allow_failure=bool(_typed(table, "allow_failure", bool, name, False)),
        when=_when(table, name),
        needs_restore_point=bool(_typed(table, "needs_restore_point", bool, name, True)),
    )


def _split(command: str, name: str) -> tuple[str, ...]:
    """Split now, as the run would: a quote left open is a configuration error, not a crash."""
    try:
        return tuple(shlex.split(command))
    except ValueError as exc:
        raise ConfigError(
            f"[{TABLE}.steps.{name}] run: invalid value {command!r}: cannot split it into "
            f"words: {exc} (or set shell = true)"
        ) from None


def _cwd(config: WorkflowConfig, table: Mapping[str, Any], name: str) -> Path | None:
    if "cwd" not in table:
        return None
    raw = _typed(table, "cwd", str, name, ".")
    path: Path = (config.project_root / raw).resolve()
    if not is_inside(path, config.project_root) or not path.is_dir():
        raise ConfigError(
            f"[{TABLE}.steps.{name}] cwd: {raw!r} is not a directory inside the project"
        )
    return path


def _env(table: Mapping[str, Any], name: str) -> dict[str, str]:
    env = _typed(table, "env", dict, name, {})
    if not all(isinstance(k, str) and isinstance(v, str) for k, v in env.items()):
        raise ConfigError(f"[{TABLE}.steps.{name}] env: values must be strings")
    return dict(env)


def _when(table: Mapping[str, Any], name: str) -> When:
    when = _typed(table, "when", dict, name, {})
    unknown = sorted(set(when) - {"changed", "env"})
    if unknown:
        hint = did_you_mean(unknown[0], ["changed", "env"])
        raise ConfigError(
            f"[{TABLE}.steps.{name}] when: unknown key {unknown[0]!r}{hint} (use changed or env)"
        )
    env = when.get("env")
    if env is not None and not isinstance(env, str):
        raise ConfigError(f"[{TABLE}.steps.{name}] when.env: expected a variable name")
    from routine_workflow.steps.command import When

    return When(changed=_names(when, "changed", name), env=env)


def load_plugins(config: WorkflowConfig) -> dict[str, Step]:
    """Steps offered by installed packages; an entry point may be a step or a factory(config)."""
    from importlib.metadata import entry_points

    found: dict[str, Step] = {}
    for ep in entry_points(group=PLUGIN_GROUP):
        try:
            obj = ep.load()
            # A class is a factory too: its constructor takes the configuration.
            step = obj(config) if isinstance(obj, type) or not isinstance(obj, Step) else obj
        except Exception as exc:  # a broken plugin is the user's to fix, not a crash of ours
            raise ConfigError(
                f"plugin step {ep.name!r} ({ep.value}) failed to load: "
                f"{type(exc).__name__}: {exc}"
            ) from None
        if not isinstance(step, Step):
            raise ConfigError(
                f"plugin step {ep.name!r} ({ep.value}) is not a step "
                "(needs name, description, depends_on, critical and run)"
            )
        found[step.name] = step
    return found
