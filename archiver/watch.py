"""Watch inbox folders and hand every complete file, once, to the ingest pipeline.

The watcher never extracts anything: it waits until a file is complete (see
:mod:`archiver.watch_queue`) and passes batches of paths to
:meth:`Archive.ingest`, holding the writer lock only per batch so that other
processes can write in between. On start, and every ``watch.rescan_interval``
seconds, it compares the inboxes with the catalog, so nothing dropped by the
kernel or done while it was stopped is missed.
"""
from __future__ import annotations

import os
import queue
import threading
import time
from dataclasses import dataclass, field, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable

from watchdog import events as ev

from archiver.archive import Archive
from archiver.errors import ArchiverError, ConfigError, LockTimeout
from archiver.watch_observer import Inboxes
from archiver.watch_process import shield_workers_from_ctrl_c, stop_on_signals, watch_lock
from archiver.watch_queue import Pending, Vanished, ignored, move_no_overwrite, scan, stat_file

__all__ = ["Watcher", "WatchEvent", "WatchOptions", "stop_on_signals"]

TICK = 0.1                  # seconds between looks at the events and the pending files
BATCH = 50                  # files per ingest call: a stop request waits for at most this many
LOCK_TRY = 2.0              # seconds one attempt waits for the writer lock; a later tick tries again
WATCH_CHECK = 10.0          # seconds between checks that every inbox is still watched
MOVABLE = {"indexed", "waiting_ocr", "queued", "duplicate", "unchanged"}


@dataclass(frozen=True)
class WatchEvent:
    """One line of the watcher's log: a file taken, a source gone, a warning, start and stop."""

    time: str
    event: str                    # started, file, gone, back, moved, warning, stopped
    path: str | None = None
    status: str | None = None     # for "file": the ingest status (indexed, duplicate, rejected, ...)
    doc_id: int | None = None
    reason: str | None = None     # why a file was rejected; a warning's text
    extra: dict = field(default_factory=dict)


@dataclass(frozen=True)
class WatchOptions:
    """What to watch and how; :meth:`from_config` fills in the archive's settings."""

    inboxes: tuple[Path, ...]
    settle: float = 2.0
    polling: float | None = None          # seconds between polls; None: the system's events
    polling_interval: float = 30.0        # used when events are not available
    rescan: float = 300.0                 # 0: no periodic rescan
    ignore: tuple[str, ...] = ()
    move_to: Path | None = None
    once: bool = False

    @classmethod
    def from_config(cls, archive: Archive, inboxes=(), polling: float | None = None, once: bool = False,
                    move_to: Path | None = None) -> "WatchOptions":
        """Return options from the archive's settings and the command line's choices.

        ``inboxes`` default to the setting ``inboxes``; ``polling`` is None (use the
        system's events), or seconds between polls (0: ``watch.polling_interval``).
        """
        c = archive.config
        roots = [Path(os.path.abspath(p)) for p in inboxes] or c.inbox_paths()
        target = move_to or (c.root / c["watch.move_to"] if c["watch.move_to"] else None)
        interval = float(c["watch.polling_interval"])
        if interval <= 0:
            raise ConfigError("archive.toml: watch.polling_interval must be more than 0")
        return cls(tuple(dict.fromkeys(roots)), float(c["watch.settle"]),
                   None if polling is None else (polling or interval), interval, float(c["watch.rescan_interval"]),
                   tuple(c["watch.ignore"]), Path(os.path.abspath(target)) if target else None, once)


