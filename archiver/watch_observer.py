"""Follow the inbox folders: their file-system events (inotify, or polling) and whether each is reachable.

Events are only hints, put on a queue for the watcher's loop; what happened is
always decided by looking at the files. Reachability guards against the
network-share pitfall: an unmounted share must not look like every file deleted.
"""
from __future__ import annotations

import errno
import os
import queue
from typing import Callable

from watchdog import events as ev
from watchdog.observers import Observer
from watchdog.observers.api import BaseObserver
from watchdog.observers.polling import PollingObserver

from archiver.errors import ArchiverError

EVENTS = [ev.FileCreatedEvent, ev.FileModifiedEvent, ev.FileAttribEvent, ev.FileClosedEvent, ev.FileMovedEvent,
          ev.FileDeletedEvent, ev.DirCreatedEvent, ev.DirMovedEvent, ev.DirDeletedEvent]
LIMIT_FIX = {
    errno.ENOSPC: "inotify watch limit reached; raise it with: sudo sysctl fs.inotify.max_user_watches=524288",
    errno.EMFILE: "inotify instance limit reached; raise it with: sudo sysctl fs.inotify.max_user_instances=512",
}


class _Handler(ev.FileSystemEventHandler):
    """Pass watchdog's events (from its thread) to the watcher's loop."""

    def __init__(self, events: queue.SimpleQueue):
        self.events = events

    def dispatch(self, event: ev.FileSystemEvent) -> None:
        self.events.put(event)


class Inboxes:
    """The inbox folders of one watcher; ``events`` receives watchdog's events once :meth:`start` ran."""

    def __init__(self, roots: list[str], warn: Callable[[str], None]):
        self.roots = roots
        self.warn = warn
        self.events: queue.SimpleQueue = queue.SimpleQueue()
        self._devices = {r: os.stat(r).st_dev for r in roots}
        self._unreachable: set[str] = set()
        self._rewatch: set[str] = set()
        self._observer: BaseObserver | None = None
        self._watches: dict[str, object] = {}

    def root_of(self, path: str) -> str | None:
        """Return the inbox a path lies in, or None."""
        return next((r for r in self.roots if path == r or path.startswith(r.rstrip(os.sep) + os.sep)), None)

    def start(self, polling: float | None, fallback: float) -> str:
        """Watch every inbox, recursively; return the mode for the log.

        ``polling`` (seconds) polls instead of using the system's events; when
        the inotify limits are reached, say how to raise them and poll every
        ``fallback`` seconds.
        """
        if polling is None:
            try:
                self._schedule(Observer())
                return "events"
            except OSError as exc:
                if exc.errno not in LIMIT_FIX:
                    raise ArchiverError(f"cannot watch the inboxes: {exc.strerror or exc}") from exc
                self.warn(f"{LIMIT_FIX[exc.errno]}; watching by polling every {fallback:g} s instead")
        interval = polling or fallback
        self._schedule(PollingObserver(timeout=interval))
        return f"polling every {interval:g} s"

    def stop(self) -> None:
        """Stop watching and wait for watchdog's threads."""
        if self._observer is not None:
            self._observer.stop()
            self._observer.join()
            self._observer = None

    def _schedule(self, observer: BaseObserver) -> None:
        try:
            for root in self.roots:
                self._watches[root] = self._watch(observer, root)
            observer.start()
        except BaseException:
            self._watches.clear()
            try:
                observer.stop()
            except Exception:  # a half-started observer: nothing more to release
                pass
            raise
        self._observer = observer

    def _watch(self, observer: BaseObserver, root: str):
        return observer.schedule(_Handler(self.events), root, recursive=True, event_filter=EVENTS)

    def rewatch(self) -> list[str]:
        """Watch anew each inbox whose watch ended (it went away) and that is back; return them."""
        if self._observer is None:
            return []
        alive = {e.watch for e in self._observer.emitters if e.is_alive()}
        again = []
        for root, watch in list(self._watches.items()):
            if not self.reachable(root) or (watch in alive and root not in self._rewatch):
                continue
            self._rewatch.discard(root)
            if watch in {e.watch for e in self._observer.emitters}:
                self._observer.unschedule(watch)
            self._watches[root] = self._watch(self._observer, root)
            again.append(root)
        return again

    def reachable(self, root: str) -> bool:
        """Tell whether an inbox is there and listable, and not the bare mount point of an unmounted share.

        On another file system than at start, an empty folder is taken for an
        unmounted share; one with files for the share mounted again (watched anew).
        """
        try:
            dev, names = os.stat(root).st_dev, os.listdir(root)
            ok = dev == self._devices[root] or bool(names)
        except OSError:
            ok = False
        if ok and dev != self._devices[root]:
            self._devices[root] = dev
            self._rewatch.add(root)
        if ok == (root in self._unreachable):
            (self._unreachable.discard if ok else self._unreachable.add)(root)
            self.warn(f"inbox {root} is " + ("reachable again" if ok else
                      "not reachable (unmounted share?); its files wait until it is back"))
        return ok
