"""archiver: a document archive and cross-reference indexer for product coordinators.

Everything the command line does, a script can do through :class:`Archive`.
"""
from archiver.archive import Archive, DocumentView, Status
from archiver.errors import (AlreadyWatching, Ambiguous, ArchiverError, CatalogDamaged, ConfigError, FileError,
                             IndexOutdated, LockTimeout, NotAnArchiveError, NotFound, QueryError)

__version__ = "0.1.0"

__all__ = [
    "Archive", "DocumentView", "Status", "ArchiverError", "AlreadyWatching", "Ambiguous", "CatalogDamaged", "ConfigError",
    "FileError", "IndexOutdated", "LockTimeout", "NotAnArchiveError", "NotFound", "QueryError",
    "__version__",
]
