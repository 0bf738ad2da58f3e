"""Cron expressions: validate them as cron itself would, list next runs, translate to OnCalendar.

Only what every cron accepts (five fields of numbers, names, ``*``, ``,``,
``-``, ``/``, and the ``@daily`` family) is allowed: croniter also takes
seconds, years, ``L`` and ``#``, which a crontab would reject later and less
clearly. Day-of-month and day-of-week follow vixie cron/cronie: when both are
restricted a day matching *either* runs; when either starts with ``*`` both
must match.
"""

from __future__ import annotations

import itertools
import re
import shutil
import subprocess
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from routine_workflow.errors import ConfigError

MACROS = {
    "@yearly": "0 0 1 1 *",
    "@annually": "0 0 1 1 *",
    "@monthly": "0 0 1 * *",
    "@weekly": "0 0 * * 0",
    "@daily": "0 0 * * *",
    "@midnight": "0 0 * * *",
    "@hourly": "0 * * * *",
}
_FIELD = re.compile(r"^[0-9A-Za-z*,/-]+$")
_MONTHS = frozenset(
    ["jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"]
)
_DAYS = frozenset(["sun", "mon", "tue", "wed", "thu", "fri", "sat"])
# Names each field may use; croniter's extensions (L, W, #, ?) are in none of them.
_NAMES: tuple[frozenset[str], ...] = (frozenset(), frozenset(), frozenset(), _MONTHS, _DAYS)
# (lowest, highest) of minute, hour, day of month, month; day of week is handled apart.
_RANGES = ((0, 59), (0, 23), (1, 31), (1, 12))
_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


@dataclass(frozen=True)
class CronExpr:
    """A validated cron expression: as written, and its five fields (macros expanded)."""

    text: str
    fields: tuple[str, str, str, str, str]

    @property
    def day_or(self) -> bool:
        """True when a day matching either day-of-month or day-of-week runs (both restricted)."""
        return not (self.fields[2].startswith("*") or self.fields[4].startswith("*"))


def parse_cron(text: str, flag: str = "--cron") -> CronExpr:
    """Validate ``text``; raise ConfigError with one line naming the flag and the reason."""
    from croniter import CroniterError, croniter

    expr = " ".join(text.split())
    fields = MACROS.get(expr.lower(), expr).split()

    def bad(reason: str) -> ConfigError:
        return ConfigError(f"{flag}: invalid cron expression {text!r}: {reason}")

    if expr.lower() == "@reboot":
        raise bad("@reboot has no timetable; use your system's boot scripts")
    if len(fields) != 5:
        raise bad(
            f"expected 5 fields (minute hour day-of-month month day-of-week), got {len(fields)}"
        )
    names = ("minute", "hour", "day-of-month", "month", "day-of-week")
    for name, field, allowed in zip(names, fields, _NAMES, strict=True):
        words = {w.lower() for w in re.findall(r"[A-Za-z]+", field)}
        if not _FIELD.match(field) or not words <= allowed:
            raise bad(f"{name} field {field!r} is not plain cron syntax")
    try:
        croniter.expand(" ".join(fields))
    except (CroniterError, ValueError) as exc:
        reason = str(exc).replace(f"[{' '.join(fields)}] ", "").replace("is not acceptable, ", "")
        raise bad(reason) from None
    return CronExpr(expr, (fields[0], fields[1], fields[2], fields[3], fields[4]))


def next_runs(expr: CronExpr, count: int = 3, base: datetime | None = None) -> list[datetime]:
    """The next ``count`` times cron would start the job after ``base`` (default: now, local time)."""
    from croniter import croniter

    start = base if base is not None else datetime.now().astimezone()
    it = croniter(" ".join(expr.fields), start, day_or=expr.day_or)
    return [it.get_next(datetime) for _ in range(count)]


def _expanded(expr: CronExpr) -> list[list[int] | None]:
    """Each field's values, None for ``*`` (every value); day of week as 0-6, Sunday 0."""
    from croniter import croniter

    fields, _nth = croniter.expand(" ".join(expr.fields))
    result: list[list[int] | None] = []
    for values in fields:
        if values == ["*"]:
            result.append(None)
        else:
            result.append(sorted({int(v) % 7 if len(result) == 4 else int(v) for v in values}))
    return result


