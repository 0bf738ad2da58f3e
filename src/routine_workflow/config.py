"""``WorkflowConfig``: every setting, where it came from, validated once.

Precedence, lowest first: built-in defaults < ``[tool.routine-workflow]`` in the
project's pyproject.toml < environment (``ROUTINE_WORKFLOW_<FIELD>`` and the
classic names) < command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
import shlex
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow import config_rules, dirs
from routine_workflow.errors import ConfigError
from routine_workflow.fields import (
    DEFAULT_CLEAN_PATTERNS,
    DEFAULT_DUMP_SECRET_PATTERNS,
    ENV_PREFIX,
    FIELD_BY_NAME,
    FIELDS,
    STATE_LOCATIONS,
    TABLE,
    Field,
    known_variables,
)

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (exercised on 3.10 only)
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]


__all__ = [
    "DEFAULT_CLEAN_PATTERNS",
    "DEFAULT_DUMP_SECRET_PATTERNS",
    "ENV_PREFIX",
    "FIELDS",
    "FIELD_BY_NAME",
    "TABLE",
    "Field",
    "WorkflowConfig",
    "load_config",
    "read_pyproject_table",
]


@dataclass(frozen=True)
class WorkflowConfig:
    """The effective, validated settings of one run. Read-only."""

    project_root: Path
    log_dir: Path
    log_file: Path
    lock_dir: Path
    clean_script: Path | None
    backup_script: Path | None
    create_dump_script: Path | None
    create_dump_clean_cmd: str | None
    create_dump_run_cmd: str | None
    fail_on_backup: bool
    require_restore_point: bool
    auto_yes: bool
    dry_run: bool
    max_workers: int
    workflow_timeout: float
    exclude_patterns: tuple[str, ...]
    include_nested_repos: bool
    backup_dir: Path
    keep_backups: int
    backup_include_git: bool
    dump_dir: Path
    keep_dumps: int
    dump_max_file_size: int
    dump_secret_patterns: tuple[str, ...]
    cache_dir: Path
    history_db: Path
    keep_undo: int
    script_timeout: float
    clean_patterns: tuple[str, ...]
    clean_extra_patterns: tuple[str, ...]
    reformat_engine: str
    dump_engine: str
    reformat_file_timeout: float
    reformat_max_file_size: int
    watch_remove_unused_imports: bool
    log_format: str
    log_level: str
    log_max_bytes: int
    log_backup_count: int
    parallel_steps: int
    on_success: str | None
    on_failure: str | None
    notify_url: str | None
    profile: bool
    #: field name -> where its value came from ("default", "pyproject.toml", "env X", "flag --x")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: raw ``[tool.routine-workflow.steps]`` tables, for user-defined steps
    step_tables: Mapping[str, Any] = field(default_factory=dict, compare=False)
    #: names the tool would otherwise ignore without a word (a misspelt table or variable)
    warnings: tuple[str, ...] = field(default=(), compare=False)
    #: set by ``watch`` at run time, never by the user: reformat removes no unused import
    keep_unused_imports: bool = False

    def with_changes(self, **changes: Any) -> WorkflowConfig:
        """A copy with some values replaced (e.g. ``dry_run``), sources marked as overrides."""
        sources = dict(self.sources)
        sources.update(dict.fromkeys(changes, "override"))
        return dataclasses.replace(self, sources=sources, **changes)

    def as_dict(self) -> dict[str, Any]:
        """JSON-friendly values, in field order."""
        return {f.name: _jsonable(getattr(self, f.name)) for f in FIELDS}

    def own_dirs(self) -> tuple[Path, ...]:
        """Directories the tool writes to itself; discovery never treats them as project files."""
        return (
            self.log_dir,
            self.lock_dir,
            self.backup_dir,
            self.dump_dir,
            self.cache_dir,
            self.log_file.parent,
            self.history_db.parent,
        )


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# --- conversion ------------------------------------------------------------------------------

#: Kinds a TOML string cannot stand for, and how the error names what was expected.
_NOT_TEXT = {
    "bool": "true or false",
    "int": "an integer",
    "float": "a number",
    "list": "a list of strings",
}
_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def real_path(path: Path) -> Path:
    """``path`` as shown and used: its directory resolved (``proj/../scripts`` -> the
    real ``scripts`` directory, as the system reads it, symlinked directories included), its
    own name kept, so a symlink to a script is still run by the name the user gave."""
    if path.name in ("", ".."):
        return path.resolve()
    return path.parent.resolve() / path.name


def _convert(spec: Field, raw: Any, base: Path, *, typed: bool = False) -> Any:
    """Turn a raw value (TOML value, env string or click value) into the field's type.

    ``typed``: the value comes from TOML, which has types of its own, so a string where a
    number, a boolean or a list belongs is refused rather than parsed (``max_workers =
    "4"`` is a mistake to point out, not to guess at). Environment variables and flags are
    text, and are parsed. Raises ValueError with a short reason; the caller adds where the
    value came from.
    """
    kind = spec.kind
    if typed and isinstance(raw, str) and kind in _NOT_TEXT:
        raise ValueError(f"expected {_NOT_TEXT[kind]}, not a string")
    if kind in ("path", "opt_path"):
        if raw is None or (kind == "opt_path" and raw == ""):
            return None
        if not isinstance(raw, (str, os.PathLike)):
            raise ValueError("expected a path")
        if raw == "":  # Path("") is the current directory: never what an empty value meant
            raise ValueError("expected a path, not an empty string")
        path = Path(os.path.expanduser(os.fspath(raw)))
        return real_path(path if path.is_absolute() else (base / path))
    if kind == "opt_str":
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
    if kind == "command":
        return _command(raw)
    if kind == "bool":
        if isinstance(raw, bool):
            return raw
        if isinstance(raw, str) and raw.strip().lower() in _TRUE | _FALSE:
            return raw.strip().lower() in _TRUE
        raise ValueError("expected true or false")
    if kind in ("int", "float"):
        return _number(spec, raw)
    if kind == "list":
        return _string_list(raw)
    if kind == "choice":
        # Any case, as on the command line: log_level = "INFO" is how logging spells it.
        folded = raw.lower() if isinstance(raw, str) else raw
        if folded not in spec.choices:
            raise ValueError(f"expected one of {', '.join(spec.choices)}")
        return folded
    raise AssertionError(f"unknown field kind {kind}")  # pragma: no cover (programming error)


def _command(raw: Any) -> str | None:
    """A command string, split now as it will be at run time: a quote left open fails here,
    not at the end of a real run."""
    if raw is None or raw == "":
        return None
    if not isinstance(raw, str):
        raise ValueError("expected a command string")
    try:
        argv = shlex.split(raw)
    except ValueError as exc:
        raise ValueError(f"cannot split it into words: {exc}") from None
    if not argv:
        raise ValueError("the command is empty")
    return raw


def _number(spec: Field, raw: Any) -> int | float:
    if isinstance(raw, bool):
        raise ValueError(f"expected {'an integer' if spec.kind == 'int' else 'a number'}")
    try:
        if spec.kind == "int":
            value: int | float = raw if isinstance(raw, int) else int(str(raw).strip())
        else:
            value = float(raw) if isinstance(raw, (int, float)) else float(str(raw).strip())
    except ValueError:
        raise ValueError(f"expected {'an integer' if spec.kind == 'int' else 'a number'}") from None
    if value != value or value in (float("inf"), float("-inf")):
        raise ValueError("expected a finite number")
    if spec.minimum is not None and value < spec.minimum:
        raise ValueError(f"must be at least {spec.minimum:g}")
    return value


def _string_list(raw: Any) -> tuple[str, ...]:
    if isinstance(raw, str):
        items = [part.strip() for part in raw.split(",")]
    elif isinstance(raw, (list, tuple)) and all(isinstance(x, str) for x in raw):
        items = [part.strip() for item in raw for part in item.split(",")]
    else:
        raise ValueError("expected a list of strings")
    return tuple(item for item in items if item)


# --- loading ---------------------------------------------------------------------------------


def _describe(source: str, spec: Field, root: Path | None = None) -> str:
    """Where a value was set, as an error message names it (the file, with its path)."""
    if source.startswith("flag"):
        return spec.flag or spec.name
    if source.startswith("env "):
        return source[4:]
    if source == "pyproject.toml":
        where = root / "pyproject.toml" if root else "pyproject.toml"
        return f"{where} [{TABLE}] {spec.name}"
    return spec.name


def _checked(spec: Field, raw: Any, source: str, base: Path) -> Any:
    try:
        return _convert(spec, raw, base, typed=source == "pyproject.toml")
    except ValueError as exc:
        raise ConfigError(
            f"{_describe(source, spec, base)}: invalid value {raw!r}: {exc}"
        ) from None


def resolve_project_root(flags: Mapping[str, Any]) -> Path:
    """The project root that ``flags`` (and the environment) name, checked as a run checks
    it, without reading the project's configuration (``config init`` writes it)."""
    return _resolve_root(flags, os.environ, Path.cwd().absolute())[0]


