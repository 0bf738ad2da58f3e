"""``WorkflowConfig``: every setting, where it came from, validated once.

Precedence, lowest first: built-in defaults < ``[tool.routine-workflow]`` in the
project's pyproject.toml < environment (``ROUTINE_WORKFLOW_<FIELD>`` and the
classic names) < command-line flags.
"""

from __future__ import annotations

import dataclasses
import os
import sys
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from routine_workflow import dirs
from routine_workflow.errors import ConfigError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover (exercised on 3.10 only)
    import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

ENV_PREFIX = "ROUTINE_WORKFLOW_"
TABLE = "tool.routine-workflow"

DEFAULT_CLEAN_PATTERNS = (
    "__pycache__",
    "*.pyc",
    "*.pyo",
    ".pytest_cache",
    ".mypy_cache",
    ".ruff_cache",
    ".hypothesis",
    ".coverage",
    ".coverage.*",
    "htmlcov",
)

#: Files a code dump leaves out because they usually hold credentials (a dump is made to be
#: shared). Names, or paths relative to the root when the pattern has a "/"; "!" keeps one.
DEFAULT_DUMP_SECRET_PATTERNS = (
    ".env",
    ".env.*",
    "!.env.example",
    "!.env.sample",
    "!.env.template",
    "!.env.dist",
    "*.pem",
    "*.key",
    "*.p12",
    "*.pfx",
    "*.jks",
    "*.keystore",
    "*.kdbx",
    "*.ppk",
    "id_rsa",
    "id_dsa",
    "id_ecdsa",
    "id_ed25519",
    ".netrc",
    ".pgpass",
    ".npmrc",
    ".pypirc",
    ".htpasswd",
    ".git-credentials",
    "*.tfvars",
    "*.tfstate",
)


def _default_workers(_root: Path) -> int:
    return min(8, os.cpu_count() or 1)


@dataclass(frozen=True)
class Field:
    """How one setting is spelled, typed, defaulted and checked."""

    name: str
    kind: str  # path | opt_path | opt_str | bool | int | float | list | choice
    help: str  # one sentence; also the command-line flag's help text
    default: Any = None  # a value, or a callable taking the project root
    flag: str | None = None  # the long command-line flag; None: no flag
    classic_env: tuple[str, ...] = ()
    minimum: float | None = None
    choices: tuple[str, ...] = ()
    must_exist: str | None = None  # "dir" | "file"
    in_pyproject: bool = True
    # How the flag is spelled beyond its long name (read by the command line only).
    short: str | None = None  # e.g. "-y"
    metavar: str | None = None  # placeholder in --help; None: click's own (PATH, INTEGER...)
    negatable: bool = False  # bool flag with a --no- twin
    repeatable: bool = False  # the flag may be given several times (lists always may)

    @property
    def env(self) -> tuple[str, ...]:
        return (ENV_PREFIX + self.name.upper(), *self.classic_env)


