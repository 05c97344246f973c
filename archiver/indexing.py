"""Turn catalog documents into index records, and write the search index in a second process.

During a large ingest the main process is the bottleneck: it hashes, stores,
commits and links every document while the extraction workers wait for it.
Writing the Whoosh index (a third of its time) moves to :class:`BackgroundIndexer`:
the main process sends the ids of committed, linked documents; the indexer
process reads them from the catalog itself (SQLite lets readers run beside the
writer), adds them to the index, commits, and answers with the ids. Only then
are they marked indexed, so a crash of either process leaves them for the next
run to index, as before.
"""
from __future__ import annotations

import multiprocessing
from datetime import datetime
from multiprocessing.connection import Connection
from pathlib import Path
from typing import Iterator

from indexes.fulltext import IndexRecord


def index_records(catalog, ids: list[int]) -> Iterator[IndexRecord]:
    """Yield the index records of some documents, read from the catalog."""
    for doc, products, crs in catalog.documents_with_refs(ids):
        yield IndexRecord(
            doc_id=doc.id, title=doc.title or "", content=catalog.text(doc.id),
            filename=doc.filename or "", author=doc.author or "", format=doc.format,
            date=_parse(doc.date), created=_parse(doc.created), modified=_parse(doc.modified),
            size=doc.size, products=tuple(products), change_requests=tuple(crs))


def _parse(value: str | None) -> datetime | None:
    return datetime.fromisoformat(value) if value else None


def _indexer_main(conn: Connection, catalog_path: str, index_path: str) -> None:
    """Index each batch of ids received, answering with them once committed; stop on None."""
    from archiver.catalog import Catalog
    from indexes.fulltext import FulltextIndex
    catalog = Catalog(Path(catalog_path))
    fulltext = FulltextIndex(Path(index_path))
    try:
        while (ids := conn.recv()) is not None:
            with fulltext.writer() as w:
                for record in index_records(catalog, ids):
                    w.add(record)
            conn.send(ids)
    finally:
        catalog.close()


class BackgroundIndexer:
    """An index-writing process fed with batches of document ids."""

    def __init__(self, catalog_path: Path, index_path: Path):
        ctx = multiprocessing.get_context("forkserver")
        self._conn, child = ctx.Pipe()
        self._process = ctx.Process(target=_indexer_main, args=(child, str(catalog_path), str(index_path)),
                                    name="archiver-indexer", daemon=True)
        self._process.start()
        child.close()
        self.in_flight: set[int] = set()

    def send(self, ids: list[int]) -> bool:
        """Hand a batch of committed, linked documents to the indexer; False if it is gone."""
        try:
            self._conn.send(list(ids))
        except OSError:
            return False
        self.in_flight.update(ids)
        return True

    def finished(self, wait: bool = False) -> list[list[int]]:
        """Return the batches indexed and committed since the last call (all of them when ``wait``)."""
        done = []
        while self.in_flight and (wait or self._conn.poll()):
            try:
                ids = self._conn.recv()
            except (EOFError, OSError):
                # The indexer died: its batches stay unindexed, for the next writer to index.
                self.in_flight.clear()
                break
            self.in_flight.difference_update(ids)
            done.append(ids)
        return done

    def close(self) -> list[list[int]]:
        """Wait for every batch sent, stop the process, and return the batches it finished."""
        done = self.finished(wait=True)
        try:
            self._conn.send(None)
        except OSError:
            pass
        self._process.join(30)
        if self._process.is_alive():
            self._process.kill()
            self._process.join()
        self._conn.close()
        return done

    def kill(self) -> None:
        """Stop the process at once (after an error): what it had not answered stays unindexed."""
        self._process.kill()
        self._process.join()
        self._conn.close()
