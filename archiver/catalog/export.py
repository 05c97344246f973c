"""Hold the catalog's SQL for evidence exports and verification: custody extracts and the audit chain."""
from __future__ import annotations

from typing import Iterable, Iterator

# Audit actions that record the making of a bundle. A bundle's custody record leaves them out, so
# that the same archive and selection give the same bundle however often it is exported.
EXPORT_ACTIONS = ("export", "export.bundle")


class ExportMixin:
    """Custody, audit-chain and original listings of :class:`archiver.catalog.Catalog`."""

    db = None  # the sqlite3 connection, set by Catalog

    def audit_head(self, skip_exports: bool = False) -> dict | None:
        """Return ``{id, at, action, hash}`` of the newest audit entry (optionally not an export), or None."""
        where = f" WHERE action NOT IN ({','.join('?' * len(EXPORT_ACTIONS))})" if skip_exports else ""
        row = self.db.execute(f"SELECT id, at, action, hash FROM audit{where} ORDER BY id DESC LIMIT 1",
                              EXPORT_ACTIONS if skip_exports else ()).fetchone()
        return dict(row) if row else None

    def custody_events(self, doc_ids: Iterable[int], up_to: int) -> dict[int, list[dict]]:
        """Return, per document, its audit entries up to entry ``up_to``, export entries left out.

        Each entry is a dict of the audit row with ``detail`` kept as the exact JSON text
        that was hashed, so a reader can recompute the entry's hash.
        """
        ids = list(doc_ids)
        found: dict[int, list[dict]] = {i: [] for i in ids}
        skip = ",".join("?" * len(EXPORT_ACTIONS))
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            rows = self.db.execute(
                f"SELECT id, at, action, doc_id, sha256, detail, prev_hash, hash FROM audit "
                f"WHERE doc_id IN ({marks}) AND id <= ? AND action NOT IN ({skip}) ORDER BY id",
                [*chunk, up_to, *EXPORT_ACTIONS])
            for row in rows:
                found[row["doc_id"]].append(dict(row))
        return found

    def attachment_places(self, doc_id: int) -> list[tuple[int, int, str]]:
        """Return (message_id, position, name) of every message that carries a document."""
        return [tuple(r) for r in self.db.execute(
            "SELECT message_id, position, name FROM attachments WHERE doc_id=? ORDER BY message_id, position",
            (doc_id,))]

    def audit_chain(self) -> Iterator[tuple]:
        """Yield every audit entry (id, at, action, doc_id, sha256, detail, prev_hash, hash), oldest first."""
        cursor = self.db.execute(
            "SELECT id, at, action, doc_id, sha256, detail, prev_hash, hash FROM audit ORDER BY id")
        while rows := cursor.fetchmany(1000):
            yield from (tuple(r) for r in rows)

    def stored_hashes(self) -> list[tuple[int, str, int]]:
        """Return (doc_id, sha256, size) of every document, by id."""
        return [tuple(r) for r in self.db.execute("SELECT id, sha256, size FROM documents ORDER BY id")]

    def stored_events(self) -> dict[int, set[str]]:
        """Return, per document, the SHA-256 values its ``ingest.stored`` audit entries name."""
        found: dict[int, set[str]] = {}
        for doc_id, sha in self.db.execute(
                "SELECT doc_id, sha256 FROM audit WHERE action='ingest.stored' AND doc_id IS NOT NULL"):
            found.setdefault(doc_id, set()).add(sha)
        return found

