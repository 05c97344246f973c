"""Let one process at a time write to an archive; others wait, bounded."""
from __future__ import annotations

import fcntl
import os
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from archiver.errors import LockTimeout


def process_alive(pid: int) -> bool:
    """Tell whether a process of this machine is still running (another user's counts as running)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@contextmanager
def writer_lock(path: Path, timeout: float,
                on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
    """Hold the archive's writer lock for the duration of the block.

    Waits up to ``timeout`` seconds for another writer, calling ``on_wait`` once
    with a message naming the holder, then raises :class:`LockTimeout`.
    """
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        _acquire(fd, path, timeout, on_wait)
        os.ftruncate(fd, 0)
        os.write(fd, f"{os.getpid()}\n".encode())
        try:
            yield
        finally:
            os.ftruncate(fd, 0)
            fcntl.flock(fd, fcntl.LOCK_UN)
    finally:
        os.close(fd)


def _acquire(fd: int, path: Path, timeout: float, on_wait) -> None:
    deadline = time.monotonic() + timeout
    told = False
    while True:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            return
        except BlockingIOError:
            holder = _holder(path)
            if time.monotonic() >= deadline:
                raise LockTimeout(
                    f"another archiver process{holder} is writing to {path.parent}; "
                    f"gave up after {timeout:g} s (raise lock.timeout in archive.toml to wait longer)")
            if on_wait and not told:
                on_wait(f"waiting for another archiver process{holder} to finish writing...")
                told = True
            time.sleep(0.1)


def _holder(path: Path) -> str:
    try:
        pid = path.read_text().strip()
    except OSError:
        return ""
    return f" (pid {pid})" if pid.isdigit() else ""
