"""Hold every SQL statement of archiver: the SQLite catalog, the single source of truth.

A PostgreSQL backend for the team archive will be a second implementation of
this class; nothing outside this package writes SQL.
"""
from __future__ import annotations

import hashlib
import json
import sqlite3
import time
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Callable, Iterable, Iterator

from archiver.catalog import backend
from archiver.catalog.export import ExportMixin
from archiver.catalog.filing import FilingMixin
from archiver.catalog.jobs import JobsMixin
from archiver.catalog.links import LinksMixin, mail_links
from archiver.catalog.schema import MIGRATIONS
from archiver.errors import CatalogDamaged, CatalogUnavailable, LockTimeout
from archiver.records import Document, Extraction, Reject, Sniffed, Source

GENESIS = "0" * 64


def now() -> str:
    """Return the current time as ISO 8601 in UTC, to the second."""
    return datetime.now(timezone.utc).replace(microsecond=0).isoformat()


def iso(value: datetime | None) -> str | None:
    """Return a datetime as ISO 8601 in UTC, or None."""
    if value is None:
        return None
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc).isoformat()


class Catalog(LinksMixin, ExportMixin, FilingMixin, JobsMixin):
    """The SQLite catalog of one archive."""

    def __init__(self, target: Path | str):
        """Open (and bring up to date) the catalog in an SQLite file or a PostgreSQL database URL."""
        self.path = target
        if backend.is_url(target):
            self.dialect = "postgresql"
            self.where = backend.redact(target)
            try:
                self.db = backend.PgConnection(target)
                self._migrate()
            except Exception as exc:
                if not _is_pg_error(exc):
                    raise
                raise CatalogUnavailable(f"{self.where}: the catalog database cannot be used "
                                         f"({_first_line(exc)})") from exc
            return
        self.dialect = "sqlite"
        self.where = str(target)
        try:
            self.db = backend.connect_sqlite(Path(target))
            self._migrate()
        except sqlite3.DatabaseError as exc:
            raise CatalogDamaged(
                f"{target}: the catalog cannot be read ({exc}); it was left untouched. "
                "Restore it from a backup; the originals are safe in originals/") from exc

    def close(self) -> None:
        """Close the database connection."""
        self.db.close()

    # -- schema -------------------------------------------------------------

    def _migrate(self) -> None:
        self.db.execute("CREATE TABLE IF NOT EXISTS migrations (name TEXT PRIMARY KEY, applied_at TEXT NOT NULL)")
        done = {r[0] for r in self.db.execute("SELECT name FROM migrations")}
        for name, sql in MIGRATIONS:
            if name in done:
                continue
            with self.transaction():
                if callable(sql):       # a migration that needs Python, not only SQL
                    sql(self)
                else:
                    for statement in sql.split(";"):
                        if statement.strip():
                            self.db.execute(statement)
                self.db.execute("INSERT INTO migrations VALUES (?, ?)", (name, now()))

    def migrations(self) -> list[str]:
        """Return the names of the migrations applied, in order."""
        return [r[0] for r in self.db.execute("SELECT name FROM migrations ORDER BY name")]

    @contextmanager
    def transaction(self) -> Iterator[None]:
        """Run a block as one write transaction (one writer at a time): commit on success, roll back on error."""
        if self.dialect == "sqlite":
            self.db.execute("BEGIN IMMEDIATE")
        else:
            self.db.begin()
        try:
            yield
        except BaseException:
            self.db.execute("ROLLBACK")
            raise
        self.db.execute("COMMIT")

    @contextmanager
    def writer_lock(self, timeout: float, on_wait: Callable[[str], None] | None = None) -> Iterator[None]:
        """Hold a team archive's writer lock, a PostgreSQL advisory lock, waiting up to ``timeout`` seconds."""
        deadline, told = time.monotonic() + timeout, False
        while not self.db.execute("SELECT pg_try_advisory_lock(?)", (backend.ARCHIVE_LOCK_KEY,)).fetchone()[0]:
            holder = self._lock_holder()
            if time.monotonic() >= deadline:
                raise LockTimeout(f"another archiver process{holder} is writing to this team archive; gave up "
                                  f"after {timeout:g} s (raise lock.timeout in archive.toml to wait longer)")
            if on_wait and not told:
                on_wait(f"waiting for another archiver process{holder} to finish writing...")
                told = True
            time.sleep(0.2)
        try:
            yield
        finally:
            self.db.execute("SELECT pg_advisory_unlock(?)", (backend.ARCHIVE_LOCK_KEY,))

    def _lock_holder(self) -> str:
        row = self.db.execute(
            "SELECT a.application_name FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid "
            "WHERE l.locktype = 'advisory' AND l.granted AND "
            "((l.classid::bigint << 32) | l.objid::bigint) = ? LIMIT 1", (backend.ARCHIVE_LOCK_KEY,)).fetchone()
        return f" ({row[0]})" if row and row[0] else ""

    # -- writing ------------------------------------------------------------

    def add_document(self, *, sha256: str, size: int, sniffed: Sniffed, extraction: Extraction | None,
                     state: str, reason: str | None, filename: str | None, date: str | None) -> int:
        """Insert one document and its pages; return its id. Call inside a transaction."""
        ex = extraction or Extraction(pages=())
        text_length = sum(len(p.text) for p in ex.pages)
        cur = self.db.execute(
            """INSERT INTO documents (sha256, size, format, mime, state, reason, title, author, subject,
               keywords, created, modified, date, pages, text_length, filename, metadata,
               ingested_at) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?,?) RETURNING id""",
            (sha256, size, sniffed.format, sniffed.mime, state, reason, ex.title, ex.author,
             ex.subject, ex.keywords, iso(ex.created), iso(ex.modified), date,
             ex.page_count, text_length, filename,
             json.dumps(ex.metadata, sort_keys=True, default=str), now()))
        doc_id = cur.fetchone()[0] if self.dialect == "sqlite" else cur.lastrowid
        self.add_pages(doc_id, ex)
        return doc_id

    def add_pages(self, doc_id: int, ex: Extraction) -> None:
        """Store what a document's extractor read that lives beside its row: its pages and its e-mail links."""
        self.db.executemany(
            "INSERT INTO pages VALUES (?,?,?,?,?,?,?)",
            [(doc_id, p.number, p.text, p.source, p.confidence, p.engine, p.languages) for p in ex.pages])
        mail = mail_links(doc_id, ex.metadata.get("message_id"), ex.metadata.get("in_reply_to"))
        if mail:
            self.replace_links(f"mail:{doc_id}", mail)

    def record_source(self, doc_id: int, path: str, size: int, mtime_ns: int) -> None:
        """Record (or refresh) that a document's content was seen at ``path``."""
        t = now()
        # Another content seen at this path before is a former version: it keeps its row.
        self.db.execute("UPDATE sources SET status='replaced', last_seen=? WHERE path=? AND doc_id != ? "
                        "AND status='present'", (t, path, doc_id))
        self.db.execute(
            """INSERT INTO sources (doc_id, path, size, mtime_ns, first_seen, last_seen, status)
               VALUES (?,?,?,?,?,?, 'present')
               ON CONFLICT(path, doc_id) DO UPDATE SET size=excluded.size,
               mtime_ns=excluded.mtime_ns, last_seen=excluded.last_seen, status='present'""",
            (doc_id, path, size, mtime_ns, t, t))

    def add_attachment(self, message_id: int, position: int, doc_id: int, name: str) -> None:
        """Record that a message carries a document as its attachment number ``position``."""
        cur = self.db.execute("INSERT OR IGNORE INTO attachments VALUES (?,?,?,?)",
                              (message_id, position, doc_id, name))
        if cur.rowcount:
            self.part_done(message_id)
            self.replace_links(f"att:{message_id}:{position}",
                               [(f"doc:{doc_id}", f"doc:{message_id}", 1), (f"doc:{message_id}", f"doc:{doc_id}", 1)])

    def expect_parts(self, message_id: int, count: int) -> None:
        """Record that a message's attachments are still to be taken in (a crash may interrupt that)."""
        self.db.execute("UPDATE documents SET parts_pending=? WHERE id=?", (count, message_id))

    def part_done(self, message_id: int) -> None:
        """Count one of a message's attachments as taken in (or as refused for good)."""
        self.db.execute("UPDATE documents SET parts_pending = parts_pending - 1 WHERE id=? AND parts_pending > 0", (message_id,))

    def messages_with_pending_parts(self) -> list[tuple[int, str, str]]:
        """Return (doc_id, sha256, mime) of messages whose attachments were not all taken in."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, sha256, mime FROM documents WHERE parts_pending > 0 ORDER BY id")]

    def attachment_positions(self, message_id: int) -> set[int]:
        """Return the positions of a message's attachments already recorded."""
        return {r[0] for r in self.db.execute("SELECT position FROM attachments WHERE message_id=?", (message_id,))}

    def add_version(self, doc_id: int, previous_id: int, path: str) -> None:
        """Record that the content at ``path`` changed: ``doc_id`` is a new version of ``previous_id``."""
        cur = self.db.execute("INSERT OR IGNORE INTO versions VALUES (?,?,?,?)", (doc_id, previous_id, path, now()))
        if cur.rowcount:
            self.replace_links(f"ver:{doc_id}:{previous_id}",
                               [(f"doc:{doc_id}", f"doc:{previous_id}", 1), (f"doc:{previous_id}", f"doc:{doc_id}", 1)])

    def versions(self) -> list[tuple[int, int, str]]:
        """Return (doc_id, previous_id, path) of every recorded new version."""
        return [tuple(r) for r in self.db.execute("SELECT doc_id, previous_id, path FROM versions ORDER BY rowid")]

    def mark_source_gone(self, path: str) -> int | None:
        """Record that the file at ``path`` went away (its original stays); return its document id."""
        row = self.db.execute("SELECT doc_id FROM sources WHERE path=? AND status='present'", (path,)).fetchone()
        if row is None:
            return None
        self.db.execute("UPDATE sources SET status='gone', last_seen=? WHERE path=?", (now(), path))
        return row[0]

    def present_sources_under(self, folder: str) -> list[tuple[str, int, int, int]]:
        """Return (path, doc_id, size, mtime_ns) of every present source inside a folder."""
        prefix = folder.rstrip("/") + "/"
        return [tuple(r) for r in self.db.execute(
            "SELECT path, doc_id, size, mtime_ns FROM sources WHERE status='present' AND substr(path, 1, ?) = ? "
            "ORDER BY path", (len(prefix), prefix))]

    def add_reject(self, path: str, sha256: str | None, doc_id: int | None, reason: str) -> None:
        """Record that an input could not be read, and why."""
        self.db.execute("INSERT INTO rejects (path, sha256, doc_id, reason, at) VALUES (?,?,?,?,?)",
                        (path, sha256, doc_id, reason, now()))

    def audit(self, action: str, doc_id: int | None, sha256: str | None, **detail) -> str:
        """Append one event to the hash-chained audit log; return its hash."""
        row = self.db.execute("SELECT hash FROM audit ORDER BY id DESC LIMIT 1").fetchone()
        prev = row[0] if row else GENESIS
        at = now()
        body = json.dumps(detail, sort_keys=True, separators=(",", ":"), default=str)
        digest = audit_hash(prev, at, action, doc_id, sha256, body)
        self.db.execute(
            "INSERT INTO audit (at, action, doc_id, sha256, detail, prev_hash, hash) VALUES (?,?,?,?,?,?,?)",
            (at, action, doc_id, sha256, body, prev, digest))
        return digest

    def mark_indexed(self, doc_ids: Iterable[int], generation: int) -> None:
        """Record that these documents are in the search index."""
        with self.transaction():
            self.db.executemany("UPDATE documents SET indexed_gen=? WHERE id=?",
                                [(generation, i) for i in doc_ids])

    def clear_indexed(self) -> None:
        """Forget which documents are indexed (before a full rebuild)."""
        with self.transaction():
            self.db.execute("UPDATE documents SET indexed_gen=NULL")

    def get_state(self, key: str, default: str | None = None) -> str | None:
        """Return a value of the small key-value state table."""
        row = self.db.execute("SELECT value FROM state WHERE key=?", (key,)).fetchone()
        return row[0] if row else default

    def set_state(self, key: str, value: str) -> None:
        """Set a value of the small key-value state table."""
        self.db.execute("INSERT INTO state VALUES (?, ?) ON CONFLICT(key) DO UPDATE SET value=excluded.value",
                        (key, value))

    # -- reading ------------------------------------------------------------

    def source_at(self, path: str) -> tuple[int, int, int] | None:
        """Return (doc_id, size, mtime_ns) last recorded for a path, or None."""
        row = self.db.execute(
            "SELECT doc_id, size, mtime_ns FROM sources WHERE path=? ORDER BY status='present' DESC, last_seen DESC, "
            "id DESC LIMIT 1", (path,)).fetchone()
        return tuple(row) if row else None

    def doc_id_by_sha(self, sha256: str) -> int | None:
        """Return the id of the document with this exact hash, or None."""
        row = self.db.execute("SELECT id FROM documents WHERE sha256=?", (sha256,)).fetchone()
        return row[0] if row else None

    def doc_ids_by_sha_prefix(self, prefix: str, limit: int = 2) -> list[int]:
        """Return ids of documents whose hash starts with ``prefix``."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM documents WHERE sha256 >= ? AND sha256 < ? ORDER BY sha256 LIMIT ?",
            (prefix, prefix + "g", limit))]

    def doc_ids_by_path(self, path: str) -> list[int]:
        """Return ids of documents seen at ``path`` (exactly, or ending with it)."""
        rows = self.db.execute("SELECT DISTINCT doc_id, status FROM sources WHERE path=?", (path,)).fetchall()
        if not rows:
            rows = self.db.execute("SELECT DISTINCT doc_id, status FROM sources WHERE path LIKE ? ESCAPE '\\'",
                                   ("%/" + _like_escape(path),)).fetchall()
        present = [r[0] for r in rows if r[1] == "present"]
        return present or sorted({r[0] for r in rows})

    def document(self, doc_id: int) -> Document | None:
        """Return one document, or None (also for a number past the 64-bit ids)."""
        if not 0 <= doc_id < 2 ** 63:
            return None
        row = self.db.execute("SELECT * FROM documents WHERE id=?", (doc_id,)).fetchone()
        return _document(row) if row else None

    def documents(self, doc_ids: Iterable[int]) -> dict[int, Document]:
        """Return the documents with these ids, by id."""
        ids = list(doc_ids)
        found: dict[int, Document] = {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for row in self.db.execute(f"SELECT * FROM documents WHERE id IN ({marks})", chunk):
                found[row["id"]] = _document(row)
        return found

    def labels(self, doc_ids: Iterable[int]) -> dict[int, tuple[str | None, str]]:
        """Return (date, title or file name) of documents, by id: what a list of them shows."""
        ids, found = list(doc_ids), {}
        for start in range(0, len(ids), 500):
            chunk = ids[start:start + 500]
            marks = ",".join("?" * len(chunk))
            for doc_id, date, label in self.db.execute(
                    f"SELECT id, date, COALESCE(title, filename, '') FROM documents WHERE id IN ({marks})", chunk):
                found[doc_id] = (date, label)
        return found

    def sources(self, doc_id: int) -> list[Source]:
        """Return every path a document was seen at, oldest first."""
        rows = self.db.execute(
            "SELECT path, size, mtime_ns, first_seen, last_seen, status FROM sources "
            "WHERE doc_id=? ORDER BY first_seen, id", (doc_id,))
        return [Source(*row) for row in rows]

    def first_sources(self, doc_ids: Iterable[int]) -> dict[int, str]:
        """Return the first path each document was seen at."""
        ids = list(doc_ids)
        marks = ",".join("?" * len(ids))
        rows = self.db.execute(
            f"SELECT doc_id, path FROM sources WHERE doc_id IN ({marks}) ORDER BY id DESC", ids)
        return {doc_id: path for doc_id, path in rows}

    def attachments_of(self, message_id: int) -> list[tuple[int, str]]:
        """Return (doc_id, name) of a message's attachments, in message order."""
        return [tuple(r) for r in self.db.execute(
            "SELECT doc_id, name FROM attachments WHERE message_id=? ORDER BY position", (message_id,))]

    def attachments_at(self, message_id: int) -> list[tuple[int, int, str]]:
        """Return (position, doc_id, name) of a message's attachments, in message order."""
        return [tuple(r) for r in self.db.execute(
            "SELECT position, doc_id, name FROM attachments WHERE message_id=? ORDER BY position", (message_id,))]

    def messages_carrying(self, doc_id: int) -> list[tuple[int, str]]:
        """Return (message_id, name) of every message that carries a document as attachment."""
        return [tuple(r) for r in self.db.execute(
            "SELECT message_id, name FROM attachments WHERE doc_id=? ORDER BY message_id", (doc_id,))]

    def text(self, doc_id: int) -> str:
        """Return a document's whole text, pages separated by form feeds."""
        rows = self.db.execute("SELECT text FROM pages WHERE doc_id=? ORDER BY number", (doc_id,))
        return "\f".join(r[0] for r in rows)

    def ocr_summary(self, doc_id: int) -> dict | None:
        """Return {pages, mean_confidence, engine, languages} of a document's OCR pages, or None."""
        rows = self.db.execute("SELECT source, confidence, engine, languages FROM pages WHERE doc_id=?",
                               (doc_id,)).fetchall()
        return _ocr_row(rows)

    def low_confidence(self, threshold: float) -> list[tuple[int, str, float]]:
        """Return (doc_id, title, mean confidence) of OCR'd documents under ``threshold``."""
        rows = self.db.execute(
            """SELECT d.id, COALESCE(d.title, d.filename, ''), AVG(COALESCE(p.confidence, 0)) AS c FROM pages p
               JOIN documents d ON d.id = p.doc_id WHERE p.source IN ('ocr', 'ocr_failed')
               GROUP BY d.id HAVING AVG(COALESCE(p.confidence, 0)) < ? ORDER BY c""", (threshold,))
        return [(r[0], r[1], round(r[2], 1)) for r in rows]

    def ocr_waiting(self) -> list[tuple[int, str, str, list[int]]]:
        """Return (doc_id, sha256, mime, page numbers) of every document with pages waiting for OCR."""
        rows = self.db.execute(
            """SELECT d.id, d.sha256, d.mime, p.number FROM documents d JOIN pages p ON p.doc_id = d.id
               WHERE d.state = 'waiting_ocr' AND p.source = 'none' ORDER BY d.id, p.number""").fetchall()
        waiting: dict[int, tuple[int, str, str, list[int]]] = {}
        for doc_id, sha, mime, number in rows:
            waiting.setdefault(doc_id, (doc_id, sha, mime, []))[3].append(number)
        return list(waiting.values())

    def save_ocr_page(self, doc_id: int, number: int, text: str, confidence: float | None,
                      engine: str | None, languages: str, rotation: int | None = None,
                      failure: str | None = None) -> None:
        """Record the OCR text of one page, or why it could not be read."""
        with self.transaction():
            self.db.execute(
                "UPDATE pages SET text=?, source=?, confidence=?, engine=?, languages=? WHERE doc_id=? AND number=?",
                (text, "ocr_failed" if failure else "ocr", confidence, engine, languages, doc_id, number))
            self.audit("ocr.page", doc_id, None, page=number, confidence=confidence, engine=engine,
                       languages=languages, rotation=rotation, failure=failure)

    def finish_ocr(self, doc_id: int) -> bool:
        """Mark a document read once none of its pages waits any more, and due for re-indexing.

        Returns True when this call finished it (False: pages still wait, or it was finished before).
        """
        with self.transaction():
            state = self.db.execute("SELECT state FROM documents WHERE id=?", (doc_id,)).fetchone()
            if state is None or state[0] != "waiting_ocr":
                return False
            waiting = self.db.execute("SELECT COUNT(*) FROM pages WHERE doc_id=? AND source='none'",
                                      (doc_id,)).fetchone()[0]
            if waiting:
                return False
            length = self.db.execute("SELECT COALESCE(SUM(LENGTH(text)), 0) FROM pages WHERE doc_id=?",
                                     (doc_id,)).fetchone()[0]
            failures = [r[0] for r in self.db.execute(
                "SELECT a.detail FROM audit a WHERE a.doc_id=? AND a.action='ocr.page' ORDER BY a.id DESC",
                (doc_id,))]
            state, reason = "indexed", None
            if length == 0 and failures:
                last = json.loads(failures[0]).get("failure")
                if last:
                    state, reason = "rejected", f"OCR failed: {last}"
            self.db.execute("UPDATE documents SET state=?, reason=?, text_length=?, indexed_gen=NULL, linked=0 "
                            "WHERE id=?",
                            (state, reason, length, doc_id))
            if state == "rejected":
                path = self.db.execute("SELECT path FROM sources WHERE doc_id=? ORDER BY id LIMIT 1",
                                       (doc_id,)).fetchone()
                self.add_reject(path[0] if path else f"document {doc_id}", None, doc_id, reason)
            self.audit("ocr.done", doc_id, None, state=state, text_length=length)
        return True

    def unindexed(self) -> list[int]:
        """Return ids of readable documents not yet in the search index."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM documents WHERE indexed_gen IS NULL AND state NOT IN ('rejected', 'queued') ORDER BY id")]

    def indexable_ids(self) -> list[int]:
        """Return ids of every document that belongs in the search index."""
        return [r[0] for r in self.db.execute(
            "SELECT id FROM documents WHERE state NOT IN ('rejected', 'queued') ORDER BY id")]

    def counts(self) -> list[tuple[str, str, int]]:
        """Return (format, state, count) rows."""
        return [tuple(r) for r in self.db.execute(
            "SELECT format, state, COUNT(*) FROM documents GROUP BY format, state ORDER BY format, state")]

    def totals(self) -> dict[str, int]:
        """Return overall counts: documents, sources, rejects, bytes, audit events."""
        one = lambda sql: self.db.execute(sql).fetchone()[0] or 0  # noqa: E731
        return {
            "documents": one("SELECT COUNT(*) FROM documents"),
            "bytes": one("SELECT SUM(size) FROM documents"),
            "paths": one("SELECT COUNT(*) FROM sources"),
            "rejects": one("SELECT COUNT(*) FROM rejects"),
            "audit_events": one("SELECT COUNT(*) FROM audit"),
        }

    def rejects(self) -> list[Reject]:
        """Return every recorded reject, newest first."""
        rows = self.db.execute("SELECT id, path, sha256, doc_id, reason, at FROM rejects ORDER BY id DESC")
        return [Reject(*r) for r in rows]

    def audit_events(self, doc_id: int | None = None) -> list[dict]:
        """Return audit events, oldest first (all, or those of one document)."""
        sql = "SELECT * FROM audit" + (" WHERE doc_id=?" if doc_id is not None else "") + " ORDER BY id"
        rows = self.db.execute(sql, () if doc_id is None else (doc_id,))
        return [dict(r) | {"detail": json.loads(r["detail"])} for r in rows]


def _is_pg_error(exc: Exception) -> bool:
    return type(exc).__module__.startswith("psycopg")


def _first_line(exc: Exception) -> str:
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]


def audit_hash(prev: str, at: str, action: str, doc_id, sha256, body: str) -> str:
    """Return the hash of one audit entry chained to the previous entry's hash."""
    payload = json.dumps([prev, at, action, doc_id, sha256, body], separators=(",", ":"))
    return hashlib.sha256(payload.encode()).hexdigest()


def _like_escape(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")


def _document(row) -> Document:
    fields = dict(row)
    fields.pop("indexed_gen", None)
    fields.pop("linked", None)
    fields.pop("parts_pending", None)
    fields["metadata"] = json.loads(fields["metadata"] or "{}")
    return Document(**fields)


def _ocr_row(rows: list) -> dict | None:
    ocr = [r for r in rows if r["source"] == "ocr"]
    if not ocr:
        return None
    confidences = [r["confidence"] for r in ocr if r["confidence"] is not None]
    return {
        "pages": len(ocr),
        "mean_confidence": round(sum(confidences) / len(confidences), 1) if confidences else None,
        "engine": ocr[0]["engine"],
        "languages": ocr[0]["languages"],
    }