def _resolve_root(flags: Mapping[str, Any], env: Mapping[str, str], cwd: Path) -> tuple[Path, str]:
    spec = FIELD_BY_NAME["project_root"]
    raw: Any = cwd
    source = "default"
    for name in reversed(spec.env):  # the prefixed name wins over the classic one
        if env.get(name):
            raw, source = env[name], f"env {name}"
    if flags.get("project_root") is not None:
        raw, source = flags["project_root"], "flag --project-root"
    root = _checked(spec, raw, source, cwd)
    what = _describe(source, spec)
    if not root.exists():
        raise ConfigError(f"{what}: project root {str(root)!r} does not exist")
    if not root.is_dir():
        raise ConfigError(f"{what}: project root {str(root)!r} is not a directory")
    root = root.resolve()
    if root == Path(root.anchor) or root == Path.home().resolve():
        raise ConfigError(
            f"{what}: refusing to treat {str(root)!r} as a project "
            "(it is the filesystem root or your home directory)"
        )
    return root, source


def _read_pyproject(root: Path) -> dict[str, Any]:
    """The project's pyproject.toml, parsed (empty if there is none)."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    return data


def read_pyproject_table(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[tool.routine-workflow]`` settings and its ``steps`` sub-tables, keys normalised."""
    return _split_table(_read_pyproject(root), root / "pyproject.toml")


