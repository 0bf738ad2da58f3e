"""``workflow.plan``: built-in, command and plugin steps assembled from the project's tables."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from routine_workflow.config import WorkflowConfig, load_config
from routine_workflow.errors import ConfigError
from routine_workflow.steps import BUILTIN_ORDER
from routine_workflow.steps.base import RunRules
from routine_workflow.steps.command import CommandStep, When
from routine_workflow.workflow.plan import Configured, all_steps, command_step, load_plugins

STEPS = "[tool.routine-workflow.steps"


def _config(project: Path, steps_toml: str = "") -> WorkflowConfig:
    (project / "pyproject.toml").write_text('[project]\nname = "demo"\n\n' + steps_toml)
    return load_config({"project_root": project}, env={})


def _names(config: WorkflowConfig, selected: tuple[str, ...] = ()) -> list[str]:
    return [s.name for s in all_steps(config, selected)]


def test_without_tables_the_plan_is_the_built_ins_in_order(project: Path) -> None:
    assert _names(_config(project)) == list(BUILTIN_ORDER)


def test_tables_disable_override_and_add_steps_in_declared_order(project: Path) -> None:
    config = _config(
        project,
        f"{STEPS}.backup]\nenabled = false\n\n"
        f'{STEPS}.dumps]\ndepends_on = "reformat"\ntimeout = 30\n\n'
        f'{STEPS}.lint]\nrun = "ruff check \\"my dir\\""\ndepends_on = ["reformat"]\n\n'
        f'{STEPS}.off]\nrun = "true"\nenabled = false\n',
    )
    steps = {s.name: s for s in all_steps(config)}
    assert list(steps) == ["prune_dumps", "reformat", "clean_caches", "dumps", "lint"]
    dumps = steps["dumps"]
    assert isinstance(dumps, Configured)
    assert (dumps.depends_on, dumps.timeout) == (("reformat",), 30.0)
    assert dumps.description == dumps.inner.description and dumps.critical == dumps.inner.critical
    lint = steps["lint"]
    assert isinstance(lint, CommandStep)
    assert lint.argv == ("ruff", "check", "my dir") and lint.depends_on == ("reformat",)
    assert lint.timeout == config.script_timeout  # the scripts' default


def test_a_built_in_without_overrides_is_not_wrapped(project: Path) -> None:
    config = _config(project, f"{STEPS}.backup]\nenabled = true\n")
    backup = next(s for s in all_steps(config) if s.name == "backup")
    assert not isinstance(backup, Configured)


@pytest.mark.parametrize(
    ("toml", "message"),
    [
        (
            f'{STEPS}.backup]\nrun = "x"\n',
            "[tool.routine-workflow.steps.backup]: unknown key 'run' for a built-in step "
            "(allowed: depends_on, enabled, timeout)",
        ),
        (
            f"{STEPS}.nothing]\ntimeout = 3\n",
            "[tool.routine-workflow.steps.nothing]: not a built-in or plugin step, and no "
            "'run' command is given",
        ),
        (f"{STEPS}]\nlint = 3\n", "[tool.routine-workflow.steps] lint: must be a table"),
        (
            f"{STEPS}.dumps]\ntimeout = true\n",
            "[tool.routine-workflow.steps.dumps] timeout: invalid value True: expected a number",
        ),
        (
            f"{STEPS}.dumps]\nenabled = 1\n",
            "[tool.routine-workflow.steps.dumps] enabled: invalid value 1: expected true or false",
        ),
        (
            f"{STEPS}.dumps]\ndepends_on = [1]\n",
            "[tool.routine-workflow.steps.dumps] depends_on: invalid value [1]: "
            "expected a list of strings",
        ),
    ],
)
def test_bad_tables_are_config_errors_naming_table_key_and_value(
    project: Path, toml: str, message: str
) -> None:
    config = _config(project, toml)
    with pytest.raises(ConfigError, match=re.escape(message)):
        all_steps(config)


def test_command_step_reads_every_key(project: Path) -> None:
    (project / "sub").mkdir()
    step = command_step(
        _config(project),
        "deploy",
        {
            "run": ["./go", "--fast"],
            "cwd": "sub",
            "env": {"MODE": "ci"},
            "timeout": 5,
            "retries": 2,
            "retry_delay": 0.5,
            "allow_failure": True,
            "when": {"changed": "src/**", "env": "CI"},
        },
    )
    assert step == CommandStep(
        name="deploy",
        argv=("./go", "--fast"),
        cwd=project.resolve() / "sub",
        env={"MODE": "ci"},
        timeout=5.0,
        retries=2,
        retry_delay=0.5,
        allow_failure=True,
        when=When(changed=("src/**",), env="CI"),
    )


def test_a_shell_command_stays_one_string(project: Path) -> None:
    step = command_step(_config(project), "s", {"run": "echo a | tr a b", "shell": True})
    assert step.argv == ("echo a | tr a b",) and step.shell


@pytest.mark.parametrize(
    ("table", "message"),
    [
        ({"run": []}, " run: invalid value []: expected a command string or a non-empty list"),
        ({"run": "   "}, " run: the command is empty"),
        ({"run": ["a", "b"], "shell": True}, " run: with shell = true, give one string"),
        ({"run": "x", "retries": -1}, " retries: invalid value -1: must be at least 0"),
        ({"run": "x", "retries": 1.5}, " retries: invalid value 1.5: expected an integer"),
        ({"run": "x", "cwd": ".."}, " cwd: '..' is not a directory inside the project"),
        ({"run": "x", "cwd": "missing"}, " cwd: 'missing' is not a directory inside the project"),
        ({"run": "x", "env": {"A": 1}}, " env: values must be strings"),
        ({"run": "x", "when": {"branch": "main"}}, " when: unknown key 'branch'"),
        ({"run": "x", "when": {"env": 3}}, " when.env: expected a variable name"),
        ({"run": "x", "shel": True}, ": unknown key 'shel' for a command step"),
    ],
)
def test_command_step_rejects_bad_values_with_the_step_and_key(
    project: Path, table: dict[str, object], message: str
) -> None:
    with pytest.raises(ConfigError, match=re.escape("[tool.routine-workflow.steps.c]" + message)):
        command_step(_config(project), "c", table)


PLUGIN_MODULE = '''
from routine_workflow.steps.base import Status, StepResult


class Counted:
    """A step class: the plan calls it with the configuration."""

    name = "counted"
    description = "counts"
    depends_on = ()
    critical = False

    def __init__(self, config):
        self.root = config.project_root

    def run(self, ctx):
        return StepResult(Status.OK)


class Lenient(Counted):
    """A step with its own run rules."""

    name = "lenient"
    timeout = 7.0
    allow_failure = True
    runs_in_thread = True


def not_a_step(config):
    return "a string"


def broken(config):
    raise RuntimeError("cannot start")
'''


def _install_plugin(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, entry_points: dict[str, str]
) -> None:
    """A real distribution on sys.path offering ``entry_points`` (name -> attribute)."""
    site = tmp_path / "site"
    module = "plug_" + re.sub(r"\W", "_", tmp_path.name)  # a fresh module for each test
    info = site / f"{module}-1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {module}\nVersion: 1.0\n")
    lines = [f"{name} = {module}:{attr}" for name, attr in entry_points.items()]
    (info / "entry_points.txt").write_text("[routine_workflow.steps]\n" + "\n".join(lines) + "\n")
    (site / f"{module}.py").write_text(PLUGIN_MODULE)
    monkeypatch.syspath_prepend(str(site))


def test_a_plugin_runs_only_where_a_table_or_the_selection_names_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(tmp_path, monkeypatch, {"counted": "Counted"})
    config = _config(project)
    assert "counted" in load_plugins(config)
    assert "counted" not in _names(config)
    assert _names(config, ("counted",))[-1] == "counted"
    named = _config(project, f'{STEPS}.counted]\ndepends_on = ["dumps"]\n')
    [counted] = [s for s in all_steps(named) if s.name == "counted"]
    assert counted.depends_on == ("dumps",)
    assert isinstance(counted, Configured) and counted.inner.root == project.resolve()


def test_a_table_for_a_plugin_keeps_the_plugins_own_run_rules(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(tmp_path, monkeypatch, {"lenient": "Lenient"})
    named = _config(project, f'{STEPS}.lenient]\ndepends_on = ["dumps"]\n')
    [lenient] = [s for s in all_steps(named) if s.name == "lenient"]
    assert lenient.depends_on == ("dumps",)
    assert RunRules.of(lenient) == RunRules(timeout=7.0, allow_failure=True, runs_in_thread=True)
    timed = _config(project, f"{STEPS}.lenient]\ntimeout = 3\n")
    [lenient] = [s for s in all_steps(timed) if s.name == "lenient"]
    assert RunRules.of(lenient) == RunRules(timeout=3.0, allow_failure=True, runs_in_thread=True)


def test_a_command_step_may_not_take_a_plugins_name(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    _install_plugin(tmp_path, monkeypatch, {"counted": "Counted"})
    # Plugins are only looked for when a table (here: other) names an unknown step.
    config = _config(project, f'{STEPS}.counted]\nrun = "true"\n\n{STEPS}.other]\nenabled = true\n')
    with pytest.raises(ConfigError, match="a plugin step has this name; rename the command step"):
        all_steps(config)


@pytest.mark.parametrize(
    ("attr", "message"),
    [
        (
            "broken",
            r"plugin step 'bad' \(plug_\w+:broken\) failed to load: RuntimeError: cannot start",
        ),
        ("missing", r"plugin step 'bad' \(plug_\w+:missing\) failed to load: AttributeError"),
        ("not_a_step", r"plugin step 'bad' \(plug_\w+:not_a_step\) is not a step"),
    ],
)
def test_a_broken_plugin_is_a_config_error_naming_it(
    project: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, attr: str, message: str
) -> None:
    _install_plugin(tmp_path, monkeypatch, {"bad": attr})
    with pytest.raises(ConfigError, match=message):
        load_plugins(_config(project))