def now_utc() -> str:
    """Return the current time as the log shows it: ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


class Watcher:
    """Take every complete file in the inboxes into one archive, once; run until :meth:`stop`.

    The watcher tries the writer lock briefly per batch and retries on a later
    tick, so it stays responsive (signals, events) while another process writes.
    """

    def __init__(self, archive: Archive, options: WatchOptions, report: Callable[[WatchEvent], None]):
        self.archive = archive
        self.opts = options
        self.report = report
        self._check_folders()
        archive.config = replace(archive.config, values={**archive.config.values, "lock.timeout": LOCK_TRY})
        archive.on_wait = None
        self.inboxes = Inboxes([str(r) for r in options.inboxes], lambda message: self._warn(message, once=False))
        self._stop = threading.Event()
        self._pending = Pending(options.settle)
        self._vanished = Vanished(options.settle)
        self._refused: dict[str, tuple[int, int]] = {}    # rejected with no record kept: not retried unchanged
        self._to_move: dict[str, None] = {}                # committed files to move out of the inbox
        self._warned: set[str] = set()

    def stop(self) -> None:
        """Ask the watcher to finish the batch in hand and return (safe from a signal handler)."""
        self._stop.set()

    @property
    def stopping(self) -> bool:
        """Tell whether :meth:`stop` was called."""
        return self._stop.is_set()

    def run(self) -> None:
        """Catch up, then watch until stopped (with ``once``: until everything present is taken)."""
        with watch_lock(self.archive.root):
            shield_workers_from_ctrl_c()
            mode = "once" if self.opts.once else self.inboxes.start(self.opts.polling, self.opts.polling_interval)
            self._say("started", extra={"inboxes": self.inboxes.roots, "mode": mode})
            try:
                with self.archive.worker_pool():
                    self._loop()
            finally:
                self.inboxes.stop()
            self._say("stopped")

    def _loop(self) -> None:
        self._catch_up()
        started = last_rescan = last_check = time.monotonic()
        patience = max(60.0, 10 * self.opts.settle)
        while not self._stop.is_set():
            self._drain_events()
            if self.opts.rescan and time.monotonic() - last_rescan >= self.opts.rescan:
                last_rescan = time.monotonic()
                self._catch_up()
            if time.monotonic() - last_check >= WATCH_CHECK:
                last_check = time.monotonic()
                for root in self.inboxes.rewatch():
                    self._scan(root)
            self._settle_vanished()
            self._take(self._pending.ready(BATCH))
            self._move_away()
            if self.opts.once and not (self._pending or self._vanished or self._to_move):
                return
            if self.opts.once and not self._to_move and time.monotonic() - started > patience:
                # A file still growing after all this time is left for the next run, not waited for.
                self._warn(f"{len(self._pending)} file(s) still being written after {patience:g} s; "
                           "left for the next run")
                return
            self._stop.wait(TICK)

    def _check_folders(self) -> None:
        root = Path(os.path.abspath(self.archive.root))
        for inbox in self.opts.inboxes:
            if not inbox.is_dir() and inbox.is_relative_to(root):
                inbox.mkdir(parents=True, exist_ok=True)     # the default inbox lives in the archive
            if not inbox.is_dir():
                raise ArchiverError(f"{inbox}: no such inbox folder (create it, or change inboxes in archive.toml)")
            if root.is_relative_to(inbox):
                raise ConfigError(f"{inbox}: the archive {root} is inside this inbox; keep it outside")
            if self.opts.move_to and self.opts.move_to.is_relative_to(inbox):
                raise ConfigError(f"{self.opts.move_to}: the folder files are moved to must not be inside "
                                  f"the inbox {inbox}")

    # -- events and scans ------------------------------------------------------

    def _drain_events(self) -> None:
        while True:
            try:
                event = self.inboxes.events.get_nowait()
            except queue.Empty:
                return
            src = os.fsdecode(event.src_path)
            if event.event_type == ev.EVENT_TYPE_MOVED:
                self._pending.discard(src)
                self._vanished.add(src)
                dest = os.fsdecode(event.dest_path)
                if event.is_directory:
                    self._scan(dest)
                else:
                    self._written(dest, False)
            elif event.event_type == ev.EVENT_TYPE_DELETED:
                self._pending.discard(src)
                if src not in self.inboxes.roots:
                    self._vanished.add(src)
            elif event.is_directory:
                self._scan(src)
            else:
                self._written(src, event.event_type == ev.EVENT_TYPE_CLOSED)

    def _written(self, path: str, closed: bool) -> None:
        root = self.inboxes.root_of(path)
        if root is not None and not ignored(path, root, self.opts.ignore):
            self._pending.written(path, closed)

    def _catch_up(self) -> None:
        for root in self.inboxes.roots:
            if self.inboxes.reachable(root):
                self._scan(root)

    def _scan(self, folder: str) -> None:
        """Hold every file below ``folder`` that the catalog lacks or has with another size or time."""
        root = self.inboxes.root_of(folder)
        if root is None:
            return
        known = {p: (size, mtime) for p, _, size, mtime in self.archive.catalog.present_sources_under(folder)}
        for path, st in scan(folder, root, self.opts.ignore):
            stamp = (st.st_size, st.st_mtime_ns)
            if known.get(path) == stamp:
                if self.opts.move_to is not None:
                    self._to_move[path] = None       # committed, but not moved yet (a crash in between)
            elif self._refused.get(path) != stamp:
                self._pending.offer(path, st)
        for path in known:
            if not os.path.lexists(path):
                self._vanished.add(path)

    # -- handing over ------------------------------------------------------------

    def _take(self, ready: list[tuple[str, os.stat_result]]) -> None:
        batch, back = [], []
        for path, st in ready:
            stamp = (st.st_size, st.st_mtime_ns)
            known = self.archive.catalog.source_at(path)
            if known and known[1:] == stamp:
                if self._status_at(known[0], path) != "present":
                    back.append((path, known[0], stamp))
            elif self._refused.get(path) != stamp:
                batch.append((path, stamp))
        if back:
            self._write(lambda c: self._mark_back(c, back), [p for p, _, _ in back])
        if batch:
            self._ingest(batch)

    def _ingest(self, batch: list[tuple[str, tuple[int, int]]]) -> None:
        try:
            report = self.archive.ingest([Path(p) for p, _ in batch])
        except LockTimeout:
            return self._retry_later([p for p, _ in batch])
        except ArchiverError:
            raise
        except Exception as exc:  # a pipeline bug must cost one file, not the watcher
            if len(batch) > 1:
                for item in batch:
                    self._ingest([item])
                return
            return self._refuse(*batch[0], f"unexpected {type(exc).__name__}: {str(exc)[:200]}")
        self._warned = {w for w in self._warned if not w.startswith("another archiver process")}
        if report.ocr is not None and report.ocr.warning:
            self._warn(report.ocr.warning)
        stamps = dict(batch)
        results = [r for r in report.results if r.parent is None]
        for r in results:
            self._say("file", r.source, r.status, r.doc_id, r.reason if r.status == "rejected" else None)
            if r.status == "rejected" and self.archive.catalog.source_at(r.source) is None:
                self._refused[r.source] = stamps.get(r.source, (0, 0))
        if self.opts.move_to is not None:
            self._to_move.update(dict.fromkeys(r.source for r in results if r.status in MOVABLE))

    def _retry_later(self, paths: list[str]) -> None:
        self._warn(f"another archiver process is writing to {self.archive.root}; "
                   "files wait and are taken as soon as it is done")
        for path in paths:
            st = stat_file(path)
            if st is not None:
                self._pending.offer(path, st, ready=True)

    def _refuse(self, path: str, stamp: tuple[int, int], reason: str) -> None:
        def record(catalog) -> list[dict]:
            catalog.add_reject(path, None, None, reason)
            catalog.audit("ingest.rejected", None, None, path=path, reason=reason)
            return [dict(event="file", path=path, status="rejected", reason=reason)]
        if self._write(record, [path]):
            self._refused[path] = stamp

    def _write(self, change: Callable, paths: list[str]) -> bool:
        """Apply ``change(catalog)`` in one transaction under the writer lock, then log what it returns.

        When another process holds the lock, the ``paths`` wait for a later tick.
        """
        try:
            with self.archive.writing(), self.archive.catalog.transaction():
                said = change(self.archive.catalog)
        except LockTimeout:
            self._retry_later([p for p in paths if os.path.lexists(p)])
            for path in paths:
                if not os.path.lexists(path):
                    self._vanished.add(path)
            return False
        for kwargs in said:
            self._say(**kwargs)
        return True

    def _status_at(self, doc_id: int, path: str) -> str | None:
        return next((s.status for s in self.archive.catalog.sources(doc_id) if s.path == path), None)

    def _mark_back(self, catalog, back) -> list[dict]:
        for path, doc_id, (size, mtime) in back:
            catalog.record_source(doc_id, path, size, mtime)
            catalog.audit("watch.source_back", doc_id, None, path=path)
        return [dict(event="back", path=path, doc_id=doc_id) for path, doc_id, _ in back]

    # -- deletions -----------------------------------------------------------------

    def _settle_vanished(self) -> None:
        """Record as gone the sources that stayed away past the grace period from a reachable inbox."""
        gone = []
        for path in self._vanished.due():
            root = self.inboxes.root_of(path)
            if root is None or os.path.lexists(path):
                continue
            if not self.inboxes.reachable(root):
                self._vanished.add(path)
                continue
            catalog = self.archive.catalog
            inside = [p for p, *_ in catalog.present_sources_under(path) if not os.path.lexists(p)]
            gone += inside + ([path] if catalog.source_at(path) is not None else [])
        if gone:
            self._write(lambda c: self._mark_gone(c, gone), gone)

    def _mark_gone(self, catalog, paths: list[str]) -> list[dict]:
        said = []
        for path in paths:
            doc_id = catalog.mark_source_gone(path)
            if doc_id is not None:
                catalog.audit("watch.source_gone", doc_id, None, path=path)
                said.append(dict(event="gone", path=path, doc_id=doc_id))
        return said

    # -- moving taken files aside ------------------------------------------------------

    def _move_away(self) -> None:
        """Move committed files out of the inbox (under the writer lock, so catalog and disk agree)."""
        if self._to_move and self._write(self._move_and_record, []):
            self._to_move.clear()

    def _move_and_record(self, catalog) -> list[dict]:
        said = []
        for src in self._to_move:
            known = catalog.source_at(src)
            st = stat_file(src)
            if known is None or st is None or known[1:] != (st.st_size, st.st_mtime_ns):
                continue            # changed since it was taken: it waits to be taken again
            if catalog.document(known[0]).state == "rejected":
                continue            # an unreadable file stays in the inbox, for a person to see
            rel = os.path.relpath(src, self.inboxes.root_of(src))
            try:
                dest = move_no_overwrite(Path(src), self.opts.move_to / rel)
            except OSError as exc:
                self._warn(f"{src}: cannot move it to {self.opts.move_to}: {exc.strerror or exc}; it stays")
                continue
            catalog.mark_source_gone(src)
            catalog.record_source(known[0], str(dest), st.st_size, st.st_mtime_ns)
            catalog.audit("watch.moved", known[0], None, path=src, to=str(dest))
            said.append(dict(event="moved", path=src, doc_id=known[0], extra={"to": str(dest)}))
        return said

    # -- reporting -------------------------------------------------------------------

    def _say(self, event: str, path: str | None = None, status: str | None = None, doc_id: int | None = None,
             reason: str | None = None, extra: dict | None = None) -> None:
        self.report(WatchEvent(now_utc(), event, path, status, doc_id, reason, extra or {}))

    def _warn(self, message: str, once: bool = True) -> None:
        if once and message in self._warned:
            return
        self._warned.add(message)
        self._say("warning", reason=message)
