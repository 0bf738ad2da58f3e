"""The environment every benchmark gives the processes it times."""

from __future__ import annotations

import os


def child_env(**extra: str) -> dict[str, str]:
    """``os.environ`` plus ``extra``, without ``PYTHONDONTWRITEBYTECODE``.

    An installed tool starts from compiled ``.pyc`` files (pip writes them at install
    time, an editable checkout on its first run). With that variable set, every module
    of an editable checkout is compiled from source on every start: that measures the
    environment, not the tool, and only one side of a comparison would pay it.
    """
    env = {**os.environ, **extra}
    env.pop("PYTHONDONTWRITEBYTECODE", None)
    return env
