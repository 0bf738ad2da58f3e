"""The workflow engine: command steps from pyproject, DAG, retries, timeouts, hooks, resume."""

from __future__ import annotations

import json
import os
import signal
import sys
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import psutil
import pytest
from helpers import kill_all, popen_cli, run_cli, wait_for

BUILTINS_OFF = "".join(
    f"[tool.routine-workflow.steps.{name}]\nenabled = false\n"
    for name in ("prune_dumps", "backup", "reformat", "clean_caches", "dumps")
)
PLUGIN_SRC = Path(__file__).resolve().parents[1] / "examples" / "rw-plugin-example" / "src"


def _configure(project: Path, steps: str, settings: str = "") -> None:
    (project / "pyproject.toml").write_text(
        f"[tool.routine-workflow]\n{settings}\n{BUILTINS_OFF}{steps}"
    )


def _report(result) -> dict:
    assert result.stdout, result.stderr
    return json.loads(result.stdout)


def test_six_steps_diamond_flaky_timeout_allowed_failure(project: Path) -> None:
    _configure(
        project,
        """
[tool.routine-workflow.steps.a]
run = "sh -c 'echo a >> order'"
[tool.routine-workflow.steps.b]
run = "sh -c 'echo b >> order; n=$(cat count 2>/dev/null || echo 0); n=$((n+1)); echo $n > count; [ $n -ge 3 ]'"
depends_on = ["a"]
retries = 2
retry_delay = 0.05
[tool.routine-workflow.steps.c]
run = "sh -c 'echo c >> order; exit 4'"
depends_on = ["a"]
allow_failure = true
[tool.routine-workflow.steps.d]
run = ["sh", "-c", "echo d >> order"]
depends_on = ["b", "c"]
[tool.routine-workflow.steps.slow]
run = "sh -c 'sleep 60 & echo $! > child.pid; wait'"
timeout = 1
[tool.routine-workflow.steps.after_slow]
run = "sh -c 'echo after_slow >> order'"
depends_on = ["slow"]
""",
    )
    result = run_cli(["--yes", "--json"], project)
    assert result.returncode == 1, result.stderr
    steps = {s["name"]: s for s in _report(result)["steps"]}
    assert list(steps) == ["a", "b", "c", "d", "slow", "after_slow"]
    assert {n: s["status"] for n, s in steps.items()} == {
        "a": "ok",
        "b": "ok",
        "c": "failed",
        "d": "ok",
        "slow": "failed",
        "after_slow": "skipped",
    }
    assert steps["b"]["counts"]["attempts"] == 3
    assert steps["b"]["summary"] == "succeeded on attempt 3"
    assert len(steps["b"]["details"]) == 2  # the two failed attempts are recorded
    assert steps["c"]["allowed_failure"] is True
    assert "timed out after 1s" in steps["slow"]["summary"]
    assert "slow failed" in steps["after_slow"]["summary"]
    assert (project / "order").read_text().split() == ["a", "b", "b", "b", "c", "d"]
    child = int((project / "child.pid").read_text())
    assert not psutil.pid_exists(child) or psutil.Process(child).status() == psutil.STATUS_ZOMBIE


def test_cycle_is_exit_2_naming_it(project: Path) -> None:
    _configure(
        project,
        """
[tool.routine-workflow.steps.x]
run = "true"
depends_on = ["y"]
[tool.routine-workflow.steps.y]
run = "true"
depends_on = ["x"]
""",
    )
    for args in (["--yes"], ["steps"], ["config", "check"]):
        result = run_cli(args, project)
        assert result.returncode == 2
        assert "cycle: x -> y -> x" in result.stderr
        assert len(result.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("table", "message"),
    [
        (
            '[tool.routine-workflow.steps.x]\nrun = "true"\ndepends_on = ["nope"]',
            "depends on unknown step 'nope'",
        ),
        ("[tool.routine-workflow.steps.x]\nrun = 5", "run: invalid value 5"),
        (
            '[tool.routine-workflow.steps.x]\nrun = "true"\nretries = -1',
            "retries: invalid value -1",
        ),
        (
            '[tool.routine-workflow.steps.x]\nrun = "true"\ntimeout = "soon"',
            "timeout: invalid value 'soon'",
        ),
        (
            '[tool.routine-workflow.steps.x]\nrun = "true"\ncwd = "../elsewhere"',
            "not a directory inside the project",
        ),
        ('[tool.routine-workflow.steps.x]\nrun = "true"\ncolour = 1', "unknown key 'colour'"),
        (
            '[tool.routine-workflow.steps.x]\nrun = "true"\nwhen = {always = true}',
            "when: unknown key 'always'",
        ),
        ("[tool.routine-workflow.steps.x]\ndepends_on = []", "no 'run' command is given"),
        (
            "[tool.routine-workflow.steps.reformat]\nretries = 3",
            "unknown key 'retries' for a built-in step",
        ),
    ],
)
def test_bad_step_tables_exit_2(project: Path, table: str, message: str) -> None:
    (project / "pyproject.toml").write_text(table + "\n")
    result = run_cli(["--dry-run"], project)
    assert result.returncode == 2, result.stderr
    assert message in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1


