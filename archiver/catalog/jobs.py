"""Hold the catalog's SQL for the work queue: OCR pages as jobs that any worker may claim under a lease.

The `jobs` table is created by migration 0008 in :mod:`archiver.catalog.schema`.
A worker claims the oldest open job with ``FOR UPDATE SKIP LOCKED`` (PostgreSQL)
or inside an immediate transaction (SQLite), holds it for a lease, and finishes
it only while it still holds it; a job whose worker died is open again once its
lease has run out, and failed for good after ``MAX_ATTEMPTS`` claims.
"""
from __future__ import annotations

from datetime import datetime, timedelta, timezone

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

    def claim_jobs(self, worker: str, lease: float, limit: int = 1) -> list[tuple[int, str, int, int, str, str]]:
        """Claim up to ``limit`` open jobs for ``lease`` seconds; return (job id, kind, doc_id, page, sha256, mime)."""
        lock = " FOR UPDATE SKIP LOCKED" if self.dialect == "postgresql" else ""
        with self.transaction():
            ids = [r[0] for r in self.db.execute(
                f"SELECT id FROM jobs WHERE {_OPEN} ORDER BY id LIMIT ?{lock}", (_at(), MAX_ATTEMPTS, limit))]
            if not ids:
                return []
            marks = ",".join("?" * len(ids))
            self.db.execute(f"UPDATE jobs SET state = 'running', worker = ?, lease_until = ?, "
                            f"attempts = attempts + 1 WHERE id IN ({marks})", (worker, _at(lease), *ids))
            return [tuple(r) for r in self.db.execute(
                f"SELECT j.id, j.kind, j.doc_id, j.page, d.sha256, d.mime FROM jobs j "
                f"JOIN documents d ON d.id = j.doc_id WHERE j.id IN ({marks}) ORDER BY j.id", ids)]

    def open_jobs(self) -> int:
        """Return how many jobs are queued or running (on any worker, lease current or not)."""
        return self.db.execute("SELECT COUNT(*) FROM jobs WHERE state IN ('queued', 'running')").fetchone()[0]

    def finish_job(self, job_id: int, worker: str, error: str | None = None) -> bool:
        """Mark a job done (or failed, with why); return False when the worker had lost it."""
        cur = self.db.execute(
            "UPDATE jobs SET state = ?, error = ?, finished_at = ?, lease_until = NULL "
            "WHERE id = ? AND worker = ? AND state = 'running'",
            ("failed" if error else "done", error, _at(), job_id, worker))
        return cur.rowcount == 1

    def exhausted_jobs(self) -> list[tuple[int, int, int, int]]:
        """Return (job id, doc_id, page, attempts) of jobs whose workers died ``MAX_ATTEMPTS`` times."""
        return [tuple(r) for r in self.db.execute(
            "SELECT id, doc_id, page, attempts FROM jobs WHERE state IN ('queued', 'running') AND attempts >= ? "
            "AND (state = 'queued' OR lease_until < ?) ORDER BY id", (MAX_ATTEMPTS, _at()))]

    def page_waits(self, doc_id: int, page: int) -> bool:
        """Tell whether a page still waits for OCR."""
        return self.db.execute("SELECT 1 FROM pages WHERE doc_id = ? AND number = ? AND source = 'none'",
                               (doc_id, page)).fetchone() is not None

    def give_up_job(self, job_id: int, reason: str) -> None:
        """Mark a job failed for good."""
        self.db.execute("UPDATE jobs SET state = 'failed', error = ?, finished_at = ?, lease_until = NULL "
                        "WHERE id = ?", (reason, _at(), job_id))

    def job_counts(self) -> dict[str, int]:
        """Return how many jobs are queued, running (lease current), stalled (lease over), done and failed."""
        now = _at()
        counts = {"queued": 0, "running": 0, "stalled": 0, "done": 0, "failed": 0}
        for state, stale, count in self.db.execute(
                "SELECT state, CASE WHEN state = 'running' AND lease_until < ? THEN 1 ELSE 0 END, COUNT(*) "
                "FROM jobs GROUP BY 1, 2", (now,)):
            counts["stalled" if stale else state] += count
        return counts

    def job_workers(self) -> list[tuple[str, int]]:
        """Return (worker, running jobs) of the workers holding a current lease."""
        return [tuple(r) for r in self.db.execute(
            "SELECT worker, COUNT(*) FROM jobs WHERE state = 'running' AND lease_until >= ? "
            "GROUP BY worker ORDER BY worker", (_at(),))]