FIELDS: tuple[Field, ...] = (
    Field(
        "project_root",
        "path",
        "Project to work on (default: the current directory); repeat for several projects.",
        None,
        "--project-root",
        ("PROJECT_ROOT",),
        must_exist="dir",
        in_pyproject=False,
        repeatable=True,
    ),
    Field(
        "log_dir",
        "path",
        "Directory of the rotating log (default: per project, per user).",
        dirs.log_dir,
        "--log-dir",
        ("LOG_DIR",),
    ),
    Field(
        "log_file",
        "path",
        "Log file (default: routine-workflow.log in the log dir).",
        None,
        "--log-file",
    ),
    Field(
        "lock_dir",
        "path",
        "Lock directory to use, exactly (default: per project, per user).",
        dirs.lock_dir,
        "--lock-dir",
        ("LOCK_DIR",),
    ),
    Field(
        "clean_script",
        "opt_path",
        "Script to run instead of the built-in clean_caches step.",
        None,
        "--clean-script",
        must_exist="file",
    ),
    Field(
        "backup_script",
        "opt_path",
        "Script to run instead of the built-in backup step.",
        None,
        "--backup-script",
        must_exist="file",
    ),
    Field(
        "create_dump_script",
        "opt_path",
        "create-dump executable to write the code dump.",
        None,
        "--create-dump-script",
        ("CREATE_DUMP_SCRIPT",),
        must_exist="file",
    ),
    Field("create_dump_clean_cmd", "opt_str", "Command run before create-dump (cleanup).", None),
    Field(
        "create_dump_run_cmd",
        "opt_str",
        "Command that writes the dump (run from the project root).",
        None,
        "--create-dump-run-cmd",
        metavar="CMD",
    ),
    Field(
        "fail_on_backup",
        "bool",
        "Stop before reformatting if the backup fails.",
        False,
        "--fail-on-backup",
        negatable=True,
    ),
    Field(
        "auto_yes",
        "bool",
        "Do not ask for confirmation (needed when stdin is not a terminal).",
        False,
        "--yes",
        short="-y",
    ),
    Field(
        "dry_run",
        "bool",
        "Report what every step would do; change nothing.",
        False,
        "--dry-run",
        short="-n",
    ),
    Field(
        "max_workers",
        "int",
        "Worker processes (default: CPU count, at most 8).",
        _default_workers,
        "--workers",
        minimum=1,
        short="-j",
    ),
    Field(
        "workflow_timeout",
        "float",
        "Stop the run after SECONDS (exit 124); 0 means no limit.",
        0.0,
        "--workflow-timeout",
        ("WORKFLOW_TIMEOUT",),
        minimum=0,
        metavar="SECONDS",
    ),
    Field(
        "exclude_patterns",
        "list",
        "gitignore-style pattern to leave alone (repeat, or comma-separate).",
        (),
        "--exclude-patterns",
        metavar="PATTERN",
    ),
    Field(
        "backup_dir",
        "path",
        "Where backups are written.",
        lambda root: dirs.data_dir(root, "backups"),
    ),
    Field("keep_backups", "int", "How many backups to keep.", 10, minimum=1),
    Field("backup_include_git", "bool", "Include .git/ in backups.", True),
    Field(
        "dump_dir",
        "path",
        "Where code dumps are written.",
        lambda root: dirs.data_dir(root, "dumps"),
    ),
    Field("keep_dumps", "int", "How many dumps to keep.", 5, minimum=1),
    Field(
        "dump_max_file_size",
        "int",
        "Files larger than this (bytes) are left out of dumps.",
        1_000_000,
        minimum=0,
    ),
    Field(
        "dump_secret_patterns",
        "list",
        "Files left out of dumps as likely secrets (names, or paths with a /; ! keeps one).",
        DEFAULT_DUMP_SECRET_PATTERNS,
    ),
    Field("cache_dir", "path", "Reformat cache directory.", dirs.cache_dir),
    Field("history_db", "path", "SQLite run history.", lambda _root: dirs.history_db()),
    Field(
        "script_timeout", "float", "Seconds a user script may run (0: no limit).", 1800.0, minimum=0
    ),
    Field("clean_patterns", "list", "Cache patterns clean_caches removes.", DEFAULT_CLEAN_PATTERNS),
    Field("clean_extra_patterns", "list", "Patterns removed in addition to clean_patterns.", ()),
    Field(
        "reformat_engine",
        "choice",
        "Formatter pipeline: black (autoflake, isort, black) or ruff "
        "(ruff check --fix --select F401,I, then ruff format; needs ruff installed).",
        "black",
        choices=("black", "ruff"),
    ),
    Field(
        "dump_engine",
        "choice",
        "How dumps are written: auto (create-dump when installed or "
        "configured, else built-in), builtin, or create-dump.",
        "auto",
        choices=("auto", "builtin", "create-dump"),
    ),
    Field(
        "reformat_file_timeout",
        "float",
        "Seconds one file may spend in the reformat pipeline "
        "before it is left as is and reported (0: no limit).",
        120.0,
        minimum=0,
    ),
    Field(
        "reformat_max_file_size",
        "int",
        "Python files larger than this (bytes) are not reformatted but reported, which "
        "bounds a reformat worker's memory (0: no limit).",
        1_000_000,
        minimum=0,
    ),
    Field(
        "log_format",
        "choice",
        "Log events as text lines or one JSON object per line.",
        "text",
        "--log-format",
        choices=("text", "json"),
    ),
    Field(
        "parallel_steps",
        "int",
        "Run up to N independent command steps at once (default 1).",
        1,
        "--parallel-steps",
        minimum=1,
        metavar="N",
    ),
    Field("on_success", "opt_str", "Command run after a successful run.", None),
    Field(
        "on_failure", "opt_str", "Command run after a failed, interrupted or timed-out run.", None
    ),
    Field("notify_url", "opt_str", "URL that receives the JSON run report (HTTP POST).", None),
)
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


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
    auto_yes: bool
    dry_run: bool
    max_workers: int
    workflow_timeout: float
    exclude_patterns: tuple[str, ...]
    backup_dir: Path
    keep_backups: int
    backup_include_git: bool
    dump_dir: Path
    keep_dumps: int
    dump_max_file_size: int
    dump_secret_patterns: tuple[str, ...]
    cache_dir: Path
    history_db: Path
    script_timeout: float
    clean_patterns: tuple[str, ...]
    clean_extra_patterns: tuple[str, ...]
    reformat_engine: str
    dump_engine: str
    reformat_file_timeout: float
    reformat_max_file_size: int
    log_format: str
    parallel_steps: int
    on_success: str | None
    on_failure: str | None
    notify_url: str | None
    #: field name -> where its value came from ("default", "pyproject.toml", "env X", "flag --x")
    sources: Mapping[str, str] = field(default_factory=dict, compare=False)
    #: raw ``[tool.routine-workflow.steps]`` tables, for user-defined steps
    step_tables: Mapping[str, Any] = field(default_factory=dict, compare=False)

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
        return (self.log_dir, self.lock_dir, self.backup_dir, self.dump_dir, self.cache_dir)