def _split_table(data: Mapping[str, Any], path: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    tool = data.get("tool", {})
    table = tool.get("routine-workflow", {}) if isinstance(tool, dict) else {}
    if not isinstance(table, dict):
        raise ConfigError(f"{path}: [{TABLE}] must be a table")
    settings: dict[str, Any] = {}
    steps: dict[str, Any] = {}
    for key, value in table.items():
        name = key.replace("-", "_")
        if name == "steps":
            if not isinstance(value, dict):
                raise ConfigError(f"{path}: [{TABLE}] steps must be a table of step tables")
            steps = value
            continue
        spec = FIELD_BY_NAME.get(name)
        if spec is None or not spec.in_pyproject:
            known = [f.name for f in FIELDS if f.in_pyproject]
            hint = (
                " (set it with --project-root or run from the project)"
                if spec
                else config_rules.did_you_mean(name, known)
            )
            raise ConfigError(f"{path}: unknown key {key!r} in [{TABLE}]{hint}")
        settings[name] = value
    return settings, steps


def load_config(
    flags: Mapping[str, Any] | None = None,
    env: Mapping[str, str] | None = None,
    cwd: Path | None = None,
) -> WorkflowConfig:
    """Build the effective configuration.

    ``flags`` maps field names to command-line values (``None`` = not given).
    Raises ConfigError naming the key and value on any bad input.
    """
    flags = {k: v for k, v in (flags or {}).items() if v is not None}
    env = os.environ if env is None else env
    cwd = (cwd or Path.cwd()).absolute()
    unknown = set(flags) - set(FIELD_BY_NAME)
    if unknown:
        raise ConfigError(f"unknown setting(s): {', '.join(sorted(unknown))}")

    home = env.get(dirs.HOME_ENV)
    problem = config_rules.home_error(home)
    if problem:
        raise ConfigError(f"{dirs.HOME_ENV}: {problem}")
    root, root_source = _resolve_root(flags, env, cwd)
    data = _read_pyproject(root)
    pyproject, step_tables = _split_table(data, root / "pyproject.toml")
    values: dict[str, Any] = {"project_root": root}
    sources: dict[str, str] = {"project_root": root_source}
    for spec in FIELDS[1:]:
        value, source = _layered_value(spec, root, pyproject, env, flags, cwd)
        values[spec.name], sources[spec.name] = value, source
    if values["log_file"] is None:
        values["log_file"] = values["log_dir"] / "routine-workflow.log"
    for spec in FIELDS:
        _check_exists(spec, values[spec.name], sources[spec.name], root)
    _check_state_locations(values, sources, root)
    warnings = config_rules.near_miss_tables(data) + config_rules.unknown_variables(
        env, known_variables()
    )
    return WorkflowConfig(
        **values, sources=sources, step_tables=step_tables, warnings=tuple(warnings)
    )


def _check_state_locations(
    values: Mapping[str, Any], sources: Mapping[str, str], root: Path
) -> None:
    """One rule for every state location: never the project root, never above it; and the
    lock directory, removed whole at the end of every run, never inside the project."""
    for name, is_file in STATE_LOCATIONS.items():
        spec = FIELD_BY_NAME[name]
        label = _describe(sources[name], spec, root) if sources[name] != "default" else name
        problem = config_rules.state_location_error(
            label, values[name], is_file, root, inside_ok=name != "lock_dir"
        )
        if problem:
            raise ConfigError(problem)


def _layered_value(
    spec: Field,
    root: Path,
    pyproject: Mapping[str, Any],
    env: Mapping[str, str],
    flags: Mapping[str, Any],
    cwd: Path,
) -> tuple[Any, str]:
    default: Callable[[Path], Any] | Any = spec.default
    value = default(root) if callable(default) else default
    source = "default"
    if spec.name in pyproject:
        source = "pyproject.toml"
        value = _checked(spec, pyproject[spec.name], source, root)
    for name in reversed(spec.env):
        if env.get(name):  # an empty variable counts as unset, as in most shells' tools
            source = f"env {name}"
            value = _checked(spec, env[name], source, cwd)
    if spec.name in flags:
        source = f"flag {spec.flag or spec.name}"
        value = _checked(spec, flags[spec.name], source, cwd)
    return value, source


def _check_exists(spec: Field, value: Any, source: str, root: Path) -> None:
    if spec.must_exist != "file" or value is None:
        return
    if not value.is_file():
        raise ConfigError(
            f"{_describe(source, spec, root)}: {str(value)!r} does not exist or is not a file"
        )
