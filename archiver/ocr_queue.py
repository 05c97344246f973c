"""Work through the pages that wait for OCR, in worker processes, and record the results.

Scans are stored at ingest and marked ``waiting_ocr``; electronic files are
committed and indexed first, then this queue reads the waiting pages, one job
per page, so a 200-page scan shows progress by page and a bad page costs only
itself. Each job is a plain record (document, page, original, languages): a
team worker on another machine can run it the same way.
"""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass
from typing import Callable, Iterator

from archiver import ocr
from archiver.catalog import Catalog
from archiver.config import Config
from archiver.records import Progress
from archiver.store import OriginalStore
from archiver.workers import Outcome, WorkerPool



@dataclass(frozen=True)
class OcrJob:
    """One page to read."""

    doc_id: int
    sha256: str
    mime: str
    page: int


@dataclass(frozen=True)
class OcrReport:
    """What one OCR run did."""

    documents: int = 0
    pages: int = 0
    failed_pages: int = 0
    waiting: int = 0
    warning: str | None = None
    queued: int = 0          # a team archive: jobs still open (queued, or held by other workers)


def check_engine(languages: list[str]) -> str | None:
    """Return why OCR cannot run on this machine (one line), or None when it can."""
    if ocr.engine_version() is None:
        return ("Tesseract is not installed, so scans are stored and wait for OCR; "
                "install the Debian package tesseract-ocr, then run: archiver ocr")
    missing = [lang for lang in languages if lang not in ocr.installed_languages()]
    if missing:
        packages = " ".join(f"tesseract-ocr-{lang}" for lang in missing)
        return (f"Tesseract language data missing for {', '.join(missing)}; scans wait for OCR; "
                f"install the Debian package(s) {packages}, then run: archiver ocr")
    return None


class OcrQueue:
    """Read every page waiting for OCR; one instance per run."""

    def __init__(self, catalog: Catalog, store: OriginalStore, config: Config,
                 on_batch: Callable[[], None], progress: Progress | None = None, pool: WorkerPool | None = None):
        self.pool = pool
        self.catalog = catalog
        self.store = store
        self.config = config
        self.on_batch = on_batch
        self.progress = progress or (lambda done, total, label: None)
        self.languages = tuple(config["ocr.languages"])

    def run(self) -> OcrReport:
        """Read all waiting pages; return counts (or why nothing could be read)."""
        jobs = [OcrJob(doc_id, sha, mime, page) for doc_id, sha, mime, pages in self.catalog.ocr_waiting()
                for page in pages]
        docs = {job.doc_id for job in jobs}
        if not jobs:
            return OcrReport()
        problem = check_engine(list(self.languages))
        if problem:
            return OcrReport(waiting=len(docs), warning=problem)
        remaining = {doc_id: sum(1 for j in jobs if j.doc_id == doc_id) for doc_id in docs}
        failed = 0
        with self._pool() as pool:
            work = [(job, (str(self.store.path_for(job.sha256)), job.mime, job.page, self.languages,
                           self.config["ingest.max_image_pixels"])) for job in jobs]
            for done, outcome in enumerate(pool.map(ocr.ocr_page, work, timeout=self.config["ocr.timeout"]),
                                           start=1):
                failed += not outcome.ok
                self._record(outcome)
                remaining[outcome.key.doc_id] -= 1
                if remaining[outcome.key.doc_id] == 0:
                    self.catalog.finish_ocr(outcome.key.doc_id)
                    if done % 20 == 0:
                        self.on_batch()
                self.progress(done, len(jobs), f"document {outcome.key.doc_id} page {outcome.key.page}")
        self.on_batch()
        return OcrReport(documents=len(docs), pages=len(jobs), failed_pages=failed)

    @contextmanager
    def _pool(self) -> Iterator[WorkerPool]:
        if self.pool is not None:
            yield self.pool
            return
        with WorkerPool(self.config.workers, self.config["ocr.timeout"],
                        self.config["ingest.memory_limit_mb"]) as pool:
            yield pool

    def _record(self, outcome: Outcome) -> None:
        job: OcrJob = outcome.key
        if outcome.ok:
            page: ocr.OcrPage = outcome.value
            self.catalog.save_ocr_page(job.doc_id, job.page, page.text, page.confidence, page.engine,
                                       page.languages, rotation=page.rotation)
        else:
            self.catalog.save_ocr_page(job.doc_id, job.page, "", None, None, "+".join(self.languages),
                                       failure=outcome.reason)
