"""Progress bars for long steps: on a terminal only, never in cron mail, CI logs or JSON."""

from __future__ import annotations

import contextlib
import sys
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager

Advance = Callable[[int], None]
ProgressFactory = Callable[[int, str], AbstractContextManager[Advance]]


def _ignore(_n: int = 1) -> None:
    pass


@contextlib.contextmanager
def no_progress(_total: int, _label: str) -> Iterator[Advance]:
    """The default: steps call ``advance(n)`` and nothing is drawn."""
    yield _ignore


@contextlib.contextmanager
def terminal_progress(total: int, label: str) -> Iterator[Advance]:
    """A click progress bar on stderr (results on stdout stay clean)."""
    import click

    if total <= 0:
        yield _ignore
        return
    with click.progressbar(length=total, label=label, file=sys.stderr) as bar:
        yield bar.update


def progress_for(show: bool) -> ProgressFactory:
    """The progress factory for a run: a bar only when asked for and stderr is a terminal."""
    return terminal_progress if show and sys.stderr.isatty() else no_progress
