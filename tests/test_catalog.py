"""The catalog: what goes in comes back out, and the audit log is a hash chain."""
from __future__ import annotations

import sqlite3
from datetime import datetime, timezone

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from archiver.catalog import GENESIS, Catalog, audit_hash
from archiver.errors import CatalogDamaged
from archiver.records import Extraction, Page, Sniffed

text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=200)
moments = st.datetimes(min_value=datetime(1970, 1, 2), max_value=datetime(2100, 1, 1),
                       timezones=st.just(timezone.utc))
extractions = st.builds(
    Extraction,
    pages=st.lists(text, max_size=5).map(lambda ps: tuple(Page(i + 1, t) for i, t in enumerate(ps))),
    title=st.none() | text, author=st.none() | text, subject=st.none() | text, keywords=st.none() | text,
    created=st.none() | moments, modified=st.none() | moments, page_count=st.none() | st.integers(0, 10_000),
    metadata=st.dictionaries(st.text(max_size=10), st.none() | st.integers() | text | st.lists(text, max_size=3),
                             max_size=5))


@pytest.fixture
def catalog(tmp_path):
    cat = Catalog(tmp_path / "catalog.sqlite")
    yield cat
    cat.close()


@settings(max_examples=60, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(ex=extractions, sha=st.binary(min_size=32, max_size=32).map(bytes.hex), filename=st.none() | text)
def test_a_document_round_trips(catalog, ex, sha, filename):
    with catalog.transaction():
        if catalog.doc_id_by_sha(sha):
            return
        doc_id = catalog.add_document(sha256=sha, size=123, sniffed=Sniffed("text", "text/plain"), extraction=ex,
                                      state="indexed", reason=None, filename=filename, date=None)
    doc = catalog.document(doc_id)
    assert (doc.sha256, doc.title, doc.author, doc.subject, doc.keywords, doc.filename, doc.pages) == (
        sha, ex.title, ex.author, ex.subject, ex.keywords, filename, ex.page_count)
    assert doc.created == (ex.created.isoformat() if ex.created else None)
    assert doc.metadata == ex.metadata
    assert catalog.text(doc_id) == "\f".join(p.text for p in ex.pages)
    assert doc.text_length == sum(len(p.text) for p in ex.pages)


@settings(max_examples=30, suppress_health_check=[HealthCheck.function_scoped_fixture], deadline=None)
@given(events=st.lists(st.tuples(st.sampled_from(["ingest.stored", "file.add", "export"]), text), min_size=1,
                       max_size=10))
def test_the_audit_log_is_a_hash_chain(catalog, events):
    with catalog.transaction():
        for action, note in events:
            catalog.audit(action, None, None, note=note)
    prev = GENESIS
    for row in catalog.audit_events():
        assert row["prev_hash"] == prev
        prev = audit_hash(prev, row["at"], row["action"], row["doc_id"], row["sha256"],
                          catalog.db.execute("SELECT detail FROM audit WHERE id=?", (row["id"],)).fetchone()[0])
        assert row["hash"] == prev


def test_a_failed_transaction_leaves_nothing(catalog):
    with pytest.raises(RuntimeError):
        with catalog.transaction():
            catalog.audit("ingest.stored", None, None, path="x")
            raise RuntimeError("disk full")
    assert catalog.audit_events() == []


def test_a_damaged_catalog_is_reported_never_recreated(tmp_path):
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    path.write_bytes(b"this is not a database" * 100)
    with pytest.raises(CatalogDamaged) as err:
        Catalog(path)
    assert "cannot be read" in str(err.value) and "left untouched" in str(err.value)
    assert path.read_bytes() == b"this is not a database" * 100


def test_migrations_are_recorded_and_run_once(tmp_path):
    from archiver.catalog.schema import MIGRATIONS
    path = tmp_path / "catalog.sqlite"
    Catalog(path).close()
    Catalog(path).close()
    rows = sqlite3.connect(path).execute("SELECT name FROM migrations ORDER BY name").fetchall()
    assert [r[0] for r in rows] == [name for name, _ in MIGRATIONS]