def test_kill_9_mid_step_3_then_resume_skips_steps_1_and_2(project: Path, tmp_path: Path) -> None:
    marker = tmp_path / "s3-started"
    # s3 hangs the first time (after saying so) and succeeds when run again.
    s3 = f"if [ -e again ]; then echo s3 >> log; else touch again {marker}; sleep 60; fi"
    tables = {f"s{i}": f"echo s{i} >> log" for i in range(1, 6)}
    tables["s3"] = s3
    _configure(
        project,
        "".join(
            f'[tool.routine-workflow.steps.{name}]\nrun = ["sh", "-c", "{cmd}"]\n'
            for name, cmd in tables.items()
        ),
    )
    proc = popen_cli(["--yes"], project)
    wait_for(marker)
    children = psutil.Process(proc.pid).children(recursive=True)
    proc.send_signal(signal.SIGKILL)
    proc.communicate()
    kill_all(children)
    assert (project / "log").read_text().split() == ["s1", "s2"]
    resumed = run_cli(["--yes", "--resume", "--json"], project)
    assert resumed.returncode == 0, resumed.stderr
    assert "resuming run" in resumed.stderr
    assert [s["name"] for s in _report(resumed)["steps"]] == ["s3", "s4", "s5"]
    assert (project / "log").read_text().split() == ["s1", "s2", "s3", "s4", "s5"]
    again = run_cli(["--yes", "--resume"], project)
    assert again.returncode == 0 and "nothing to resume" in again.stdout


class _Collector(BaseHTTPRequestHandler):
    bodies: list[bytes] = []

    def do_POST(self) -> None:
        length = int(self.headers["Content-Length"])
        type(self).bodies.append(self.rfile.read(length))
        self.send_response(204)
        self.end_headers()

    def log_message(self, *args: object) -> None:
        pass


def test_webhook_gets_one_report_per_run_and_hooks_run(project: Path) -> None:
    _Collector.bodies = []
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Collector)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/hook"
        _configure(
            project,
            '[tool.routine-workflow.steps.ok]\nrun = "true"\n',
            f'notify_url = "{url}"\n'
            "on_success = \"sh -c 'echo $ROUTINE_WORKFLOW_STATUS > success.out'\"\n"
            "on_failure = \"sh -c 'echo $ROUTINE_WORKFLOW_EXIT_CODE > failure.out'\"\n",
        )
        first = run_cli(["--yes", "--json"], project)
        assert first.returncode == 0, first.stderr
        (project / "pyproject.toml").write_text(
            (project / "pyproject.toml").read_text().replace('run = "true"', 'run = "false"')
        )
        second = run_cli(["--yes", "--json"], project)
        assert second.returncode == 1
    finally:
        server.shutdown()
    reports = [json.loads(b) for b in _Collector.bodies]
    assert [r["run_id"] for r in reports] == [_report(first)["run_id"], _report(second)["run_id"]]
    assert [r["exit_code"] for r in reports] == [0, 1]
    assert reports[0]["steps"][0]["name"] == "ok"
    assert (project / "success.out").read_text().strip() == "ok"
    assert (project / "failure.out").read_text().strip() == "1"


def test_unreachable_webhook_never_fails_the_run(project: Path) -> None:
    _configure(
        project,
        '[tool.routine-workflow.steps.ok]\nrun = "true"\n',
        'notify_url = "http://127.0.0.1:9/nothing-listens-here"\non_success = "false"\n',
    )
    result = run_cli(["--yes"], project)
    assert result.returncode == 0
    assert "could not notify" in result.stderr
    assert "hook 'false' failed" in result.stderr