def _jsonable(value: Any) -> Any:
    if isinstance(value, Path):
        return str(value)
    if isinstance(value, tuple):
        return list(value)
    return value


# --- conversion ------------------------------------------------------------------------------

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off", ""}


def _convert(spec: Field, raw: Any, base: Path) -> Any:
    """Turn a raw value (TOML value, env string or click value) into the field's type.

    Raises ValueError with a short reason; the caller adds where the value came from.
    """
    kind = spec.kind
    if kind in ("path", "opt_path"):
        if raw is None or (kind == "opt_path" and raw == ""):
            return None
        if not isinstance(raw, (str, os.PathLike)):
            raise ValueError("expected a path")
        path = Path(os.path.expanduser(os.fspath(raw)))
        return path if path.is_absolute() else (base / path)
    if kind == "opt_str":
        if raw is None or raw == "":
            return None
        if not isinstance(raw, str):
            raise ValueError("expected a string")
        return raw
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
        if raw not in spec.choices:
            raise ValueError(f"expected one of {', '.join(spec.choices)}")
        return raw
    raise AssertionError(f"unknown field kind {kind}")  # pragma: no cover (programming error)


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


def _describe(source: str, spec: Field) -> str:
    if source.startswith("flag"):
        return spec.flag or spec.name
    if source.startswith("env "):
        return source[4:]
    if source == "pyproject.toml":
        return f"pyproject.toml [{TABLE}] {spec.name}"
    return spec.name


def _checked(spec: Field, raw: Any, source: str, base: Path) -> Any:
    try:
        return _convert(spec, raw, base)
    except ValueError as exc:
        raise ConfigError(f"{_describe(source, spec)}: invalid value {raw!r}: {exc}") from None


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


def read_pyproject_table(root: Path) -> tuple[dict[str, Any], dict[str, Any]]:
    """The ``[tool.routine-workflow]`` settings and its ``steps`` sub-tables, keys normalised."""
    path = root / "pyproject.toml"
    if not path.is_file():
        return {}, {}
    try:
        data = tomllib.loads(path.read_text(encoding="utf-8"))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{path}: not valid TOML: {exc}") from None
    except OSError as exc:
        raise ConfigError(f"{path}: cannot read: {exc.strerror}") from None
    table = data.get("tool", {}).get("routine-workflow", {})
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
            hint = " (set it with --project-root or run from the project)" if spec else ""
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

    root, root_source = _resolve_root(flags, env, cwd)
    pyproject, step_tables = read_pyproject_table(root)
    values: dict[str, Any] = {"project_root": root}
    sources: dict[str, str] = {"project_root": root_source}
    for spec in FIELDS[1:]:
        value, source = _layered_value(spec, root, pyproject, env, flags, cwd)
        values[spec.name], sources[spec.name] = value, source
    if values["log_file"] is None:
        values["log_file"] = values["log_dir"] / "routine-workflow.log"
    for spec in FIELDS:
        _check_exists(spec, values[spec.name], sources[spec.name])
    return WorkflowConfig(**values, sources=sources, step_tables=step_tables)


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


def _check_exists(spec: Field, value: Any, source: str) -> None:
    if spec.must_exist != "file" or value is None:
        return
    if not value.is_file():
        raise ConfigError(
            f"{_describe(source, spec)}: {str(value)!r} does not exist or is not a file"
        )
