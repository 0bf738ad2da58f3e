"""isort's and autoflake's settings for one project, read as their CLIs read them.

* ``isort_config(root)``: isort's ``Config`` as ``isort .`` builds it from the project
  root (``.isort.cfg``, ``pyproject.toml``, ``setup.cfg``, ``tox.ini``,
  ``.editorconfig``, searched upwards);
* ``autoflake_settings(root)``: the options ``autoflake --in-place
  --remove-all-unused-imports --ignore-init-module-imports -r .`` runs with, after
  ``[tool.autoflake]`` (or ``[autoflake]`` in ``setup.cfg``).

A broken file is a ``ConfigError`` naming the file and the setting (exit 2), where the
CLIs print a traceback (a ``setup.cfg`` without a section header, an unknown profile or
setting) or warn and carry on with their defaults (``line_length = "abc"``: isort's
output would then silently depend on a typo). isort's other warnings go to the log.
Used by ``pipeline.Pipeline``; the tools are imported only when called.
"""

from __future__ import annotations

import configparser
import logging
import os
import sys
import warnings
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from routine_workflow.errors import ConfigError

_FAILED_PULL = "Failed to pull configuration information from "
_AUTOFLAKE_DEFAULTS = {"remove_all_unused_imports": True, "ignore_init_module_imports": True}
_AUTOFLAKE_BOOLS = (
    "expand_star_imports",
    "remove_all_unused_imports",
    "remove_duplicate_keys",
    "remove_unused_variables",
    "remove_rhs_for_unused_variables",
    "ignore_init_module_imports",
    "ignore_pass_statements",
    "ignore_pass_after_docstring",
)


# --- isort -------------------------------------------------------------------------------------


def isort_config(root: Path) -> Any:
    """isort's ``Config`` for ``root``; ConfigError naming the file and setting if it is broken."""
    import isort
    from isort.exceptions import ProfileDoesNotExist, UnsupportedSettings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            config = isort.Config(settings_path=str(root))
        except UnsupportedSettings as exc:
            raise ConfigError(_unsupported(exc.unsupported_settings)) from None
        except ProfileDoesNotExist as exc:
            _raise_if_unreadable(caught)
            raise ConfigError(
                f"{_isort_source(root)}: isort profile = {exc.profile!r} does not exist "
                f"(isort knows: {', '.join(sorted(isort.settings.profiles))})"
            ) from None
        except Exception as exc:  # any other refusal: still one line, still exit 2
            _raise_if_unreadable(caught)
            raise ConfigError(f"{_isort_source(root)}: isort settings: {_one_line(exc)}") from None
    _raise_if_unreadable(caught)
    for warning in caught:  # harmless to isort, which goes on: the user should still know
        logging.getLogger("routine_workflow").warning(
            "isort: %s", _one_line(warning.message), extra={"event": "isort_warning"}
        )
    return config


def _raise_if_unreadable(caught: list[warnings.WarningMessage]) -> None:
    """isort warns and uses its defaults for a file it cannot read: we stop, naming why."""
    for warning in caught:
        text = str(warning.message)
        if text.startswith(_FAILED_PULL):
            raise ConfigError(_why_unreadable(text[len(_FAILED_PULL) :]))


def _unsupported(settings: dict[str, dict[str, object]]) -> str:
    where = {str(item["source"]) for item in settings.values()}
    names = ", ".join(f"{name} = {item['value']!r}" for name, item in settings.items())
    plural = "s" if len(settings) > 1 else ""
    return f"{', '.join(sorted(where))}: unknown isort setting{plural} {names}"


def _isort_source(root: Path) -> str:
    """The configuration file isort reads for ``root`` (or a description, if none)."""
    from isort import settings

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        try:
            found = settings._find_config(str(root))[1]
        except Exception:
            found = {}
    return str(found.get("source") or "isort settings")