def _barrier_step(name: str, other: str) -> str:
    # Each step waits (up to $BARRIER_TRIES * 0.03s) for the other to have started.
    script = (
        f"touch {name}.started; i=0; while [ ! -e {other}.started ]; do "
        "i=$((i+1)); [ $i -gt $BARRIER_TRIES ] && exit 1; sleep 0.03; done"
    )
    return f"[tool.routine-workflow.steps.{name}]\nrun = \"sh -c '{script}'\"\n"


def test_parallel_steps_really_overlap(project: Path) -> None:
    _configure(project, _barrier_step("p1", "p2") + _barrier_step("p2", "p1"))
    # In parallel the second step may start seconds after the first on a loaded machine:
    # wait half a minute or more for it (the barrier returns as soon as both have started).
    parallel = run_cli(
        ["--yes", "--json", "--parallel-steps", "2"],
        project,
        env={"BARRIER_TRIES": "1000"},
        timeout=180,
    )
    assert parallel.returncode == 0, parallel.stdout
    assert [s["status"] for s in _report(parallel)["steps"]] == ["ok", "ok"]
    for name in ("p1", "p2"):
        (project / f"{name}.started").unlink()
    # In sequence p2 can never start while p1 waits, however long p1 waits: a short
    # wait proves the same thing without slowing the test.
    sequential = run_cli(["--yes", "--json"], project, env={"BARRIER_TRIES": "30"})
    assert [s["status"] for s in _report(sequential)["steps"]] == ["failed", "ok"]


def test_when_env_and_when_changed(project: Path) -> None:
    (project / "docs").mkdir()
    (project / "docs" / "index.md").write_text("hello")
    old = 1_000_000_000
    os.utime(project / "docs" / "index.md", (old, old))
    _configure(
        project,
        """
[tool.routine-workflow.steps.docs]
run = "sh -c 'echo built >> docs.log'"
when = {changed = ["docs/"]}
[tool.routine-workflow.steps.deploy]
run = "true"
when = {env = "DEPLOY_NOW"}
""",
    )
    first = _report(run_cli(["--yes", "--json"], project))
    assert [s["status"] for s in first["steps"]] == ["ok", "skipped"]
    assert "$DEPLOY_NOW is not set" in first["steps"][1]["summary"]
    second = _report(run_cli(["--yes", "--json"], project, env={"DEPLOY_NOW": "1"}))
    assert [s["status"] for s in second["steps"]] == ["skipped", "ok"]
    assert "nothing matching docs/ changed" in second["steps"][0]["summary"]
    (project / "docs" / "index.md").write_text("changed")
    third = _report(run_cli(["--yes", "--json"], project))
    assert third["steps"][0]["status"] == "ok"
    assert (project / "docs.log").read_text().split() == ["built", "built"]


def _plugin_env(tmp_path: Path) -> dict[str, str]:
    """Make the example plugin discoverable through a real dist-info, without installing it."""
    site = tmp_path / "site"
    info = site / "rw_plugin_example-0.1.0.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(
        "Metadata-Version: 2.1\nName: rw-plugin-example\nVersion: 0.1.0\n"
    )
    (info / "entry_points.txt").write_text(
        "[routine_workflow.steps]\ntodo_count = rw_plugin_example:TodoCount\n"
    )
    path = os.pathsep.join([str(site), str(PLUGIN_SRC), os.environ.get("PYTHONPATH", "")])
    return {"PYTHONPATH": path.rstrip(os.pathsep)}


def test_plugin_step_runs_only_when_asked(project: Path, tmp_path: Path) -> None:
    env = _plugin_env(tmp_path)
    (project / "a.py").write_text("# TODO one\n# TODO two\n")
    listed = run_cli(["steps", "--json"], project, env=env)
    assert "todo_count" not in [s["name"] for s in json.loads(listed.stdout)]
    result = run_cli(["--yes", "--json", "--steps", "todo_count"], project, env=env)
    assert result.returncode == 0, result.stderr
    (step,) = _report(result)["steps"]
    assert (step["name"], step["summary"]) == ("todo_count", "2 TODO comment(s)")


def test_in_process_step_timeout_fails_only_that_step(project: Path, tmp_path: Path) -> None:
    env = {**_plugin_env(tmp_path), "TODO_COUNT_SLEEP": "60"}
    _configure(
        project,
        "[tool.routine-workflow.steps.todo_count]\ntimeout = 1\n"
        '[tool.routine-workflow.steps.after]\nrun = "true"\n',
    )
    result = run_cli(["--yes", "--json"], project, env=env)
    assert result.returncode == 1
    steps = {s["name"]: s for s in _report(result)["steps"]}
    assert steps["todo_count"]["status"] == "failed"
    assert steps["todo_count"]["summary"] == "timed out after 1s"
    assert steps["after"]["status"] == "ok"


