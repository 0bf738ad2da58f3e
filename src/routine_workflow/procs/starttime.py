"""When a process started, without importing psutil where ``/proc`` says it.

psutil costs a noticeable share of a short run's start-up (docs/performance.md), and
an uncontended run needs only its own start time (for the lock's owner record) and
its children's (for their records). On Linux both come from ``/proc`` with the very
formula psutil uses (``Process.create_time``: the ``starttime`` field of
``/proc/<pid>/stat`` in clock ticks since boot, plus ``btime`` from ``/proc/stat``), so
the two agree to well within ``orphans.START_TIME_TOLERANCE``. Elsewhere, psutil.
"""

from __future__ import annotations

import os


def start_time(pid: int) -> float:
    """Seconds since the epoch at which ``pid`` started, as psutil reports it.

    Raises ProcessLookupError when there is no such process, and OSError when its
    start time cannot be read.
    """
    try:
        return _from_proc(pid)
    except FileNotFoundError:
        if os.path.isdir("/proc/self"):  # /proc works: the process is gone
            raise ProcessLookupError(pid) from None
    except (OSError, ValueError, IndexError):
        pass
    import psutil

    try:
        return float(psutil.Process(pid).create_time())
    except psutil.NoSuchProcess:
        raise ProcessLookupError(pid) from None
    except psutil.Error as exc:
        raise OSError(f"start time of pid {pid} unreadable: {exc}") from None


def _from_proc(pid: int) -> float:
    with open(f"/proc/{pid}/stat", "rb") as handle:
        stat = handle.read()
    # The command name (field 2) may hold spaces and parentheses: count after the last ")".
    fields = stat[stat.rindex(b")") + 2 :].split()
    ticks = int(fields[19])  # field 22, starttime
    return ticks / os.sysconf("SC_CLK_TCK") + _boot_time()


def _boot_time() -> float:
    with open("/proc/stat", "rb") as handle:
        for line in handle:
            if line.startswith(b"btime"):
                return float(line.split()[1])
    raise ValueError("no btime in /proc/stat")
