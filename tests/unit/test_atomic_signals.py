"""A signal raised as an exception at any instant of an atomic write leaves no temp file.

The run turns SIGTERM, SIGINT, SIGHUP and SIGALRM into an exception; a signal that lands
just after the temporary file is created, before the writer can clean it up, must not
leave a ``.rw-tmp`` file in the user's tree.
"""

from __future__ import annotations

import random
import signal
from pathlib import Path
from types import FrameType

import pytest

from routine_workflow.fsutil import atomic_write


class _Stop(Exception):
    pass


def _raise(signum: int, frame: FrameType | None) -> None:
    raise _Stop


@pytest.mark.slow
def test_an_interrupted_atomic_write_never_leaves_its_temp_file(tmp_path: Path) -> None:
    target = tmp_path / "f.py"
    target.write_bytes(b"old\n")
    rng = random.Random(7)  # noqa: S311 (timing jitter, not a secret)
    previous = signal.signal(signal.SIGALRM, _raise)
    interrupted = 0
    try:
        for _ in range(3000):
            try:
                signal.setitimer(signal.ITIMER_REAL, rng.uniform(1e-6, 2e-4))
                atomic_write(target, b"new\n", durable=False)
                signal.setitimer(signal.ITIMER_REAL, 0)
            except _Stop:
                interrupted += 1
            leftovers = [p.name for p in tmp_path.iterdir() if p.name != "f.py"]
            assert not leftovers, leftovers
            assert target.read_bytes() in (b"old\n", b"new\n")
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
    assert interrupted > 0
