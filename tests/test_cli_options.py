"""The command line's own machinery: flags generated from config.FIELDS, lazily loaded subcommands."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import click
import pytest
from click.testing import CliRunner

from routine_workflow.cli.lazy import Lazy, LazyGroup
from routine_workflow.cli.main import PROG, SUBCOMMANDS, cli
from routine_workflow.cli.options import FLAG_FIELDS, flag_values
from routine_workflow.config import FIELDS


def _parse(args: list[str]) -> dict[str, object]:
    """The flags ``load_config`` would get for ``routine-workflow ARGS steps``."""
    ctx = cli.make_context(PROG, [*args, "steps"])
    return flag_values(ctx.params)


def test_every_setting_with_a_flag_is_an_option_with_its_help() -> None:
    options = {p.name: p for p in cli.params if isinstance(p, click.Option)}
    assert [f.name for f in FLAG_FIELDS] == [f.name for f in FIELDS if f.flag]
    for spec in FLAG_FIELDS:
        option = options[spec.name]
        assert spec.flag in option.opts and option.help == spec.help
        assert (spec.short in option.opts) if spec.short else len(option.opts) == 1


def test_no_flag_given_means_every_setting_is_left_to_lower_layers() -> None:
    assert set(_parse([]).values()) == {None}


def test_flags_keep_their_original_spellings_and_values(tmp_path: Path) -> None:
    flags = _parse(
        [
            *("--exclude-patterns", "a, b", "--exclude-patterns", "c"),
            *("--no-fail-on-backup", "-y", "-n", "-w", "3"),
            *("--workflow-timeout", "2.5", "--parallel-steps", "2", "--log-format", "json"),
            *("--create-dump-run-cmd", "make dump", "--log-dir", "logs"),
            *("--project-root", str(tmp_path)),
        ]
    )
    assert flags["exclude_patterns"] == ["a", "b", "c"]
    assert flags["fail_on_backup"] is False and flags["auto_yes"] is True
    assert flags["dry_run"] is True and flags["max_workers"] == 3
    assert flags["workflow_timeout"] == 2.5 and flags["parallel_steps"] == 2
    assert flags["log_format"] == "json" and flags["create_dump_run_cmd"] == "make dump"
    assert flags["log_dir"] == Path("logs") and flags["project_root"] == tmp_path
    assert _parse(["--fail-on-backup", "--exclude-patterns", ","])["fail_on_backup"] is True
    assert _parse(["--exclude-patterns", ","])["exclude_patterns"] is None


def test_several_project_roots_are_a_fleet_not_a_setting() -> None:
    ctx = cli.make_context(PROG, ["--project-root", "a", "--project-root", "b"])
    assert ctx.params["project_root"] == (Path("a"), Path("b"))
    assert flag_values(ctx.params)["project_root"] is None


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_lazy_short_help_is_the_commands_own(name: str) -> None:
    command = cli.commands[name]
    stand_in = click.Command(name, help=SUBCOMMANDS[name].short_help)
    for limit in range(10, 130):
        assert stand_in.get_short_help_str(limit) == command.get_short_help_str(limit)


@pytest.mark.parametrize("name", sorted(SUBCOMMANDS))
def test_every_subcommand_loads_and_has_help(name: str) -> None:
    result = CliRunner().invoke(cli, [name, "--help"])
    assert result.exit_code == 0, result.output
    assert cli.commands[name].name == name


def test_help_and_version_import_no_subcommand_and_no_engine() -> None:
    code = (
        "import sys, json\n"
        "from click.testing import CliRunner\n"
        "from routine_workflow.cli.main import cli\n"
        "for args in (['--help'], ['--version']):\n"
        "    assert CliRunner().invoke(cli, args).exit_code == 0\n"
        "print(json.dumps(sorted(m for m in sys.modules if m.startswith('routine_workflow.'))))\n"
    )
    loaded = json.loads(subprocess.check_output([sys.executable, "-c", code], text=True))
    lazy = {entry.import_path.rsplit(".", 1)[0] for entry in SUBCOMMANDS.values()}
    assert not lazy & set(loaded)
    assert not [
        m for m in loaded if m.startswith(("routine_workflow.workflow", "routine_workflow.steps"))
    ]


def test_a_lazy_group_lists_eager_and_lazy_commands_and_rejects_non_commands() -> None:
    @click.command("eager")
    def eager() -> None:
        """Runs at once."""

    group = LazyGroup(
        "g",
        commands=[eager],
        lazy_subcommands={"bad": Lazy("routine_workflow.cli.main.PROG", "Not a command.")},
    )
    assert sorted(group.commands) == group.list_commands(click.Context(group)) == ["bad", "eager"]
    assert "bad" in group.commands and len(group.commands) == 2
    with pytest.raises(TypeError, match="not a click command"):
        group.commands["bad"]
    del group.commands["bad"]
    assert "bad" not in group.commands and list(group.commands) == ["eager"]
