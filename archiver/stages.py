"""Define the stages one input goes through: find, check, hash, sniff, store, extract.

Like beets' importer, each stage is a function that takes a :class:`Task` and
returns it (changed with ``dataclasses.replace``); tests run them one at a
time, and :mod:`archiver.ingest` runs them in order.
"""
from __future__ import annotations

import hashlib
import os
import re
import stat
from dataclasses import dataclass, replace
from datetime import datetime, timezone
from pathlib import Path
from typing import Iterable, Iterator

from archiver import extract
from archiver.catalog import Catalog, iso
from archiver.errors import FileError
from archiver.extract import Limits
from archiver.records import Extraction, IngestResult, Sniffed
from archiver.sniff import sniff, sniff_data
from archiver.store import OriginalStore, sha256_file

# Extensions people use for each format, to warn when a name lies about its content.
_EXTENSIONS = {
    "pdf": {".pdf"}, "docx": {".docx"}, "html": {".html", ".htm", ".xhtml"},
    "email": {".eml", ".msg", ".mbox"}, "csv": {".csv", ".tsv", ".txt"},
    "image": {".png", ".jpg", ".jpeg", ".tif", ".tiff", ".gif", ".bmp", ".webp"},
    "text": {".txt", ".text", ".log", ".md", ".markdown", ".csv", ".asc", ""},
    "markdown": {".md", ".markdown", ".txt"},
}


@dataclass(frozen=True)
class Task:
    """One input on its way through the stages."""

    label: str                        # the path (or "message#n name" for attachments)
    path: Path | None = None          # where to read it; None for attachments
    data: bytes | None = None         # an attachment's bytes
    size: int = 0
    mtime_ns: int = 0
    sha256: str | None = None
    sniffed: Sniffed | None = None
    filename: str | None = None
    message_id: int | None = None     # for attachments: the carrying message
    position: int = 0
    status: str | None = None         # set when the task is finished
    reason: str | None = None
    doc_id: int | None = None
    warnings: tuple[str, ...] = ()

    def result(self) -> IngestResult:
        """Return the task's outcome as the row `archiver ingest --json` prints."""
        return IngestResult(self.label, self.sha256, self.doc_id, self.status or "rejected", self.reason,
                            self.sniffed.format if self.sniffed else None, self.warnings, self.message_id)


# -- stages -------------------------------------------------------------------

def discover(paths: Iterable[Path], skip: Path | None = None, own: Iterable[Path] = ()) -> Iterator[Path]:
    """Yield every file under the given files and folders, in a stable order.

    The archive's own files are never inputs: ``skip`` (the archive's folder) and the
    files at its top (catalog, settings, locks), and ``own``, the folders it keeps
    (originals, index, filed tree). Other folders inside the archive's folder (an
    inbox kept there) are read as any folder is.
    """
    root = Path(os.path.abspath(skip)) if skip else None
    kept = tuple(Path(os.path.abspath(o)) for o in own)
    for path in paths:
        path = Path(os.path.abspath(path))
        if is_archive_own(path, root, kept):
            continue
        if path.is_dir():
            for folder, dirs, files in os.walk(path):
                dirs[:] = sorted(d for d in dirs if not is_archive_own(Path(folder, d), root, kept))
                for name in sorted(files):
                    yield Path(folder) / name
        else:
            yield path


def is_archive_own(path: Path, root: Path | None, own: tuple[Path, ...]) -> bool:
    """Tell whether an absolute path is the archive's folder, a file at its top, or in a folder it keeps."""
    if root is None:
        return False
    if path == root or (path.parent == root and not path.is_dir()):
        return True
    return any(o == path or o in path.parents for o in own)


