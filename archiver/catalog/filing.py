"""Hold the catalog's SQL for the filed tree: which entries archiver placed, and what filing reads.

The `filed` table is created by migration 0003 in :mod:`archiver.catalog.schema`.
"""
from __future__ import annotations


class FilingMixin:
    """The `filed` table and filing's reads of :class:`archiver.catalog.Catalog`."""

    db = None  # the sqlite3 connection, set by Catalog

    def filing_doc_ids(self) -> list[int]:
        """Return the id of every document (each has a stored original), in order."""
        return [r[0] for r in self.db.execute("SELECT id FROM documents ORDER BY id")]

    def filing_senders(self) -> dict[int, str]:
        """Return the e-mail sender of every message and of every attachment (its message's sender)."""
        rows = self.db.execute(
            """SELECT a.doc_id, json_extract(m.metadata, '$.from') FROM attachments a
               JOIN documents m ON m.id = a.message_id
               WHERE json_extract(m.metadata, '$.from') IS NOT NULL
               UNION ALL
               SELECT id, json_extract(metadata, '$.from') FROM documents
               WHERE json_extract(metadata, '$.from') IS NOT NULL
               ORDER BY 1""")
        return {doc_id: sender for doc_id, sender in rows if isinstance(sender, str) and sender}

    def filed_entries(self) -> dict[str, tuple[int, str, str]]:
        """Return every entry archiver placed in the filed tree: path -> (doc_id, rule, mode)."""
        return {path: (doc_id, rule, mode) for path, doc_id, rule, mode in self.db.execute(
            "SELECT path, doc_id, rule, mode FROM filed ORDER BY path")}

    def filed_paths_of(self, doc_id: int) -> list[str]:
        """Return the paths a document is filed at."""
        return [r[0] for r in self.db.execute("SELECT path FROM filed WHERE doc_id=? ORDER BY path", (doc_id,))]

    def put_filed(self, path: str, doc_id: int, rule: str, mode: str, at: str) -> None:
        """Record (or update) an entry of the filed tree. Call inside a transaction."""
        self.db.execute(
            "INSERT INTO filed (path, doc_id, rule, mode, at) VALUES (?,?,?,?,?) ON CONFLICT(path) DO UPDATE "
            "SET doc_id=excluded.doc_id, rule=excluded.rule, mode=excluded.mode, at=excluded.at",
            (path, doc_id, rule, mode, at))

    def retag_filed(self, path: str, rule: str) -> None:
        """Record that an entry stays where it is under another rule's name. Call inside a transaction."""
        self.db.execute("UPDATE filed SET rule=? WHERE path=?", (rule, path))

    def unfile(self, path: str) -> tuple[int, str, str] | None:
        """Forget an entry of the filed tree; return its (doc_id, rule, mode). Call inside a transaction."""
        row = self.db.execute("SELECT doc_id, rule, mode FROM filed WHERE path=?", (path,)).fetchone()
        if row is None:
            return None
        self.db.execute("DELETE FROM filed WHERE path=?", (path,))
        return tuple(row)
