"""Run the archive's queued jobs (OCR pages) on this machine: the body of `archiver worker`.

Any number of workers, on any machines that see the catalog and the originals,
take jobs from the catalog's queue (:mod:`archiver.catalog.jobs`). Each job is
held under a lease longer than its time limit; a worker that dies leaves its
jobs to be taken again when their leases run out, and a page whose reading
killed its worker three times is recorded as failed, so that its document
still finishes.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Callable

from archiver import ocr
from archiver.ocr_queue import check_engine
from archiver.workers import Outcome, WorkerPool

if TYPE_CHECKING:
    from archiver.archive import Archive



def lease_for(timeout: float) -> float:
    """Return a job's lease: its time limit, plus as much again up to a minute (saving the result)."""
    return timeout + max(5.0, min(60.0, timeout))


@dataclass
class WorkerReport:
    """What one worker run did."""

    worker: str
    pages: int = 0
    failed_pages: int = 0
    documents: int = 0
    lost: int = 0            # jobs another worker had taken over when this one finished them
    warning: str | None = None


def worker_name() -> str:
    """Return this worker's name in the queue: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRunner:
    """Take jobs from an archive's queue and run them in a local pool of worker processes."""

    def __init__(self, archive: Archive, name: str | None = None, processes: int | None = None,
                 progress: Callable[[WorkerReport, str], None] | None = None):
        self.archive = archive
        self.catalog = archive.catalog
        self.config = archive.config
        self.name = name or worker_name()
        self.processes = processes or self.config.workers
        self.progress = progress or (lambda report, label: None)
        self.languages = tuple(self.config["ocr.languages"])
        self.lease = lease_for(float(self.config["ocr.timeout"]))

    def run(self, until_empty: bool = False, idle_sleep: float = 2.0,
            should_stop: Callable[[], bool] = lambda: False) -> WorkerReport:
        """Work until the queue is empty (``until_empty``) or until ``should_stop()`` says so."""
        report = WorkerReport(self.name)
        problem = check_engine(list(self.languages))
        if problem:
            report.warning = problem
            return report
        with WorkerPool(self.processes, self.config["ocr.timeout"], self.config["ingest.memory_limit_mb"]) as pool:
            while not should_stop():
                if pool.has_room():
                    # Pages stored without OCR become jobs; jobs that killed workers three times end.
                    self.catalog.queue_ocr_pages()
                    self._give_up_exhausted(report)
                    for job in self.catalog.claim_jobs(self.name, self.lease, self.processes - pool.pending()):
                        _, _, _, page, sha, mime = job
                        pool.submit(job, ocr.ocr_page, str(self.archive.store.path_for(sha)), mime, page,
                                    self.languages, self.config["ingest.max_image_pixels"])
                if not pool.pending():
                    # Empty means nothing queued and nothing running anywhere: a job another
                    # worker holds comes back to the queue if that worker dies.
                    if until_empty and not self.catalog.open_jobs():
                        break
                    time.sleep(idle_sleep)
                    continue
                for outcome in pool.collect():
                    self._record(outcome, report)
        return report

    def _record(self, outcome: Outcome, report: WorkerReport) -> None:
        job_id, _, doc_id, page, _, _ = outcome.key
        if outcome.ok:
            result: ocr.OcrPage = outcome.value
            self.catalog.save_ocr_page(doc_id, page, result.text, result.confidence, result.engine,
                                       result.languages, rotation=result.rotation)
        else:
            report.failed_pages += 1
            self.catalog.save_ocr_page(doc_id, page, "", None, None, "+".join(self.languages),
                                       failure=outcome.reason)
        report.pages += 1
        with self.catalog.transaction():
            kept = self.catalog.finish_job(job_id, self.name, None if outcome.ok else outcome.reason)
        report.lost += not kept
        self._finish_document(doc_id, report)
        self.progress(report, f"document {doc_id} page {page}")

    def _give_up_exhausted(self, report: WorkerReport) -> None:
        for job_id, doc_id, page, attempts in self.catalog.exhausted_jobs():
            reason = f"the worker reading this page stopped {attempts} times (killed, or out of memory)"
            if self.catalog.page_waits(doc_id, page):
                self.catalog.save_ocr_page(doc_id, page, "", None, None, "+".join(self.languages),
                                           failure=reason)
                report.failed_pages += 1
            with self.catalog.transaction():
                self.catalog.give_up_job(job_id, reason)
            self._finish_document(doc_id, report)

    def _finish_document(self, doc_id: int, report: WorkerReport) -> None:
        if self.catalog.finish_ocr(doc_id):
            report.documents += 1
            self.archive.index_after_jobs()

