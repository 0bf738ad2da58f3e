"""The console script's entry point: ``--version`` answered before anything heavy loads.

``routine-workflow --version`` is what people and scripts run to see whether the tool is
there and which formatters decide its output. Through the full command line it imports
click, the configuration and the log set-up first (about 0.1 s of CPU, six times the
interpreter's own start). Here the plain ``--version`` (nothing else on the line) is
answered from ``cli/version.py`` alone, which imports nothing beyond the standard
modules every Python start already has; the bytes printed are the full path's.

Everything else, and ``--version`` when something could change its output (a variable of
the original routine-workflow that earns a warning), goes to ``cli/main.py``.
"""

from __future__ import annotations

import os
import sys

#: The name in every message.
PROG = "routine-workflow"
#: The original's variables that ``cli/legacy.py`` warns about (the test checks they agree):
#: when one is set, the full path prints that warning, so the fast path steps aside.
LEGACY_VARIABLES = ("ENABLE_SECURITY", "ENABLE_DEP_AUDIT", "GIT_PUSH", "LOCK_TTL")


def main(argv: list[str] | None = None, prog_name: str = PROG) -> None:
    """``routine-workflow``: the fast ``--version``, else the full command line."""
    args = sys.argv[1:] if argv is None else list(argv)
    if args == ["--version"] and not any(os.environ.get(n) for n in LEGACY_VARIABLES):
        _fast_version()
    from routine_workflow.cli.main import main as full

    full(args, prog_name)


def _fast_version() -> None:
    """Print what ``--version`` prints and exit 0 (or refuse the platform, as ``main`` does)."""
    from routine_workflow import platforms, streams
    from routine_workflow.cli.version import version_lines

    # The same first steps as the full path: a closed stdout must not fail the write,
    # and Windows is refused before anything else.
    streams.ensure_std_streams()
    if platforms.unsupported_platform() is not None:
        return  # the full path says why, in its usual form
    text = "".join(line + "\n" for line in version_lines())
    if not text.isascii():  # e.g. an interpreter path with undecodable bytes: escape them
        from routine_workflow.output import write_line

        write_line(text[:-1])
    else:
        streams.write("stdout", text)
    sys.exit(0)
