"""Run costly, risky calls (extraction, OCR) in worker processes with time and memory limits.

A hostile file may loop forever, eat all memory or crash its parser. Each call
runs in a long-lived worker process whose address space is capped; a call that
runs past its wall-time limit gets its worker killed and replaced, so a bad
file costs one worker, never the batch.
"""
from __future__ import annotations

import logging
import multiprocessing
import os
import resource
import signal
import time
import traceback
import warnings
from dataclasses import dataclass
from multiprocessing.connection import Connection, wait
from typing import Any, Callable, Iterable, Iterator

from archiver.errors import ExtractionError


@dataclass(frozen=True)
class Outcome:
    """The result of one call: ``value`` when ``ok``, else a one-line ``reason``."""

    key: Any
    ok: bool
    value: Any = None
    reason: str | None = None


def _worker_main(conn: Connection, memory_mb: int) -> None:
    os.environ["OMP_THREAD_LIMIT"] = "1"
    # Ctrl-C in a terminal reaches the whole process group: the parent decides what to do,
    # a worker must not die mid-file and turn its file into a reject.
    signal.signal(signal.SIGINT, signal.SIG_IGN)
    # Parsers log and warn about every oddity of a damaged file on stderr; what matters
    # reaches the user as the extraction's warnings or its one-line reason instead.
    logging.disable(logging.CRITICAL)
    warnings.simplefilter("ignore")
    if memory_mb:
        limit = memory_mb * 1024 * 1024
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    while True:
        try:
            task = conn.recv()
        except EOFError:
            return
        if task is None:
            return
        func, args = task
        try:
            conn.send((True, func(*args), None))
        except ExtractionError as exc:
            conn.send((False, None, exc.reason))
        except MemoryError:
            conn.send((False, None, f"needs more than the {memory_mb} MiB memory limit"))
        except RecursionError:
            conn.send((False, None, "structure nested too deeply (recursion limit)"))
        except Exception as exc:  # a parser bug must cost one file, not the batch
            last = traceback.extract_tb(exc.__traceback__)[-1]
            conn.send((False, None, f"unexpected {type(exc).__name__} in {os.path.basename(last.filename)}:"
                                    f"{last.lineno}: {str(exc)[:200]}"))


class _Worker:
    def __init__(self, ctx, memory_mb: int):
        self.conn, child = ctx.Pipe()
        self.process = ctx.Process(target=_worker_main, args=(child, memory_mb), daemon=True)
        self.process.start()
        child.close()
        self.key: Any = None
        self.deadline = 0.0
        self.limit = 0.0

    def kill(self) -> None:
        self.process.kill()
        self.process.join(5)
        self.conn.close()


class WorkerPool:
    """A fixed number of worker processes; ``run`` yields outcomes as they finish."""

    def __init__(self, workers: int, timeout: float, memory_mb: int):
        self.size = max(1, workers)
        self.timeout = timeout
        self.memory_mb = memory_mb
        self._ctx = multiprocessing.get_context("forkserver")
        self._ctx.set_forkserver_preload(["archiver.extract", "archiver.workers"])
        self._idle: list[_Worker] = []
        self._busy: list[_Worker] = []
        self._started = 0

    def __enter__(self) -> "WorkerPool":
        return self

    def __exit__(self, *exc) -> None:
        self.close()

    def close(self) -> None:
        """Stop every worker."""
        for w in self._idle:
            try:
                w.conn.send(None)
            except OSError:
                pass
            w.process.join(2)
            if w.process.is_alive():
                w.kill()
        for w in self._busy:
            w.kill()
        self._idle, self._busy = [], []

    def _take_worker(self) -> _Worker:
        if self._idle:
            return self._idle.pop()
        self._started += 1
        return _Worker(self._ctx, self.memory_mb)

    def submit(self, key: Any, func: Callable, *args: Any, timeout: float | None = None) -> None:
        """Start ``func(*args)`` on a free worker; call only when ``has_room()``."""
        worker = self._take_worker()
        worker.key = key
        worker.limit = timeout or self.timeout
        worker.deadline = time.monotonic() + worker.limit
        worker.conn.send((func, args))
        self._busy.append(worker)

    def has_room(self) -> bool:
        """Tell whether a call can start now without waiting."""
        return len(self._busy) < self.size

    def pending(self) -> int:
        """Return the number of calls under way."""
        return len(self._busy)

    def collect(self) -> list[Outcome]:
        """Wait for at least one call to finish (or time out) and return the outcomes."""
        if not self._busy:
            return []
        nearest = min(w.deadline for w in self._busy)
        ready = wait([w.conn for w in self._busy], timeout=max(0.0, nearest - time.monotonic()))
        outcomes = [self._receive(w) for w in list(self._busy) if w.conn in ready]
        for w in list(self._busy):
            if w.conn not in ready and time.monotonic() >= w.deadline:
                outcomes.append(self._retire(w, f"timed out after {w.limit:g} s"))
        return outcomes

    def _receive(self, worker: _Worker) -> Outcome:
        try:
            ok, value, reason = worker.conn.recv()
        except (EOFError, OSError):
            worker.process.join(5)
            code = worker.process.exitcode
            why = "ran out of memory or crashed" if code is None or code < 0 else f"exited with code {code}"
            return self._retire(worker, f"extraction worker {why}")
        self._busy.remove(worker)
        self._idle.append(worker)
        return Outcome(worker.key, ok, value, reason)

    def _retire(self, worker: _Worker, reason: str) -> Outcome:
        self._busy.remove(worker)
        worker.kill()
        return Outcome(worker.key, False, None, reason)

    def abandon(self) -> None:
        """Kill the calls under way (after an error in the caller), keeping the idle workers."""
        for w in list(self._busy):
            self._busy.remove(w)
            w.kill()

    def map(self, func: Callable, items: Iterable[tuple[Any, tuple]],
            timeout: float | None = None) -> Iterator[Outcome]:
        """Run ``func(*args)`` for each ``(key, args)``; yield outcomes as they finish."""
        queue = list(items)
        queue.reverse()
        try:
            while queue or self._busy:
                while queue and self.has_room():
                    key, args = queue.pop()
                    self.submit(key, func, *args, timeout=timeout)
                yield from self.collect()
        except BaseException:
            self.abandon()
            raise
