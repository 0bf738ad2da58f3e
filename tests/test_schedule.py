"""``schedule``: crontab lines and systemd timers, through the real CLI."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
from datetime import datetime, timezone
from pathlib import Path

import pytest
from helpers import run_cli, write_script

from routine_workflow.errors import ConfigError
from routine_workflow.schedule.cronexpr import CronExpr, next_runs, parse_cron, to_on_calendar

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None, reason="systemd-analyze is not installed here"
)

# A user's crontab with everything that must survive untouched: environment
# assignments, comments, blank lines, a CRLF line, another project's line,
# odd spacing, and a last line without a newline.
USER_CRONTAB = (
    b"SHELL=/bin/bash\n"
    b"MAILTO=someone@example.org\n"
    b"# m h  dom mon dow   command\n"
    b"\n"
    b"*/5 * * * *  backup.sh   >/dev/null 2>&1\r\n"
    b"0 3 * * * routine-workflow --yes --project-root /elsewhere # routine-workflow schedule other-0123456789ab\n"
    b"  @reboot   start-things\n"
    b"15 4 * * 1 weekly.sh # no newline after me"
)


def _ours(data: bytes) -> list[bytes]:
    return [line for line in data.splitlines() if b"routine-workflow schedule project-" in line]


def test_install_twice_gives_one_line(project: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    for _ in range(2):
        result = run_cli(
            ["schedule", "install", "--cron", "30 2 * * *", "--crontab-file", str(crontab)], project
        )
        assert result.returncode == 0, result.stderr
    assert "unchanged" in result.stdout
    lines = crontab.read_bytes().splitlines()
    assert len(lines) == 1 and len(_ours(crontab.read_bytes())) == 1
    assert lines[0].startswith(b"30 2 * * * ")
    assert b"--yes --quiet --project-root" in lines[0]


def test_reinstall_replaces_in_place_and_remove_restores_every_byte(
    project: Path, tmp_path: Path
) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_bytes(USER_CRONTAB)
    crontab.chmod(0o600)
    args = ["schedule", "install", "--crontab-file", str(crontab)]
    assert run_cli([*args, "--cron", "0 1 * * *"], project).returncode == 0
    first = crontab.read_bytes()
    # The new line goes before the unterminated last line, so that line keeps its bytes.
    assert first.endswith(b"\n15 4 * * 1 weekly.sh # no newline after me")
    assert first.startswith(USER_CRONTAB[: USER_CRONTAB.rindex(b"\n") + 1])
    result = run_cli([*args, "--cron", "@hourly"], project)
    assert result.returncode == 0 and "replaced" in result.stdout
    second = crontab.read_bytes()
    assert [line.split()[0] for line in _ours(second)] == [b"@hourly"]
    assert second.index(b"@hourly") == first.index(b"0 1 * * *")  # same place
    removed = run_cli(["schedule", "remove", "--crontab-file", str(crontab)], project)
    assert removed.returncode == 0, removed.stderr
    assert crontab.read_bytes() == USER_CRONTAB
    assert crontab.stat().st_mode & 0o777 == 0o600
    again = run_cli(["schedule", "remove", "--crontab-file", str(crontab)], project)
    assert again.returncode == 0 and "nothing removed" in again.stdout
    assert crontab.read_bytes() == USER_CRONTAB


def test_concurrent_installs_keep_every_line(tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_bytes(b"# mine\n")
    roots = [tmp_path / f"p{i}" for i in range(6)]
    procs = []
    for root in roots:
        root.mkdir()
        procs.append(
            subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "routine_workflow",
                    "schedule",
                    "install",
                    "--cron",
                    "@daily",
                    "--crontab-file",
                    str(crontab),
                ],
                cwd=root,
                stdout=subprocess.DEVNULL,
                stderr=subprocess.PIPE,
            )
        )
    assert [p.wait(120) for p in procs] == [0] * len(roots)
    lines = crontab.read_bytes().splitlines()
    assert lines[0] == b"# mine" and len(lines) == 1 + len(roots)
    assert {line.split(b" --project-root ")[1].split()[0] for line in lines[1:]} == {
        str(r).encode() for r in roots
    }


def test_appends_after_the_users_assignments(project: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_bytes(b"MAILTO=me\n0 0 * * * mine\n")
    assert (
        run_cli(
            ["schedule", "install", "--cron", "@daily", "--crontab-file", str(crontab)], project
        ).returncode
        == 0
    )
    lines = crontab.read_bytes().split(b"\n")
    assert lines[:2] == [b"MAILTO=me", b"0 0 * * * mine"] and lines[2].startswith(b"@daily ")
    assert lines[3] == b""


@pytest.mark.parametrize(
    ("expr", "why"),
    [
        ("61 * * * *", "out of range"),
        ("* * *", "expected 5 fields"),
        ("0 0 * * * 2030", "expected 5 fields"),
        ("0 0 L * *", "not plain cron syntax"),
        ("0 0 * * 5#2", "not plain cron syntax"),
        ("@reboot", "@reboot"),
        ("0 0 * foo *", "not plain cron syntax"),
    ],
)
def test_bad_expression_exits_2_with_one_line(
    project: Path, tmp_path: Path, expr: str, why: str
) -> None:
    crontab = tmp_path / "crontab"
    crontab.write_bytes(USER_CRONTAB)
    result = run_cli(
        ["schedule", "install", "--cron", expr, "--crontab-file", str(crontab)], project
    )
    assert result.returncode == 2
    assert len(result.stderr.strip().splitlines()) == 1
    assert "--cron" in result.stderr and why in result.stderr and repr(expr) in result.stderr
    assert crontab.read_bytes() == USER_CRONTAB


def test_usage_errors(project: Path) -> None:
    neither = run_cli(["schedule", "install"], project)
    assert neither.returncode == 2 and "--cron" in neither.stderr
    calendar_for_cron = run_cli(["schedule", "install", "--on-calendar", "daily"], project)
    assert calendar_for_cron.returncode == 2 and "--systemd" in calendar_for_cron.stderr


def test_show_lists_the_next_three_runs(project: Path, tmp_path: Path) -> None:
    crontab = tmp_path / "crontab"
    nothing = run_cli(["schedule", "show", "--crontab-file", str(crontab)], project)
    assert nothing.returncode == 0 and "nothing scheduled" in nothing.stdout
    run_cli(
        ["schedule", "install", "--cron", "0 12 * * *", "--crontab-file", str(crontab)], project
    )
    # "Next" is after the moment `show` ran, which is after `before` but may be before the
    # test looks at the clock again (at 12:00 sharp the first run would already be past).
    before = datetime.now().astimezone()
    result = run_cli(["schedule", "show", "--json", "--crontab-file", str(crontab)], project)
    info = json.loads(result.stdout)
    runs = [datetime.fromisoformat(t) for t in info["cron"]["next"]]
    assert len(runs) == 3 and all(t.hour == 12 and t.minute == 0 for t in runs)
    assert runs == sorted(runs) and runs[0] > before
    text = run_cli(["schedule", "show", "--crontab-file", str(crontab)], project).stdout
    assert text.count("12:00") == 3
    preview = run_cli(["schedule", "show", "--cron", "0 3 1 * mon"], project)
    assert "OnCalendar=Mon *-*-* 3:0:00; OnCalendar=*-*-1 3:0:00" in preview.stdout


def _cron_command(line: str) -> str:
    """What cron hands to /bin/sh: the line minus its time fields, ``\\%`` back to ``%``."""
    command = line.split(None, 1 if line.startswith("@") else 5)[-1]
    return command.replace("\\%", "%")


def test_the_installed_line_runs_the_workflow_like_cron(tmp_path: Path) -> None:
    project = tmp_path / "my 100% project's dir"
    project.mkdir()
    crontab = tmp_path / "crontab"
    assert (
        run_cli(
            ["schedule", "install", "--cron", "@daily", "--crontab-file", str(crontab)], project
        ).returncode
        == 0
    )
    line = crontab.read_text().splitlines()[0]
    assert "100\\%" in line  # an unescaped % would end cron's command there
    # cron's environment: no XDG variables and a minimal PATH.
    env = {k: v for k, v in os.environ.items() if not k.startswith("XDG_")}
    env["PATH"] = "/usr/bin:/bin"
    result = subprocess.run(
        ["/bin/sh", "-c", _cron_command(line)],
        cwd="/",
        env=env,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout == "" and result.stderr == ""  # --quiet: no cron mail
    history = run_cli(["history", "--json"], project)
    runs = json.loads(history.stdout)
    assert len(runs) == 1 and runs[0]["exit_code"] == 0


def test_crontab_command_is_used_without_a_file(project: Path, tmp_path: Path) -> None:
    # A stand-in for the system's crontab(1) with its interface: -l prints or says
    # "no crontab for USER" (exit 1), - installs stdin.
    store = tmp_path / "spool"
    bindir = tmp_path / "bin"
    bindir.mkdir()
    write_script(
        bindir / "crontab",
        f"""
