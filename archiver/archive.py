"""Open an archive folder and answer everything the CLI asks of it."""
from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, replace
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Callable, Iterable, Iterator

from archiver import config as config_module
from archiver import linking
from archiver.catalog import Catalog
from archiver.crossref import CrossRefs
from archiver.errors import (Ambiguous, ArchiverError, ConfigError, IndexOutdated, NotAnArchiveError, NotFound, QueryError)
from archiver.lock import writer_lock
from archiver.records import Document, IngestResult, Progress, Reject, SearchHit, Source
from archiver.store import OriginalStore
from indexes import fulltext
from indexes.fulltext import FulltextIndex, IndexRecord

if TYPE_CHECKING:  # imported where used, so that a search does not load the ingest machinery
    from archiver.filing.filer import Explanation, Filer, FilingReport
    from archiver.ocr_queue import OcrReport


SNIPPET_TEXT_START = 600


@dataclass(frozen=True)
class DocumentView:
    """One document as `archiver show` presents it."""

    document: Document
    sources: tuple[Source, ...]
    attachments: tuple[tuple[int, str], ...]      # (doc_id, name) carried by this message
    attached_to: tuple[tuple[int, str], ...]      # (message doc_id, name) carrying this one
    text_start: str
    ocr: dict | None
    references: tuple = ()                        # archiver.refs.Reference, in the order found


@dataclass(frozen=True)
class IngestReport:
    """The outcome of one ingest: a result per input, and what OCR did afterwards."""

    results: list[IngestResult]
    ocr: OcrReport | None


@dataclass(frozen=True)
class Status:
    """Counts of an archive, as `archiver status` presents them."""

    root: str
    totals: dict
    by_format: dict        # format -> {state -> count}
    by_state: dict         # state -> count
    unindexed: int
    index: str             # ok, missing, outdated: <why>
    low_confidence: tuple[tuple[int, str, float], ...]
    catalog: str = "sqlite"                       # "sqlite", or the team archive's PostgreSQL URL (no password)
    jobs: dict | None = None                      # queued, running, stalled, done, failed
    workers: tuple[tuple[str, int], ...] = ()     # (worker, running jobs) holding a current lease
    jobs_by_kind: dict | None = None              # {"extract": {...}, "ocr": {...}}: the same counts by kind


