"""Run the archive's queued jobs (reading files, OCR of pages) on this machine: the body of `archiver worker`.

Any number of workers, on any machines that see the catalog and the originals,
take jobs from the catalog's queue (:mod:`archiver.catalog.jobs`). Each job is
held under a lease longer than its time limit; a worker that dies leaves its
jobs to be taken again when their leases run out. A file or page whose reading
killed its worker three times is recorded as unreadable (the file is rejected
with that reason, the page failed), so that the rest goes on.

A file's job reads its text and metadata as ``archiver ingest`` does in an
embedded archive; an e-mail's attachments become documents and jobs of their own.
"""
from __future__ import annotations

import os
import socket
import time
from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Callable

from archiver import ocr, stages
from archiver.lock import process_alive
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
    documents: int = 0       # documents finished (read, and OCR'd where they needed it)
    files: int = 0           # files read (extraction jobs)
    rejected: int = 0        # files that could not be read
    lost: int = 0            # jobs another worker had taken over when this one finished them
    warning: str | None = None
    attachments: list = field(default_factory=list)   # IngestResult of each attachment taken in



def worker_name() -> str:
    """Return this worker's name in the queue: host and process id."""
    return f"{socket.gethostname()}:{os.getpid()}"


class JobRunner:
    """Take jobs from an archive's queue and run them in a local pool of worker processes."""

    def __init__(self, archive: Archive, name: str | None = None, processes: int | None = None,
                 progress: Callable[[WorkerReport, str, str], None] | None = None):
        self.archive = archive
        self.catalog = archive.catalog
        self.config = archive.config
        self.name = name or worker_name()
        self.processes = processes or self.config.workers
        self.progress = progress or (lambda report, label, kind: None)
        self.languages = tuple(self.config["ocr.languages"])
        self.lease = {"extract": lease_for(float(self.config["ingest.timeout"])),
                      "ocr": lease_for(float(self.config["ocr.timeout"]))}
        self.limits = stages.limits_for(self.config)
        self._ingester = None
        self._unindexed: set[int] = set()     # documents this worker finished, to link and index
        self._indexed_at = time.monotonic()

    def run(self, until_empty: bool = False, idle_sleep: float = 2.0,
            should_stop: Callable[[], bool] = lambda: False, kinds: tuple[str, ...] = ("extract", "ocr")) -> WorkerReport:
        """Work until the queue (of ``kinds``) is empty (``until_empty``) or until ``should_stop()`` says so."""
        report = WorkerReport(self.name)
        if "ocr" in kinds:
            problem = check_engine(list(self.languages))
            if problem:
                # Without the OCR engine this worker still reads files; pages wait for another.
                report.warning = problem
                kinds = tuple(k for k in kinds if k != "ocr")
        if not kinds:
            return report
        self._release_dead_workers_jobs()
        with WorkerPool(self.processes, self.config["ocr.timeout"], self.config["ingest.memory_limit_mb"]) as pool:
            while not should_stop():
                if pool.has_room():
                    # Pages stored without OCR become jobs; jobs that killed workers three times end.
                    if "ocr" in kinds:
                        self.catalog.queue_ocr_pages()
                    self._give_up_exhausted(report)
                    for job in self.catalog.claim_jobs(self.name, self.lease, self.processes - pool.pending(), kinds):
                        self._submit(pool, job)
                if not pool.pending():
                    self._index(idle=True)
                    # Empty means nothing queued and nothing running anywhere: a job another
                    # worker holds comes back to the queue if that worker dies.
                    if until_empty and not self.catalog.open_jobs(kinds):
                        break
                    time.sleep(idle_sleep)
                    continue
                for outcome in pool.collect():
                    self._record(outcome, report)
                self._index()
        self._index(idle=True)
        report.attachments = list(self._ingester.results) if self._ingester else []
        return report

    def _release_dead_workers_jobs(self) -> None:
        """Open again at once the jobs of this machine's workers that are gone, instead of waiting for their leases.

        A worker is named host:pid. Jobs under this very name were left by an earlier
        run in this process (one runs at a time), and jobs of a process of this host
        that no longer exists by a worker that died; other hosts' jobs wait for their leases.
        """
        host = socket.gethostname()
        gone = []
        for name in self.catalog.running_workers():
            worker_host, _, pid = name.rpartition(":")
            if worker_host != host or not pid.isdigit():
                continue
            if name == self.name or not process_alive(int(pid)):
                gone.append(name)
        self.catalog.release_jobs_of(gone)

    def _submit(self, pool: WorkerPool, job: tuple) -> None:
        _, kind, _, page, sha, mime = job
        original = str(self.archive.store.path_for(sha))
        if kind == "extract":
            pool.submit(job, stages.extract_original, original, mime, self.limits,
                        timeout=self.config["ingest.timeout"])
        else:
            pool.submit(job, ocr.ocr_page, original, mime, page, self.languages, self.config["ingest.max_image_pixels"])

    def _index(self, idle: bool = False) -> None:
        """Link, index and file the documents this worker finished, in batches; when idle, any left by others too.

        Each worker indexes its own documents, so that several workers share the
        indexing as they share the reading; when the queue is idle, one that finds
        documents still unindexed (a worker died before indexing them) does them.
        """
        if idle:
            # Documents other workers finished are theirs to index while any job is open (in an
            # embedded archive, the ingest that committed them indexes them).
            others = (self.archive.team and not self.catalog.open_jobs()
                      and bool(self.catalog.unindexed() or self.catalog.unlinked()))
            if self._unindexed or others:
                self.archive.index_after_jobs(None if others else self._unindexed)
        elif not self._unindexed or (len(self._unindexed) < self.config["ingest.batch_size"]
                                     and time.monotonic() - self._indexed_at <= 5.0):
            return
        else:
            self.archive.index_after_jobs(self._unindexed)
        # Filed as ingest files what it took in: by what was read (products, dates, numbers).
        self.archive.file_finished(self._unindexed)
        self._unindexed, self._indexed_at = set(), time.monotonic()

    def _record(self, outcome: Outcome, report: WorkerReport) -> None:
        if outcome.key[1] == "extract":
            return self._extracted(outcome, report)
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
        self.progress(report, f"document {doc_id} page {page}", "ocr")

    def _extracted(self, outcome: Outcome, report: WorkerReport) -> None:
        """Record what a file's job read: fill its document in, take its attachments in; or reject it.

        The job is finished in the same transaction, or, for an e-mail, once its
        attachments are in: a worker that dies before leaves the job to be taken again.
        """
        job_id, _, doc_id, _, sha, _ = outcome.key
        place = self.catalog.place_of(doc_id)
        error = None if outcome.ok else outcome.reason
        ex = outcome.value if outcome.ok else None
        with self.catalog.transaction():
            if ex is not None:
                state = self.catalog.finish_extraction(doc_id, ex, stages.best_date(ex, self._fallback_date(doc_id)))
                if state is not None:
                    self.catalog.audit("ingest.extracted", doc_id, sha, state=state, pages=len(ex.pages),
                                       needs_ocr=list(ex.needs_ocr), warnings=list(ex.warnings))
                    if ex.attachments:
                        self.catalog.expect_parts(doc_id, len(ex.attachments))
                report.documents += state == "indexed"
            else:
                self._reject(doc_id, sha, place, error)
            if ex is None or not ex.attachments:
                report.lost += not self.catalog.finish_job(job_id, self.name, error)
        if ex is not None and ex.attachments:
            # Attachments become documents (queued) of their own; a job taken again after its
            # worker died takes in those its first worker had not reached.
            taken = self.catalog.attachment_positions(doc_id)
            for position, attachment in enumerate(ex.attachments, start=1):
                if position not in taken:
                    self._ingester_for_attachments()._start(stages.Task(
                        label=f"{place}#attachment-{position}", data=attachment.data, filename=attachment.name,
                        message_id=doc_id, position=position))
            with self.catalog.transaction():
                report.lost += not self.catalog.finish_job(job_id, self.name)
        report.files += 1
        report.rejected += ex is None
        self._unindexed.add(doc_id)
        self.progress(report, place, "extract")

    def _reject(self, doc_id: int, sha: str | None, place: str, reason: str) -> bool:
        """Record that a queued file cannot be read (in a transaction); False if it was no longer queued."""
        if not self.catalog.reject_queued(doc_id, reason):
            return False
        self.catalog.add_reject(place, sha, doc_id, reason)
        self.catalog.audit("ingest.rejected", doc_id, sha, path=place, reason=reason)
        return True

    def _fallback_date(self, doc_id: int) -> datetime | None:
        """Return the date a queued document has until its own is read (its file's time, its message's date)."""
        date = self.catalog.document(doc_id).date
        return datetime.fromisoformat(date) if date else None

    def _ingester_for_attachments(self):
        if self._ingester is None:
            from archiver.ingest import Ingester
            self._ingester = Ingester(self.catalog, self.archive.store, self.config, lambda: None, queue=True)
        return self._ingester

    def _give_up_exhausted(self, report: WorkerReport) -> None:
        for job_id, kind, doc_id, page, attempts in self.catalog.exhausted_jobs():
            if kind == "extract":
                reason = f"the worker reading this file stopped {attempts} times (killed, or out of memory)"
                with self.catalog.transaction():
                    report.rejected += self._reject(doc_id, None, self.catalog.place_of(doc_id), reason)
                    self.catalog.give_up_job(job_id, reason)
                continue
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
            self._unindexed.add(doc_id)

