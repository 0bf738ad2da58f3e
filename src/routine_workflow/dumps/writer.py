"""Writing a dump to disk: its body spooled, written with ``writev``, hashed as it goes.

- ``Spool``: the body's chunks, in memory up to ``SPOOL_LIMIT``, then in a temp file;
- ``write_hashed``: the header and body written atomically while a second thread
  (``_Hasher``) computes the sha256 of what was written;
- ``write_sidecar``: the ``.sha256`` file beside the dump (``sha256sum -c`` format).
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

from routine_workflow import fsutil
from routine_workflow.dirs import PRIVATE_FILE_MODE
from routine_workflow.dumps import names as dumpnames

#: Keep a dump's body in memory up to this size, then spill to a temporary file.
SPOOL_LIMIT = 64 << 20
#: Dumps are renamed into place (whole or absent, whatever stops the run) but not fsynced:
#: a dump is made again at the next run, a power cut can only leave one that
#: ``sha256sum -c`` rejects, and flushing costs a noticeable share of a dump's time
#: (figures in docs/dumps.md).
DURABLE = False
#: Chunks per writev call (POSIX guarantees at least 16; Linux and macOS allow 1024).
WRITEV_BATCH = min(1024, os.sysconf("SC_IOV_MAX") if hasattr(os, "sysconf") else 16)


def write_hashed(path: Path, head: bytes, body: Iterable[list[bytes]]) -> tuple[str, int]:
    """Write ``head`` then ``body``'s batches to ``path`` atomically; return (sha256, size)."""
    size = len(head)
    digest: _Hasher | None = None
    try:
        with fsutil.atomic_writer(path, PRIVATE_FILE_MODE, durable=DURABLE) as out:
            out.write(head)
            out.flush()
            digest = _Hasher(os.dup(out.fileno()))
            digest.hash_up_to(size)
            for batch in body:
                size += _writev_all(out.fileno(), batch)
                digest.hash_up_to(size)
    except BaseException:
        if digest is not None:
            digest.abandon()
        raise
    # Collected after the file is closed and renamed: that time overlaps with hashing too.
    return digest.hexdigest(), size


def write_sidecar(path: Path, digest: str) -> None:
    """Write ``<digest>  <name>`` to the dump's ``.sha256`` sidecar, atomically."""
    fsutil.atomic_write(
        dumpnames.sidecar(path),
        f"{digest}  {path.name}\n".encode(),
        PRIVATE_FILE_MODE,
        durable=DURABLE,
    )


class _Hasher:
    """sha256 of a file being written, by a second thread reading back what is written.

    Reads from the page cache in 1 MiB blocks and hashing large blocks both release
    the GIL, so the checksum costs little wall time on two cores. The main thread
    never joins or waits on a lock of this thread's: it only puts offsets in and takes
    the result out of ``SimpleQueue``s, whose waits a signal interrupts cleanly (the
    run's timeout and signals are exceptions raised in the main thread). The thread
    closes its own descriptor.
    """

    BLOCK = 1 << 20

    def __init__(self, fd: int) -> None:
        """Hash the file open on ``fd`` (the thread closes it when done)."""
        import queue
        import threading

        self._ends: queue.SimpleQueue[int | None] = queue.SimpleQueue()
        self._result: queue.SimpleQueue[str | OSError] = queue.SimpleQueue()
        self._abandoned = False
        threading.Thread(target=self._run, args=(fd,), name="dump-sha256", daemon=True).start()

    def _run(self, fd: int) -> None:
        digest, done = hashlib.sha256(), 0
        try:
            while (end := self._ends.get()) is not None and not self._abandoned:
                while done < end:
                    block = os.pread(fd, min(self.BLOCK, end - done), done)
                    if not block:  # pragma: no cover (we wrote these bytes ourselves)
                        raise OSError(f"dump shorter than written at byte {done}")
                    digest.update(block)
                    done += len(block)
            self._result.put(digest.hexdigest())
        except OSError as exc:
            self._result.put(exc)
        finally:
            os.close(fd)

    def hash_up_to(self, end: int) -> None:
        """Hash the file's bytes up to offset ``end`` (already written), after the earlier ones."""
        self._ends.put(end)

    def abandon(self) -> None:
        """Stop soon; nobody will ask for the digest."""
        self._abandoned = True
        self._ends.put(None)

    def hexdigest(self) -> str:
        """The digest of everything up to the last ``hash_up_to``; raises OSError if unread."""
        self._ends.put(None)
        result = self._result.get()
        if isinstance(result, OSError):
            raise result
        return result


def _writev_all(fd: int, chunks: list[bytes]) -> int:
    """Write every chunk with as few ``writev`` calls as the kernel allows; return the bytes.

    One system call per batch of file sections, without first copying them into one
    buffer (docs/dumps.md says what that copy cost).
    """
    total = sum(map(len, chunks))
    done = os.writev(fd, chunks)
    if done < total:  # a short write (a signal, a nearly full disk): finish the rest plainly
        rest = memoryview(b"".join(chunks))[done:]
        while rest:
            rest = rest[os.write(fd, rest) :]
    return total


class Spool:
    """The dump's body: chunks kept in memory, spilled to an unnamed temp file past a limit."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self.chunks: list[bytes] = []
        self.held = 0
        self.file: IO[bytes] | None = None

    def __enter__(self) -> Spool:
        return self

    def __exit__(self, *exc: object) -> None:
        self.chunks.clear()
        if self.file is not None:
            self.file.close()

    def write(self, data: bytes, /) -> int:
        self.chunks.append(data)
        self.held += len(data)
        if self.held > SPOOL_LIMIT:
            self._spill()
        return len(data)

    def _spill(self) -> None:
        if self.file is None:
            # Not a `with`: the spill file lives as long as this object (closed in __exit__).
            import tempfile  # only dumps too big for memory need it

            self.file = tempfile.TemporaryFile(dir=self.directory)  # noqa: SIM115
        self.file.writelines(self.chunks)
        self.chunks.clear()
        self.held = 0

    def chunks_out(self) -> Iterator[list[bytes]]:
        """Everything written, in order, in batches fit for one ``writev`` call."""
        if self.file is None:
            for start in range(0, len(self.chunks), WRITEV_BATCH):
                yield self.chunks[start : start + WRITEV_BATCH]
            return
        self._spill()
        self.file.seek(0)
        while chunk := self.file.read(1 << 20):
            yield [chunk]
