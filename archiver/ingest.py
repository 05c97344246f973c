"""Run the ingest pipeline over files and folders: cheap stages here, extraction in workers.

The catalog is committed per document before the search index is updated in
batches, so a crash leaves nothing that the next run does not complete: an
input not yet in the catalog is simply taken again, and a document not yet in
the index is indexed by the next writer.

In a team archive (``queue=True``) extraction is not run here: each new original
is stored, committed as a ``queued`` document and made a job that any
``archiver worker`` (this ingest included) takes from the catalog.
"""
from __future__ import annotations

import os
from dataclasses import replace
from datetime import datetime
from pathlib import Path
from typing import Callable, Iterable

from archiver import stages
from archiver.catalog import Catalog, iso
from archiver.config import Config
from archiver.errors import ArchiverError
from archiver.records import Extraction, IngestResult, Progress
from archiver.stages import Task
from archiver.store import OriginalStore
from archiver.workers import Outcome, WorkerPool



def own_folders(store: OriginalStore, config: Config) -> tuple[Path, ...]:
    """Return the folders an archive keeps (never inputs): originals, index and the filed tree."""
    from archiver.filing.filer import filed_root
    folders = [store.root, store.root.parent / "index"]
    try:
        folders.append(filed_root(config))
    except ArchiverError:
        pass   # a wrong filing.root is reported where filing uses it
    return tuple(folders)


