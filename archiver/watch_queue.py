"""Track inbox files until they are complete, and vanished ones until their absence is believed.

The watcher never reads a file's content: it only looks at sizes and times.
A file is complete when its size and modification time held still for the
settle time (or, after a close-write event, for a short confirmation) and it
can be opened; a path is held once, however many events name it. Once
committed, a file may be moved aside, never overwriting another.
"""
from __future__ import annotations

import fnmatch
import os
import shutil
import stat
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable, Iterable, Iterator

from archiver.errors import ArchiverError

# After a close-write event the writer is done; one short look confirms nothing reopened the file.
CONFIRM = 0.25
# A file that cannot be opened is handed over anyway after this long, so that its reason gets recorded.
BLOCKED_LIMIT = 30.0


def ignored(path: str, root: str, patterns: Iterable[str]) -> bool:
    """Tell whether a path below ``root`` matches an ignore pattern in its name or a folder's name."""
    parts = os.path.relpath(path, root).split(os.sep)
    return any(fnmatch.fnmatchcase(part.lower(), p.lower()) for part in parts for p in patterns)


def scan(folder: str, root: str, patterns: Iterable[str]) -> Iterator[tuple[str, os.stat_result]]:
    """Yield (path, stat) of every regular, not ignored file below ``folder``, in a stable order."""
    patterns = tuple(patterns)
    if ignored(folder, root, patterns) and folder != root:
        return
    for parent, dirs, files in os.walk(folder):
        dirs[:] = sorted(d for d in dirs if not ignored(os.path.join(parent, d), root, patterns))
        for name in sorted(files):
            path = os.path.join(parent, name)
            st = stat_file(path)
            if st is not None and not ignored(path, root, patterns):
                yield path, st


def stat_file(path: str) -> os.stat_result | None:
    """Return the stat of a regular file, or None when it is missing or something else."""
    try:
        st = os.stat(path)
    except OSError:
        return None
    return st if stat.S_ISREG(st.st_mode) else None


def _can_open(path: str) -> bool:
    try:
        os.close(os.open(path, os.O_RDONLY | os.O_NONBLOCK))
    except OSError:
        return False
    return True


@dataclass
class _Wait:
    size: int
    mtime_ns: int
    since: float                  # when the file last changed (or an event said it was written)
    closed: bool = False          # a close-write event came after the last change
    blocked_since: float | None = None


class Pending:
    """Files waiting to be complete, in arrival order; each path at most once."""

    def __init__(self, settle: float, clock: Callable[[], float] = time.monotonic):
        self.settle = settle
        self.confirm = min(settle, CONFIRM)
        self.clock = clock
        self._items: dict[str, _Wait] = {}

    def __len__(self) -> int:
        return len(self._items)

    def __contains__(self, path: str) -> bool:
        return path in self._items

    def written(self, path: str, closed: bool = False) -> None:
        """Note an event on ``path``: it was written to (or, with ``closed``, closed after writing)."""
        st = stat_file(path)
        if st is None:
            self._items.pop(path, None)
            return
        wait = self._items.setdefault(path, _Wait(st.st_size, st.st_mtime_ns, 0.0))
        wait.size, wait.mtime_ns, wait.since, wait.closed = st.st_size, st.st_mtime_ns, self.clock(), closed

    def offer(self, path: str, st: os.stat_result, ready: bool = False) -> None:
        """Hold a file found by a scan; one already held keeps its clock unless it changed."""
        wait = self._items.get(path)
        if wait is None:
            since = float("-inf") if ready else self.clock()
            self._items[path] = _Wait(st.st_size, st.st_mtime_ns, since)
        elif (wait.size, wait.mtime_ns) != (st.st_size, st.st_mtime_ns):
            wait.size, wait.mtime_ns, wait.since, wait.closed = st.st_size, st.st_mtime_ns, self.clock(), False

    def discard(self, path: str) -> None:
        """Forget a path (it was moved away or deleted)."""
        self._items.pop(path, None)

    def ready(self, limit: int) -> list[tuple[str, os.stat_result]]:
        """Remove and return up to ``limit`` complete files, oldest first, with their stat.

        A file is looked at only when its wait is over: if its size or time differ
        from those noted then, it changed meanwhile and waits again.
        """
        now = self.clock()
        found: list[tuple[str, os.stat_result]] = []
        for path, wait in list(self._items.items()):
            if len(found) >= limit:
                break
            if now - wait.since < (self.confirm if wait.closed else self.settle):
                continue
            st = stat_file(path)
            if st is None:
                del self._items[path]
            elif (st.st_size, st.st_mtime_ns) != (wait.size, wait.mtime_ns):
                wait.size, wait.mtime_ns, wait.since, wait.closed = st.st_size, st.st_mtime_ns, now, False
            elif _can_open(path) or now - (wait.blocked_since or now) >= BLOCKED_LIMIT:
                del self._items[path]
                found.append((path, st))
            elif wait.blocked_since is None:
                wait.blocked_since = now
        return found


class Vanished:
    """Paths (files or folders) that went away, each due for a check after a grace period."""

    def __init__(self, grace: float, clock: Callable[[], float] = time.monotonic):
        self.grace = grace
        self.clock = clock
        self._items: dict[str, float] = {}

    def __len__(self) -> int:
        return len(self._items)

    def add(self, path: str) -> None:
        """Note that ``path`` went away (again: the grace period starts anew)."""
        self._items.pop(path, None)
        self._items[path] = self.clock()

    def due(self) -> list[str]:
        """Remove and return the paths whose grace period is over."""
        now = self.clock()
        found = [p for p, t in self._items.items() if now - t >= self.grace]
        for path in found:
            del self._items[path]
        return found


def move_no_overwrite(src: Path, dest: Path) -> Path:
    """Move a file to ``dest``, or ``name (2).ext`` and so on when that is taken; never replace a file.

    On the same file system a hard link claims the name atomically; elsewhere the
    file is copied beside the target under a hidden name first, so a crash never
    leaves half a file under the final name.
    """
    dest.parent.mkdir(parents=True, exist_ok=True)
    for target in _free_names(dest):
        try:
            os.link(src, target)
        except FileExistsError:
            continue
        except OSError:                  # another file system, or one without hard links
            break
        os.unlink(src)
        return target
    fd, staged = tempfile.mkstemp(dir=dest.parent, prefix=".archiver-move-")
    try:
        with open(src, "rb") as fin, os.fdopen(fd, "wb") as fout:
            shutil.copyfileobj(fin, fout)
            fout.flush()
            os.fsync(fout.fileno())
        shutil.copystat(src, staged)
        for target in _free_names(dest):
            try:
                os.close(os.open(target, os.O_WRONLY | os.O_CREAT | os.O_EXCL))   # claim the name
            except FileExistsError:
                continue
            os.replace(staged, target)
            os.unlink(src)
            return target
    finally:
        Path(staged).unlink(missing_ok=True)
    raise ArchiverError(f"{dest}: too many files of that name already")


def _free_names(dest: Path) -> Iterator[Path]:
    yield dest
    for n in range(2, 10_000):
        yield dest.with_name(f"{dest.stem} ({n}){dest.suffix}")
