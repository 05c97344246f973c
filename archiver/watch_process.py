"""Run the watcher as a long-lived process: one per archive, stopped cleanly by signals.

A second watcher of the same archive is refused (``<archive>/watch.lock``, an
flock the kernel releases even after kill -9). SIGTERM or Ctrl-C lets the
batch in hand finish; worker processes are kept out of Ctrl-C's reach.
"""
from __future__ import annotations

import fcntl
import multiprocessing
import multiprocessing.forkserver
import os
import signal
import threading
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

from archiver.errors import AlreadyWatching


@contextmanager
def watch_lock(root: Path) -> Iterator[None]:
    """Hold ``<archive>/watch.lock`` for the watcher's life; a second watcher gets AlreadyWatching."""
    path = Path(root) / "watch.lock"
    fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o644)
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            pid = os.pread(fd, 32, 0).decode(errors="replace").strip()
            raise AlreadyWatching(f"another watcher is already running for {root}"
                                  + (f" (pid {pid})" if pid.isdigit() else "")) from None
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"{os.getpid()}\n".encode(), 0)
        yield
    finally:
        os.close(fd)    # closing releases the lock; a pid left behind names no holder once unlocked


@contextmanager
def stop_on_signals(stop: Callable[[], None], stopping: Callable[[], bool]) -> Iterator[None]:
    """Call ``stop`` on SIGTERM or SIGINT; a second Ctrl-C, while stopping, interrupts at once."""
    def handle(signum, frame):
        if signum == signal.SIGINT and stopping():
            raise KeyboardInterrupt
        stop()
    previous = {sig: signal.signal(sig, handle) for sig in (signal.SIGTERM, signal.SIGINT)}
    try:
        yield
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)


def shield_workers_from_ctrl_c() -> None:
    """Start the workers' fork server with SIGINT ignored, so that the workers it forks ignore it too.

    Ctrl-C in a terminal signals the whole process group: a worker killed by it
    would turn the file in hand into a reject. The watcher itself stops on the
    signal and lets the batch finish. (An ignored signal stays ignored across
    exec, and Python then installs no KeyboardInterrupt handler.) Does nothing
    outside the main thread or when the fork server already runs.
    """
    if threading.current_thread() is not threading.main_thread():
        return
    multiprocessing.get_context("forkserver").set_forkserver_preload(["archiver.extract", "archiver.workers"])
    previous = signal.signal(signal.SIGINT, signal.SIG_IGN)
    try:
        multiprocessing.forkserver.ensure_running()
    finally:
        signal.signal(signal.SIGINT, previous)