def _why_unreadable(path: str) -> str:
    """One line: which setting of ``path`` isort cannot use, or why it cannot read the file."""
    from isort import settings

    sections = settings.CONFIG_SECTIONS.get(
        os.path.basename(path), settings.FALLBACK_CONFIG_SECTIONS
    )
    try:
        raw = _raw_settings(path, sections)
    except configparser.Error as exc:
        return f"{path}: isort cannot read it: {ini_problem(exc)}"
    except (OSError, UnicodeDecodeError, ValueError) as exc:  # tomllib's errors are ValueErrors
        return f"{path}: isort cannot read it: {_one_line(exc)}"
    for key, value in raw.items():
        problem = _value_problem(key, value)
        if problem:
            return f"{path}: isort setting {key} = {value!r}: {problem}"
    try:
        settings._get_config_data(path, sections)
    except Exception as exc:
        return f"{path}: isort cannot read its settings: {_one_line(exc)}"
    return f"{path}: isort cannot read its settings"


def _raw_settings(path: str, sections: tuple[str, ...]) -> dict[str, object]:
    """The settings isort's sections of ``path`` hold, before isort converts them."""
    found: dict[str, object] = {}
    if path.endswith(".toml"):
        if sys.version_info >= (3, 11):
            import tomllib
        else:  # pragma: no cover
            import tomli as tomllib  # type: ignore[import-not-found,unused-ignore]

        with open(path, "rb") as handle:
            data = tomllib.load(handle)
        for section in sections:
            table: Any = data
            for key in section.split("."):
                table = table.get(key, {}) if isinstance(table, dict) else {}
            if isinstance(table, dict):
                found.update(table)
        return found
    parser = configparser.ConfigParser(strict=False)
    with open(path, encoding="utf-8") as handle:
        if path.endswith(".editorconfig"):
            return found  # isort reads only a few keys there, leniently
        parser.read_file(handle)
    for section in sections:
        if parser.has_section(section):
            found.update(parser.items(section))
    return found


def _value_problem(key: str, value: object) -> str:
    """Why isort cannot convert ``value`` for ``key`` ("" if it can): its own conversion."""
    from isort import settings

    convert: Callable[[object], object] = settings._get_str_to_type_converter(key)
    try:
        if convert in (tuple, frozenset) or key.startswith(settings.KNOWN_PREFIX):
            settings._as_list(value)
        elif convert is bool:
            if not isinstance(value, bool):
                settings._as_bool(value)
        elif key not in ("force_grid_wrap", "comment_prefix"):
            convert(value)
    except (TypeError, ValueError, AttributeError, KeyError) as exc:
        return _one_line(exc)
    return ""


# --- autoflake ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class AutoflakeSettings:
    """What ``autoflake.fix_code`` is called with, and autoflake's ``exclude`` patterns."""

    options: dict[str, Any]
    imports: list[str] | None
    exclude: frozenset[str]


def autoflake_settings(root: Path) -> AutoflakeSettings:
    """autoflake's settings for ``root``: our documented flags, then its configuration."""
    import autoflake

    args = {"files": [str(root)]}
    try:
        raw = autoflake.find_and_process_config(args) or {}
        merged, ok = autoflake.merge_configuration_file(args)
    except configparser.Error as exc:
        where = getattr(exc, "source", None) or "setup.cfg"
        raise ConfigError(f"{where}: autoflake cannot read it: {ini_problem(exc)}") from None
    except (OSError, UnicodeDecodeError, ValueError) as exc:
        raise ConfigError(f"autoflake cannot read its settings: {_one_line(exc)}") from None
    if not ok:
        raise ConfigError("[tool.autoflake]: invalid configuration (see autoflake's message)")
    given = {str(k).replace("-", "_") for k in raw}
    options = {name: merged[name] for name in _AUTOFLAKE_BOOLS}
    for name, default in _AUTOFLAKE_DEFAULTS.items():
        if name not in given:  # our defaults are the documented command's flags
            options[name] = default
    return AutoflakeSettings(
        options,
        merged["imports"].split(",") if "imports" in merged else None,
        frozenset(part.strip() for part in merged.get("exclude", "").split(",") if part.strip()),
    )


# --- shared ------------------------------------------------------------------------------------


def ini_problem(exc: configparser.Error) -> str:
    """Where and why an INI file does not parse, on one line."""
    if isinstance(exc, configparser.MissingSectionHeaderError):
        return f"line {exc.lineno}: {exc.line.strip()!r} comes before any [section] header"
    if isinstance(exc, configparser.ParsingError) and exc.errors:
        lineno, line = exc.errors[0]
        return f"line {lineno}: cannot parse {line.strip()!r}"
    return _one_line(exc)


def _one_line(exc: object) -> str:
    return " ".join(str(exc).split()) or type(exc).__name__