def _compact(values: list[int] | None, low: int, high: int) -> str:
    """``*``, a ``start/step`` repetition, or a list of values and ``a..b`` ranges."""
    if values is None or values == list(range(low, high + 1)):
        return "*"
    steps = {b - a for a, b in itertools.pairwise(values)}
    if len(values) >= 3 and len(steps) == 1 and steps != {1} and values[-1] + steps.pop() > high:
        return f"{values[0]}/{values[1] - values[0]}"
    return ",".join(_runs(values, str))


def _runs(values: list[int], render: Callable[[int], str]) -> list[str]:
    """Consecutive values as ``a..b`` (three or more), others listed."""
    parts: list[str] = []
    start = prev = values[0]
    for value in [*values[1:], None]:
        if value is not None and value == prev + 1:
            prev = value
            continue
        if prev - start >= 2:
            parts.append(f"{render(start)}..{render(prev)}")
        else:
            parts.extend(render(v) for v in range(start, prev + 1))
        if value is not None:
            start = prev = value
    return parts


def _weekdays(values: list[int] | None) -> str:
    if values is None or len(values) == 7:
        return ""
    monday_first = sorted(7 if v == 0 else v for v in values)  # systemd weeks start on Monday
    return ",".join(_runs(monday_first, lambda v: _DAY_NAMES[v % 7]))


def to_on_calendar(expr: CronExpr) -> list[str]:
    """systemd ``OnCalendar=`` values firing exactly when cron would run ``expr``.

    systemd ANDs weekday and date, so cron's "either day" rule becomes two
    values (a timer may have several ``OnCalendar=`` lines).
    """
    minute, hour, dom, month, dow = _expanded(expr)
    time = f"{_compact(hour, *_RANGES[1])}:{_compact(minute, *_RANGES[0])}:00"
    month_s = _compact(month, *_RANGES[3])

    def spec(days: list[int] | None, weekdays: list[int] | None) -> str:
        prefix = _weekdays(weekdays)
        date = f"*-{month_s}-{_compact(days, *_RANGES[2])}"
        return f"{prefix} {date} {time}" if prefix else f"{date} {time}"

    if expr.day_or and dom is not None and dow is not None:
        return [spec(None, dow), spec(dom, None)]
    return [spec(dom, dow)]


def check_on_calendar(specs: list[str], flag: str = "--on-calendar") -> None:
    """Reject a calendar spec systemd would not parse (checked with systemd-analyze when present)."""
    for spec in specs:
        if not spec.strip() or "\n" in spec or "\r" in spec:
            raise ConfigError(f"{flag}: invalid calendar specification {spec!r}")
    tool = shutil.which("systemd-analyze")
    if tool is None:
        return
    for spec in specs:
        result = subprocess.run(
            [tool, "calendar", spec], capture_output=True, text=True, timeout=30, check=False
        )
        if result.returncode != 0:
            reason = (result.stderr.strip().splitlines() or ["not accepted by systemd-analyze"])[-1]
            raise ConfigError(f"{flag}: invalid calendar specification {spec!r}: {reason}")


def calendar_next_runs(specs: list[str], count: int = 3) -> list[str]:
    """The next ``count`` elapses of the union of ``specs``, as systemd-analyze prints them.

    Empty when systemd-analyze is not installed.
    """
    tool = shutil.which("systemd-analyze")
    if tool is None or not specs:
        return []
    result = subprocess.run(
        [tool, "calendar", f"--iterations={count}", *specs],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    if result.returncode != 0:
        return []
    times = re.findall(r"(?:Next elapse|Iter\. #\d+):\s*(.+)$", result.stdout, re.MULTILINE)
    return sorted(set(times), key=_sort_key)[:count]


def _sort_key(stamp: str) -> str:
    # "Mon 2026-11-23 12:15:00 UTC": the date and time sort as text once the weekday is dropped.
    parts = stamp.split()
    return " ".join(parts[1:3]) if len(parts) >= 3 else stamp
