"""Hold the catalog's SQL for the work queue: jobs that any worker may claim under a lease.

A job reads a stored original's text and metadata (kind ``extract``, page 0: a
team archive's ingest stores the file and leaves its document ``queued``) or
one page of a scan (kind ``ocr``). The `jobs` table is created by migration
0008 in :mod:`archiver.catalog.schema`.
A worker claims the oldest open job with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL)
or inside an immediate transaction (SQLite), holds it for a lease, and finishes
it only while it still holds it; a job whose worker died is open again once its
lease has run out, and failed for good after ``MAX_ATTEMPTS`` claims.
"""
from __future__ import annotations

import json
from datetime import datetime, timedelta, timezone

from archiver.records import Extraction

MAX_ATTEMPTS = 3

_OPEN = "(state = 'queued' OR (state = 'running' AND lease_until < ?)) AND attempts < ?"


def _at(seconds: float = 0.0) -> str:
    return (datetime.now(timezone.utc) + timedelta(seconds=seconds)).isoformat(timespec="milliseconds")


class JobsMixin:
    """The `jobs` table of :class:`archiver.catalog.Catalog`."""

    db = None  # the connection, set by Catalog
    dialect = "sqlite"

    def queue_ocr_pages(self) -> int:
        """Make a job of every page that waits for OCR and has none yet; return how many were added."""
        with self.transaction():
            cur = self.db.execute(
                """INSERT OR IGNORE INTO jobs (kind, doc_id, page, queued_at)
                   SELECT 'ocr', p.doc_id, p.number, ? FROM pages p JOIN documents d ON d.id = p.doc_id
                   WHERE d.state = 'waiting_ocr' AND p.source = 'none'
                   AND NOT EXISTS (SELECT 1 FROM jobs j WHERE j.kind = 'ocr' AND j.doc_id = p.doc_id
                                   AND j.page = p.number)""", (_at(),))
            return max(cur.rowcount, 0)

    def queue_extraction(self, doc_id: int) -> None:
        """Make a job of reading a queued document's original. Call inside a transaction."""
        self.db.execute("INSERT OR IGNORE INTO jobs (kind, doc_id, page, queued_at) VALUES ('extract', ?, 0, ?)",
                        (doc_id, _at()))

    def finish_extraction(self, doc_id: int, ex: Extraction, date: str | None) -> str | None:
        """Fill a queued document in from what its extractor read; return its new state.

        Returns None when the document was not queued any more (another worker
        finished it: a job taken again after its lease ran out). Call inside a transaction.
        """
        from archiver.catalog import iso
        row = self.db.execute("SELECT state FROM documents WHERE id = ?", (doc_id,)).fetchone()
        if row is None or row[0] != "queued":
            return None
        state = "waiting_ocr" if ex.needs_ocr else "indexed"
        self.db.execute(
            """UPDATE documents SET state = ?, title = ?, author = ?, subject = ?, keywords = ?, created = ?,
               modified = ?, date = ?, pages = ?, text_length = ?, metadata = ?, indexed_gen = NULL, linked = 0
               WHERE id = ?""",
            (state, ex.title, ex.author, ex.subject, ex.keywords, iso(ex.created), iso(ex.modified), date,
             ex.page_count, sum(len(p.text) for p in ex.pages), json.dumps(ex.metadata, sort_keys=True, default=str),
             doc_id))
        self.add_pages(doc_id, ex)
        return state

    def reject_queued(self, doc_id: int, reason: str) -> bool:
        """Record that a queued document's original cannot be read; False when it was not queued. In a transaction."""
        cur = self.db.execute("UPDATE documents SET state = 'rejected', reason = ? WHERE id = ? AND state = 'queued'",
                              (reason, doc_id))
        return cur.rowcount == 1

    def place_of(self, doc_id: int) -> str:
        """Return where a document came from: its first path, or its message's place and attachment number."""
        row = self.db.execute("SELECT path FROM sources WHERE doc_id = ? ORDER BY id LIMIT 1", (doc_id,)).fetchone()
        if row:
            return row[0]
        row = self.db.execute("SELECT message_id, position FROM attachments WHERE doc_id = ? "
                              "ORDER BY message_id, position LIMIT 1", (doc_id,)).fetchone()
        if row and row[0] != doc_id:
            return f"{self.place_of(row[0])}#attachment-{row[1]}"
        return f"document {doc_id}"

    def claim_jobs(self, worker: str, lease: float | dict[str, float], limit: int = 1,
                   kinds: tuple[str, ...] = ("extract", "ocr")) -> list[tuple[int, str, int, int, str, str]]:
        """Claim up to ``limit`` open jobs of ``kinds`` for ``lease`` seconds (or a lease per kind); return
        (job id, kind, doc_id, page, sha256, mime), files to read before pages to OCR."""
        leases = lease if isinstance(lease, dict) else {"extract": lease, "ocr": lease}
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        which = ",".join("?" * len(kinds))
        with self.transaction():
            # Extraction first: what it reads becomes searchable, and it finds the pages to OCR.
            ids = [r[0] for r in self.db.execute(
                f"SELECT id FROM jobs WHERE {_OPEN} AND kind IN ({which}) "
                f"ORDER BY CASE WHEN kind = 'extract' THEN 0 ELSE 1 END, id LIMIT ?{lock}",
                (_at(), MAX_ATTEMPTS, *kinds, limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self.db.execute(f"UPDATE jobs SET state = 'running', worker = ?, "
                            f"lease_until = CASE WHEN kind = 'extract' THEN ? ELSE ? END, "
                            f"attempts = attempts + 1 WHERE id IN ({marks})",
                            (worker, _at(leases["extract"]), _at(leases["ocr"]), *ids))
            return [tuple(r) for r in self.db.execute(
                f"SELECT j.id, j.kind, j.doc_id, j.page, d.sha256, d.mime FROM jobs j "
                f"JOIN documents d ON d.id = j.doc_id WHERE j.id IN ({marks}) ORDER BY j.id", ids)]

    def release_jobs_of(self, workers: list[str]) -> int:
        """Open again the running jobs of workers known to be gone (their leases end now); return how many."""
        if not workers:
            return 0
        with self.transaction():
            cur = self.db.execute(
                f"UPDATE jobs SET lease_until = ? WHERE state = 'running' AND worker IN ({','.join('?' * len(workers))})",
                (_at(-1), *workers))
            return max(cur.rowcount, 0)

    def running_workers(self) -> list[str]:
        """Return the names of the workers that hold running jobs (lease current or not)."""
        return [r[0] for r in self.db.execute(
            "SELECT DISTINCT worker FROM jobs WHERE state = 'running' ORDER BY worker")]

    def open_jobs(self, kinds: tuple[str, ...] = ("extract", "ocr")) -> int:
        """Return how many jobs of ``kinds`` are queued or running (on any worker, lease current or not)."""
        return self.db.execute(
            f"SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running') AND kind IN ({','.join('?' * len(kinds))})",
            kinds).fetchone()[0]

    def finish_job(self, job_id: int, worker: str, error: str | None = None) -> bool:
        """Mark a job done (or failed, with why); return False when the worker had lost it."""
        cur = self.db.execute(
            "UPDATE jobs SET state = ?, error = ?, finished_at = ?, lease_until = NULL "
            "WHERE id = ? AND worker = ? AND state = 'running'",
            ("failed" if error else "done", error, _at(), job_id, worker))
        return cur.rowcount == 1

    def exhausted_jobs(self) -> list[tuple[int, str, int, int, int]]:
        """Return (job id, kind, doc_id, page, attempts) of jobs whose workers died ``MAX_ATTEMPTS`` times."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, kind, doc_id, page, attempts FROM jobs WHERE state IN ('queued', 'running') AND attempts >= ? "
            "AND (state = 'queued' OR lease_until < ?) ORDER BY id", (MAX_ATTEMPTS, _at()))]

    def page_waits(self, doc_id: int, page: int) -> bool:
        """Tell whether a page still waits for OCR."""
        return self.db.execute("SELECT 1 FROM pages WHERE doc_id = ? AND number = ? AND source = 'none'",
                               (doc_id, page)).fetchone() is not None

    def give_up_job(self, job_id: int, reason: str) -> None:
        """Mark a job failed for good."""
        self.db.execute("UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, lease_until = NULL "
                        "WHERE id = ?", (reason, _at(), job_id))

    def job_counts(self, kind: str | None = None) -> dict[str, int]:
        """Return how many jobs (of one kind, or all) are queued, running (lease current), stalled (lease
        over), done and failed."""
        now = _at()
        counts = {"queued": 0, "running": 0, "stalled": 0, "done": 0, "failed": 0}
        for state, stale, count in self.db.execute(
                "SELECT state, CASE WHEN state = 'running' AND lease_until < ? THEN 1 ELSE 0 END, COUNT(*) "
                "FROM jobs WHERE kind = COALESCE(?, kind) GROUP BY 1, 2", (now, kind)):
            counts["stalled" if stale else state] += count
        return counts

    def job_workers(self) -> list[tuple[str, int]]:
        """Return (worker, running jobs) of the workers holding a current lease."""
        return [tuple(r) for r in self.db.execute(
            "SELECT worker, COUNT(*) FROM jobs WHERE state = 'running' AND lease_until >= ? "
            "GROUP BY worker ORDER BY worker", (_at(),))]
