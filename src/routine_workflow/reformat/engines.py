"""The two reformat engines behind one protocol, so the project pass never asks which it has.

* ``Engine``: what ``run.reformat`` needs — the configuration files to collect on
  the discovery walk, the cache fingerprint, and the outcome of each file to do;
* ``BlackEngine``: autoflake -> isort -> black (``pipeline``) in the worker pool
  (``workers``);
* ``RuffEngine``: ``ruff check --fix`` and ``ruff format`` on the project's own files
  (``ruffpass``, ``ruff``);
* ``for_config``: the engine ``reformat_engine`` names.

Neither engine's heavy modules are imported here: a warm black run never imports the
formatters or a pool.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from routine_workflow.config import WorkflowConfig
from routine_workflow.reformat import cache

if TYPE_CHECKING:
    from routine_workflow.reformat.pipeline import Outcome
    from routine_workflow.reformat.ruff import Ruff


class Engine(Protocol):
    """What the project pass needs from an engine."""

    #: Names of the engine's configuration files, collected on the discovery walk.
    config_names: tuple[str, ...]

    def fingerprint(self, found: Sequence[Path], versions: dict[str, str] | None) -> str:
        """The cache fingerprint, given the configuration files ``found`` in the project.

        ``versions`` overrides the installed tools' versions. Called once, before
        ``outcomes``.
        """
        ...

    def outcomes(self, todo: Sequence[tuple[str, int]], log: logging.Logger) -> Iterator[Outcome]:
        """The outcome of every (absolute path, size) in ``todo``, as they become known."""
        ...


class BlackEngine:
    """autoflake -> isort -> black, each file in a pool of ``max_workers`` processes."""

    config_names: tuple[str, ...] = ()

    def __init__(self, config: WorkflowConfig) -> None:
        self.config = config

    def fingerprint(self, found: Sequence[Path], versions: dict[str, str] | None) -> str:
        """The tools' versions and the configuration files they read (``cache.CONFIG_NAMES``)."""
        root = self.config.project_root
        settings = {"engine": "black", **_keep_setting(self.config)}
        return cache.fingerprint(root, versions or cache.tool_versions(), settings)

    def outcomes(self, todo: Sequence[tuple[str, int]], log: logging.Logger) -> Iterator[Outcome]:
        """Outcomes as the workers finish them, largest files first."""
        from routine_workflow.reformat.workers import memory_headroom, run_pool

        config = self.config
        headroom = memory_headroom(config.reformat_max_file_size, config.max_workers)
        return run_pool(
            config.project_root,
            todo,
            config.max_workers,
            config.reformat_file_timeout,
            headroom,
            config.keep_unused_imports,
            timed=config.profile,
        )


class RuffEngine:
    """``ruff check --fix --select F401,I`` (``I`` when keeping unused imports) and
    ``ruff format``, over all files at once."""

    def __init__(self, config: WorkflowConfig, ruff: Ruff) -> None:
        from routine_workflow.reformat.ruff import CONFIG_NAMES

        self.config = config
        self.ruff = ruff
        self.config_names: tuple[str, ...] = CONFIG_NAMES
        self.configs: list[Path] = []

    def fingerprint(self, found: Sequence[Path], versions: dict[str, str] | None) -> str:
        """ruff's and Python's versions, and every ruff configuration file that applies
        (which ``outcomes`` copies to the mirror where it formats what check changed)."""
        from routine_workflow.reformat import ruff

        root = self.config.project_root
        self.configs = ruff.config_files(root, found)
        settings = {"engine": "ruff", "select": ruff.select(self.config.keep_unused_imports)}
        return cache.fingerprint(root, versions or self.ruff.versions(), settings, self.configs)

    def outcomes(self, todo: Sequence[tuple[str, int]], log: logging.Logger) -> Iterator[Outcome]:
        """Outcomes of the failed inputs first, then of the rest once ruff has run."""
        from routine_workflow.reformat import ruff, ruffpass

        config = self.config
        return ruffpass.outcomes(
            self.ruff,
            config.project_root,
            [path for path, _ in todo],
            self.configs,
            config.reformat_file_timeout,
            log,
            config.max_workers,
            ruff.select(config.keep_unused_imports),
        )


def _keep_setting(config: WorkflowConfig) -> dict[str, bool]:
    # Only when on, so the fingerprint of an ordinary run (and its cache) stays as it was.
    return {"keep_unused_imports": True} if config.keep_unused_imports else {}


def cache_name(config: WorkflowConfig) -> str:
    """The cache file: ``watch``'s own when it keeps unused imports, so watch runs and full
    runs (cron) do not discard each other's cache at every turn."""
    return cache.WATCH_CACHE_NAME if config.keep_unused_imports else cache.CACHE_NAME


def for_config(config: WorkflowConfig) -> Engine:
    """The engine ``config.reformat_engine`` names (ConfigError if it cannot run here)."""
    if config.reformat_engine != "ruff":
        return BlackEngine(config)
    from routine_workflow.reformat.ruff import Ruff

    return RuffEngine(config, Ruff.find())