class Ingester:
    """Take inputs into one archive; one instance per run."""

    def __init__(self, catalog: Catalog, store: OriginalStore, config: Config,
                 on_batch: Callable[[], None], progress: Progress | None = None, pool: WorkerPool | None = None,
                 queue: bool = False):
        self.catalog = catalog
        self.store = store
        self.config = config
        self.on_batch = on_batch
        self.progress = progress or (lambda done, total, label: None)
        self.limits = stages.limits_for(config)
        self.results: list[IngestResult] = []
        self.total = 0
        self._pool: WorkerPool | None = pool
        self._own_pool = pool is None
        self._waiting: dict[int, Task] = {}
        self._in_flight: dict[str, list[Task]] = {}   # sha256 -> same-content tasks held back
        self._since_batch = 0
        self._inputs_done = 0
        self._resuming: dict[tuple, tuple[int, str]] = {}
        self.queue = queue

    def run(self, paths: Iterable[Path]) -> list[IngestResult]:
        """Ingest every file under ``paths``; return one result per input (attachments included).

        A path seen before inside a folder given here, and no longer there, is
        recorded as gone (its document and original stay), as the watcher records it.
        """
        paths = list(paths)
        files = list(stages.discover(paths, skip=self.store.root.parent, own=own_folders(self.store, self.config)))
        self.total = len(files)
        self._record_gone(paths, {stages.readable(str(f)) for f in files})
        try:
            if not self.queue:
                # (A team archive's message whose attachments were not all taken in keeps its
                # extraction job, and the worker that takes the job again takes them in.)
                self._resume_messages()
            for path in files:
                self._start(stages.task_for(path))
            self._drain()
        except BaseException:
            if self._pool is not None and not self._own_pool:
                self._pool.abandon()
            raise
        finally:
            if self._pool is not None and self._own_pool:
                self._pool.close()
        self.on_batch()
        return self.results

    def _record_gone(self, paths: list[Path], found: set[str]) -> None:
        for folder in (p for p in paths if p.is_dir()):
            label = stages.readable(os.path.abspath(folder))
            gone = [path for path, *_ in self.catalog.present_sources_under(label)
                    if path not in found and not os.path.lexists(path)]
            if gone:
                with self.catalog.transaction():
                    for path in gone:
                        doc_id = self.catalog.mark_source_gone(path)
                        if doc_id is not None:
                            self.catalog.audit("ingest.source_gone", doc_id, None, path=path)

    # -- flow ---------------------------------------------------------------

    def _start(self, task: Task) -> None:
        if task.path is not None:
            task = stages.check_unchanged(task, self.catalog)
        if not task.status:
            task = stages.hash_file(task)
        if not task.status:
            task = self._dedupe(task)
        if not task.status:
            task = stages.store_original(stages.sniff_format(task), self.store)
        if task.status:
            return self._finish(task)
        reason = stages.refusal(task)
        if reason:
            return self._commit(task, None, reason)
        if self.queue:
            return self._queue(task)
        self._submit(task)

    def _queue(self, task: Task) -> None:
        """Commit a stored original as a queued document and make its extraction a job."""
        with self.catalog.transaction():
            # Checked again under the catalog's write lock: a worker on another machine may
            # have queued the same content (an attachment) since _dedupe looked.
            doc_id = self.catalog.doc_id_by_sha(task.sha256)
            if doc_id is None:
                doc_id = self.catalog.add_document(
                    sha256=task.sha256, size=task.size, sniffed=task.sniffed, extraction=None, state="queued",
                    reason=None, filename=task.filename, date=self._date(task, None))
                self._record_place(task, doc_id)
                self.catalog.audit("ingest.stored", doc_id, task.sha256, path=task.label, size=task.size,
                                   format=task.sniffed.format, message=task.message_id)
                self.catalog.queue_extraction(doc_id)
                task = replace(task, status="queued", doc_id=doc_id)
        self._finish(task if task.status else self._dedupe(task))

    def _submit(self, task: Task) -> None:
        if task.sha256 in self._in_flight:
            # Same content is being extracted already: record this one as its duplicate afterwards.
            self._in_flight[task.sha256].append(task)
            return
        self._in_flight[task.sha256] = []
        pool = self._ensure_pool()
        while not pool.has_room():
            self._handle(pool.collect())
        key = id(task)
        self._waiting[key] = task
        pool.submit(key, stages.extract_original, str(self.store.path_for(task.sha256)),
                    task.sniffed.mime, self.limits)

    def _drain(self) -> None:
        while self._pool is not None and self._pool.pending():
            self._handle(self._pool.collect())

    def _resume_messages(self) -> None:
        """Take in the attachments of messages whose ingest was interrupted after the message was committed."""
        for doc_id, sha256, mime in self.catalog.messages_with_pending_parts():
            label = self.catalog.place_of(doc_id)   # its path, or its message's and attachment number
            pool = self._ensure_pool()
            while not pool.has_room():
                self._handle(pool.collect())
            self._resuming[("resume", doc_id)] = (doc_id, label)
            pool.submit(("resume", doc_id), stages.extract_original, str(self.store.path_for(sha256)), mime,
                        self.limits)

    def _resumed(self, outcome: Outcome) -> None:
        doc_id, label = self._resuming.pop(outcome.key)
        if not outcome.ok:
            with self.catalog.transaction():
                self.catalog.expect_parts(doc_id, 0)
            return
        done = self.catalog.attachment_positions(doc_id)
        for position, attachment in enumerate(outcome.value.attachments, start=1):
            if position not in done:
                self._start(Task(label=f"{label}#attachment-{position}", data=attachment.data,
                                 filename=attachment.name, message_id=doc_id, position=position))

    def _handle(self, outcomes: list[Outcome]) -> None:
        for outcome in outcomes:
            if outcome.key in self._resuming:
                self._resumed(outcome)
                continue
            task = self._waiting.pop(outcome.key)
            if outcome.ok:
                self._commit(task, outcome.value, None)
            else:
                self._commit(task, None, outcome.reason)

    def _ensure_pool(self) -> WorkerPool:
        if self._pool is None:
            self._pool = WorkerPool(self.config.workers, self.config["ingest.timeout"],
                                    self.config["ingest.memory_limit_mb"])
        return self._pool

    def _finish(self, task: Task) -> None:
        if task.status == "rejected" and task.doc_id is None:
            with self.catalog.transaction():
                self.catalog.add_reject(task.label, task.sha256, None, task.reason)
                self.catalog.audit("ingest.rejected", None, task.sha256, path=task.label, reason=task.reason)
                if task.message_id is not None:
                    self.catalog.part_done(task.message_id)
        self.results.append(task.result())
        if task.message_id is None:
            self._inputs_done += 1
            self.progress(self._inputs_done, self.total, task.label)

    # -- catalog ------------------------------------------------------------

    def _dedupe(self, task: Task) -> Task:
        doc_id = self.catalog.doc_id_by_sha(task.sha256)
        if doc_id is None:
            return task
        doc = self.catalog.document(doc_id)
        with self.catalog.transaction():
            self._record_place(task, doc_id)
            self.catalog.audit("ingest.duplicate", doc_id, task.sha256, path=task.label)
            if doc.state == "rejected":
                self.catalog.add_reject(task.label, task.sha256, doc_id, doc.reason)
        if doc.state == "rejected":
            # Another copy of a file we cannot read is as unreadable as the first.
            return replace(task, status="rejected", doc_id=doc_id, reason=doc.reason, sniffed=None)
        return replace(task, status="duplicate", doc_id=doc_id, reason=f"same content as document {doc_id}",
                       sniffed=None)

    def _date(self, task: Task, ex: Extraction | None) -> str | None:
        if ex is None:
            if self.queue and task.message_id is not None:
                # A queued attachment keeps its message's date until its own is read.
                return self.catalog.document(task.message_id).date
            return iso(stages.file_time(task))
        fallback = stages.file_time(task)
        if fallback is None and task.message_id is not None:
            message_date = self.catalog.document(task.message_id).date
            fallback = datetime.fromisoformat(message_date) if message_date else None
        return stages.best_date(ex, fallback)

    def _record_place(self, task: Task, doc_id: int) -> None:
        if task.message_id is not None:
            self.catalog.add_attachment(task.message_id, task.position, doc_id, task.filename or "")
            return
        before = self.catalog.source_at(task.label)
        self.catalog.record_source(doc_id, task.label, task.size, task.mtime_ns)
        if before is not None and before[0] != doc_id:
            # The file at this path changed: a new version of that document, not an overwrite.
            self.catalog.add_version(doc_id, before[0], task.label)
            self.catalog.audit("ingest.new_version", doc_id, task.sha256, path=task.label, previous=before[0])

    def _commit(self, task: Task, ex: Extraction | None, reason: str | None) -> None:
        state = "rejected" if ex is None else ("waiting_ocr" if ex.needs_ocr else "indexed")
        warnings = task.warnings + (ex.warnings if ex else ())
        with self.catalog.transaction():
            doc_id = self.catalog.add_document(
                sha256=task.sha256, size=task.size, sniffed=task.sniffed, extraction=ex, state=state,
                reason=reason, filename=task.filename, date=self._date(task, ex))
            self._record_place(task, doc_id)
            self.catalog.audit("ingest.stored", doc_id, task.sha256, path=task.label, size=task.size,
                               format=task.sniffed.format, message=task.message_id)
            if ex is not None and ex.attachments:
                self.catalog.expect_parts(doc_id, len(ex.attachments))
            if ex is None:
                self.catalog.add_reject(task.label, task.sha256, doc_id, reason)
                self.catalog.audit("ingest.rejected", doc_id, task.sha256, path=task.label, reason=reason)
            else:
                self.catalog.audit("ingest.extracted", doc_id, task.sha256, state=state,
                                   pages=len(ex.pages), needs_ocr=list(ex.needs_ocr), warnings=list(warnings))
        self._finish(replace(task, status=state, doc_id=doc_id, reason=reason, warnings=warnings))
        for held in self._in_flight.pop(task.sha256, []):
            self._finish(self._dedupe(held))
        if ex is not None:
            for position, attachment in enumerate(ex.attachments, start=1):
                self._start(Task(label=f"{task.label}#attachment-{position}", data=attachment.data,
                                 filename=attachment.name, message_id=doc_id, position=position))
        self._since_batch += 1
        if self._since_batch >= self.config["ingest.batch_size"]:
            self._since_batch = 0
            self.on_batch()