def readable(text: str) -> str:
    """Return a path or name as valid Unicode: bytes of it that are not UTF-8 (which Python keeps
    as lone surrogates) are written as escapes such as \\xff, so that different names stay different."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


def task_for(path: Path) -> Task:
    """Return the task of an input file; a name that is not valid UTF-8 is recorded readable, with a warning."""
    label = readable(str(path))
    if label == str(path):
        return Task(label=label, path=path)
    return Task(label=label, path=path, warnings=(f"the file name is not valid UTF-8; recorded as {label}",))


def check_unchanged(task: Task, catalog: Catalog) -> Task:
    """Finish a task whose path was seen before with the same size and mtime."""
    try:
        st = task.path.stat()
    except FileNotFoundError:
        if task.path.is_symlink():
            target = readable(os.readlink(task.path))
            return replace(task, status="rejected", reason=f"broken symbolic link: {target} does not exist")
        return replace(task, status="rejected", reason="file vanished before it could be read")
    except OSError as exc:
        return replace(task, status="rejected", reason=f"cannot read: {exc.strerror or exc}")
    if not stat.S_ISREG(st.st_mode):
        # A pipe, socket or device would block or never end: refuse it before reading a byte.
        return replace(task, status="rejected", reason="not a regular file (a pipe, socket or device)")
    task = replace(task, size=st.st_size, mtime_ns=st.st_mtime_ns, filename=readable(task.path.name))
    seen = catalog.source_at(task.label)
    if seen and seen[1] == st.st_size and seen[2] == st.st_mtime_ns:
        return replace(task, status="unchanged", doc_id=seen[0])
    return task


def hash_file(task: Task) -> Task:
    """Compute the SHA-256 of the task's content."""
    if task.data is not None:
        return replace(task, sha256=hashlib.sha256(task.data).hexdigest(), size=len(task.data))
    try:
        digest, size = sha256_file(task.path)
    except FileNotFoundError:
        return replace(task, status="rejected", reason="file vanished before it could be read")
    except OSError as exc:
        return replace(task, status="rejected", reason=f"cannot read: {exc.strerror or exc}")
    return replace(task, sha256=digest, size=size)


def sniff_format(task: Task) -> Task:
    """Decide the format by content and note when the file name says otherwise."""
    sniffed = sniff_data(task.data, task.filename or "") if task.data is not None else sniff(task.path)
    warnings = task.warnings
    suffix = Path(task.filename or "").suffix.lower()
    expected = _EXTENSIONS.get(sniffed.format)
    if expected is not None and suffix and suffix not in expected and sniffed.format != "unknown":
        warnings += (f"the name says {suffix} but the content is {sniffed.description}",)
    return replace(task, sniffed=sniffed, warnings=warnings)


def store_original(task: Task, store: OriginalStore) -> Task:
    """Copy the original into the store; a file that changes meanwhile is refused for now."""
    try:
        if task.data is not None:
            store.put_bytes(task.data, task.sha256, task.label)
        else:
            store.put_file(task.path, task.sha256)
    except FileError as exc:
        return replace(task, status="rejected", reason=exc.reason)
    except FileNotFoundError:
        return replace(task, status="rejected", reason="file vanished before it could be read")
    except OSError as exc:
        return replace(task, status="rejected", reason=f"cannot read: {exc.strerror or exc}")
    return task


def refusal(task: Task) -> str | None:
    """Return why a stored file will not be extracted (empty, unknown format), or None."""
    if task.size == 0:
        return "empty file (0 bytes)"
    if task.sniffed.format == "unknown":
        return f"unsupported format: the content is {task.sniffed.description}"
    if extract.for_mime(task.sniffed.mime) is None:
        return f"unsupported format: no extractor for {task.sniffed.mime}"
    return None


def best_date(ex: Extraction, fallback: datetime | None) -> str | None:
    """Return the date a person would file the document under.

    That is the sent date of an e-mail (its extractor gives it as ``created``),
    else the created, else the modified date the file itself records, else
    ``fallback`` (the file's modification time, or the carrying message's date).
    """
    return iso(ex.created or ex.modified or fallback)


def file_time(task: Task) -> datetime | None:
    """Return the input file's modification time as a UTC datetime, if it is a file."""
    if task.path is None or not task.mtime_ns:
        return None
    return datetime.fromtimestamp(task.mtime_ns / 1e9, tz=timezone.utc).replace(microsecond=0)


# Terminal escape sequences (colour, window title) and other control characters in
# metadata: a title is one line of text to search, show and export.
_ESCAPES = re.compile(r"\x1b(\[[0-?]*[ -/]*[@-~]|\][^\x07\x1b]*(\x07|\x1b\\)?|[@-Z\\-_])")
_CONTROLS = re.compile("[\x00-\x1f\x7f-\x9f]+")


def one_line(value: str | None) -> str | None:
    """Return a metadata value without escape sequences, its control characters as single spaces."""
    if not value:
        return value
    return _CONTROLS.sub(" ", _ESCAPES.sub("", value)).strip() or None


def limits_for(config) -> Limits:
    """Return the extraction limits an archive's settings give."""
    return Limits(max_image_pixels=config["ingest.max_image_pixels"],
                  max_inflated_bytes=config["ingest.max_inflated_mb"] * 1024 * 1024)


def extract_original(path: str, mime: str, limits: Limits) -> Extraction:
    """Extract one stored original (runs in a worker process)."""
    ex = extract.extract(Path(path), mime, limits)
    return replace(ex, title=one_line(ex.title), author=one_line(ex.author), subject=one_line(ex.subject),
                   keywords=one_line(ex.keywords))