class Archive(CrossRefs):
    """An archive on disk: configuration, originals, catalog, search index and cross-reference graph."""

    def __init__(self, root: Path, on_wait: Callable[[str], None] | None = None):
        self.root = Path(root)
        if not (self.root / "archive.toml").is_file():
            raise NotAnArchiveError(f"{self.root}: no archive here; run: archiver --archive {self.root} init")
        self.config = config_module.load(self.root)
        url = self.config["catalog.url"]
        if not url and not (self.root / "catalog.sqlite").is_file():
            raise NotAnArchiveError(f"{self.root}: no archive here; run: archiver --archive {self.root} init")
        self.team = bool(url)
        self.catalog = Catalog(url or self.root / "catalog.sqlite")
        self.store = OriginalStore(self.root / "originals")
        if self.team:
            # A team archive searches in PostgreSQL: no Whoosh index (one writer) on a shared folder.
            from indexes.pgsearch import PgFulltextIndex
            self.fulltext = PgFulltextIndex(url)
        else:
            self.fulltext = FulltextIndex(self.root / "index")
        self.on_wait = on_wait
        self._shared_pool = None
        self._indexer = None      # a BackgroundIndexer during a large ingest

    @classmethod
    def init(cls, root: Path, products: Path | None = None, catalog: str | None = None) -> "Archive":
        """Create an archive in ``root`` (which may exist) and return it; keep an existing one.

        ``products`` names a products file (``[[products]]`` with code, name, aliases) to load;
        ``catalog`` a PostgreSQL URL for a team archive (default: catalog.sqlite in ``root``).
        """
        root = Path(root)
        root.mkdir(parents=True, exist_ok=True)
        if not (root / "archive.toml").exists():
            (root / "archive.toml").write_text(config_module.template(catalog_url=catalog or ""), encoding="utf-8")
        elif catalog and config_module.load(root)["catalog.url"] != catalog:
            raise ConfigError(f"{root}/archive.toml already names another catalog; "
                              "to move an archive's catalog use: archiver migrate-catalog --to URL")
        (root / "originals").mkdir(exist_ok=True)
        url = config_module.load(root)["catalog.url"]
        Catalog(url or root / "catalog.sqlite").close()
        archive = cls(root)
        if not archive.fulltext.exists():
            archive.fulltext.create()
        if products is not None:
            archive.import_products(products)
        return archive

    def close(self) -> None:
        """Close the catalog and the search index."""
        self.fulltext.close()
        self.catalog.close()

    @contextmanager
    def writing(self, check_settings: bool = True, quiet: bool = False) -> Iterator[None]:
        """Hold the archive's writer lock (waiting, bounded, for another writer).

        Commands that change the archive need every setting right; export and
        verify (which only append to the audit chain) ask with ``check_settings`` False.
        ``quiet`` waits without saying so (a worker's short, frequent filing).
        """
        if check_settings:
            self.config.check()
        on_wait = None if quiet else self.on_wait
        if self.team:
            # Machines sharing the archive folder cannot trust file locks on a network share.
            with self.catalog.writer_lock(self.config["lock.timeout"], on_wait):
                yield
            return
        with writer_lock(self.root / "write.lock", self.config["lock.timeout"], on_wait):
            yield

    # -- ingest and index ---------------------------------------------------

    def ingest(self, paths: Iterable[Path], progress: Progress | None = None, ocr: bool | None = None,
               ocr_progress: Progress | None = None, queue_only: bool = False) -> IngestReport:
        """Take files and folders in, then read their scans (unless ``ocr`` is False).

        Electronic files are committed and indexed before OCR starts, so they
        are searchable while scans are still being read. In a team archive the
        files are stored and queued under the writer lock, then read by this
        process as one more worker (beside any `archiver worker`), without it;
        ``queue_only`` leaves them all to the workers.
        """
        want_ocr = self.config["ocr.enabled"] if ocr is None else ocr
        with self.writing():
            self.store.clean_tmp()
            self._ensure_index()
            self.sync_index()
            from archiver.ingest import Ingester
            try:
                results = Ingester(self.catalog, self.store, self.config, self._index_batch, progress,
                                   self._shared_pool, queue=self.team).run(paths)
            finally:
                self._stop_indexer()
            self.sync_index()   # whatever the background indexer could not do
            report = None
            if want_ocr and not self.team:
                report = self._ocr(ocr_progress)
                results = self._refresh(results)
        if self.team and not queue_only:
            report, taken_in = self._work_queue(ocr_progress, ocr=want_ocr)
            results = self._refresh(self._with_attachments(results, taken_in))
            if not want_ocr:
                report = None
        if self.config["filing.enabled"]:
            # Unchanged inputs and new paths of known content change nothing in the tree; a queued
            # document is filed by the worker that reads it (by what it reads).
            new = {r.doc_id for r in results
                   if r.doc_id is not None and r.status not in ("unchanged", "duplicate", "queued")}
            if new:
                with self.writing():
                    self._filer().run(only=new)
        return IngestReport(results, report)

    def file(self, dry_run: bool = False) -> FilingReport:
        """Bring the filed tree in line with the filing rules; ``dry_run`` only says what would change."""
        if dry_run:
            return self._filer().run(dry_run=True)
        with self.writing():
            return self._filer().run()

    def explain_filing(self, ref: str) -> Explanation:
        """Say which filing rule places a document where, and why the others do not."""
        return self._filer().explain(self.resolve(ref))

    def _filer(self) -> Filer:
        from archiver.filing.filer import Filer
        return Filer(self.catalog, self.store, self.config)

    def ocr(self, progress: Progress | None = None) -> OcrReport:
        """Read every page that waits for OCR (a team archive: as a worker, until its queue is empty)."""
        if self.team:
            return self._work_queue(progress)[0]
        with self.writing():
            self._ensure_index()
            return self._ocr(progress)

    def _ocr(self, progress: Progress | None) -> OcrReport:
        from archiver.ocr_queue import OcrQueue
        if self.team:
            # A team archive's pages are jobs: this process works the queue as one more worker,
            # beside any `archiver worker` on other machines, until it is empty.
            return self._work_queue(progress)[0]
        return OcrQueue(self.catalog, self.store, self.config, self.sync_index, progress, self._shared_pool).run()

    def _work_queue(self, progress: Progress | None, ocr: bool = True) -> tuple[OcrReport, list[IngestResult]]:
        """Run the queue's jobs here until it is empty; return the report, and the attachments taken in."""
        from archiver.ocr_queue import OcrReport
        kinds = ("extract", "ocr") if ocr else ("extract",)
        if ocr:
            self.catalog.queue_ocr_pages()
        total = self.catalog.open_jobs(kinds)
        done = self.work(until_empty=True, kinds=kinds,
                         progress=progress and (lambda r, label, kind: progress(r.pages + r.files, total, label)))
        waiting = len(self.catalog.ocr_waiting())
        return OcrReport(documents=done.documents, pages=done.pages, failed_pages=done.failed_pages,
                         waiting=waiting, warning=done.warning if ocr else None,
                         queued=self.catalog.open_jobs()), done.attachments

    def work(self, until_empty: bool = False, processes: int | None = None, progress=None,
             should_stop=lambda: False, kinds: tuple[str, ...] = ("extract", "ocr")):
        """Run queued jobs (reading files, OCR of pages) on this machine, as `archiver worker` does."""
        from archiver.jobrunner import JobRunner
        return JobRunner(self, processes=processes, progress=progress).run(until_empty, should_stop=should_stop,
                                                                            kinds=kinds)

    def index_after_jobs(self, only: set[int] | None = None) -> None:
        """Link and index the documents a worker finished (``only``: those of this worker; None: all).

        Where the index has one writer (an embedded archive), under the writer lock.
        """
        if self.team:
            self.sync_index(only)
            return
        with self.writing():
            self.sync_index(only)

    def file_finished(self, doc_ids: set[int]) -> None:
        """File the documents a worker finished reading (when filing is on), as ingest files what it took in."""
        if doc_ids and self.config["filing.enabled"]:
            with self.writing(quiet=True):
                self._filer().run(only=doc_ids)

    @contextmanager
    def worker_pool(self) -> Iterator[None]:
        """Keep one pool of worker processes for every ingest and OCR run inside the block.

        A long-running caller (the watcher) saves starting the workers for each batch.
        """
        from archiver.workers import WorkerPool
        with WorkerPool(self.config.workers, self.config["ingest.timeout"],
                        self.config["ingest.memory_limit_mb"]) as pool:
            self._shared_pool = pool
            try:
                yield
            finally:
                self._shared_pool = None

    def _refresh(self, results: list[IngestResult]) -> list[IngestResult]:
        waiting = [r.doc_id for r in results if r.status in ("waiting_ocr", "queued")]
        if not waiting:
            return results
        docs = self.catalog.documents(waiting)
        return [replace(r, status=docs[r.doc_id].state, reason=docs[r.doc_id].reason)
                if r.status in ("waiting_ocr", "queued") else r for r in results]

    def _with_attachments(self, results: list[IngestResult], taken_in: list[IngestResult]) -> list[IngestResult]:
        """Add, after each e-mail of this ingest, its attachments (which workers took in).

        Those of an e-mail this ingest queued are read from the catalog (any worker
        may have read it); ``taken_in`` adds those this process's worker took in for
        an e-mail read before (a run that stopped before all its attachments were in).
        """
        by_parent: dict[int, list[IngestResult]] = {}
        for r in taken_in:
            by_parent.setdefault(r.parent, []).append(r)
        out: list[IngestResult] = []

        def add(r: IngestResult) -> None:
            out.append(r)
            if r.doc_id is None:
                return
            mine = by_parent.pop(r.doc_id, [])
            if r.status == "queued" and r.format == "email":
                mine = [self._attachment_result(r, *row) for row in self.catalog.attachments_at(r.doc_id)]
            for attachment in mine:
                add(attachment)
        for r in results:
            add(r)
        return out

    def _attachment_result(self, message: IngestResult, position: int, doc_id: int, name: str) -> IngestResult:
        doc = self.catalog.document(doc_id)
        label = f"{message.source}#attachment-{position}"
        # New content is stored as this message's attachment; known content is a duplicate.
        new = any(e["action"] == "ingest.stored" and e["detail"].get("message") == message.doc_id
                  for e in self.catalog.audit_events(doc_id))
        if new:
            return IngestResult(label, doc.sha256, doc_id, "queued", None, doc.format, (), message.doc_id)
        if doc.state == "rejected":
            # Another copy of a file that cannot be read is as unreadable as the first (as ingest says).
            return IngestResult(label, doc.sha256, doc_id, "rejected", doc.reason, None, (), message.doc_id)
        return IngestResult(label, doc.sha256, doc_id, "duplicate", f"same content as document {doc_id}", None, (),
                            message.doc_id)

    def _ensure_index(self) -> None:
        if not self.fulltext.exists():
            self.fulltext.create()
        try:
            self.fulltext.check()
        except fulltext.FulltextError as exc:
            raise IndexOutdated(f"{exc}; run: archiver reindex") from exc

    def recognizer(self):
        """Return the reference recognizer for this archive's products and identifier settings."""
        products = tuple(self.catalog.products())
        if getattr(self, "_recognizer_for", None) != products:
            self._recognizer = linking.recognizer_for(self.catalog, self.config)
            self._recognizer_for = products
        return self._recognizer

    def sync_index(self, only: set[int] | None = None) -> int:
        """Link and index the documents committed to the catalog but not yet to the index.

        ``only`` limits it to some documents (a team archive's worker indexes those
        it finished, so that workers do not all index the same ones). Returns how
        many documents were (re-)indexed.
        """
        if self.catalog.unlinked():
            linking.sync_links(self.catalog, self.recognizer(), only)
        pending = [i for i in self.catalog.unindexed() if only is None or i in only]
        if not pending:
            return 0
        generation = int(self.catalog.get_state("index_generation", "1"))
        with self.fulltext.writer() as w:
            for record in self._index_records(pending):
                w.add(record)
        self.catalog.mark_indexed(pending, generation)
        return len(pending)

    def _index_batch(self) -> None:
        """Index what an ingest committed so far; a large ingest hands it to a background indexer."""
        if self.team or (self._indexer is None and len(self.catalog.unindexed()) < self.config["ingest.batch_size"]):
            self.sync_index()
            return
        if self.catalog.unlinked():
            linking.sync_links(self.catalog, self.recognizer())
        if self._indexer is None:
            from archiver.indexing import BackgroundIndexer
            # Absolute paths: the indexer is forked from the fork server, which has its own working folder.
            self._indexer = BackgroundIndexer((self.root / "catalog.sqlite").resolve(), self.fulltext.path.resolve())
        fresh = [i for i in self.catalog.unindexed() if i not in self._indexer.in_flight]
        if fresh and not self._indexer.send(fresh):
            # The indexer process died: keep what it finished, index the rest here.
            self._stop_indexer()
            self.sync_index()
            return
        self._mark_indexed(self._indexer.finished())

    def _stop_indexer(self) -> None:
        if self._indexer is None:
            return
        indexer, self._indexer = self._indexer, None
        self._mark_indexed(indexer.close())

    def _mark_indexed(self, batches: list[list[int]]) -> None:
        generation = int(self.catalog.get_state("index_generation", "1"))
        for ids in batches:
            self.catalog.mark_indexed(ids, generation)

    def reindex(self) -> int:
        """Rebuild the search index from the catalog alone; return the number of documents."""
        with self.writing():
            with self.catalog.transaction():
                self.catalog.mark_all_unlinked()
            linking.sync_links(self.catalog, self.recognizer())
            (self.root / "graph.cache").unlink(missing_ok=True)
            ids = self.catalog.indexable_ids()
            count = self.fulltext.rebuild(self._index_records(ids))
            generation = int(self.catalog.get_state("index_generation", "1")) + 1
            self.catalog.clear_indexed()
            with self.catalog.transaction():
                self.catalog.set_state("index_generation", str(generation))
            self.catalog.mark_indexed(ids, generation)
            return count

    def _index_records(self, ids: list[int]) -> Iterator[IndexRecord]:
        from archiver.indexing import index_records
        return index_records(self.catalog, ids)

    # -- queries ------------------------------------------------------------

    def search(self, query: str, *, formats: Iterable[str] = (), after: datetime | None = None,
               before: datetime | None = None, limit: int | None = None, products: Iterable[str] = (),
               change_requests: Iterable[str] = ()) -> tuple[list[SearchHit], int]:
        """Return ranked hits (with snippets) and the total number of matching documents.

        ``products`` and ``change_requests`` keep documents that refer to any of them
        (codes, names or aliases; change request ids in any written form).
        """
        limit = limit or self.config["search.limit"]
        products = [self.resolve_product(p) for p in products]
        change_requests = [self.resolve_change_request(c) for c in change_requests]
        try:
            hits, total = self.fulltext.search(query, formats=formats, after=after, before=before,
                                               limit=limit, text_of=self.catalog.text, products=products,
                                               change_requests=change_requests)
        except fulltext.QuerySyntaxError as exc:
            raise QueryError(str(exc)) from exc
        except fulltext.IndexMissing as exc:
            raise IndexOutdated(f"{exc}; run: archiver reindex") from exc
        except fulltext.FulltextError as exc:
            raise IndexOutdated(f"{exc}; run: archiver reindex") from exc
        docs = self.catalog.documents(h.doc_id for h in hits)
        paths = self.catalog.first_sources(docs)
        found = [SearchHit(h.doc_id, docs[h.doc_id].sha256, _title(docs[h.doc_id]), paths.get(h.doc_id),
                           docs[h.doc_id].format, docs[h.doc_id].date, h.score, h.snippet)
                 for h in hits if h.doc_id in docs]
        return found, total

    def resolve(self, ref: str) -> int:
        """Return the id of the document named by an id, a SHA-256 (prefix) or a path it was seen at."""
        ref = ref.strip()
        if ref.isascii() and ref.isdigit() and self.catalog.document(int(ref)):
            return int(ref)
        lowered = ref.lower()
        if len(lowered) >= 6 and all(c in "0123456789abcdef" for c in lowered):
            ids = self.catalog.doc_ids_by_sha_prefix(lowered)
            if len(ids) > 1:
                raise Ambiguous(f"{ref}: more than one document has a SHA-256 starting so; give more of it")
            if ids:
                return ids[0]
        ids = self.catalog.doc_ids_by_path(str(Path(ref).absolute())) or self.catalog.doc_ids_by_path(ref)
        if len(ids) > 1:
            raise Ambiguous(f"{ref}: more than one document was seen at such a path; give the full path")
        if ids:
            return ids[0]
        raise NotFound(f"{ref}: no such document (give an id, a SHA-256 or a path it was seen at)")

    def show(self, ref: str) -> DocumentView:
        """Return one document with its paths, attachments and the start of its text."""
        doc = self.catalog.document(self.resolve(ref))
        text = self.catalog.text(doc.id)
        return DocumentView(doc, tuple(self.catalog.sources(doc.id)), tuple(self.catalog.attachments_of(doc.id)),
                            tuple(self.catalog.messages_carrying(doc.id)), text[:SNIPPET_TEXT_START],
                            self.catalog.ocr_summary(doc.id), tuple(self.catalog.refs_of(doc.id)))

    def text(self, ref: str) -> str:
        """Return a document's whole extracted text."""
        return self.catalog.text(self.resolve(ref))

    def status(self) -> Status:
        """Return counts by format and state, the index's health and low-confidence scans."""
        by_format: dict = {}
        by_state: dict = {}
        for fmt, state, count in self.catalog.counts():
            by_format.setdefault(fmt, {})[state] = count
            by_state[state] = by_state.get(state, 0) + count
        try:
            self.fulltext.check()
            health = "ok"
        except fulltext.IndexMissing:
            health = "missing"
        except fulltext.FulltextError as exc:
            health = f"outdated: {exc}"
        low = self.catalog.low_confidence(self.config["ocr.low_confidence"])
        return Status(str(self.root), self.catalog.totals(), by_format, by_state,
                      len(self.catalog.unindexed()), health, tuple(low),
                      self.catalog.where if self.team else "sqlite",
                      self.catalog.job_counts(), tuple(self.catalog.job_workers()),
                      {kind: self.catalog.job_counts(kind) for kind in ("extract", "ocr")})

    def migrate_catalog(self, url: str) -> dict:
        """Move the catalog from catalog.sqlite to PostgreSQL at ``url``, prove the copy, and switch to it."""
        if self.team:
            raise ConfigError(f"{self.root}: the catalog is already in PostgreSQL ({self.catalog.where})")
        from archiver.catalog import backend, migrate
        from indexes.pgsearch import PgFulltextIndex
        with self.writing():
            target = Catalog(url)
            migrate.copy(self.catalog, target)
            tables = migrate.layout(self.catalog)
            before, after = migrate.digests(self.catalog, tables), migrate.digests(target, tables)
            report = [{"table": t, "rows": before[t][0], "same": before[t] == after[t]} for t in tables]
            differ = [r["table"] for r in report if not r["same"]]
            if differ:
                target.close()
                raise ArchiverError(f"the copy in {target.where} differs in {', '.join(differ)}; archive.toml "
                                    "still names catalog.sqlite (empty the database before trying again)")
            with target.transaction():
                target.audit("catalog.migrated", None, None, to=backend.redact(url),
                             documents=before["documents"][0], audit_events=before["audit"][0])
            old_catalog, self.catalog, self.team = self.catalog, target, True
            self.fulltext.close()
            self.fulltext = PgFulltextIndex(url)
            if not self.fulltext.exists():
                self.fulltext.create()
            ids = self.catalog.indexable_ids()
            indexed = self.fulltext.rebuild(self._index_records(ids))
            self.catalog.mark_indexed(ids, int(self.catalog.get_state("index_generation", "1")))
            config_module.set_catalog_url(self.root, url)
            self.config = config_module.load(self.root)
            old_catalog.close()
            kept = self.root / "catalog.sqlite.migrated"
            (self.root / "catalog.sqlite").rename(kept)
            for suffix in ("-wal", "-shm"):
                (self.root / f"catalog.sqlite{suffix}").unlink(missing_ok=True)
        return {"catalog": backend.redact(url), "tables": report, "indexed": indexed, "kept": str(kept)}

    def rejects(self) -> list[Reject]:
        """Return every input that could not be read, with its reason."""
        return self.catalog.rejects()

    # -- evidence export and verification (archiver.export, archiver.verify) -----

    def export(self, request, out: Path | None = None, *, as_zip: bool = False, dry_run: bool = False,
               at: datetime | None = None):
        """Write the documents a request selects as a verifiable evidence bundle; see :mod:`archiver.export`."""
        from archiver import export
        return export.export(self, request, out, as_zip=as_zip, dry_run=dry_run, at=at)

    def verify(self, path: Path | None = None):
        """Verify a bundle at ``path``, or, without one, this archive's originals and audit chain."""
        from archiver import verify
        return verify.verify_bundle(path) if path is not None else verify.verify_archive(self)


def _title(doc: Document) -> str:
    return doc.title or doc.filename or f"document {doc.id}"
