"""Define the error family that archiver raises on purpose."""
from __future__ import annotations

from pathlib import Path


class ArchiverError(Exception):
    """Base of every error archiver raises on purpose; the CLI prints it as one line."""


class ConfigError(ArchiverError):
    """archive.toml is missing, malformed or holds an invalid value."""


class NotAnArchiveError(ArchiverError):
    """The chosen folder holds no archive."""


class LockTimeout(ArchiverError):
    """Another process held the writer lock for longer than we were willing to wait."""


class AlreadyWatching(ArchiverError):
    """Another watcher already runs for this archive; there is one per archive."""


class NotFound(ArchiverError):
    """A document, product or change request named by the user does not exist."""


class Ambiguous(ArchiverError):
    """A name (for example a SHA-256 prefix) matches more than one document."""


class IndexOutdated(ArchiverError):
    """The search index was built by another schema version or is damaged."""


class CatalogDamaged(ArchiverError):
    """The catalog database cannot be read; it is never silently recreated."""


class CatalogUnavailable(ArchiverError):
    """The catalog's PostgreSQL server cannot be reached or refused us; nothing was changed."""


class QueryError(ArchiverError):
    """A search query or filter could not be understood."""


class FileError(ArchiverError):
    """A problem with one input file; prints as ``path: reason``."""

    def __init__(self, path: str | Path, reason: str):
        self.path = str(path)
        self.reason = reason
        super().__init__(f"{self.path}: {reason}")


class ExtractionError(Exception):
    """An extractor could not read a file; ``reason`` is one line for a person.

    Extractors raise it without knowing the path (they may run on a temporary
    copy in a worker process); the pipeline turns it into a recorded reject.
    """

    def __init__(self, reason: str):
        self.reason = reason
        super().__init__(reason)
