"""Every setting, declared once: its name, type, default, flag, variables and help.

``config`` reads and validates the values; ``cli/options`` makes the flags from
the same table. Adding a setting is adding one ``Field`` here (and its attribute
on ``WorkflowConfig``).
"""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow import dirs

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
    kind: str  # path | opt_path | opt_str | command | bool | int | float | list | choice
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
        short="-p",
    ),
    Field(
        "log_dir",
        "path",
        "Directory of the rotating log (default: per project, per user).",
        dirs.log_dir,
        "--log-dir",
        ("LOG_DIR",),
        short="-l",
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
    # Split and checked by the dumps step when the run is planned (dumps/external.py).
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
        "A failed backup stops the whole run: no step after it runs.",
        False,
        "--fail-on-backup",
        ("FAIL_ON_BACKUP",),
        negatable=True,
    ),
    # The restore-point gate (docs/backup.md, "No rewriting without a restore point").
    Field(
        "require_restore_point",
        "bool",
        "Hold the steps that may rewrite files when the run's backup makes no restore point "
        "(--no-require-restore-point: run them anyway).",
        True,
        "--require-restore-point",
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
        negatable=True,
    ),
    Field(
        "max_workers",
        "int",
        "Worker processes (default: CPU count, at most 8).",
        _default_workers,
        "--workers",
        minimum=1,
        short="-w",
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
        short="-t",
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
        "include_nested_repos",
        "bool",
        "Reformat and dump files inside git submodules and nested git repositories too.",
        False,
        "--include-nested-repos",
        negatable=True,
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
        "keep_undo",
        "int",
        "How many runs' undo journals to keep (0: keep none; runs cannot be undone).",
        10,
        minimum=0,
    ),
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
        "watch_remove_unused_imports",
        "bool",
        "Let watch's reformat runs remove unused imports too (default: keep them, so an "
        "import you just typed survives the save).",
        False,
        "--remove-unused-imports",
        negatable=True,
    ),
    Field(
        "log_format",
        "choice",
        "Log events as text lines or one JSON object per line.",
        "text",
        "--log-format",
        choices=("text", "json"),
    ),
    # Logging, as the original routine-workflow 10.x offered it.
    Field(
        "log_level",
        "choice",
        "Console messages from this level up (-q means warning, -v debug; the log file "
        "keeps everything).",
        "info",
        "--log-level",
        choices=("debug", "info", "warning", "error"),
    ),
    Field(
        "log_max_bytes",
        "int",
        "Rotate the log file when it reaches this many bytes.",
        5 * 1024 * 1024,
        "--log-max-bytes",
        minimum=1,
        metavar="BYTES",
    ),
    Field(
        "log_backup_count",
        "int",
        "Rotated log files to keep besides the current one.",
        5,
        "--log-backup-count",
        minimum=1,
        metavar="N",
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
    Field("on_success", "command", "Command run after a successful run.", None),
    Field(
        "on_failure", "command", "Command run after a failed, interrupted or timed-out run.", None
    ),
    Field("notify_url", "opt_str", "URL that receives the JSON run report (HTTP POST).", None),
    Field(
        "profile",
        "bool",
        "Report each step's wall and CPU time, files/s and reformat's slowest files.",
        False,
        "--profile",
    ),
)
FIELD_BY_NAME: dict[str, Field] = {f.name: f for f in FIELDS}


#: Where the tool keeps its own files: setting -> whether it names a file (else a directory).
STATE_LOCATIONS = {
    "log_dir": False,
    "log_file": True,
    "lock_dir": False,
    "backup_dir": False,
    "dump_dir": False,
    "cache_dir": False,
    "history_db": True,
}
#: Variables the tool sets itself, for the on_success/on_failure hooks.
HOOK_VARIABLES = (
    "ROUTINE_WORKFLOW_RUN_ID",
    "ROUTINE_WORKFLOW_STATUS",
    "ROUTINE_WORKFLOW_EXIT_CODE",
    "ROUTINE_WORKFLOW_PROJECT_ROOT",
)


def known_variables() -> set[str]:
    """Every ``ROUTINE_WORKFLOW_*`` variable the tool reads or sets."""
    return {name for spec in FIELDS for name in spec.env} | {dirs.HOME_ENV, *HOOK_VARIABLES}
