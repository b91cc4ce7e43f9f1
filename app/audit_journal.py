"""The local journal of audit events: written before the response, shipped to the database.

One line per event (JSON, `app.audit`), appended to the process's active segment file
before the service answers. The write lands in the operating system's page cache, so an
event survives the process being killed (kill -9, an OOM kill) at the cost of a `write()`
(microseconds); `fsync=True` also survives a crash of the machine, at the cost of a disk
flush per call (docs/operations.md has both figures).

Segments are named `audit-<time>-<pid>-<random>.jsonl` and locked (flock) by the process
that writes them; the lock goes with the process, however it dies. So a shipper takes any
segment it can lock: its own closed ones, and those a dead process left behind.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import secrets
import time
from collections.abc import Iterator
from pathlib import Path

__all__ = ["AuditJournal"]

_SUFFIX = ".jsonl"


class AuditJournal:
    def __init__(self, directory: Path, *, fsync: bool = False) -> None:
        self.directory = directory
        self._fsync = fsync
        self._process = f"{os.getpid()}-{secrets.token_hex(4)}"
        self._fd: int | None = None
        self._path: Path | None = None
        self.active_events = 0
        """Events in the active segment (not yet handed to the shipper)."""

    def open(self) -> None:
        self.directory.mkdir(mode=0o700, parents=True, exist_ok=True)
        self._open_segment()

    def _open_segment(self) -> None:
        # The time first, so names sort in the order segments were started.
        name = f"audit-{time.time_ns():020d}-{self._process}"
        path = self.directory / (name + _SUFFIX)
        # Locked before it has the name shippers look for, so none can take it from us.
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | os.O_APPEND
        fd = os.open(self.directory / (name + ".new"), flags, 0o600)
        fcntl.flock(fd, fcntl.LOCK_EX)
        os.rename(self.directory / (name + ".new"), path)
        self._fd, self._path, self.active_events = fd, path, 0

    def append(self, line: bytes) -> None:
        """Append one line (one `write()`: the line is whole or absent); raises OSError."""
        if self._fd is None:
            raise OSError("the audit journal is not open")
        os.write(self._fd, line)
        if self._fsync:
            os.fdatasync(self._fd)
        self.active_events += 1

    def rotate(self) -> None:
        """Close the active segment (it can then be shipped) and start a new one, when the
        active one holds events."""
        if self._fd is not None and self.active_events:
            self.close()
            self._open_segment()

    def close(self) -> None:
        if self._fd is None:
            return
        if not self.active_events and self._path is not None:
            self._path.unlink(missing_ok=True)  # an empty segment: nothing to ship
        os.close(self._fd)  # releases the lock
        self._fd = None

    def segments(self) -> list[Path]:
        """Every segment in the directory but the active one, oldest first."""
        if not self.directory.is_dir():
            return []
        return sorted(
            path
            for path in self.directory.iterdir()
            if path.name.startswith("audit-") and path.suffix == _SUFFIX and path != self._path
        )

    @contextlib.contextmanager
    def claimed(self, path: Path) -> Iterator[list[bytes] | None]:
        """The segment's lines while this process holds its lock; None when another live
        process holds it (or it is gone)."""
        try:
            fd = os.open(path, os.O_RDONLY)
        except FileNotFoundError:
            yield None
            return
        try:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                yield None
                return
            with os.fdopen(os.dup(fd), "rb") as file:
                lines = [line for line in file.read().split(b"\n") if line.strip()]
            yield lines
        finally:
            os.close(fd)