case "$1" in
  -l) if [ -f "{store}" ]; then cat "{store}"; else echo "no crontab for tester" >&2; exit 1; fi ;;
  -) cat > "{store}" ;;
  *) exit 64 ;;
esac""",
    )
    env = {"PATH": f"{bindir}{os.pathsep}{os.environ['PATH']}"}
    result = run_cli(["schedule", "install", "--cron", "0 5 * * *"], project, env=env)
    assert result.returncode == 0, result.stderr
    assert "your crontab" in result.stdout and len(_ours(store.read_bytes())) == 1
    store.write_bytes(b"# mine\n" + store.read_bytes())
    assert run_cli(["schedule", "remove"], project, env=env).returncode == 0
    assert store.read_bytes() == b"# mine\n"
    broken = write_script(bindir / "crontab", 'echo "crontab: cannot open spool" >&2; exit 2')
    failed = run_cli(["schedule", "install", "--cron", "0 5 * * *"], project, env=env)
    assert failed.returncode == 1 and "cannot open spool" in failed.stderr
    broken.unlink()
    missing = run_cli(
        ["schedule", "install", "--cron", "0 5 * * *"], project, env={"PATH": str(bindir)}
    )
    assert missing.returncode == 1 and "--crontab-file" in missing.stderr


# --- systemd ----------------------------------------------------------------------------------


def _units(unit_dir: Path) -> dict[str, str]:
    return {p.name: p.read_text() for p in sorted(unit_dir.iterdir()) if p.is_file()}


def test_systemd_install_writes_a_persistent_timer(project: Path, tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    args = ["schedule", "install", "--systemd", "--unit-dir", str(unit_dir)]
    result = run_cli([*args, "--cron", "30 2 * * 1-5"], project)
    assert result.returncode == 0, result.stderr
    units = _units(unit_dir)
    assert sorted(units) == sorted(n for n in units if n.startswith("routine-workflow-project-"))
    timer = next(text for name, text in units.items() if name.endswith(".timer"))
    service = next(text for name, text in units.items() if name.endswith(".service"))
    assert "OnCalendar=Mon..Fri *-*-* 2:30:00" in timer and "Persistent=true" in timer
    assert "Type=oneshot" in service and "--yes --quiet --project-root" in service
    assert "systemctl --user enable --now routine-workflow-project-" in result.stdout
    assert run_cli([*args, "--cron", "30 2 * * 1-5"], project).stdout.startswith(
        "routine-workflow: unchanged"
    )
    direct = run_cli([*args, "--on-calendar", "Sat *-*-* 04:00:00"], project)
    assert direct.returncode == 0 and "replaced" in direct.stdout
    assert (
        "OnCalendar=Sat *-*-* 04:00:00"
        in _units(unit_dir)[next(n for n in units if n.endswith(".timer"))]
    )
    if shutil.which("systemd-analyze"):  # next runs of a systemd-only calendar come from systemd
        assert direct.stdout.count("Sat 20") == 3
    shown = json.loads(
        run_cli(
            ["schedule", "show", "--systemd", "--json", "--unit-dir", str(unit_dir)], project
        ).stdout
    )
    assert shown["systemd"]["calendars"] == ["Sat *-*-* 04:00:00"] and "cron" not in shown


def test_systemd_default_unit_dir_honours_xdg_config_home(
    project: Path, isolated_home: Path
) -> None:
    result = run_cli(["schedule", "install", "--systemd", "--cron", "@daily"], project)
    assert result.returncode == 0, result.stderr
    assert len(list((isolated_home / "config" / "systemd" / "user").glob("*.timer"))) == 1


def test_systemd_remove_deletes_only_ours(project: Path, tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    (unit_dir / "timers.target.wants").mkdir(parents=True)
    (unit_dir / "other.service").write_text("[Service]\nExecStart=/bin/true\n")
    run_cli(
        ["schedule", "install", "--systemd", "--cron", "@daily", "--unit-dir", str(unit_dir)],
        project,
    )
    timer = next(unit_dir.glob("routine-workflow-*.timer"))
    (unit_dir / "timers.target.wants" / timer.name).symlink_to(timer)  # what `enable` does
    result = run_cli(["schedule", "remove", "--systemd", "--unit-dir", str(unit_dir)], project)
    assert result.returncode == 0, result.stderr
    assert "systemctl --user stop" in result.stdout
    assert sorted(p.name for p in unit_dir.rglob("*")) == ["other.service", "timers.target.wants"]
    again = run_cli(["schedule", "remove", "--systemd", "--unit-dir", str(unit_dir)], project)
    assert "nothing removed" in again.stdout


def test_systemd_never_overwrites_a_foreign_unit(project: Path, tmp_path: Path) -> None:
    unit_dir = tmp_path / "units"
    run_cli(
        ["schedule", "install", "--systemd", "--cron", "@daily", "--unit-dir", str(unit_dir)],
        project,
    )
    service = next(unit_dir.glob("*.service"))
    service.write_text("[Service]\nExecStart=/bin/true\n")
    result = run_cli(
        ["schedule", "install", "--systemd", "--cron", "@hourly", "--unit-dir", str(unit_dir)],
        project,
    )
    assert result.returncode == 1 and "not written by routine-workflow" in result.stderr
    assert service.read_text() == "[Service]\nExecStart=/bin/true\n"
    removed = run_cli(["schedule", "remove", "--systemd", "--unit-dir", str(unit_dir)], project)
    assert removed.returncode == 1 and service.exists()


@needs_systemd_analyze
@pytest.mark.parametrize(
    "expr", ["30 2 * * 1-5", "0 0 1,15 * sun", "*/10 8-18 * jan-jun *", "@monthly"]
)
def test_generated_units_pass_systemd_analyze_verify(tmp_path: Path, expr: str) -> None:
    project = tmp_path / "odd $HOME %n dir"
    project.mkdir()
    unit_dir = tmp_path / "units"
    result = run_cli(
        ["schedule", "install", "--systemd", "--cron", expr, "--unit-dir", str(unit_dir)], project
    )
    assert result.returncode == 0, result.stderr
    files = sorted(str(p) for p in unit_dir.iterdir())
    verify = subprocess.run(
        ["systemd-analyze", "verify", *files],
        capture_output=True,
        text=True,
        timeout=60,
        cwd=unit_dir,
    )
    assert verify.returncode == 0, verify.stderr
    assert verify.stderr.strip() == "" and verify.stdout.strip() == ""


@needs_systemd_analyze
def test_bad_on_calendar_exits_2(project: Path, tmp_path: Path) -> None:
    result = run_cli(
        [
            "schedule",
            "install",
            "--systemd",
            "--on-calendar",
            "*-*-* 25:00",
            "--unit-dir",
            str(tmp_path / "u"),
        ],
        project,
    )
    assert result.returncode == 2 and len(result.stderr.strip().splitlines()) == 1
    assert not (tmp_path / "u").exists()


# --- cron expressions -------------------------------------------------------------------------

EXPRESSIONS = [
    "* * * * *",
    "*/15 9-17 * jan-mar mon-fri",
    "0 0 1,15 * 0,7",
    "*/2 * */3 * 1",
    "5 4 * * sun",
    "0 12 * * sat,sun",
    "1-59/2 0 1 * *",
    "0 22 * * 1-5",
    "0 0 29 2 *",
    "0 6 1-7 * 1",
    "7 3 */2 */4 *",
    "@weekly",
    "@yearly",
]


def _has_base_time() -> bool:
    probe = subprocess.run(
        ["systemd-analyze", "calendar", "--base-time=2026-01-01 00:00:00 UTC", "daily"],
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    return probe.returncode == 0


def _systemd_times(specs: list[str], base: datetime, count: int) -> list[datetime]:
    result = subprocess.run(
        [
            "systemd-analyze",
            "calendar",
            f"--iterations={count}",
            f"--base-time={base:%Y-%m-%d %H:%M:%S} UTC",
            *specs,
        ],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "TZ": "UTC"},
        check=True,
    )
    stamps = re.findall(r"(?:Next elapse|Iter\. #\d+):\s*\w+ (\S+ \S+) UTC", result.stdout)
    times = {datetime.fromisoformat(s).replace(tzinfo=timezone.utc) for s in stamps}
    return sorted(times)[:count]


@needs_systemd_analyze
@pytest.mark.parametrize("expr", EXPRESSIONS)
def test_on_calendar_fires_exactly_when_cron_would(expr: str) -> None:
    if not _has_base_time():
        pytest.skip("this systemd-analyze has no --base-time (systemd < 248)")
    parsed = parse_cron(expr)
    base = datetime(2026, 1, 1, 0, 0, 30, tzinfo=timezone.utc)
    assert _systemd_times(to_on_calendar(parsed), base, 40) == next_runs(parsed, 40, base)


def test_day_of_month_or_day_of_week_as_cron_does() -> None:
    base = datetime(2026, 3, 1, 12, 0, tzinfo=timezone.utc)  # a Sunday
    either = next_runs(parse_cron("0 0 13 * fri"), 12, base)
    assert all(t.day == 13 or t.weekday() == 4 for t in either)
    assert any(t.day != 13 for t in either) and any(t.weekday() != 4 for t in either)
    both = next_runs(parse_cron("0 0 */2 * fri"), 4, base)  # a field starting with * means AND
    assert all(t.day % 2 == 1 and t.weekday() == 4 for t in both)
    assert to_on_calendar(parse_cron("0 0 13 * fri")) == ["Fri *-*-* 0:0:00", "*-*-13 0:0:00"]


def test_parse_cron_normalises_and_rejects() -> None:
    assert parse_cron("  0   3 * *  *") == CronExpr("0 3 * * *", ("0", "3", "*", "*", "*"))
    assert parse_cron("@DAILY").fields == ("0", "0", "*", "*", "*")
    with pytest.raises(ConfigError, match="--cron: invalid cron expression '0 0 32 \\* \\*'"):
        parse_cron("0 0 32 * *")


def test_module_entry_point_is_used_when_no_script(tmp_path: Path) -> None:
    # A Python without our console script next to it falls back to `python -m`.
    from routine_workflow.schedule import install as schedule

    argv = schedule.self_argv()
    script = Path(sys.executable).absolute().parent / "routine-workflow"
    assert argv == (
        [str(script)]
        if script.exists()
        else [str(Path(sys.executable).absolute()), "-m", "routine_workflow"]
    )
