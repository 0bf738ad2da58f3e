"""Standard streams that may be closed: by a daemon, a cron setup, ``>&-``, ``| head``.

A closed stream counts as "not a terminal, output discarded"; it never ends a run or
changes its exit code.
"""

from __future__ import annotations

import os
import sys

# Not ``typing.TYPE_CHECKING``: importing typing costs more than the fast ``--version``
# (cli/entry.py) spends on everything else; type checkers read this name all the same.
TYPE_CHECKING = False
if TYPE_CHECKING:
    from typing import TextIO

_NAMES = ("stdin", "stdout", "stderr")


def ensure_std_streams() -> None:
    """Put ``/dev/null`` on any of file descriptors 0, 1 and 2 that is closed.

    At the descriptor level, not just ``sys.stdout``: otherwise the next file we open
    (the log, the history database) would *become* descriptor 1 or 2, and a child's
    output or a C library's message would be written into it.
    """
    for fd, name in enumerate(_NAMES):
        try:
            os.fstat(fd)
        except OSError:
            null = os.open(os.devnull, os.O_RDONLY if fd == 0 else os.O_WRONLY)
            if null != fd:
                os.dup2(null, fd)
                os.close(null)
        if getattr(sys, name) is None:
            mode = "r" if fd == 0 else "w"
            setattr(sys, name, open(fd, mode, encoding="utf-8", closefd=False))  # noqa: SIM115


def discard(stream: TextIO) -> TextIO:
    """From now on, send what would go to ``stream`` (whose reader has gone) to /dev/null;
    returns the replacement, already installed in ``sys``."""
    null = os.open(os.devnull, os.O_WRONLY)
    try:  # noqa: SIM105  (contextlib is an import the fast --version does without)
        os.dup2(null, stream.fileno())
    except (OSError, ValueError):
        pass
    os.close(null)
    replacement = open(os.devnull, "w", encoding="utf-8")  # noqa: SIM115
    for name in _NAMES[1:]:
        if getattr(sys, name) is stream:
            setattr(sys, name, replacement)
    return replacement


def write(stream_name: str, text: str) -> None:
    """Write and flush ``text`` on ``sys.stdout``/``sys.stderr``; a reader that has gone,
    a terminal that hung up or a closed stream discards the output instead of raising."""
    stream = getattr(sys, stream_name)
    try:
        try:
            stream.write(text)
        except UnicodeEncodeError:  # an ASCII locale and a file named é.py: say it escaped
            encoding = getattr(stream, "encoding", None) or "ascii"
            stream.write(text.encode(encoding, "backslashreplace").decode(encoding))
        stream.flush()
    # EPIPE: the reader went away; EIO: the terminal hung up; ValueError: a closed file.
    except (OSError, ValueError):
        discard(stream)