def test_broken_plugin_is_a_config_error(project: Path, tmp_path: Path) -> None:
    env = _plugin_env(tmp_path)
    ep = tmp_path / "site" / "rw_plugin_example-0.1.0.dist-info" / "entry_points.txt"
    ep.write_text("[routine_workflow.steps]\nbroken = no_such_module:Step\n")
    assert run_cli(["--dry-run"], project, env=env).returncode == 0  # not asked for: not loaded
    result = run_cli(["--dry-run", "--steps", "broken"], project, env=env)
    assert result.returncode == 2
    assert "plugin step 'broken'" in result.stderr and "No module named" in result.stderr


def test_builtin_overrides_and_graphs(project: Path) -> None:
    (project / "pyproject.toml").write_text(
        "[tool.routine-workflow.steps.dumps]\nenabled = false\n"
        '[tool.routine-workflow.steps.prune_dumps]\ndepends_on = ["backup"]\n'
        '[tool.routine-workflow.steps.lint]\nrun = "true"\ndepends_on = ["reformat"]\n'
    )
    names = [s["name"] for s in json.loads(run_cli(["steps", "--json"], project).stdout)]
    assert names == ["backup", "prune_dumps", "reformat", "clean_caches", "lint"]
    dot = run_cli(["steps", "--graph", "dot"], project).stdout
    assert '"backup" -> "prune_dumps";' in dot and '"reformat" -> "lint";' in dot
    mermaid = run_cli(["steps", "--graph", "mermaid"], project).stdout
    assert mermaid.startswith("graph LR") and "s_reformat --> s_lint" in mermaid
    graph = json.loads(run_cli(["steps", "--graph", "json"], project).stdout)
    assert ["reformat", "lint"] in graph["edges"]


def test_step_events_in_json_logs(project: Path) -> None:
    _configure(
        project, '[tool.routine-workflow.steps.x]\nrun = "false"\nretries = 1\nretry_delay = 0\n'
    )
    result = run_cli(["--yes", "--log-format", "json", "-v"], project)
    events = [json.loads(line) for line in result.stderr.splitlines()]
    kinds = [(e["event"], e.get("step")) for e in events if e.get("step") == "x"]
    assert ("step_start", "x") in kinds and ("step_end", "x") in kinds
    assert [e["attempt"] for e in events if e["event"] == "step_attempt"] == [1, 2]
    assert len({e["run_id"] for e in events}) == 1
    assert sys.executable  # keep the import used on all platforms


def test_when_changed_holds_with_parallel_steps(project: Path) -> None:
    # The README's own example: parallel_steps = 2 beside a `when = { changed = ... }` step.
    (project / "docs").mkdir()
    (project / "docs" / "index.md").write_text("hello")
    old = 1_000_000_000
    os.utime(project / "docs" / "index.md", (old, old))
    _configure(
        project,
        """
[tool.routine-workflow.steps.docs]
run = "sh -c 'echo built >> docs.log'"
when = {changed = ["docs/"]}
[tool.routine-workflow.steps.other]
run = "true"
""",
        "parallel_steps = 2",
    )
    first = _report(run_cli(["--yes", "--json"], project))
    assert [s["status"] for s in first["steps"]] == ["ok", "ok"]
    second = run_cli(["--yes", "--json"], project)
    assert [s["status"] for s in _report(second)["steps"]] == ["skipped", "ok"], second.stderr
    assert (project / "docs.log").read_text().split() == ["built"]


def test_unreadable_history_is_a_warning_not_silence(project: Path) -> None:
    # A history whose steps table lacks a column: the run goes on, the `when` step runs
    # (nothing can tell it is up to date), and the log says why.
    import sqlite3

    db = Path(os.environ["ROUTINE_WORKFLOW_HOME"]) / "state" / "history.sqlite3"
    db.parent.mkdir(parents=True)
    with sqlite3.connect(db) as conn:
        conn.execute("CREATE TABLE steps (run_id TEXT, position INTEGER)")
    conn.close()
    _configure(
        project,
        '[tool.routine-workflow.steps.docs]\nrun = "true"\nwhen = {changed = ["docs/"]}\n',
    )
    result = run_cli(["--yes", "--json"], project)
    assert [s["status"] for s in _report(result)["steps"]] == ["ok"]
    assert "cannot tell what changed" in result.stderr, result.stderr
